package notifiertest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/feedwatch/feedwatch/hit"
)

// GoldenHits is one golden pair's input: the hits of testdata/golden/
// <name>.in.json. With update it writes hits there first, so the input of
// record is the file, which a reviewer reads next to the output.
func GoldenHits(t testing.TB, name string, hits []hit.Hit, update bool) []hit.Hit {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".in.json")
	if update {
		writeJSON(t, path, hits)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden input (run with -update to write it): %v", err)
	}
	var out []hit.Hit
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("golden input %s: %v", path, err)
	}
	return out
}

// GoldenJSON compares got, a JSON document, with testdata/golden/<name>.out.json
// (indented); with update it rewrites the file instead.
func GoldenJSON(t testing.TB, name string, got []byte, update bool) {
	t.Helper()
	var v any
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatalf("golden %s: output is not JSON: %v", name, err)
	}
	path := filepath.Join("testdata", "golden", name+".out.json")
	if update {
		writeJSON(t, path, v)
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden output (run with -update to write it): %v", err)
	}
	if g := indent(t, v); !bytes.Equal(g, want) {
		t.Errorf("%s differs from %s (run with -update to accept):\n%s", name, path, g)
	}
}

func writeJSON(t testing.TB, path string, v any) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, indent(t, v), 0o644); err != nil {
		t.Fatal(err)
	}
}

func indent(t testing.TB, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
