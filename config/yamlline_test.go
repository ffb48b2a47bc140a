package config

import (
	"strings"
	"testing"
)

// TestYAMLSyntaxErrorLine checks that syntax errors point at the line
// holding the mistake, not at the start of the enclosing block.
func TestYAMLSyntaxErrorLine(t *testing.T) {
	tests := []struct {
		name, body string
		line       int
		words      string
	}{
		{"tab indenting a list", "data_dir: x\nfeeds:\n\t- url: a\n", 3, "tab"},
		{"tab indenting a key", "profiles:\n  - name: x\n\tkeywords: [a]\n", 3, "tab"},
		{"unclosed quote", "data_dir: x\nfeeds:\n  - url: \"a\n    name: b\nprofiles:\n  - name: x\n", 3, "closing quote"},
		{"unclosed list", "feeds:\n  - url: a\n    name: [b\nprofiles:\n  - name: x\n    keywords: [a]\n", 3, "not closed"},
		{"key outdented in a list", "data_dir: x\nfeeds:\n  - url: a\n  name: b\nprofiles:\n  - name: x\n", 4, "indented differently"},
		{"section indented", "data_dir: x\nfeeds:\n  - url: a\n    name: b\n  profiles:\n  - name: x\n", 5, "indented differently"},
		{"over-indented key", "data_dir: x\nhttp:\n  listen: a\n   bad: b\nfeeds: []\n", 4, "key: value"},
		{"colon in a value", "data_dir: x\nhttp:\n  listen: a: b\n", 3, "quote a value"},
		{"multi-line flow list before the error", "profiles:\n  - name: x\n    keywords: [a,\n      b]\n\tfoo: 1\n", 5, "tab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("feedwatch.yaml", []byte(tt.body), nil)
			ps, ok := err.(Problems)
			if !ok || len(ps) != 1 {
				t.Fatalf("want one problem, got %v", err)
			}
			if ps[0].Line != tt.line || !strings.Contains(ps[0].Msg, tt.words) {
				t.Errorf("got %s\nwant line %d saying %q", ps[0], tt.line, tt.words)
			}
		})
	}
}

func TestYAMLErrorLineLongFile(t *testing.T) {
	// The search parses one prefix per line: on a long file with the
	// mistake at the top it must stay quick (no assertion on time; this
	// runs it so a regression shows in the test's duration).
	var b strings.Builder
	b.WriteString("data_dir: x\nfeeds:\n\t- url: a\n")
	for i := range 1500 {
		b.WriteString("  - url: https://example.org/" + strings.Repeat("x", i%40) + "\n")
	}
	_, err := Parse("feedwatch.yaml", []byte(b.String()), nil)
	ps, ok := err.(Problems)
	if !ok || ps[0].Line != 3 {
		t.Fatalf("got %v", err)
	}
}
