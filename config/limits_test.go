package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLimitsHostile: files that made the parsers (or the code after them)
// overflow the stack or take minutes and gigabytes are refused before
// parsing, with the line where the nesting went too deep.
func TestLimitsHostile(t *testing.T) {
	rep := strings.Repeat
	tests := []struct {
		name, file, body, want string
	}{
		{"TOML nested inline tables", "f.toml", "data_dir = \"d\"\nx = " + rep("{a=", 8000) + "1" + rep("}", 8000) + "\n", "f.toml:2: nested more than 64 levels deep"},
		{"TOML brackets", "f.toml", "x = " + rep("[", 500000) + "\n", "f.toml:1: nested more than 64"},
		{"TOML dotted key", "f.toml", "a" + rep(".a", 100000) + " = 1\n", "f.toml:1: nested more than 64"},
		{"TOML dotted key in an inline table", "f.toml", "x = {a" + rep(".a", 100) + " = 1}\n", "f.toml:1: nested more than 64"},
		{"TOML table header", "f.toml", "[watcher]\n[" + rep("a.", 100000) + "a]\n", "f.toml:2: nested more than 64"},
		{"YAML flow brackets", "f.yaml", "x: " + rep("[", 500000) + "\n", "f.yaml:1: nested more than 64"},
		{"YAML flow mappings", "f.yaml", "x: " + rep("{a: ", 200000) + "\n", "f.yaml:1: nested more than 64"},
		{"YAML indentation", "f.yaml", yamlStairs(200), "f.yaml:65: nested more than 64"},
		{"YAML sequence chain", "f.yaml", "x:\n" + rep("- ", 300000) + "1\n", "f.yaml:2: nested more than 64"},
		{"JSON arrays", "f.json", "{\"x\": " + rep("[", 500000) + "\n", "f.json:1: nested more than 64"},
		{"too large", "f.yaml", "# " + rep("x", MaxFileSize) + "\n", "f.yaml: the file is larger than 1 MB, the most a config may be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tt.file)
			if err := os.WriteFile(path, []byte(tt.body), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path, nil, WithChannels(testChannels...))
			got := problemsOf(t, err)
			if len(got) != 1 || !strings.HasPrefix(got[0], tt.want) {
				t.Fatalf("got %q, want one problem starting %q", got, tt.want)
			}
		})
	}
}

// yamlStairs nests n mappings, one more space of indentation a line.
func yamlStairs(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(strings.Repeat(" ", i) + "a:\n")
	}
	return b.String()
}

// TestLimitsPass: brackets and indentation that are text, not structure,
// do not count.
func TestLimitsPass(t *testing.T) {
	rep := strings.Repeat
	tests := []struct{ name, file, body string }{
		{"brackets in YAML strings", "f.yaml", "a: \"" + rep("[", 200) + "\"\nb: '" + rep("{", 200) + "'\nc: it's " + rep("[", 10) + "\n"},
		{"brackets in YAML comments", "f.yaml", "a: 1 # " + rep("[", 200) + "\n" + rep("#[", 100) + "\n"},
		{"YAML block scalar", "f.yaml", "t: |\n" + yamlBlock(200) + "u: 1\n"},
		{"YAML folded block scalar in a sequence", "f.yaml", "l:\n  - >-\n" + yamlBlock(200) + "  - x\n"},
		{"brackets in TOML strings", "f.toml", "a = \"" + rep("[", 200) + "\"\nb = '" + rep("{", 200) + "'\nc = \"\"\"\n" + rep("[", 200) + "\n\"\"\"\n"},
		{"TOML floats are not dotted keys", "f.toml", "a = [" + rep("1.5, ", 200) + "2.5]\n"},
		{"TOML array of inline tables over lines", "f.toml", "a = [\n" + rep("  {b.c = 1, d.e = 2},\n", 200) + "]\n"},
		{"brackets in JSON strings", "f.json", "{\"a\": \"" + rep("[{", 200) + "\"}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if line := tooDeep(formatOf(tt.file), []byte(tt.body), MaxDepth); line != 0 {
				t.Fatalf("refused at line %d:\n%s", line, tt.body)
			}
		})
	}
	for _, name := range []string{"good.yaml", "good.toml", "good.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if line := tooDeep(formatOf(name), data, 8); line != 0 {
			t.Errorf("%s: deeper than 8 levels at line %d", name, line)
		}
	}
}

// yamlBlock is block scalar text indented deeper on every line, like a
// nested HTML template.
func yamlBlock(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(strings.Repeat(" ", 4+i) + "<div> {{if .X}} [x]\n")
	}
	return b.String()
}
