package build

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/notifier"
	"github.com/feedwatch/feedwatch/notifier/notifiertest"
)

const (
	tgToken = "987654:LeakyTelegramBotSecret"
	mxToken = "syt_LeakyMatrixAccessToken"
)

// chatConfigs are the telegram, matrix and mattermost notifiers pointed at
// url, with the secrets each must never show.
func chatConfigs(url string) map[string]struct {
	cfg     config.Notifier
	secrets []string
} {
	return map[string]struct {
		cfg     config.Notifier
		secrets []string
	}{
		"telegram": {config.Notifier{Type: "telegram", Settings: map[string]any{"token": tgToken, "chat_id": -1001234, "api_url": url}},
			[]string{tgToken, "LeakyTelegramBotSecret"}},
		"matrix": {config.Notifier{Type: "matrix", Settings: map[string]any{"homeserver": url, "access_token": mxToken, "room_id": "!room:example.org"}},
			[]string{mxToken}},
		"mattermost": {config.Notifier{Type: "mattermost", Settings: map[string]any{"webhook_url": url + "/hooks/LeakyMattermostHook"}},
			[]string{url + "/hooks/LeakyMattermostHook", "LeakyMattermostHook"}},
	}
}

// TestChatChannelsBuild: each builds from the registry, a YAML number for
// a string key (chat_id: -100…) included, and passes Check.
func TestChatChannelsBuild(t *testing.T) {
	for name, c := range chatConfigs("https://chat.example.org") {
		t.Run(name, func(t *testing.T) {
			if errs := Check(c.cfg); len(errs) != 0 {
				t.Fatalf("Check: %v", errs)
			}
			if _, err := New("n", c.cfg, io.Discard, nil); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestChatChannelsLeakNothing drives each channel through the engine to a
// server that echoes the request, secrets and all, in its error.
func TestChatChannelsLeakNothing(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		b, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, `{"ok":false,"description":"bad `+r.URL.String()+` `+r.Header.Get("Authorization")+`","error":"`+r.URL.Path+`","errcode":"M_UNKNOWN"} `+string(b[:min(len(b), 20)]))
	}))
	defer srv.Close()
	for name, c := range chatConfigs(srv.URL) {
		t.Run(name, func(t *testing.T) {
			n, err := New("leaky", c.cfg, io.Discard, nil)
			if err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			var mu sync.Mutex
			q, dead := notifiertest.NewQueue(), &notifiertest.Dead{}
			q.AddHit(SampleHit(time.Now()))
			eng, err := notifier.NewEngine(notifier.EngineOptions{
				Name: "leaky", Notifier: n, Source: q, Ledger: &notifiertest.Ledger{}, Dead: dead, MaxAttempts: 2,
				Logger: slog.New(slog.NewJSONHandler(lockedWriter{&logs, &mu}, &slog.HandlerOptions{Level: slog.LevelDebug})),
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- eng.Run(ctx) }()
			deadline := time.Now().Add(20 * time.Second)
			for !q.Settled() && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			letters := dead.Letters()
			if len(letters) != 1 || !strings.Contains(letters[0].Error, "400") {
				t.Fatalf("want one dead letter for the 400, got %+v", letters)
			}
			t.Logf("dead letter: %s", letters[0].Error)
			notifiertest.NoSecret(t, "dead letter", letters[0].Error, c.secrets...)
			for _, sec := range c.secrets {
				// A cut excerpt must not keep a secret's start either.
				if strings.Contains(letters[0].Error, sec[:10]) {
					t.Errorf("dead letter holds the start of a secret: %s", letters[0].Error)
				}
			}
			mu.Lock()
			notifiertest.NoSecret(t, "log", logs.String(), c.secrets...)
			mu.Unlock()
		})
	}
}

// TestChatChannelsWaitForRateLimits: each channel's 429, with the wait in
// the body where the service puts it there, makes the engine retry after
// that wait, and the retry delivers.
func TestChatChannelsWaitForRateLimits(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)[0]
		mu.Lock()
		calls[kind]++
		first := calls[kind] == 1
		mu.Unlock()
		switch {
		case first && strings.HasPrefix(kind, "bot"):
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}`)
		case first && kind == "_matrix":
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"errcode":"M_LIMIT_EXCEEDED","error":"Too many requests","retry_after_ms":7000}`)
		case first:
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
		case strings.HasPrefix(kind, "bot"):
			_, _ = io.WriteString(w, `{"ok":true,"result":{}}`)
		case kind == "_matrix":
			_, _ = io.WriteString(w, `{"event_id":"$e"}`)
		default:
			_, _ = io.WriteString(w, "ok")
		}
	}))
	defer srv.Close()
	for name, c := range chatConfigs(srv.URL) {
		t.Run(name, func(t *testing.T) {
			n, err := New(name, c.cfg, io.Discard, srv.Client())
			if err != nil {
				t.Fatal(err)
			}
			q, dead := notifiertest.NewQueue(), &notifiertest.Dead{}
			rec := q.AddHit(SampleHit(time.Now()))
			eng, err := notifier.NewEngine(notifier.EngineOptions{
				Name: name, Notifier: n, Source: q, Ledger: &notifiertest.Ledger{}, Dead: dead,
				// The queue records the wait and redelivers at once; a
				// tiny MaxBackoff keeps the engine from pausing for it.
				MaxBackoff: time.Millisecond, BaseBackoff: time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- eng.Run(ctx) }()
			deadline := time.Now().Add(20 * time.Second)
			for !q.Settled() && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			r := q.Snapshot(rec)
			if !r.Acked || len(r.Naks) != 1 || r.Naks[0] != 7*time.Second {
				t.Errorf("acked %v, naks %v: want one retry after 7s, then delivered", r.Acked, r.Naks)
			}
		})
	}
}
