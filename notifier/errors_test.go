package notifier_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
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
