package notifier

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/feedwatch/feedwatch/retryafter"
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
	// A day at most: a hit held longer is better dead-lettered and seen.
	return retryafter.Parse(v, now, 24*time.Hour)
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
