package websub

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzParseSignature: any header value parses or is refused without a
// panic, and a value that parses checks against a body only with the
// right secret.
func FuzzParseSignature(f *testing.F) {
	for _, s := range []string{"sha256=" + strings.Repeat("ab", 32), "sha1=00", "SHA512=", "=", "", "sha384=" + strings.Repeat("0", 96), "sha256=\x00\xff"} {
		f.Add(s, []byte("body"))
	}
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		h, mac, err := ParseSignature(header)
		if err != nil {
			if h != nil || mac != nil {
				t.Fatal("error with a result")
			}
			return
		}
		if len(mac) != h().Size() {
			t.Fatalf("mac of %d bytes for a %d-byte hash", len(mac), h().Size())
		}
		if Verify(header, []byte("secret"), body) == nil && Verify(header, []byte("other secret"), body) == nil {
			t.Fatal("one signature verified under two secrets")
		}
	})
}

// FuzzCallbackRequest: whatever request reaches the callback handler, it
// answers without a panic, and never echoes a challenge or hands a body
// to the watcher for a subscription it does not hold.
func FuzzCallbackRequest(f *testing.F) {
	for _, s := range []struct{ method, path, query, sig string }{
		{"GET", "/ws/abc", "hub.mode=subscribe&hub.topic=http://x/&hub.challenge=c&hub.lease_seconds=10", ""},
		{"GET", "/ws/abc", "hub.mode=denied&hub.topic=http://x/&hub.reason=no", ""},
		{"GET", "/ws/", "hub.mode=unsubscribe&hub.topic=%zz", ""},
		{"POST", "/ws/abc", "", "sha256=00"},
		{"POST", "/ws/abc/../x", "", ""},
		{"PUT", "/ws/abc", "", ""},
	} {
		f.Add(s.method, s.path, s.query, s.sig, []byte("<feed/>"))
	}
	store := newMemStore()
	p := newPushed()
	m, err := New(Options{CallbackURL: "http://127.0.0.1:9/ws", LeaseSeconds: 60, Fallback: time.Hour, MaxBody: 1 << 16, Store: store, Pusher: p})
	if err != nil {
		f.Fatal(err)
	}
	if err := m.Load(f.Context()); err != nil {
		f.Fatal(err)
	}
	h := m.Handler()
	f.Fuzz(func(t *testing.T, method, path, query, sig string, body []byte) {
		req, err := http.NewRequest(method, "http://127.0.0.1:9/", strings.NewReader(string(body)))
		if err != nil {
			return
		}
		req.URL.Path, req.URL.RawPath, req.URL.RawQuery = path, "", query
		req.Header.Set("X-Hub-Signature", sig)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == http.StatusOK && rec.Body.Len() > 0 {
			t.Fatalf("%s %s?%s: echoed %q with no subscription", method, path, query, rec.Body.String())
		}
		if p.count() != 0 {
			t.Fatal("a body reached the watcher with no subscription")
		}
		ParseVerification(query)
	})
}

// FuzzDiscover: any document and Link headers give only absolute http(s)
// URLs, without a panic.
func FuzzDiscover(f *testing.F) {
	f.Add(`<https://hub.example/>; rel="hub"`, []byte(`<feed><link rel="hub" href="/h"/></feed>`))
	f.Add(`<a>;rel=self,<b>;rel="hub self", junk, <`, []byte(`{"hubs":[{"type":"WebSub","url":"//x"}]}`))
	f.Add("", []byte(`<rss><channel><atom:link rel="hub" href="https://h.example/"/><item/></channel></rss>`))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		l := Discover("https://example.org/feed", []string{header}, body)
		for _, u := range append(l.Hubs, l.Self) {
			if u != "" && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
				t.Fatalf("discovered %q", u)
			}
		}
	})
}

// FuzzInflate: any pushed gzip body inflates or is refused without a
// panic, and never past the cap.
func FuzzInflate(f *testing.F) {
	f.Add([]byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff\x01\x00\x00\xff\xff\x00\x00\x00\x00\x00\x00\x00\x00"), int64(10))
	f.Add([]byte("not gzip"), int64(0))
	f.Add([]byte("\x1f\x8b"), int64(100))
	f.Fuzz(func(t *testing.T, body []byte, max int64) {
		if max < 0 || max > 1<<20 {
			return
		}
		out, err := inflate(body, max)
		if err == nil && int64(len(out)) > max {
			t.Fatalf("%d bytes out past a cap of %d", len(out), max)
		}
	})
}
