package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "feedwatch.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCheckOutput: one line per problem in plain words, a missing local
// feed file and a missing secret are problems (check judges for run by
// default), stray FEEDWATCH_* variables are warnings.
func TestCheckOutput(t *testing.T) {
	path := writeConfig(t, `data_dir: ./data
feeds:
  - url: ./missing.xml
  - url: file:///nonexistent/feed.xml
profiles:
  - name: x
    keywords: [a]
notifiers:
  me:
    type: email
    host: smtp.example.org
    from: not an address
    to: [bob]
    max_attempts: -1
  c: {type: consol}
  s: {type: slack, webhook_url: "${SLACK_WEBHOOK_URL}"}
`)
	var out, errb bytes.Buffer
	code := execute(context.Background(), env{
		args: []string{"check", "--config", path}, stdout: &out, stderr: &errb,
		getenv:  func(string) string { return "" },
		environ: []string{"FEEDWATCH_NATS_ULR=nats://x:4222"},
	})
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out.String(), errb.String())
	}
	want := []string{
		`feedwatch.yaml:3: feeds[0].url: no such file: "` + filepath.Join(filepath.Dir(path), "missing.xml") + `"`,
		`feedwatch.yaml:4: feeds[1].url: no such file: "/nonexistent/feed.xml"`,
		`feedwatch.yaml:12: notifiers.me.from: not an email address: "not an address"`,
		`feedwatch.yaml:13: notifiers.me.to[0]: not an email address: "bob"`,
		`feedwatch.yaml:14: notifiers.me.max_attempts: must be at least 1`,
		`feedwatch.yaml:15: notifiers.c.type: unknown notifier type "consol", did you mean "console"?`,
		`feedwatch.yaml:16: notifiers.s.webhook_url: environment variable SLACK_WEBHOOK_URL is not set or empty`,
		`feedwatch.yaml: warning: environment variable FEEDWATCH_NATS_ULR sets no key, did you mean FEEDWATCH_NATS_URL?`,
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(want) {
		t.Errorf("%d lines, want %d (one per problem):\n%s", len(lines), len(want), out.String())
	}
	for i, w := range want {
		if i < len(lines) && !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d:\n got %s\nwant %s…", i+1, lines[i], w)
		}
	}
	if strings.Contains(out.String(), "angle-addr") || strings.Contains(out.String(), "mail:") {
		t.Errorf("library jargon in the output:\n%s", out.String())
	}
	if !strings.Contains(errb.String(), "7 problem(s), 1 warning(s)") {
		t.Errorf("summary: %q", errb.String())
	}

	// A missing secret is judged for the role asked; warnings alone do
	// not fail check.
	path = writeConfig(t, "profiles:\n  - name: x\n    keywords: [a]\nnotifiers:\n  s: {type: slack, webhook_url: \"${SLACK_WEBHOOK_URL}\"}\n")
	for _, tc := range []struct {
		role string
		code int
		want string
	}{
		{"", 1, "feedwatch.yaml:5: notifiers.s.webhook_url: environment variable SLACK_WEBHOOK_URL is not set"},
		{"notify", 1, "feedwatch.yaml:5: notifiers.s.webhook_url: environment variable SLACK_WEBHOOK_URL is not set"},
		{"watch", 0, "warning: notifiers.s.webhook_url: environment variable SLACK_WEBHOOK_URL is not set or empty; ignored because feedwatch watch does not use this key"},
		{"none", 0, "warning: notifiers.s.webhook_url"},
		{"bogus", 2, ""},
	} {
		args := []string{"check", "--config", path}
		if tc.role != "" {
			args = append(args, "--role", tc.role)
		}
		code, stdout, stderr := runCLI(t, nil, args...)
		if code != tc.code || !strings.Contains(stdout, tc.want) || tc.code == 0 && !strings.Contains(stdout, "ok (") {
			t.Errorf("check --role %q: exit %d, want %d and %q\n%s%s", tc.role, code, tc.code, tc.want, stdout, stderr)
		}
	}
}

// TestStatusLenient: status reads only http.listen, so a broken edit and
// missing secrets elsewhere do not stop it; --url needs no config at all.
func TestStatusLenient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"mode":"run","ready":true,"feeds":[{"Name":"world","Result":"ok"}]}`))
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	path := writeConfig(t, "http: {listen: \""+addr+"\"}\ndata_dirr: typo\nprofiles:\n  - name: x\n    query: 'a AND ('\nnotifiers:\n  s: {type: slack, webhook_url: \"${SLACK_WEBHOOK_URL}\"}\n")
	if code, out, errOut := runCLI(t, nil, "status", "--config", path); code != 0 || !strings.Contains(out, "world") {
		t.Errorf("status after a broken edit: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, nil, "status", "--url", srv.URL, "--config", "/nonexistent/feedwatch.yaml"); code != 0 || !strings.Contains(out, "world") {
		t.Errorf("status --url: exit %d\n%s%s", code, out, errOut)
	}
	broken := writeConfig(t, "http:\n  listen: a\n\tbad: b\n")
	if code, _, errOut := runCLI(t, nil, "status", "--config", broken); code != 1 || !strings.Contains(errOut, "--url") {
		t.Errorf("status with unreadable YAML: exit %d, %q (want a hint at --url)", code, errOut)
	}
}

// TestStatusCluster: when the daemon's status says who polls each feed
// (several processes poll), status prints that column.
func TestStatusCluster(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"mode":"watch","ready":true,"feeds":[{"name":"uk","result":"ok","polled_by":"host-b-2f1c"},{"name":"world","result":"ok","polled_by":"host-a-9e0d"}]}`))
	}))
	defer srv.Close()
	code, out, errOut := runCLI(t, nil, "status", "--url", srv.URL, "--config", "/nonexistent/feedwatch.yaml")
	if code != 0 || !strings.Contains(out, "POLLED BY") || !strings.Contains(out, "host-b-2f1c") || !strings.Contains(out, "host-a-9e0d") {
		t.Errorf("status of a cluster: exit %d\n%s%s", code, out, errOut)
	}
}

// TestMatchWithoutUnusedSecrets: match needs neither notifier nor feed
// secrets.
func TestMatchWithoutUnusedSecrets(t *testing.T) {
	path := writeConfig(t, "feeds:\n  - url: https://example.org/rss\n    headers: {Authorization: \"Bearer ${FEED_TOKEN}\"}\n"+
		"profiles:\n  - name: xinjiang\n    keywords: [Xinjiang]\nnotifiers:\n  s: {type: slack, webhook_url: \"${SLACK_WEBHOOK_URL}\"}\n")
	code, out, errOut := runCLI(t, nil, "match", "--config", path, "../../examples/world.xml")
	if code != 0 || !strings.Contains(out, "[xinjiang]") || !strings.Contains(errOut, "warning") {
		t.Errorf("match: exit %d\n%s%s", code, out, errOut)
	}
}

// TestMatchMarksBackfill: match says which hits the daemon would skip at a
// feed's first poll as older than backfill.
func TestMatchMarksBackfill(t *testing.T) {
	dir := t.TempDir()
	recent := time.Now().Add(-time.Hour).UTC().Format(time.RFC1123Z)
	feed := fmt.Sprintf(`<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><title>Xinjiang recent</title><guid>1</guid><pubDate>%s</pubDate></item>
<item><title>Xinjiang old</title><guid>2</guid><pubDate>Tue, 19 Jan 2021 16:05:00 GMT</pubDate></item>
<item><title>Xinjiang undated</title><guid>3</guid></item>
</channel></rss>`, recent)
	src := filepath.Join(dir, "feed.xml")
	if err := os.WriteFile(src, []byte(feed), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, nil, "match", "--query", "xinjiang", src)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	const mark = "(older than backfill: the daemon would not alert this at a feed's first poll)"
	for _, block := range strings.Split(strings.TrimSpace(out), "\n\n") {
		marked := strings.Contains(block, mark)
		if strings.Contains(block, "Xinjiang recent") == marked {
			t.Errorf("marked %v:\n%s", marked, block)
		}
	}
	if !strings.Contains(errOut, "2 of them older than backfill (24h0m0s)") {
		t.Errorf("summary: %q", errOut)
	}
}

// TestHelp: every command explains itself with examples; match shows the
// query syntax; commands that read no config do not offer --config.
func TestHelp(t *testing.T) {
	for _, cmd := range []string{"run", "watch", "notify", "check", "match", "send-test", "status", "version", "feeds export", "feeds discover"} {
		code, out, errOut := runCLI(t, nil, append(strings.Fields(cmd), "--help")...)
		if code != 0 || !strings.Contains(out, "Examples:") || len(strings.SplitN(out, "Usage:", 2)[0]) < 90 {
			t.Errorf("%s --help: exit %d, no long description or examples:\n%s%s", cmd, code, out, errOut)
		}
		if hasConfig := strings.Contains(out, "--config"); hasConfig == (cmd == "version") {
			t.Errorf("%s --help lists --config: %v", cmd, hasConfig)
		}
	}
	_, out, _ := runCLI(t, nil, "match", "--help")
	for _, w := range []string{`"uyghur camps"~5`, "title:", "a OR b", "/regexp/"} {
		if !strings.Contains(out, w) {
			t.Errorf("match --help lacks %q", w)
		}
	}
}

func TestSendTestIsMarked(t *testing.T) {
	code, out, errOut := runCLI(t, nil, "send-test", "console", "--config", "../../examples/feedwatch.yaml")
	if code != 0 || !strings.Contains(out, "[feedwatch test]") || !strings.Contains(out, "test message") {
		t.Fatalf("send-test: %d %q %q", code, out, errOut)
	}
	// It needs no feed secrets.
	path := writeConfig(t, "feeds:\n  - url: https://example.org/rss\n    headers: {Authorization: \"Bearer ${FEED_TOKEN}\"}\n"+
		"profiles:\n  - name: a\n    keywords: [x]\nnotifiers:\n  console: {type: console}\n")
	if code, _, errOut := runCLI(t, nil, "send-test", "console", "--config", path); code != 0 {
		t.Fatalf("send-test without the feed's secret: %d %q", code, errOut)
	}
}

// TestCheckNATSFiles: a nats.creds or TLS file that cannot be read is a
// problem at check, not an endless wait for NATS at start.
func TestCheckNATSFiles(t *testing.T) {
	path := writeConfig(t, "nats:\n  url: nats://127.0.0.1:1\n  creds: /nonexistent/x.creds\n  tls_ca: /nonexistent/ca.pem\nprofiles:\n  - name: x\n    keywords: [a]\nnotifiers:\n  c: {type: console}\n")
	code, stdout, stderr := runCLI(t, nil, "check", "--config", path)
	for _, want := range []string{`feedwatch.yaml:3: nats.creds: no such file: "/nonexistent/x.creds"`, `feedwatch.yaml:4: nats.tls_ca: no such file: "/nonexistent/ca.pem"`} {
		if code != 1 || !strings.Contains(stdout, want) {
			t.Errorf("exit %d, want 1 and %q\n%s%s", code, want, stdout, stderr)
		}
	}
}
