package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"gopkg.in/yaml.v3"
)

// format is the file syntax, picked by extension.
type format string

const (
	formatYAML format = "yaml"
	formatTOML format = "toml"
	formatJSON format = "json"
)

// formatOf picks the syntax by extension. Anything not .toml or .json is
// read as YAML, which also reads JSON, so a ConfigMap key without an
// extension still works.
func formatOf(path string) format {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".toml":
		return formatTOML
	case ".json":
		return formatJSON
	}
	return formatYAML
}

// raw is a parsed file before any checks: maps keep the file's spelling of
// keys, lines maps key paths to file lines where the syntax tells us.
type raw struct {
	tree  map[string]any
	lines map[string]int
}

// parseRaw parses data into a generic tree. A syntax error, an empty
// document or a top level that is not a mapping is a problem.
func parseRaw(f format, data []byte) (raw, Problems) {
	r := raw{lines: map[string]int{}}
	var top any
	switch f {
	case formatYAML:
		var doc yaml.Node
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return r, yamlSyntaxProblems(data, err)
		}
		if doc.Kind == 0 || len(doc.Content) == 0 || isNull(doc.Content[0]) {
			return r, Problems{{Msg: "the file is empty"}}
		}
		yamlLines(&doc, "", r.lines)
		if err := doc.Decode(&top); err != nil {
			return r, yamlProblems(err)
		}
	case formatTOML:
		m := map[string]any{}
		if err := toml.Unmarshal(data, &m); err != nil {
			var perr toml.ParseError
			if errors.As(err, &perr) {
				return r, Problems{{Line: perr.Position.Line, Msg: "invalid TOML: " + unquote(perr.Message)}}
			}
			return r, Problems{{Msg: "invalid TOML: " + unquote(err.Error())}}
		}
		top = m
		r.lines = tomlLines(data)
	case formatJSON:
		if len(bytes.TrimSpace(data)) == 0 {
			return r, Problems{{Msg: "the file is empty"}}
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		if err := dec.Decode(&top); err != nil {
			return r, jsonProblem(data, err)
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return r, Problems{{Line: lineAt(data, int(dec.InputOffset())), Msg: "invalid JSON: data after the top-level value"}}
		}
		var dups Problems
		r.lines, dups = jsonLines(data)
		if len(dups) > 0 {
			return r, dups
		}
	}
	top = normalize(top)
	if top == nil {
		return r, Problems{{Msg: "the file is empty"}}
	}
	m, ok := top.(map[string]any)
	if !ok {
		return r, Problems{{Msg: "the top level must be a mapping of keys, not " + describe(top)}}
	}
	if len(m) == 0 {
		return r, Problems{{Msg: "the file is empty"}}
	}
	r.tree = m
	return r, nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// tomlQuoted matches the input fragments TOML errors quote ("expected value
// but found "hunter2" instead"): they may be an unquoted secret.
var tomlQuoted = regexp.MustCompile(`"[^"]*"`)

func unquote(msg string) string { return tomlQuoted.ReplaceAllString(msg, `"…"`) }

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlProblems turns yaml.v3 errors ("yaml: line 3: mapping values are not
// allowed in this context", or a TypeError list) into problems with lines.
func yamlProblems(err error) Problems {
	var msgs []string
	var terr *yaml.TypeError
	if errors.As(err, &terr) {
		msgs = terr.Errors
	} else {
		msgs = []string{err.Error()}
	}
	var ps Problems
	for _, m := range msgs {
		m = strings.TrimSpace(m)
		p := Problem{Msg: "invalid YAML: " + strings.TrimPrefix(m, "yaml: ")}
		if sm := yamlLineRE.FindStringSubmatch(m); sm != nil {
			p.Line, _ = strconv.Atoi(sm[1])
			p.Msg = "invalid YAML: " + sm[2]
		}
		ps = append(ps, p)
	}
	return ps
}

// yamlLines records the line of every key and list item.
func yamlLines(n *yaml.Node, path string, lines map[string]int) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			yamlLines(c, path, lines)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := joinPath(path, k.Value)
			if _, seen := lines[p]; !seen {
				lines[p] = k.Line
			}
			yamlLines(v, p, lines)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := indexPath(path, i)
			lines[p] = c.Line
			yamlLines(c, p, lines)
		}
	}
}

func jsonProblem(data []byte, err error) Problems {
	var serr *json.SyntaxError
	if errors.As(err, &serr) {
		return Problems{{Line: lineAt(data, int(serr.Offset)), Msg: "invalid JSON: " + serr.Error()}}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return Problems{{Line: lineAt(data, len(data)), Msg: "invalid JSON: unexpected end of file"}}
	}
	return Problems{{Msg: "invalid JSON: " + err.Error()}}
}

func lineAt(data []byte, off int) int {
	if off > len(data) {
		off = len(data)
	}
	if off < 0 {
		off = 0
	}
	return 1 + bytes.Count(data[:off], []byte{'\n'})
}

// jsonLines walks the token stream to find each key's line, and reports
// duplicate keys, which encoding/json would silently overwrite.
func jsonLines(data []byte) (map[string]int, Problems) {
	type frame struct {
		path    string
		obj     bool
		wantKey bool
		key     string
		idx     int
		seen    map[string]bool
	}
	lines := map[string]int{}
	var dups Problems
	nl := newlineOffsets(data)
	lineOf := func(off int64) int { return 1 + sort.Search(len(nl), func(i int) bool { return nl[i] >= int(off) }) }
	dec := json.NewDecoder(bytes.NewReader(data))
	var stack []*frame
	afterValue := func() {
		if len(stack) == 0 {
			return
		}
		top := stack[len(stack)-1]
		if top.obj {
			top.wantKey = true
		} else {
			top.idx++
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return lines, dups
		}
		end := dec.InputOffset()
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			afterValue()
			continue
		}
		var child string
		if len(stack) > 0 {
			top := stack[len(stack)-1]
			if top.obj && top.wantKey {
				key, _ := tok.(string)
				top.key, top.wantKey = key, false
				p := joinPath(top.path, key)
				if top.seen[key] {
					dups = append(dups, Problem{Path: p, Line: lineOf(end), Msg: "duplicate key"})
				} else {
					lines[p] = lineOf(end)
				}
				top.seen[key] = true
				continue
			}
			if top.obj {
				child = joinPath(top.path, top.key)
			} else {
				child = indexPath(top.path, top.idx)
				lines[child] = lineOf(end)
			}
		}
		if d, ok := tok.(json.Delim); ok {
			stack = append(stack, &frame{path: child, obj: d == '{', wantKey: d == '{', seen: map[string]bool{}})
			continue
		}
		afterValue()
	}
}

func newlineOffsets(data []byte) []int {
	var nl []int
	for i, b := range data {
		if b == '\n' {
			nl = append(nl, i)
		}
	}
	return nl
}

// normalize turns every decoder's shapes into map[string]any and []any.
func normalize(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = normalize(e)
		}
		return t
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[fmt.Sprint(k)] = normalize(e)
		}
		return m
	case []any:
		for i, e := range t {
			t[i] = normalize(e)
		}
		return t
	case []map[string]any:
		l := make([]any, len(t))
		for i, e := range t {
			l[i] = normalize(e)
		}
		return l
	}
	return v
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func indexPath(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// parentPath drops the last segment: "a.b[2]" -> "a.b" -> "a" -> "".
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// tomlLines finds the line of each table and key, best effort: BurntSushi/toml
// keeps no positions. It reads "[table]", "[[array]]" and "key = " lines,
// skipping multi-line strings; keys inside inline tables get their parent's
// line through lineNear.
func tomlLines(data []byte) map[string]int {
	lines := map[string]int{}
	counts := map[string]int{}
	table := ""
	inString := ""
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		t := strings.TrimSpace(line)
		if inString != "" {
			if strings.Count(t, inString)%2 == 1 {
				inString = ""
			}
			continue
		}
		switch {
		case t == "" || t[0] == '#':
			continue
		case strings.HasPrefix(t, "[["):
			end := strings.Index(t, "]]")
			if end < 0 {
				continue
			}
			name := tomlKey(t[2:end])
			table = indexPath(name, counts[name])
			counts[name]++
			lines[table] = n
			continue
		case t[0] == '[':
			end := strings.IndexByte(t, ']')
			if end < 0 {
				continue
			}
			table = tomlKey(t[1:end])
			// A sub-table of the last array entry: [feeds.headers] after
			// [[feeds]] belongs to feeds[n].
			if head, rest, ok := strings.Cut(table, "."); ok && counts[head] > 0 {
				table = indexPath(head, counts[head]-1) + "." + rest
			}
			if _, seen := lines[table]; !seen {
				lines[table] = n
			}
			continue
		}
		eq := strings.IndexByte(t, '=')
		if eq <= 0 {
			continue
		}
		p := joinPath(table, tomlKey(t[:eq]))
		if _, seen := lines[p]; !seen {
			lines[p] = n
		}
		for _, q := range []string{`"""`, `'''`} {
			if strings.Count(t[eq:], q)%2 == 1 {
				inString = q
			}
		}
	}
	return lines
}

// tomlKey turns a TOML key ("a . b", `"team-slack"`) into a dotted path.
func tomlKey(s string) string {
	parts := strings.Split(s, ".")
	for i, p := range parts {
		parts[i] = strings.Trim(strings.TrimSpace(p), `"'`)
	}
	return strings.Join(parts, ".")
}
