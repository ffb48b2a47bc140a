package notifier

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// RetryAfterError is a retryable failure that carries how long the server
// asked us to wait.
type RetryAfterError struct {
	Err   error
	After time.Duration
}

func (e *RetryAfterError) Error() string             { return e.Err.Error() }
func (e *RetryAfterError) Unwrap() error             { return e.Err }
func (e *RetryAfterError) RetryAfter() time.Duration { return e.After }

// WithRetryAfter wraps err with the server's Retry-After when there is one.
func WithRetryAfter(err error, after time.Duration) error {
	if after <= 0 {
		return err
	}
	return &RetryAfterError{Err: err, After: after}
}

// ParseRetryAfter reads an HTTP Retry-After value: delay seconds or an
// HTTP date. Zero means absent or unreadable.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(min(s, int64(24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), 24*time.Hour)
	}
	return 0
}

// Redact replaces every non-empty secret in s, raw or URL-escaped, with
// "[redacted]". Channels run their error text through it as a last guard.
func Redact(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) < 4 { // too short to redact without mangling the text
			continue
		}
		for _, form := range []string{sec, url.QueryEscape(sec), url.PathEscape(sec)} {
			s = strings.ReplaceAll(s, form, "[redacted]")
		}
	}
	return s
}

// TransportError describes a failed HTTP request without its URL (which
// may hold a token): net/http puts it in *url.Error, and a library may
// format it into its own text as Post "…".
func TransportError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	msg := err.Error()
	if i := strings.Index(msg, "Post \""); i >= 0 {
		msg = msg[:i] + "post failed"
	}
	return msg
}
