package config

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestNamedOPMLFiles(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, file, body string
		want             []string
	}{
		{"yaml list", "a.yaml", "opml: [subs.opml, /abs/x.opml, '', '${HOME}/y.opml']\nfeeds: 3\n", []string{filepath.Join(dir, "subs.opml"), "/abs/x.opml"}},
		{"yaml scalar", "b.yaml", "opml: one.opml\n", []string{filepath.Join(dir, "one.opml")}},
		{"toml", "c.toml", "opml = [\"t.opml\"]\n", []string{filepath.Join(dir, "t.opml")}},
		{"json", "d.json", `{"opml": ["j.opml"]}`, []string{filepath.Join(dir, "j.opml")}},
		{"none", "e.yaml", "feeds: []\n", nil},
		{"syntax error", "f.yaml", "opml: [x\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.file)
			if err := os.WriteFile(p, []byte(tt.body), 0o600); err != nil {
				t.Fatal(err)
			}
			if got := NamedOPMLFiles(p); !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
	if got := NamedOPMLFiles(filepath.Join(dir, "missing.yaml")); got != nil {
		t.Fatalf("missing config: %q", got)
	}
}
