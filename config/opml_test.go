package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeFiles writes name -> body under a new folder and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const subsOPML = `<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>Reader</title></head>
  <body>
    <outline text="News">
      <outline type="rss" text="World" xmlUrl="https://example.org/world/rss" htmlUrl="https://example.org/world"/>
      <outline type="rss" text="BBC" xmlUrl="https://bbc.example/rss"/>
      <outline text="Asia">
        <outline type="rss" text="RFA" xmlUrl="https://rfa.example/rss" category="/press/free"/>
      </outline>
    </outline>
    <outline text="UK">
      <outline type="rss" text="BBC" xmlUrl="HTTPS://BBC.example/rss"/>
      <outline type="rss" text="BBC" xmlUrl="https://bbc.example/other"/>
    </outline>
    <outline type="rss" xmlUrl="https://untitled.example/feed.xml"/>
  </body>
</opml>
`

func TestLoadOPML(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"feedwatch.yaml": `feeds:
  - url: https://example.org/world/rss
    name: world
    tags: [mine]
opml: [subs.opml, more/second.opml]
profiles:
  - name: asia
    keywords: [x]
    feeds: [tag:Asia, "BBC (2)", tag:free]
`,
		"subs.opml":        subsOPML,
		"more/second.opml": "<opml><body>\n<outline text='RFA again' xmlUrl='https://rfa.example/rss'/>\n<outline text='Other' xmlUrl='https://other.example/rss' category='extra'/>\n</body></opml>",
	})
	c, err := Load(filepath.Join(dir, "feedwatch.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	type feed struct {
		Name, URL, HTML string
		Tags            []string
		From            string
		Line            int
	}
	var got []feed
	for _, f := range c.Feeds {
		got = append(got, feed{f.Name, f.URL, f.HTMLURL, f.Tags, f.From, f.FromLine})
		if f.Interval != DefaultInterval {
			t.Errorf("feed %q: interval %v", f.Name, f.Interval)
		}
	}
	want := []feed{
		{"world", "https://example.org/world/rss", "", []string{"mine"}, "", 0},
		{"BBC", "https://bbc.example/rss", "", []string{"News", "UK"}, "subs.opml", 7},
		{"RFA", "https://rfa.example/rss", "", []string{"News", "Asia", "press", "free"}, "subs.opml", 9},
		{"BBC (2)", "https://bbc.example/other", "", []string{"UK"}, "subs.opml", 14},
		{"untitled-example-feed-xml", "https://untitled.example/feed.xml", "", nil, "subs.opml", 16},
		{"Other", "https://other.example/rss", "", []string{"extra"}, "more/second.opml", 3},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("feeds\n got %+v\nwant %+v", got, want)
	}
	var warns []string
	for _, p := range c.Warnings {
		warns = append(warns, p.String())
	}
	wantWarns := []string{`subs.opml:6: warning: opml[0]: the feed "World" is also feeds[0] ("world") of the config, whose entry is used`}
	if !reflect.DeepEqual(warns, wantWarns) {
		t.Errorf("warnings\n got %q\nwant %q", warns, wantWarns)
	}
	if files := c.OPMLFiles(); !reflect.DeepEqual(files, []string{filepath.Join(dir, "subs.opml"), filepath.Join(dir, "more/second.opml")}) {
		t.Errorf("OPMLFiles %v", files)
	}
}

func TestLoadOPMLProblems(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{
			name:  "missing file",
			files: map[string]string{"feedwatch.yaml": "feeds: []\nopml:\n  - gone.opml\n"},
			want:  []string{`feedwatch.yaml:3: opml[0]: cannot read OPML file "DIR/gone.opml": no such file or directory`},
		},
		{
			name:  "a folder, not a file",
			files: map[string]string{"feedwatch.yaml": "opml: [sub]\n", "sub/x": ""},
			want:  []string{`feedwatch.yaml:1: opml[0]: cannot read OPML file "DIR/sub": not a regular file`},
		},
		{
			name:  "empty path",
			files: map[string]string{"feedwatch.yaml": "opml: ['']\n"},
			want:  []string{`feedwatch.yaml:1: opml[0]: empty path: name an OPML file`},
		},
		{
			name: "not XML",
			files: map[string]string{
				"feedwatch.yaml": "opml: [a.opml]\n",
				"a.opml":         "<opml>\n<body>\n<outline text='x' xmlUrl='https://e.org/'\n",
			},
			want: []string{`a.opml:4: opml[0]: invalid OPML: not well-formed XML: unexpected EOF`},
		},
		{
			name: "no body",
			files: map[string]string{
				"feedwatch.yaml": "opml: [a.opml]\n",
				"a.opml":         "<opml><head/></opml>",
			},
			want: []string{`a.opml:1: opml[0]: invalid OPML: not OPML: no <body> element`},
		},
		{
			name: "bad URLs, each with its line, and a good file beside",
			files: map[string]string{
				"feedwatch.yaml": "feeds:\n  - url: https://example.org/rss\nopml: [good.opml, bad.opml]\n",
				"good.opml":      subsOPML,
				"bad.opml":       "<opml><body>\n<outline text='a' xmlUrl='feed.xml'/>\n<outline text='a' xmlUrl='feed.xml'/>\n<outline text='b' xmlUrl='gopher://x/'/>\n</body></opml>",
			},
			want: []string{
				`bad.opml:2: opml[1]: invalid OPML: outline "a": xmlUrl is not an absolute URL (want https://host/path)`,
				`bad.opml:3: opml[1]: invalid OPML: outline "a": xmlUrl is not an absolute URL (want https://host/path)`,
				`bad.opml:4: opml[1]: invalid OPML: outline "b": xmlUrl has scheme "gopher": want http or https`,
			},
		},
		{
			name: "profile scoped to a tag of a broken file",
			files: map[string]string{
				"feedwatch.yaml": "opml: [a.opml]\nprofiles:\n  - name: p\n    keywords: [x]\n    feeds: [tag:News]\n",
				"a.opml":         "not xml at all",
			},
			want: []string{
				`feedwatch.yaml:5: profiles[0].feeds[0]: no feed has tag "News"`,
				`a.opml:1: opml[0]: invalid OPML: not OPML: no <opml> element`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			_, err := Load(filepath.Join(dir, "feedwatch.yaml"), nil)
			got := problemsOf(t, err)
			for i := range got {
				got[i] = strings.ReplaceAll(got[i], dir, "DIR")
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// feedwatch notify polls nothing: a missing OPML file does not stop it.
func TestLoadOPMLNotify(t *testing.T) {
	dir := writeFiles(t, map[string]string{"feedwatch.yaml": "opml: [gone.opml]\nnotifiers:\n  c: {type: console}\n"})
	c, err := Load(filepath.Join(dir, "feedwatch.yaml"), nil, WithRole(RoleNotify))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Feeds) != 0 {
		t.Fatalf("feeds %v", c.Feeds)
	}
}

func bigOPML(n int) string {
	var b strings.Builder
	b.WriteString("<opml version='2.0'><head><title>big</title></head><body>\n")
	for i := range n {
		if i%100 == 0 {
			if i > 0 {
				b.WriteString("</outline>\n")
			}
			fmt.Fprintf(&b, "<outline text='folder %d'>\n", i/100)
		}
		fmt.Fprintf(&b, "<outline type='rss' text='Feed %d' xmlUrl='https://h%d.example.org/feed/%d.xml' htmlUrl='https://h%d.example.org/'/>\n", i, i%977, i, i%977)
	}
	b.WriteString("</outline>\n</body></opml>\n")
	return b.String()
}

func TestLoadOPMLLarge(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"feedwatch.yaml": "opml: [big.opml]\nprofiles:\n  - name: p\n    keywords: [x]\n    feeds: [tag:folder 499]\n",
		"big.opml":       bigOPML(50_000),
	})
	c, err := Load(filepath.Join(dir, "feedwatch.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Feeds) != 50_000 {
		t.Fatalf("%d feeds", len(c.Feeds))
	}
}

// BenchmarkLoadOPML50k: a config with one OPML file of 50,000 feeds in
// 500 folders, loaded and validated as the daemon does at start.
func BenchmarkLoadOPML50k(b *testing.B) {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "big.opml"), []byte(bigOPML(50_000)), 0o644); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "feedwatch.yaml")
	if err := os.WriteFile(path, []byte("opml: [big.opml]\nprofiles:\n  - name: p\n    keywords: [x]\n    feeds: [tag:folder 7]\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		c, err := Load(path, nil)
		if err != nil || len(c.Feeds) != 50_000 {
			b.Fatal(err)
		}
	}
}

// A problem another part finds with an OPML feed (a check passed to Load)
// points at the OPML file and line, not at the config.
func TestOPMLFeedProblemsPointAtOPML(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"feedwatch.yaml": "feeds:\n  - url: https://example.org/a\nopml: [subs.opml]\n",
		"subs.opml":      subsOPML,
	})
	check := func(c *Config) []Problem {
		var out []Problem
		for i, f := range c.Feeds {
			if f.Name == "RFA" || f.Name == "example-org-a" {
				out = append(out, Problem{Path: fmt.Sprintf("feeds[%d].url", i), Msg: "unreachable"})
			}
		}
		return out
	}
	_, err := Load(filepath.Join(dir, "feedwatch.yaml"), nil, WithChecks(check))
	got := problemsOf(t, err)
	want := []string{"feedwatch.yaml:2: feeds[0].url: unreachable", "subs.opml:9: feeds[3].url: unreachable"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
