package config

import (
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// secretKeys hold values that must never appear in a message.
var secretKeys = map[string]bool{"password": true, "token": true, "secret": true, "webhook_url": true}

var notifierType = reflect.TypeFor[Notifier]()

// keysOf lists a struct's mapstructure keys, in declaration order.
func keysOf(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		if k := keyOf(t.Field(i)); k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}

func keyOf(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	k, _, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
	if k == "-" || k == "" {
		return ""
	}
	return k
}

func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if f := t.Field(i); keyOf(f) == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// checker walks the raw tree against the Go types: it reports unknown keys
// (with the nearest known one) and values of the wrong shape, and returns
// a cleaned tree holding only values the decoder will accept, so one bad
// value does not hide the problems behind it.
type checker struct {
	ps       Problems
	secrets  []string
	channels channelSet
}

func (c *checker) add(path, msg string) { c.ps = append(c.ps, Problem{Path: path, Msg: msg}) }

// value checks v against t. ok=false means "drop this value".
func (c *checker) value(path string, v any, t reflect.Type, secret bool) (any, bool) {
	if secret {
		c.collectSecrets(v)
	}
	switch t {
	case durationType:
		switch x := v.(type) {
		case string:
			if strings.TrimSpace(x) == "" {
				return Duration(0), true
			}
			d, err := ParseDuration(x)
			if err != nil {
				c.add(path, err.Error())
				return nil, false
			}
			return d, true
		}
		if n, ok := wholeNumber(v); ok && n == 0 {
			return Duration(0), true
		}
		if _, isNum := number(v); isNum {
			c.add(path, "bad duration: a bare number needs a unit, like 90s, 5m, 2h or 7d")
			return nil, false
		}
		c.add(path, "want a duration like 90s, 5m, 2h or 7d, got "+describe(v))
		return nil, false
	case sizeType:
		switch x := v.(type) {
		case string:
			if strings.TrimSpace(x) == "" {
				return Size(0), true
			}
			s, err := ParseSize(x)
			if err != nil {
				c.add(path, err.Error())
				return nil, false
			}
			return s, true
		}
		if n, ok := wholeNumber(v); ok {
			if n < 0 {
				c.add(path, "bad size: must not be negative")
				return nil, false
			}
			return Size(n), true
		}
		c.add(path, "want a size like 512, 64KB or 10MB, got "+describe(v))
		return nil, false
	}
	switch t.Kind() {
	case reflect.String:
		s, ok := scalarString(v)
		if !ok {
			c.add(path, "want a string, got "+describe(v))
			return nil, false
		}
		return s, true
	case reflect.Int, reflect.Int64:
		if n, ok := wholeNumber(v); ok {
			return n, true
		}
		if s, ok := v.(string); ok {
			if n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
				return n, true
			}
		}
		c.add(path, "want a whole number, got "+describe(v))
		return nil, false
	case reflect.Float64:
		if f, ok := number(v); ok {
			return f, true
		}
		if s, ok := v.(string); ok {
			if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
				return f, true
			}
		}
		c.add(path, "want a number, got "+describe(v))
		return nil, false
	case reflect.Bool:
		switch x := v.(type) {
		case bool:
			return x, true
		case string:
			if b, err := strconv.ParseBool(strings.TrimSpace(x)); err == nil {
				return b, true
			}
		}
		c.add(path, "want true or false, got "+describe(v))
		return nil, false
	case reflect.Slice:
		return c.list(path, v, t, secret)
	case reflect.Map:
		return c.mapping(path, v, t, secret)
	case reflect.Struct:
		return c.object(path, v, t), true
	}
	return v, true
}

func (c *checker) list(path string, v any, t reflect.Type, secret bool) (any, bool) {
	l, ok := v.([]any)
	if !ok {
		// A single string where a list of strings goes ("tags: news") is
		// a one-item list.
		if s, isStr := v.(string); isStr && t.Elem().Kind() == reflect.String {
			return []any{s}, true
		}
		c.add(path, "want a list, got "+describe(v))
		return nil, false
	}
	out := make([]any, 0, len(l))
	for i, e := range l {
		p := indexPath(path, i)
		if e == nil {
			c.add(p, "empty list entry")
			if t.Elem().Kind() == reflect.Struct {
				// Keep the index so later paths (feeds[3]) stay right.
				out = append(out, map[string]any{})
			}
			continue
		}
		if m, isMap := e.(map[string]any); isMap && len(m) == 1 && t.Elem().Kind() == reflect.String {
			c.add(p, `want a string, got a mapping: YAML reads "a: b" as a key and value; write "a:b" or quote it`)
			continue
		}
		ev, ok := c.value(p, e, t.Elem(), secret)
		if !ok {
			if t.Elem().Kind() == reflect.Struct {
				out = append(out, map[string]any{})
			}
			continue
		}
		out = append(out, ev)
	}
	return out, true
}

func (c *checker) mapping(path string, v any, t reflect.Type, secret bool) (any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		c.add(path, "want a mapping of keys, got "+describe(v))
		return nil, false
	}
	// Free-form maps: headers hold secrets (Authorization) in their values.
	if t.Elem().Kind() == reflect.String {
		secret = true
	}
	out := make(map[string]any, len(m))
	for _, k := range sortedKeys(m) {
		p := joinPath(path, k)
		if m[k] == nil {
			if t.Elem() == notifierType {
				// A named entry the user wrote must not vanish silently.
				c.add(p, "empty: a notifier needs at least a type ("+c.channels.typeList("")+")")
			}
			continue
		}
		var ev any
		var ok bool
		if t.Elem() == notifierType {
			ev, ok = c.notifier(p, m[k]), true
		} else {
			ev, ok = c.value(p, m[k], t.Elem(), secret)
		}
		if ok {
			out[k] = ev
		}
	}
	return out, true
}

// object checks a struct-shaped mapping against t's keys. A value that is
// not a mapping is reported and replaced by an empty one.
func (c *checker) object(path string, v any, t reflect.Type) map[string]any {
	m, ok := v.(map[string]any)
	if !ok {
		c.add(path, "want a mapping of keys, got "+describe(v))
		return map[string]any{}
	}
	known := keysOf(t)
	out := make(map[string]any, len(m))
	for _, k := range sortedKeys(m) {
		p := joinPath(path, k)
		f, exists := fieldByKey(t, k)
		if !exists {
			msg := "unknown key"
			if s := suggest(k, known); s != "" {
				msg += `, did you mean "` + s + `"?`
			} else if elsewhere := knownElsewhere(k); elsewhere != "" && path == "" {
				msg += `, did you mean "` + elsewhere + `"?`
			}
			c.add(p, msg)
			continue
		}
		if m[k] == nil {
			continue // "key:" with nothing after it means unset
		}
		ev, ok := c.value(p, m[k], f.Type, secretKeys[k])
		if ok {
			out[k] = ev
		}
	}
	return out
}

// notifier checks a notifier's keys against its type's: the common ones
// and the channel's own (an unknown type: every channel's, while Validate
// reports the type).
func (c *checker) notifier(path string, v any) map[string]any {
	m, ok := v.(map[string]any)
	if !ok {
		c.add(path, "want a mapping of keys, got "+describe(v))
		return map[string]any{}
	}
	typ, _ := m["type"].(string)
	keys, known := c.channels.keysFor(typ)
	all, _ := c.channels.keysFor("")
	names := keyNames(keys)
	kind := ""
	if known {
		article := "a "
		if strings.ContainsRune("aeiou", rune(typ[0])) {
			article = "an "
		}
		kind = article + typ + " notifier"
	}
	out := make(map[string]any, len(m))
	for _, k := range sortedKeys(m) {
		p := joinPath(path, k)
		i := slices.IndexFunc(keys, func(n notifierKey) bool { return n.name == k })
		if i < 0 {
			msg := "unknown key"
			if known && slices.ContainsFunc(all, func(n notifierKey) bool { return n.name == k }) {
				msg = "not a key of " + kind
			}
			if s := suggest(k, names); s != "" {
				msg += `, did you mean "` + s + `"?`
			}
			c.add(p, msg)
			continue
		}
		if m[k] == nil {
			continue // "key:" with nothing after it means unset
		}
		if ev, ok := c.value(p, m[k], keys[i].typ, keys[i].secret); ok {
			out[k] = ev
		}
	}
	return out
}

// knownElsewhere finds the section key a top-level typo may belong to
// ("interval" or "intervl" -> "watcher.interval").
func knownElsewhere(key string) string {
	sections := []struct {
		name string
		t    reflect.Type
	}{{"http", reflect.TypeFor[HTTP]()}, {"nats", reflect.TypeFor[NATS]()}, {"watcher", reflect.TypeFor[Watcher]()}}
	var leaves, paths []string
	for _, sect := range sections {
		for _, k := range keysOf(sect.t) {
			if k == key {
				return sect.name + "." + k
			}
			leaves = append(leaves, k)
			paths = append(paths, sect.name+"."+k)
		}
	}
	if s := suggest(key, leaves); s != "" {
		return paths[slices.Index(leaves, s)]
	}
	return ""
}

func (c *checker) collectSecrets(v any) {
	switch t := v.(type) {
	case string:
		c.secrets = append(c.secrets, t)
	case []any:
		for _, e := range t {
			c.collectSecrets(e)
		}
	case map[string]any:
		for _, e := range t {
			c.collectSecrets(e)
		}
	}
}

// scalarString renders a scalar as the string the user wrote.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	}
	if n, ok := wholeNumber(v); ok {
		return strconv.FormatInt(n, 10), true
	}
	if f, ok := number(v); ok {
		return strconv.FormatFloat(f, 'g', -1, 64), true
	}
	return "", false
}

func number(v any) (float64, bool) {
	if n, ok := wholeNumber(v); ok {
		return float64(n), true
	}
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return 0, false
		}
		return x, true
	case float32:
		return number(float64(x))
	case uint64:
		return float64(x), true
	}
	return 0, false
}

// describe names a value's shape, never its content.
func describe(v any) string {
	switch v.(type) {
	case nil:
		return "nothing"
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "true/false"
	}
	if _, ok := number(v); ok {
		return "a number"
	}
	return "a date or other value"
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
