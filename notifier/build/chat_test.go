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
