// Package httppost sends one JSON request for a channel that speaks HTTP
// (ntfy, Discord, Teams) and classifies the answer the way the engine
// retries: 2xx delivered; 408, 429 and 5xx retried after the server's
// Retry-After when it gives one; any other status is final; a network
// error is retried. Redirects are not followed: a 301/302 turns a POST
// into a GET, and a login page's 200 would count as delivered.
//
// Errors it returns hold no URL (which may carry a token): the channel
// names its destination and runs the text through redact as a last guard.
package httppost

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/feedwatch/feedwatch/notifier"
	"github.com/feedwatch/feedwatch/notifier/render"
)

// Client returns a copy of c (a new client when nil) that does not follow
// redirects.
func Client(c *http.Client) *http.Client {
	if c == nil {
		c = &http.Client{}
	}
	cc := *c
	cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cc
}

// Answer is what the server said: its status, headers and the start of
// its body (at most 4 KB are kept).
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// Excerpt is the start of the body on one line, for an error message.
func (a Answer) Excerpt() string {
	return render.Truncate(120, render.OneLine(string(a.Body)))
}

// Post sends body as JSON with the extra headers. A nil error means the
// server answered (any status); the error says why there is no answer,
// without the URL.
func Post(ctx context.Context, c *http.Client, url string, header http.Header, body []byte) (Answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return Answer{}, fmt.Errorf("build request failed")
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "feedwatch")
	resp, err := c.Do(req)
	if err != nil {
		return Answer{}, fmt.Errorf("%s", notifier.TransportError(err))
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	return Answer{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// Delivered reports a 2xx answer.
func (a Answer) Delivered() bool { return a.Status >= 200 && a.Status < 300 }

// Retry reports whether a failed answer is worth another try, and how long
// the server asked to wait (0: as the engine's backoff decides).
func (a Answer) Retry(now time.Time) (bool, time.Duration) {
	switch {
	case a.Status == http.StatusTooManyRequests, a.Status == http.StatusRequestTimeout, a.Status >= 500:
		return true, notifier.ParseRetryAfter(a.Header.Get("Retry-After"), now)
	}
	return false, 0
}

// CheckURL accepts an absolute http(s) URL and returns its host. Its
// errors never quote the URL, which usually holds a token.
func CheckURL(raw string) (host string, err error) {
	if raw == "" {
		return "", errors.New("required")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", errors.New("not an absolute http(s) URL")
	}
	return u.Host, nil
}
