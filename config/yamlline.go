package config

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// lineSearchBudget bounds the bytes yamlErrorLine parses when it has to
// try prefixes one by one: about a tenth of a second.
const lineSearchBudget = 4 << 20

// yamlErrorLine finds the line a YAML syntax error is on. yaml.v3 reports
// the line where the enclosing construct began ("did not find expected
// key" at the line of "feeds:", a tab at the line before it), which sends
// people to the wrong place. A prefix of a document that ends before the
// mistake parses; once the mistake is in, longer prefixes fail. So the
// error is on the line after the longest prefix that parses. A binary
// search finds it, starting at the reported line (the mistake cannot be
// before it); when the prefix it ends on fails differently from the whole
// file (a multi-line [list] or "string" cut in the middle fails too), a
// scan back from the end decides, within a budget. It returns 0 when it
// cannot tell.
func yamlErrorLine(data []byte, fullMsg string, reported int) int {
	var ends []int // offset just past each line
	for i, b := range data {
		if b == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		ends = append(ends, len(data))
	}
	budget := lineSearchBudget
	// fails returns the error message of the first k lines, "" if they
	// parse.
	fails := func(k int) string {
		if k == 0 {
			return ""
		}
		budget -= ends[k-1]
		var n yaml.Node
		if err := yaml.Unmarshal(data[:ends[k-1]], &n); err != nil {
			return yamlMessage(err)
		}
		return ""
	}
	lo, hi := max(0, reported-2), len(ends)
	if lo >= hi || fails(lo) != "" {
		lo = 0
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if fails(mid) == "" {
			lo = mid
		} else {
			hi = mid
		}
	}
	if hi > 0 && fails(hi) == fullMsg {
		return hi
	}
	budget = lineSearchBudget
	for k := len(ends) - 1; k >= 0 && budget > 0; k-- {
		if fails(k) == "" {
			return k + 1
		}
	}
	return 0
}

// yamlMessage is a yaml.v3 syntax error without its "yaml: line N: ".
func yamlMessage(err error) string {
	m := strings.TrimSpace(err.Error())
	if sm := yamlLineRE.FindStringSubmatch(m); sm != nil {
		return sm[2]
	}
	return strings.TrimPrefix(m, "yaml: ")
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
func yamlSyntaxProblems(data []byte, err error) Problems {
	ps := yamlProblems(err)
	if len(ps) != 1 {
		return ps
	}
	p := ps[0]
	if l := yamlErrorLine(data, yamlMessage(err), p.Line); l > 0 {
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
