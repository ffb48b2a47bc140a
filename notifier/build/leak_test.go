package build

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/notifier"
	"github.com/feedwatch/feedwatch/notifier/notifiertest"
	"github.com/feedwatch/feedwatch/notifier/slack"
)

// echoHandler fails with a body that repeats the request, secrets and all,
// as a badly behaved server might.
func echoHandler(status int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		w.WriteHeader(status)
		fmt.Fprintf(w, "bad request to %s token=%s auth=%s", r.URL.String(), r.Form.Get("token"), r.Header.Get("Authorization"))
	}
}

// smtpRejectingAuth is a bare SMTP responder that offers AUTH and refuses
// every credential with 535.
func smtpRejectingAuth(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				fmt.Fprint(c, "220 localhost ESMTP\r\n")
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					switch cmd := strings.ToUpper(strings.Fields(line + " x")[0]); cmd {
					case "EHLO", "HELO":
						fmt.Fprint(c, "250-localhost\r\n250 AUTH PLAIN LOGIN\r\n")
					case "AUTH":
						fmt.Fprint(c, "535 5.7.8 Authentication credentials invalid\r\n")
					case "QUIT":
						fmt.Fprint(c, "221 bye\r\n")
						return
					default:
						fmt.Fprint(c, "503 bad sequence\r\n")
					}
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestNoSecretLeaks drives every channel through the engine to a failing
// destination and checks errors, dead letters, log lines (debug level) and
// metrics for the channel's secrets.
func TestNoSecretLeaks(t *testing.T) {
	slackSrv := httptest.NewServer(echoHandler(http.StatusBadRequest))
	defer slackSrv.Close()
	hookSrv := httptest.NewServer(echoHandler(http.StatusInternalServerError))
	defer hookSrv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	smtpPort := smtpRejectingAuth(t)

	const (
		hookPath  = "/services/T0/B0/LeakyHookSecret"
		botSecret = "xoxb-99-88-LeakyBotSecret"
		smtpPw    = "Leaky-SMTP-Password"
		hmacSec   = "Leaky-HMAC-Secret"
		urlTok    = "LeakyURLToken"
	)
	tests := []struct {
		name    string
		cfg     config.Notifier
		secrets []string
	}{
		{"slack webhook 400", config.Notifier{Type: "slack", Settings: map[string]any{"webhook_url": slackSrv.URL + hookPath}}, []string{slackSrv.URL + hookPath, hookPath, "LeakyHookSecret"}},
		{"slack webhook refused", config.Notifier{Type: "slack", Settings: map[string]any{"webhook_url": closedURL + hookPath}}, []string{closedURL + hookPath, hookPath, "LeakyHookSecret"}},
		{"slack bot 400", config.Notifier{Type: "slack", Settings: map[string]any{"token": botSecret, "channel": "#news"}}, []string{botSecret}},
		{"webhook 500", config.Notifier{Type: "webhook", Settings: map[string]any{"url": hookSrv.URL + "/h/" + urlTok + "?k=" + urlTok, "secret": hmacSec}}, []string{urlTok, hmacSec}},
		{"webhook refused", config.Notifier{Type: "webhook", Settings: map[string]any{"url": closedURL + "/h?token=" + urlTok, "secret": hmacSec}}, []string{urlTok, hmacSec}},
		{"ntfy 500", config.Notifier{Type: "ntfy", Settings: map[string]any{"server": hookSrv.URL, "topic": "Leaky-Topic-Name", "token": "tk_LeakyNtfyToken"}}, []string{"Leaky-Topic-Name", "tk_LeakyNtfyToken"}},
		{"discord 400", config.Notifier{Type: "discord", Settings: map[string]any{"webhook_url": slackSrv.URL + "/api/webhooks/1/LeakyDiscordToken"}}, []string{"/api/webhooks/1/LeakyDiscordToken", "LeakyDiscordToken"}},
		{"teams refused", config.Notifier{Type: "teams", Settings: map[string]any{"webhook_url": closedURL + "/workflows/LeakyFlow/invoke?sv=1.0&sig=LeakyTeamsSig"}}, []string{"LeakyFlow", "LeakyTeamsSig"}},
		{"teams 400", config.Notifier{Type: "teams", Settings: map[string]any{"webhook_url": slackSrv.URL + "/workflows/LeakyFlow/invoke?sv=1.0&sig=LeakyTeamsSig"}}, []string{"LeakyFlow", "LeakyTeamsSig"}},
		{"email 535", config.Notifier{Type: "email", Settings: map[string]any{"host": "127.0.0.1", "port": smtpPort, "tls": "none", "username": "alerts", "password": smtpPw, "from": "a@example.org", "to": []string{"b@example.org"}}}, []string{smtpPw}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := New("leaky", tt.cfg, io.Discard, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tok, _ := tt.cfg.Settings["token"].(string); tok != "" && tt.cfg.Type == "slack" {
				// The same channel, its Web API pointed at the test server.
				n, err = slack.New(slack.Config{Token: tok, Channel: tt.cfg.Settings["channel"].(string), APIURL: slackSrv.URL + "/api/"}, nil)
				if err != nil {
					t.Fatal(err)
				}
			}
			var logs bytes.Buffer
			var logMu sync.Mutex
			reg := prometheus.NewRegistry()
			q, dead := notifiertest.NewQueue(), &notifiertest.Dead{}
			q.AddHit(SampleHit(time.Now()))
			eng, err := notifier.NewEngine(notifier.EngineOptions{
				Name: "leaky", Notifier: n, Source: q, Ledger: &notifiertest.Ledger{}, Dead: dead,
				MaxAttempts: 2, Metrics: notifier.NewMetrics(reg),
				Logger: slog.New(slog.NewJSONHandler(lockedWriter{&logs, &logMu}, &slog.HandlerOptions{Level: slog.LevelDebug})),
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
			if len(letters) != 1 || letters[0].Error == "" {
				t.Fatalf("want one dead letter with an error, got %+v", letters)
			}
			t.Logf("dead letter error: %s", letters[0].Error)
			notifiertest.NoSecret(t, "dead letter", letters[0].Error, tt.secrets...)
			logMu.Lock()
			notifiertest.NoSecret(t, "log", logs.String(), tt.secrets...)
			logMu.Unlock()
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			for _, mf := range mfs {
				notifiertest.NoSecret(t, "metric", mf.String(), tt.secrets...)
			}
		})
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
