package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestFailedReloadLogsEachProblem checks that a reload with several problems
// logs them readably: one text line each, or one JSON array.
func TestFailedReloadLogsEachProblem(t *testing.T) {
	path := filepath.Join(t.TempDir(), "feedwatch.yaml")
	body := "data_dirr: x\nprofiles:\n  - name: a\n    query: 'a AND ('\n"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`feedwatch.yaml:1: data_dirr: unknown key, did you mean "data_dir"?`,
		`feedwatch.yaml:4: profiles[0].query: unexpected end of query at column 8`,
	}
	reload := func(h func(*bytes.Buffer) slog.Handler) string {
		var buf bytes.Buffer
		d := &daemon{
			opts:     Options{ConfigPath: path, Getenv: func(string) string { return "" }, Now: nil},
			log:      slog.New(h(&buf)),
			reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"}),
		}
		d.doReload(context.Background())
		return buf.String()
	}

	text := reload(func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) })
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if len(lines) != len(want) {
		t.Fatalf("text: %d lines, want one per problem:\n%s", len(lines), text)
	}
	for i, w := range want {
		if !strings.Contains(lines[i], "config reload failed") || !strings.Contains(lines[i], w[:20]) {
			t.Errorf("text line %d: %s\nwant it to hold %q", i, lines[i], w)
		}
	}

	js := reload(func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) })
	var rec struct {
		Msg      string   `json:"msg"`
		Problems []string `json:"problems"`
	}
	if err := json.Unmarshal([]byte(js), &rec); err != nil {
		t.Fatalf("json: want one record: %v\n%s", err, js)
	}
	if strings.Join(rec.Problems, "\n") != strings.Join(want, "\n") {
		t.Errorf("json problems:\n%q\nwant:\n%q", rec.Problems, want)
	}
}

// TestModeNeedsOnlyItsSecrets: watch starts without the notifiers'
// secrets, notify without the feeds', run needs both.
func TestModeNeedsOnlyItsSecrets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "feedwatch.yaml")
	body := "feeds:\n  - url: https://example.org/rss\n    headers: {Authorization: \"Bearer ${FEED_TOKEN}\"}\n" +
		"profiles:\n  - name: a\n    keywords: [x]\nnotifiers:\n  s: {type: slack, webhook_url: \"${SLACK_WEBHOOK_URL}\"}\n"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	env := func(set string) func(string) string {
		return func(k string) string {
			if k == set {
				return "https://hooks.example.org/x"
			}
			return ""
		}
	}
	for _, tt := range []struct {
		mode   Mode
		set    string
		wantOK bool
	}{
		{ModeWatch, "FEED_TOKEN", true},
		{ModeNotify, "SLACK_WEBHOOK_URL", true},
		{ModeAll, "FEED_TOKEN", false},
		{ModeAll, "SLACK_WEBHOOK_URL", false},
	} {
		o := Options{ConfigPath: path, Mode: tt.mode, Getenv: env(tt.set)}
		cfg, err := o.loadConfig()
		if (err == nil) != tt.wantOK {
			t.Errorf("mode %d with only %s: err %v", tt.mode, tt.set, err)
		}
		if err == nil && len(cfg.Warnings) != 1 {
			t.Errorf("mode %d: warnings %v, want one for the unused secret", tt.mode, cfg.Warnings)
		}
	}
}
