// Package retryafter reads the HTTP Retry-After header, for the feed
// fetcher and the notifier channels alike.
package retryafter

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Parse reads a Retry-After value: delay seconds or an HTTP date, relative
// to now. Zero means absent, unreadable, not positive or already past. The
// result is held to most (a caller's policy: how long a server may make it
// wait), so a huge value neither overflows nor stalls the caller for years.
func Parse(v string, now time.Time, most time.Duration) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil || isOverflow(err) {
		if s <= 0 {
			return 0
		}
		if s >= int64(most/time.Second) {
			return most
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), most)
	}
	return 0
}

// isOverflow reports a number too long for int64, which ParseInt returns
// as the largest value with ErrRange: still "a very long wait".
func isOverflow(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}
