package daemon

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestNoSecretsLeak runs the daemon on a config full of secrets against
// endpoints that all fail, at debug level, and looks for the secrets in
// logs, /metrics and /api/status.
func TestNoSecretsLeak(t *testing.T) {
	secrets := map[string]string{
		"FEED_TOKEN":    "feedtoken-5ecret-111",
		"SLACK_PATH":    "T0000/B0000/slack5ecret222",
		"SMTP_PASSWORD": "smtp-5ecret-333",
		"HOOK_SECRET":   "hook-5ecret-444",
		"HOOK_TOKEN":    "hooktoken5ecret555",
	}
	feed := &feedServer{title: "World"}
	feed.add("1", "Xinjiang news", "", time.Now())
	// asia has its own item, so its hit is not one world already claimed.
	asia := &feedServer{title: "Asia"}
	asia.add("2", "Xinjiang asia news", "", time.Now())
	var sawAuth atomic.Bool // handlers may still run when the test reads it
	feedSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer "+secrets["FEED_TOKEN"] {
			sawAuth.Store(true)
		}
		if r.URL.Path == "/broken.xml" {
			http.Error(w, "boom "+r.Header.Get("Authorization"), http.StatusInternalServerError)
			return
		}
		if r.URL.Path == "/asia.xml" {
			asia.ServeHTTP(w, r)
			return
		}
		feed.ServeHTTP(w, r)
	}))
	defer feedSrv.Close()
	posted := &syncBuffer{}
	fail := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Hits as receivers see them (their feed.url).
		b, _ := io.ReadAll(r.Body)
		_, _ = posted.Write(append(b, '\n'))
		http.Error(w, "bad request for "+r.URL.String(), http.StatusBadRequest)
	}))
	defer fail.Close()
	_, smtpPort := startSMTP(t)

	dir := t.TempDir()
	port := freePort(t)
	cfg := fmt.Sprintf(`data_dir: %s
http:
  listen: 127.0.0.1:%d
watcher:
  interval: 1s
feeds:
  - url: %[3]s/world.xml
    name: world
    headers: {Authorization: "Bearer ${FEED_TOKEN}"}
  - url: %[3]s/broken.xml
    name: broken
    headers: {Authorization: "Bearer ${FEED_TOKEN}"}
  - url: %[6]s/asia.xml?token=${FEED_TOKEN}&key=plainkey-5ecret-666
    name: asia
profiles:
  - name: xinjiang
    keywords: [Xinjiang]
notifiers:
  slack:
    type: slack
    webhook_url: %[4]s/services/${SLACK_PATH}
    max_attempts: 2
  mail:
    type: email
    host: 127.0.0.1
    port: %[5]d
    tls: none
    username: alerts
    password: ${SMTP_PASSWORD}
    from: feedwatch <alerts@example.org>
    to: [me@example.org]
    max_attempts: 2
  hook:
    type: webhook
    url: %[4]s/hook?token=${HOOK_TOKEN}
    secret: ${HOOK_SECRET}
    max_attempts: 2
`, filepath.Join(dir, "data"), port, feedSrv.URL, fail.URL, smtpPort,
		strings.Replace(feedSrv.URL, "://", "://feeduser:userinfo-5ecret-777@", 1))
	path := filepath.Join(dir, "feedwatch.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cancel, done := startRun(t, "daemon", Options{ConfigPath: path, Stdout: io.Discard, Getenv: func(k string) string { return secrets[k] },
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}, 60*time.Second)
	get := func(p string) string {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, p))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	waitFor(t, "every notifier to give up", 30*time.Second, func() bool {
		m := get("/metrics")
		return strings.Contains(m, `feedwatch_dead_letters_total{notifier="slack"}`) &&
			strings.Contains(m, `feedwatch_dead_letters_total{notifier="hook"}`) &&
			strings.Contains(m, `feedwatch_dead_letters_total{notifier="mail"}`) &&
			strings.Contains(posted.String(), `"name":"asia"`)
	})
	texts := map[string]string{"/metrics": get("/metrics"), "/api/status": get("/api/status")}
	cancel()
	<-done
	texts["logs"] = logs.String()
	texts["webhook bodies"] = posted.String()
	if !strings.Contains(texts["webhook bodies"], "/asia.xml?token=REDACTED") {
		t.Errorf("no hit of feed asia with its url redacted reached the webhook:\n%s", texts["webhook bodies"])
	}
	secrets["plain key"] = "plainkey-5ecret-666"
	secrets["userinfo"] = "userinfo-5ecret-777"
	if !sawAuth.Load() {
		t.Error("the feed never got its Authorization header")
	}
	if !strings.Contains(texts["logs"], "broken") {
		t.Errorf("the failing feed is not named in the logs:\n%s", texts["logs"])
	}
	for where, text := range texts {
		for name, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s leaks %s:\n%s", where, name, text)
			}
		}
	}
}
