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
		{"multi-line quoted query before the error", "profiles:\n  - name: x\n    query: 'a AND\n      b AND\n      c AND\n      d'\n  - name: y\n    keywords: [b]\n  - name: z\n\tkeywords: [c]\n", 10, "tab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("feedwatch.yaml", []byte(tt.body), nil, WithChannels(testChannels...))
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
	// The search parses prefixes of the file: with the mistake at the top
	// of a long file every prefix fails, the costliest case (33 ms here
	// for 100 KB; no assertion on time, a regression shows in the test's
	// duration).
	var b strings.Builder
	b.WriteString("data_dir: \"x\nfeeds:\n")
	for i := range 2000 {
		b.WriteString("  - url: https://example.org/" + strings.Repeat("x", i%40) + "\n")
	}
	for i, body := range []string{b.String(), strings.Replace(b.String(), "\"x", "[x", 1), strings.Replace(b.String(), "\"x", "x\n\tfoo: 1", 1)} {
		_, err := Parse("feedwatch.yaml", []byte(body), nil, WithChannels(testChannels...))
		ps, ok := err.(Problems)
		if want := []int{1, 1, 2}[i]; !ok || ps[0].Line != want {
			t.Fatalf("case %d: got %v, want line %d", i, err, want)
		}
	}
}
