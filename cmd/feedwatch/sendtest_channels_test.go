package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestSendTestChannels: send-test delivers the marked sample hit through
// ntfy, discord and teams to their receivers, and prints a refusal's error
// without the webhook's secret.
func TestSendTestChannels(t *testing.T) {
	var mu sync.Mutex
	got := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got[r.URL.Path] = string(b)
		mu.Unlock()
		switch {
		case strings.Contains(r.URL.Path, "refuse"):
			http.Error(w, `{"message": "Unknown Webhook", "code": 10015}`, http.StatusNotFound)
		case strings.HasPrefix(r.URL.Path, "/workflows/"):
			w.WriteHeader(http.StatusAccepted)
		default:
			_, _ = io.WriteString(w, `{"id":"1"}`)
		}
	}))
	defer srv.Close()
	path := writeConfig(t, "feeds:\n  - url: https://example.org/rss\nprofiles:\n  - name: a\n    keywords: [x]\nnotifiers:\n"+
		"  phone: {type: ntfy, server: \""+srv.URL+"\", topic: alerts, token: tk_s3cret, priority: 4, tags: [warning]}\n"+
		"  chat: {type: discord, webhook_url: \""+srv.URL+"/api/webhooks/1/s3cretDiscordToken\"}\n"+
		"  office: {type: teams, webhook_url: \""+srv.URL+"/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig=s3cretSig\"}\n"+
		"  gone: {type: discord, webhook_url: \""+srv.URL+"/api/webhooks/2/refuse-s3cretToken\"}\n")
	for name, at := range map[string]string{"phone": "/", "chat": "/api/webhooks/1/s3cretDiscordToken", "office": "/workflows/abc/triggers/manual/paths/invoke"} {
		t.Run(name, func(t *testing.T) {
			code, _, errOut := runCLI(t, nil, "send-test", name, "--config", path)
			if code != 0 || !strings.Contains(errOut, "delivered") {
				t.Fatalf("send-test %s: exit %d: %s", name, code, errOut)
			}
			mu.Lock()
			body := got[at]
			mu.Unlock()
			if !strings.Contains(body, "feedwatch test") || !strings.Contains(body, "not an alert") {
				t.Errorf("%s got no marked test message: %.300s", at, body)
			}
		})
	}
	code, _, errOut := runCLI(t, nil, "send-test", "gone", "--config", path)
	if code != 1 || !strings.Contains(errOut, "status 404") || !strings.Contains(errOut, "Unknown Webhook") || strings.Contains(errOut, "s3cret") {
		t.Errorf("send-test of a refusing webhook: exit %d: %s", code, errOut)
	}
}
