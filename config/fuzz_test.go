package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary bytes, as YAML, TOML or JSON, to the whole load
// path: it must never panic, must return either a config or problems, and a
// config it returns must validate again.
func FuzzLoad(f *testing.F) {
	for _, name := range []string{"good.yaml", "good.toml", "good.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, byte(0))
	}
	f.Add([]byte("watcher:\n  interval: 1d12h\n  max_body: 1.5MB\n"), byte(0))
	f.Add([]byte("a: &a [*a, *a]\nb: *a\n"), byte(0))
	f.Add([]byte(`{"feeds":[{"url":"x","headers":{"A":"${B}"}}]}`), byte(2))
	f.Add([]byte("[[feeds]]\nurl = \"x\"\n"), byte(1))
	// Nesting that once overflowed the stack or took minutes (cut short
	// by the depth limit now).
	f.Add([]byte("x = "+strings.Repeat("{a=", 80)+"1"+strings.Repeat("}", 80)+"\n"), byte(1))
	f.Add([]byte("a"+strings.Repeat(".a", 80)+" = 1\n"), byte(1))
	f.Add([]byte("x: "+strings.Repeat("[", 80)+"\n"), byte(0))
	f.Add([]byte("x:\n"+strings.Repeat("- ", 80)+"1\n"), byte(0))
	f.Add([]byte(`{"x": `+strings.Repeat("[", 80)), byte(2))
	exts := []string{".yaml", ".toml", ".json"}
	getenv := func(k string) string {
		if k == "SET" {
			return "value"
		}
		return ""
	}
	f.Fuzz(func(t *testing.T, data []byte, ext byte) {
		path := "/fuzz/feedwatch" + exts[int(ext)%len(exts)]
		c, err := Parse(path, data, getenv, WithChannels(testChannels...))
		if err == nil && c == nil {
			t.Fatal("no config and no error")
		}
		if err != nil {
			if c != nil {
				t.Fatal("a config with problems")
			}
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if ps := c.Validate(); ps != nil {
			t.Fatalf("a loaded config fails Validate: %v", ps)
		}
	})
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"90s", "5m", "1h30m", "90d", "1d12h", "1.5d", "-2d", "0", "300", "1w", "1..5d", "9999999d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		back, err := ParseDuration(d.String())
		if err != nil || back != d {
			t.Fatalf("%q -> %v -> %q -> %v, %v", s, d.D(), d.String(), back.D(), err)
		}
	})
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"512", "10KB", "10MB", "1GB", "10MiB", "1.5MB", "10 mb", "-1", "9999999999TB", "MB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("%q -> negative %d", s, n)
		}
		back, err := ParseSize(n.String())
		if err != nil || back != n {
			t.Fatalf("%q -> %d -> %q -> %d, %v", s, n, n.String(), back, err)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	for _, name := range []string{"good.yaml", "good.toml", "good.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			getenv := envMap(goodEnv)
			for b.Loop() {
				if _, err := Parse("/etc/feedwatch/"+name, data, getenv, WithChannels(testChannels...)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
