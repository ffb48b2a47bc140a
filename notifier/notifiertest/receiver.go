package notifiertest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Request is one request a Receiver got.
type Request struct {
	Method   string
	Path     string
	RawQuery string
	Header   http.Header
	Body     []byte
}

// Receiver is an HTTP endpoint on 127.0.0.1 for channel tests: it records
// every request, then answers with the handler it was given (200 when nil),
// which may read the body again.
type Receiver struct {
	Server *httptest.Server

	mu   sync.Mutex
	got  []Request
	hang chan struct{}
}

// NewReceiver starts a receiver; it stops when t ends.
func NewReceiver(t testing.TB, answer http.HandlerFunc) *Receiver {
	t.Helper()
	rc := &Receiver{hang: make(chan struct{})}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("receiver: read body: %v", err)
		}
		rc.mu.Lock()
		rc.got = append(rc.got, Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: b})
		rc.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b)) // answer may read it too
		if answer != nil {
			answer(w, r)
		}
	}))
	t.Cleanup(func() {
		close(rc.hang)
		rc.Server.Close()
	})
	return rc
}

// Requests copies the requests so far.
func (rc *Receiver) Requests() []Request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]Request(nil), rc.got...)
}

// Hang is an answer that never comes: it returns when the request is
// cancelled (the channel's timeout) or the test ends.
func (rc *Receiver) Hang(_ http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-rc.hang:
	}
}
