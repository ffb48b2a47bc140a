package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"unicode"
)

func runCLI(t *testing.T, getenv func(string) string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	code := execute(context.Background(), env{args: args, stdout: &out, stderr: &errb, getenv: getenv})
	return code, out.String(), errb.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, nil, "version")
	if code != 0 || !strings.Contains(out, "feedwatch dev") || !strings.Contains(out, "go1.") {
		t.Fatalf("version: %d %q", code, out)
	}
	// --config is a common flag: version takes it and reads nothing.
	if code, out, errOut := runCLI(t, nil, "version", "--config", "/nonexistent/feedwatch.yaml", "--log-format", "json"); code != 0 || !strings.Contains(out, "feedwatch dev") {
		t.Fatalf("version with the common flags: %d %q %q", code, out, errOut)
	}
}

// TestNoCommand: feedwatch alone is a usage error, with the usage on
// stderr; --help is not.
func TestNoCommand(t *testing.T) {
	if code, _, errOut := runCLI(t, nil); code != 2 || !strings.Contains(errOut, "Usage:") || !strings.Contains(errOut, "no command") {
		t.Errorf("no command: exit %d, stderr %q", code, errOut)
	}
	if code, out, _ := runCLI(t, nil, "--help"); code != 0 || !strings.Contains(out, "Usage:") {
		t.Errorf("--help: exit %d", code)
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	for name, args := range map[string][]string{
		"unknown command":    {"frobnicate"},
		"unknown flag":       {"check", "--frob"},
		"send-test no arg":   {"send-test"},
		"match no source":    {"match"},
		"bad log level":      {"run", "--log-level", "loud", "--config", "../../examples/feedwatch.yaml"},
		"profile and query":  {"match", "--profile", "x", "--query", "y", "a.xml"},
		"version extra args": {"version", "x"},
	} {
		t.Run(name, func(t *testing.T) {
			if code, _, errOut := runCLI(t, nil, args...); code != 2 {
				t.Fatalf("exit %d, want 2 (%s)", code, errOut)
			}
		})
	}
}

func TestCheckExample(t *testing.T) {
	code, out, errOut := runCLI(t, nil, "check", "--config", "../../examples/feedwatch.yaml")
	if code != 0 || !strings.Contains(out, "ok") {
		t.Fatalf("check example: %d %q %q", code, out, errOut)
	}
}

func TestCheckBad(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"unknown key", "profiles:\n  - name: x\n    keyword: [a]\n", []string{"profiles[0].keyword", "keywords"}},
		{"bad query", "profiles:\n  - name: x\n    query: 'a AND (b'\n", []string{"profiles[0].query", "column"}},
		{"missing notifier", "profiles:\n  - name: x\n    keywords: [a]\n    notify: [nope]\n", []string{"profiles[0].notify", "nope"}},
		{"bad duration", "watcher:\n  interval: 5 minutes\n", []string{"watcher.interval"}},
		{"several at once", "data_dirr: x\nprofiles:\n  - name: x\n    query: 'a OR'\n  - name: x\n    keywords: [b]\n", []string{"data_dirr", "profiles[0].query", "duplicate"}},
		{"bad template", "notifiers:\n  c:\n    type: console\n    template: '{{.Nope'\n", []string{"notifiers.c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "feedwatch.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			code, out, errOut := runCLI(t, nil, "check", "--config", path)
			if code != 1 {
				t.Fatalf("exit %d, want 1; out %q err %q", code, out, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestMatchExampleFile(t *testing.T) {
	code, out, errOut := runCLI(t, nil, "match", "--query", `"trade bill" AND genocide`, "../../examples/world.xml")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "Trade Bill amendment") || strings.Contains(out, "Rain delays") || strings.Contains(out, "US declares") {
		t.Fatalf("match output:\n%s", out)
	}
	code, out, _ = runCLI(t, nil, "match", "--config", "../../examples/feedwatch.yaml", "--profile", "xinjiang", "../../examples/world.xml")
	if code != 0 || strings.Count(out, "[xinjiang]") != 2 {
		t.Fatalf("match --profile: %d\n%s", code, out)
	}
}

func TestSendTestConsole(t *testing.T) {
	code, out, errOut := runCLI(t, nil, "send-test", "console", "--config", "../../examples/feedwatch.yaml")
	if code != 0 || !strings.Contains(out, "xinjiang") {
		t.Fatalf("send-test: %d %q %q", code, out, errOut)
	}
	if code, _, _ := runCLI(t, nil, "send-test", "nope", "--config", "../../examples/feedwatch.yaml"); code == 0 {
		t.Fatal("send-test of a missing notifier succeeded")
	}
}

// TestMatchConfiguredFeedHeaders: a source that is a configured feed's URL
// is fetched with that feed's headers, as the daemon would fetch it.
func TestMatchConfiguredFeedHeaders(t *testing.T) {
	doc, err := os.ReadFile("../../examples/world.xml")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer t0ken-for-feed" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/rss+xml")
		_, _ = w.Write(doc)
	}))
	defer srv.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "feedwatch.yaml")
	cfg := "data_dir: " + filepath.Join(dir, "data") + "\nfeeds:\n  - url: " + srv.URL + "/world.xml\n    name: world\n    headers: {Authorization: \"Bearer ${FEED_TOKEN}\"}\n" +
		"profiles:\n  - name: xinjiang\n    keywords: [Xinjiang]\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string {
		if k == "FEED_TOKEN" {
			return "t0ken-for-feed"
		}
		return ""
	}
	code, out, errOut := runCLI(t, getenv, "match", "--config", path, srv.URL+"/world.xml")
	if code != 0 || !strings.Contains(out, "[xinjiang]") {
		t.Fatalf("match: exit %d\nout: %s\nerr: %s", code, out, errOut)
	}
}

// TestStatusAndHealthcheck runs both commands against a stand-in daemon
// that answers /api/status and /healthz, then one that answers 503.
func TestStatusAndHealthcheck(t *testing.T) {
	var healthy atomic.Bool
	healthy.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		switch r.URL.Path {
		case "/healthz":
			_, _ = w.Write([]byte("ok"))
		case "/api/status":
			_, _ = w.Write([]byte(`{"mode":"run","ready":true,"feeds":[{"Name":"world","Result":"ok","notice":"moved permanently from https://a.example:443 to another origin"}],"profiles":{"xinjiang":{"hits":3}},` +
				`"members":[{"id":"n1-42-abcdef","role":"watch","host":"n1","pid":42,"feeds_owned":7,"feed_list":"0123456789abcdef","feeds_configured":12}],` +
				`"state":{"result":"damaged","lost":["seen items (bucket feedwatch_seen): missing"],"good_at":"2026-03-01T12:00:00Z","recover_before":"2026-03-01T12:00:00Z"}}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "feedwatch.yaml")
	// data_dir is the daemon's (here: not even a folder): commands beside
	// it do not check it, check does.
	cfg := "data_dir: " + path + "\nhttp: {listen: \"" + strings.TrimPrefix(srv.URL, "http://") + "\"}\n" +
		"feeds:\n  - url: https://example.org/feed.xml\n    name: world\nprofiles:\n  - name: xinjiang\n    keywords: [Xinjiang]\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := runCLI(t, nil, "check", "--config", path); code != 1 || !strings.Contains(out, "data_dir: "+path+" is not a folder") {
		t.Errorf("check with data_dir a file: exit %d, %q", code, out)
	}
	code, out, errOut := runCLI(t, nil, "status", "--config", path)
	if code != 0 || !strings.Contains(out, "world") || !strings.Contains(out, "xinjiang") || !strings.Contains(out, "notice: feed world moved permanently") ||
		!strings.Contains(out, "n1-42-abcdef  watch") || !strings.Contains(out, "0123456789abcdef (12 feeds)") ||
		!strings.Contains(out, "state DAMAGED") || !strings.Contains(out, "lost: seen items (bucket feedwatch_seen): missing") {
		t.Fatalf("status: exit %d\nout: %s\nerr: %s", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, nil, "healthcheck", "--config", path); code != 0 {
		t.Fatalf("healthcheck: exit %d: %s", code, errOut)
	}
	healthy.Store(false)
	for _, cmd := range []string{"status", "healthcheck"} {
		if code, _, errOut := runCLI(t, nil, cmd, "--config", path); code != 1 || !strings.Contains(errOut, "503") {
			t.Errorf("%s against a 503: exit %d, %q", cmd, code, errOut)
		}
	}
}

// TestMatchHostileText: feed text reaches the terminal without escape
// sequences, controls or bidi overrides, and a URL argument's credentials
// are not echoed in errors.
func TestMatchHostileText(t *testing.T) {
	hostile := "\x1b[2J\x1b]0;pwned\x07\u009b31m Xinjiang \u202eevil\u2066x\u2069\x00\x08\r"
	item := map[string]any{
		"id": "1", "url": "https://example.org/1" + hostile, "title": "Title " + hostile,
		"content_text": "Body about Xinjiang " + hostile, "date_published": "2026-01-01T00:00:00Z",
	}
	doc, err := json.Marshal(map[string]any{
		"version": "https://jsonfeed.org/version/1.1", "title": "Feed " + hostile, "items": []any{item},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/feed.json" {
			http.Error(w, "nope", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/feed+json")
		_, _ = w.Write(doc)
	}))
	defer srv.Close()
	code, out, errOut := runCLI(t, nil, "match", "--query", "xinjiang", srv.URL+"/feed.json")
	if code != 0 || !strings.Contains(out, "Xinjiang") {
		t.Fatalf("match: exit %d\nout: %q\nerr: %s", code, out, errOut)
	}
	for _, r := range out {
		if r != '\n' && r != '\t' && (unicode.IsControl(r) || r >= '\u202a' && r <= '\u202e' || r >= '\u2066' && r <= '\u2069') {
			t.Fatalf("output holds %U:\n%q", r, out)
		}
	}

	bad := strings.Replace(srv.URL, "://", "://alice:pw-s3cret@", 1) + "/missing?token=tok-s3cret&lang=en"
	code, _, errOut = runCLI(t, nil, "match", "--query", "xinjiang", bad)
	if code != 1 || !strings.Contains(errOut, "404") {
		t.Fatalf("match of a missing feed: exit %d, %q", code, errOut)
	}
	if strings.Contains(errOut, "s3cret") {
		t.Errorf("error echoes the URL's credentials: %q", errOut)
	}
}
