package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/feedwatch/feedwatch/config"
)

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const readerOPML = `<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>Reader</title></head>
  <body>
    <outline text="Asia">
      <outline type="rss" text="RFA" xmlUrl="https://rfa.example/rss" htmlUrl="https://rfa.example/"/>
      <outline text="China">
        <outline type="rss" text="Sixth Tone" xmlUrl="https://sixthtone.example/rss"/>
      </outline>
    </outline>
    <outline type="rss" text="World" xmlUrl="https://example.org/world/rss"/>
  </body>
</opml>
`

// TestFeedsExportRoundTrip: export writes the effective feed list, and a
// config that reads the export back as its only OPML file has the same
// feeds with the same tags; credentials do not leave in clear.
func TestFeedsExportRoundTrip(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "reader.opml", readerOPML)
	cfgPath := writeFile(t, dir, "feedwatch.yaml", `feeds:
  - url: https://example.org/world/rss
    name: world
    tags: [news, uk]
  - url: https://example.org/uk.xml
    tags: [uk]
  - url: https://example.org/private/rss?token=${FEED_TOKEN}
    name: private
  - url: https://alice:hunter2@example.org/paid.xml
    name: paid
  - url: ./local.xml
    name: local
opml: [reader.opml]
profiles:
  - name: p
    keywords: [x]
`)
	writeFile(t, dir, "local.xml", "<rss/>")
	getenv := func(k string) string {
		if k == "FEED_TOKEN" {
			return "s3cr3t-t0ken-value"
		}
		return ""
	}
	code, out, errOut := runCLI(t, getenv, "feeds", "export", "--config", cfgPath)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, secret := range []string{"s3cr3t-t0ken-value", "hunter2", "alice"} {
		if strings.Contains(out+errOut, secret) {
			t.Errorf("%q in the export:\n%s", secret, out)
		}
	}
	for _, want := range []string{`feed "private": credentials in its URL written as REDACTED`, `feed "paid": credentials`, `feed "local": not an http(s) URL`, "warning: opml[0]"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if !strings.Contains(out, `<opml version="2.0">`) || !strings.Contains(out, "<dateCreated>") || !strings.Contains(out, `htmlUrl="https://rfa.example/"`) {
		t.Errorf("export:\n%s", out)
	}

	// Import the export alone.
	dir2 := t.TempDir()
	writeFile(t, dir2, "export.opml", out)
	back, err := config.Load(writeFile(t, dir2, "feedwatch.yaml", "opml: [export.opml]\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	orig, err := config.Load(cfgPath, getenv)
	if err != nil {
		t.Fatal(err)
	}
	type feed struct {
		Name, URL string
		Tags      []string
	}
	index := func(c *config.Config, skip ...string) map[string]feed {
		m := map[string]feed{}
		for _, f := range c.Feeds {
			if slices.Contains(skip, f.Name) {
				continue
			}
			tags := slices.Clone(f.Tags)
			slices.Sort(tags)
			m[f.Name] = feed{f.Name, f.URL, tags}
		}
		return m
	}
	want := index(orig, "local", "private", "paid")
	got := index(back, "private", "paid")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip\n got %+v\nwant %+v", got, want)
	}
	if back.Feeds[0].HTMLURL == "" && !slices.ContainsFunc(back.Feeds, func(f config.Feed) bool { return f.HTMLURL == "https://rfa.example/" }) {
		t.Errorf("htmlUrl lost")
	}

	// -o writes a file.
	outFile := filepath.Join(dir, "out.opml")
	if code, _, errOut := runCLI(t, getenv, "feeds", "export", "--config", cfgPath, "-o", outFile); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if b, err := os.ReadFile(outFile); err != nil || !strings.Contains(string(b), "sixthtone.example") {
		t.Fatalf("-o: %v %s", err, b)
	}
}

func TestCheckOPML(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "good.opml", readerOPML)
	writeFile(t, dir, "bad.opml", "<opml><body>\n<outline text='x' xmlUrl='x.xml'/>\n</body></opml>\n")
	cfg := writeFile(t, dir, "feedwatch.yaml", "feeds:\n  - url: https://example.org/world/rss\nopml: [good.opml, bad.opml]\nprofiles:\n  - name: p\n    keywords: [x]\n")
	code, out, _ := runCLI(t, nil, "check", "--config", cfg)
	want := []string{
		`good.opml:11: warning: opml[0]: the feed "World" is also feeds[0] ("example-org-world-rss") of the config, whose entry is used`,
		`bad.opml:2: opml[1]: invalid OPML: outline "x": xmlUrl is not an absolute URL (want https://host/path)`,
	}
	if code != 1 || strings.TrimSpace(out) != strings.Join(want, "\n") {
		t.Errorf("exit %d, output\n%s\nwant\n%s", code, out, strings.Join(want, "\n"))
	}
}

func TestFeedsDiscover(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, `<html><head><link rel="alternate" type="application/rss+xml" href="/news/rss.xml"><link rel="alternate" type="application/atom+xml" href="/gone.xml"></head></html>`)
	})
	mux.HandleFunc("/news/rss.xml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		fmt.Fprint(w, `<rss version="2.0"><channel><title>World News: "Daily"</title><item><title>a</title><guid>1</guid></item><item><title>b</title><guid>2</guid></item></channel></rss>`)
	})
	mux.HandleFunc("/empty/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<html><body>nothing</body></html>") })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	code, out, errOut := runCLI(t, nil, "feeds", "discover", srv.URL+"/")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, `# World News: "Daily": 2 item(s), advertised for `+srv.URL+"/") {
		t.Errorf("stdout:\n%s", out)
	}
	var entries []map[string]string
	if err := yaml.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("stdout is not YAML: %v\n%s", err, out)
	}
	if want := []map[string]string{{"url": srv.URL + "/news/rss.xml", "name": "world-news-daily"}}; !reflect.DeepEqual(entries, want) {
		t.Errorf("entries %v, want %v", entries, want)
	}
	if !strings.Contains(errOut, "passed over "+srv.URL+"/gone.xml: http status 404") {
		t.Errorf("stderr:\n%s", errOut)
	}
	// The entry pastes under feeds: of a config that check accepts.
	var indented strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		indented.WriteString("  " + l + "\n")
	}
	cfg := writeFile(t, t.TempDir(), "feedwatch.yaml", "feeds:\n"+indented.String()+"profiles:\n  - name: p\n    keywords: [x]\n    feeds: [world-news-daily]\n")
	if code, out, _ := runCLI(t, nil, "check", "--config", cfg); code != 0 {
		t.Errorf("check of the pasted entry: %d\n%s", code, out)
	}

	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	for name, args := range map[string][]string{
		"no feeds":    {srv.URL + "/empty/"},
		"unreachable": {closed.URL + "/"},
		"one of two":  {srv.URL + "/", srv.URL + "/empty/"},
	} {
		t.Run(name, func(t *testing.T) {
			code, _, errOut := runCLI(t, nil, append([]string{"feeds", "discover"}, args...)...)
			if code != 1 {
				t.Errorf("exit %d, want 1: %s", code, errOut)
			}
		})
	}
	// A bare host with a port is named in the error, not hidden as REDACTED.
	bare := strings.TrimPrefix(closed.URL, "http://")
	if code, _, errOut := runCLI(t, nil, "feeds", "discover", bare); code != 1 || !strings.Contains(errOut, "https://"+bare+": fetch page") || strings.Contains(errOut, "REDACTED") {
		t.Errorf("bare %s: exit %d, want 1 and the page named: %s", bare, code, errOut)
	}
	for name, args := range map[string][]string{
		"no URL":     {},
		"not http":   {"ftp://example.org/"},
		"no subcmd":  nil,
		"export arg": {"x"},
	} {
		t.Run(name, func(t *testing.T) {
			full := append([]string{"feeds", "discover"}, args...)
			if name == "no subcmd" {
				full = []string{"feeds"}
			}
			if name == "export arg" {
				full = []string{"feeds", "export", "x"}
			}
			if code, _, errOut := runCLI(t, nil, full...); code != 2 {
				t.Errorf("exit %d, want 2: %s", code, errOut)
			}
		})
	}
}
