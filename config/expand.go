package config

import (
	"fmt"
	"strings"
)

// expand replaces ${NAME} in s with getenv(NAME). ${NAME:-default} uses the
// default when the variable is unset or empty; $${ is a literal "${". A lone
// "$" is left alone, so passwords with dollars need no escaping. It returns
// the names of missing variables and, for malformed references, a reason
// that never quotes s (s may be a secret).
func expand(s string, getenv func(string) string) (out string, missing []string, bad string) {
	out, _, missing, bad = expandVals(s, getenv)
	return out, missing, bad
}

// expandVals is expand that also returns the non-empty values it
// substituted (feed URLs keep them, to redact them where the URL is shown).
func expandVals(s string, getenv func(string) string) (out string, vals, missing []string, bad string) {
	if !strings.Contains(s, "${") {
		return s, nil, nil, ""
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			break
		}
		if i > 0 && s[i-1] == '$' {
			// "$${" is the escape: drop one "$", keep "${" literally.
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			return "", nil, nil, `"${" without a closing "}" (write "$${" for a literal "${")`
		}
		ref := s[i+2 : i+2+end]
		s = s[i+2+end+1:]
		name, def, hasDef := strings.Cut(ref, ":-")
		if !validEnvName(name) {
			return "", nil, nil, `a "${...}" reference holds no valid variable name (letters, digits, _)`
		}
		v := getenv(name)
		if v == "" && hasDef {
			v = def
		}
		if v == "" && !hasDef {
			missing = append(missing, name)
		}
		if v != "" {
			vals = append(vals, v)
		}
		b.WriteString(v)
	}
	return b.String(), vals, missing, ""
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// expandTree expands every string value (not keys) in place. vals, when
// not nil, gets the substituted values by key path. A missing variable is a
// warning, not an error, where lenient(path) says so: a section the running
// command does not use (notifier secrets in "feedwatch watch"); the value is
// then left empty and not judged further.
func expandTree(v any, path string, getenv func(string) string, lenient func(string) string, ps *Problems, vals map[string][]string) any {
	switch t := v.(type) {
	case string:
		out, sub, missing, bad := expandVals(t, getenv)
		if len(sub) > 0 && vals != nil {
			vals[path] = sub
		}
		if bad != "" {
			*ps = append(*ps, Problem{Path: path, Msg: bad})
			return t
		}
		for _, name := range missing {
			p := problemf(path, "environment variable %s is not set or empty (use ${%s:-} to allow it empty)", name, name)
			if why := lenient(path); why != "" {
				p.Msg = fmt.Sprintf("environment variable %s is not set or empty; %s", name, why)
				p.Warning = true
			}
			*ps = append(*ps, p)
		}
		return out
	case map[string]any:
		for _, k := range sortedKeys(t) {
			t[k] = expandTree(t[k], joinPath(path, k), getenv, lenient, ps, vals)
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = expandTree(e, indexPath(path, i), getenv, lenient, ps, vals)
		}
		return t
	}
	return v
}
