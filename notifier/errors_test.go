package notifier_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/notifier"
	"github.com/feedwatch/feedwatch/notifier/notifiertest"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"30", 30 * time.Second},
		{" 7 ", 7 * time.Second},
		{"0", 0},
		{"-5", 0},
		{"soon", 0},
		{"99999999999", 24 * time.Hour}, // capped, no overflow
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{now.Add(72 * time.Hour).Format(http.TimeFormat), 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := notifier.ParseRetryAfter(tt.in, now); got != tt.want {
				t.Errorf("ParseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestWithRetryAfter(t *testing.T) {
	base := errors.New("status 429")
	if got := notifier.WithRetryAfter(base, 0); got != base {
		t.Errorf("no delay: got %v, want the error unwrapped", got)
	}
	err := notifier.WithRetryAfter(base, time.Minute)
	var ra notifier.RetryAfter
	if !errors.As(err, &ra) || ra.RetryAfter() != time.Minute || !errors.Is(err, base) || err.Error() != base.Error() {
		t.Errorf("WithRetryAfter = %v", err)
	}
}

func TestRedact(t *testing.T) {
	tests := []struct {
		name, in string
		secrets  []string
		want     string
	}{
		{"raw", "post https://h/x?k=s3cr/t: 500", []string{"s3cr/t"}, "post https://h/x?k=[redacted]: 500"},
		{"query escaped", "get /a?k=s3cr%2Ft", []string{"s3cr/t"}, "get /a?k=[redacted]"},
		{"path escaped", "get /a/pa%20ss", []string{"pa ss"}, "get /a/[redacted]"},
		{"empty and short secrets left alone", "dial tcp: refused", []string{"", "tcp"}, "dial tcp: refused"},
		{"several", "user hunter2 token xoxb-1", []string{"hunter2", "xoxb-1"}, "user [redacted] token [redacted]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := notifier.Redact(tt.in, tt.secrets...); got != tt.want {
				t.Errorf("Redact = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTransportError(t *testing.T) {
	const secret = "https://hooks.example/services/T0k3n"
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"url error", &url.Error{Op: "Post", URL: secret, Err: errors.New("connection refused")}, "connection refused"},
		{"timeout", fmt.Errorf("send: %w", &url.Error{Op: "Post", URL: secret, Err: context.DeadlineExceeded}), "timed out"},
		{"formatted by a library", fmt.Errorf("failed to post webhook: Post %q: EOF", secret), "failed to post webhook: post failed"},
		{"plain", errors.New("no route"), "no route"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := notifier.TransportError(tt.err)
			if got != tt.want {
				t.Errorf("TransportError = %q, want %q", got, tt.want)
			}
			notifiertest.NoSecret(t, "description", got, secret, "T0k3n")
		})
	}
}

func TestRedactEncoded(t *testing.T) {
	const user, pass = "alerts", "smtp-pass-333"
	plain := "\x00" + user + "\x00" + pass
	tests := []struct{ name, in string }{
		{"plain std", "535 5.7.8 AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte(plain)) + " rejected"},
		{"plain url raw", "535 bad " + base64.RawURLEncoding.EncodeToString([]byte(plain))},
		{"authzid plain", "535 bad " + base64.StdEncoding.EncodeToString([]byte(user+"\x00"+user+"\x00"+pass))},
		{"login password", "535 bad " + base64.StdEncoding.EncodeToString([]byte(pass)) + "."},
		{"cut short", "535 bad " + base64.StdEncoding.EncodeToString([]byte(plain))[:18]},
		{"glued", "535 auth=" + base64.StdEncoding.EncodeToString([]byte(pass))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := notifier.Redact(tt.in, append([]string{pass}, notifier.Base64Forms(user, pass, plain)...)...)
			got = notifier.RedactEncoded(got, pass)
			if !strings.Contains(got, "[redacted]") || !strings.HasPrefix(got, "535") {
				t.Errorf("notifier.RedactEncoded(%q) = %q", tt.in, got)
			}
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
				if s := enc.EncodeToString([]byte(pass)); strings.Contains(got, s[:len(s)-4]) {
					t.Errorf("%q keeps the encoded password", got)
				}
			}
		})
	}
	if got := notifier.RedactEncoded("535 5.7.8 Authentication credentials invalid", pass); got != "535 5.7.8 Authentication credentials invalid" {
		t.Errorf("plain text changed: %q", got)
	}
}
