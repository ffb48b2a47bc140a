package config

import (
	"bytes"

	"gopkg.in/yaml.v3"
)

// maxLineSearch bounds yamlErrorLine's work (one parse per line tried).
const maxLineSearch = 2000

// yamlErrorLine finds the line a YAML syntax error is on. yaml.v3 reports
// the line where the enclosing construct began ("did not find expected
// key" at the line of "feeds:", a tab at the line before it), which sends
// people to the wrong place. A prefix of a document that ends before the
// mistake parses; once the mistake is in, every longer prefix fails. So
// the error is on the line after the longest prefix that parses. It
// returns 0 when it cannot tell (every prefix fails, or the file is long).
func yamlErrorLine(data []byte) int {
	var ends []int // offset just past each line
	for i, b := range data {
		if b == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		ends = append(ends, len(data))
	}
	if len(ends) > maxLineSearch {
		return 0
	}
	for k := len(ends) - 1; k >= 1; k-- {
		var n yaml.Node
		if yaml.Unmarshal(data[:ends[k-1]], &n) == nil {
			return k + 1
		}
	}
	if len(ends) > 0 && len(bytes.TrimSpace(data[:ends[0]])) > 0 {
		return 1
	}
	return 0
}

// yamlPlainWords rewords the yaml.v3 messages people meet most.
var yamlPlainWords = map[string]string{
	"found character that cannot start any token":            "a character that cannot start a value here (a tab? YAML indents with spaces only)",
	"found a tab character that violates indentation":        "a tab in the indentation: YAML indents with spaces only",
	"mapping values are not allowed in this context":         `a "key: value" where none can be: check the indentation, or quote a value that holds ": "`,
	"did not find expected key":                              "a line indented differently from the keys around it",
	"did not find expected '-' indicator":                    `a line indented differently from the list around it (list entries start with "- ")`,
	"found unexpected end of stream":                         "the file ends inside a quoted string or a [ ] or { } (a missing closing quote or bracket?)",
	"did not find expected ',' or ']'":                       `a [ ] list is not closed with "]" on this line`,
	"did not find expected ',' or '}'":                       `a { } mapping is not closed with "}" on this line`,
	"could not find expected ':'":                            `a key without ":" (or a quoted value not closed)`,
	"found unknown escape character":                         `an unknown escape in a "double-quoted" string: use 'single quotes' for backslashes`,
	"block sequence entries are not allowed in this context": `a "- " list entry where a value was expected: check the indentation`,
}

// yamlSyntaxProblems puts a syntax error at the line it is on, in plain
// words; the library's wording stays in brackets for searching.
func yamlSyntaxProblems(data []byte, ps Problems) Problems {
	if len(ps) != 1 {
		return ps
	}
	p := ps[0]
	if l := yamlErrorLine(data); l > 0 {
		p.Line = l
	}
	const prefix = "invalid YAML: "
	if len(p.Msg) > len(prefix) {
		if plain, ok := yamlPlainWords[p.Msg[len(prefix):]]; ok {
			p.Msg = prefix + plain + " (" + p.Msg[len(prefix):] + ")"
		}
	}
	return Problems{p}
}
