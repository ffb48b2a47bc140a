package daemon

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/ownership"
	"github.com/feedwatch/feedwatch/websub"
)

// opsRig is a daemon with just what the operations endpoint reads, and a
// settable clock.
type opsRig struct {
	d   *daemon
	now time.Time
	h   http.Handler
}

func newOpsRig(loopback bool) *opsRig {
	r := &opsRig{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	r.d = &daemon{
		opts: Options{Now: func() time.Time { return r.now }},
		log:  slog.New(slog.DiscardHandler), reg: prometheus.NewRegistry(),
		cfg: &config.Config{HTTP: config.HTTP{Admin: true}}, reload: make(chan struct{}, 1),
	}
	r.h = r.d.opsHandler(loopback)
	return r
}

func (r *opsRig) do(method, path, host string, header map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "http://127.0.0.1:7070"+path, nil)
	req.Host = host
	for k, v := range header {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	r.h.ServeHTTP(w, req)
	return w
}

// TestOpsHost: on a loopback bind, a Host that is not a loopback name is
// refused (DNS rebinding), except for the health checks.
func TestOpsHost(t *testing.T) {
	tests := []struct {
		name, path, host string
		loopback         bool
		want             int
	}{
		{"loopback ip", "/api/status", "127.0.0.1:7070", true, http.StatusOK},
		{"other loopback ip", "/api/status", "127.1.2.3:7070", true, http.StatusOK},
		{"localhost", "/api/status", "localhost:7070", true, http.StatusOK},
		{"ipv6 loopback", "/api/status", "[::1]:7070", true, http.StatusOK},
		{"no port", "/metrics", "localhost", true, http.StatusOK},
		{"rebound name", "/api/status", "attacker.example:7070", true, http.StatusMisdirectedRequest},
		{"rebound name on metrics", "/metrics", "attacker.example", true, http.StatusMisdirectedRequest},
		{"localhost lookalike", "/api/status", "localhost.attacker.example:7070", true, http.StatusMisdirectedRequest},
		{"public ip", "/api/status", "192.0.2.7:7070", true, http.StatusMisdirectedRequest},
		{"health check by any name", "/healthz", "feedwatch:7070", true, http.StatusOK},
		{"readiness by any name", "/readyz", "feedwatch:7070", true, http.StatusServiceUnavailable},
		{"non-loopback bind takes any name", "/api/status", "feedwatch.internal:7070", false, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newOpsRig(tt.loopback).do(http.MethodGet, tt.path, tt.host, nil)
			if w.Code != tt.want {
				t.Fatalf("%s with Host %s: %d, want %d: %s", tt.path, tt.host, w.Code, tt.want, w.Body)
			}
		})
	}
}

// TestOpsReloadCrossOrigin: a reload a web page could send (cross-site, or
// with a Content-Type it may send without a preflight) is refused.
func TestOpsReloadCrossOrigin(t *testing.T) {
	const host = "127.0.0.1:7070"
	tests := []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"json", map[string]string{"Content-Type": "application/json"}, http.StatusAccepted},
		{"json with charset", map[string]string{"Content-Type": "application/json; charset=utf-8"}, http.StatusAccepted},
		{"same origin", map[string]string{"Content-Type": "application/json", "Origin": "http://" + host, "Sec-Fetch-Site": "same-origin"}, http.StatusAccepted},
		{"no content type", nil, http.StatusUnsupportedMediaType},
		{"text/plain", map[string]string{"Content-Type": "text/plain"}, http.StatusUnsupportedMediaType},
		{"form", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType},
		{"multipart", map[string]string{"Content-Type": "multipart/form-data; boundary=x"}, http.StatusUnsupportedMediaType},
		{"text/plain cross-site", map[string]string{"Content-Type": "text/plain;charset=UTF-8", "Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}, http.StatusUnsupportedMediaType},
		{"json cross-site", map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"json same-site", map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "same-site"}, http.StatusForbidden},
		{"json foreign origin", map[string]string{"Content-Type": "application/json", "Origin": "http://evil.example"}, http.StatusForbidden},
		{"json null origin", map[string]string{"Content-Type": "application/json", "Origin": "null"}, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newOpsRig(true)
			w := r.do(http.MethodPost, "/-/reload", host, tt.header)
			if w.Code != tt.want {
				t.Fatalf("%d, want %d: %s", w.Code, tt.want, w.Body)
			}
			requested := len(r.d.reload) == 1
			if requested != (tt.want == http.StatusAccepted) {
				t.Errorf("reload requested: %v", requested)
			}
		})
	}
}

// TestOpsReloadRateLimit: at most one HTTP reload a second.
func TestOpsReloadRateLimit(t *testing.T) {
	r := newOpsRig(true)
	json := map[string]string{"Content-Type": "application/json"}
	post := func() *httptest.ResponseRecorder {
		select {
		case <-r.d.reload:
		default:
		}
		return r.do(http.MethodPost, "/-/reload", "127.0.0.1:7070", json)
	}
	if w := post(); w.Code != http.StatusAccepted {
		t.Fatalf("first reload: %d", w.Code)
	}
	for i := range 5 {
		w := post()
		if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "1" {
			t.Fatalf("reload %d in the same second: %d, Retry-After %q", i+2, w.Code, w.Header().Get("Retry-After"))
		}
	}
	r.now = r.now.Add(time.Second)
	if w := post(); w.Code != http.StatusAccepted {
		t.Fatalf("reload a second later: %d", w.Code)
	}
}

func TestLoopbackListen(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:7070": true, "localhost:7070": true, "[::1]:7070": true, "127.0.0.2:7070": true,
		"0.0.0.0:7070": false, ":7070": false, "[::]:7070": false, "192.0.2.1:7070": false, "feedwatch.example:7070": false,
	} {
		if got := loopbackListen(addr); got != want {
			t.Errorf("loopbackListen(%q) = %v, want %v", addr, got, want)
		}
	}
}

// TestOpsNoWarningOnLoopback: serving on loopback says nothing about
// exposure (the warning for other binds is in warnExposed).
func TestOpsNoWarningOnLoopback(t *testing.T) {
	var logs syncBuffer
	r := newOpsRig(true)
	r.d.log = slog.New(slog.NewTextHandler(&logs, nil))
	ops, err := r.d.listenHTTP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ops.srv.Close()
	r.d.serveHTTP(ops, "127.0.0.1:0")
	if strings.Contains(logs.String(), "not a loopback") {
		t.Errorf("warned on a loopback bind:\n%s", logs.String())
	}
}

// TestReloadWarnsExposedListen: a reload that moves http.listen off
// loopback warns that the endpoint has no authentication.
func TestReloadWarnsExposedListen(t *testing.T) {
	r := newReloadRig(t)
	r.write(t, xinjiangOnly, "10s")
	r.start(t)
	defer r.stop(t)
	if strings.Contains(r.logs.String(), "not a loopback") {
		t.Fatalf("warned at a loopback start:\n%s", r.logs.String())
	}
	b, err := os.ReadFile(r.path)
	if err != nil {
		t.Fatal(err)
	}
	// The reload opens the new address (a free port: the old one is still
	// open until then).
	exposed := strings.Replace(string(b), fmt.Sprintf("listen: 127.0.0.1:%d", r.port), fmt.Sprintf("listen: 0.0.0.0:%d", freePort(t)), 1)
	if err := os.WriteFile(r.path, []byte(exposed), 0o600); err != nil {
		t.Fatal(err)
	}
	r.reload <- struct{}{}
	waitFor(t, "the warning", 10*time.Second, func() bool {
		return strings.Contains(r.logs.String(), "http.listen is not a loopback address")
	})
}

// TestReloadHTTP: http.* applies on reload: a new listen address opens and
// the old one closes; http.auth then guards everything but the health
// checks; a listen address that cannot be opened keeps the old one.
func TestReloadHTTP(t *testing.T) {
	r := newReloadRig(t)
	r.write(t, xinjiangOnly, "10s")
	r.start(t)
	defer r.stop(t)
	get := func(port int, path string) int {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	edit := func(from, to string) {
		t.Helper()
		b, err := os.ReadFile(r.path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), from) {
			t.Fatalf("config lacks %q", from)
		}
		if err := os.WriteFile(r.path, []byte(strings.Replace(string(b), from, to, 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		r.reload <- struct{}{}
	}
	oldPort, newPort := r.port, freePort(t)
	if c := get(oldPort, "/api/status"); c != http.StatusOK {
		t.Fatalf("/api/status = %d before the reload", c)
	}
	edit(fmt.Sprintf("listen: 127.0.0.1:%d", oldPort), fmt.Sprintf("listen: 127.0.0.1:%d", newPort))
	waitFor(t, "the new address", 10*time.Second, func() bool { return get(newPort, "/api/status") == http.StatusOK })
	waitFor(t, "the old address closed", 10*time.Second, func() bool { return get(oldPort, "/healthz") == 0 })

	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	edit("  admin: true\n", fmt.Sprintf("  admin: true\n  auth:\n    username: ops\n    password_hash: '%s'\n", hash))
	waitFor(t, "auth applied", 10*time.Second, func() bool { return get(newPort, "/api/status") == http.StatusUnauthorized })
	if c := get(newPort, "/healthz"); c != http.StatusOK {
		t.Errorf("/healthz = %d with auth, want 200 (exempt)", c)
	}

	// A port taken by someone else: the running address stays.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	edit(fmt.Sprintf("listen: 127.0.0.1:%d", newPort), "listen: "+taken.Addr().String())
	waitFor(t, "the error", 10*time.Second, func() bool { return strings.Contains(r.logs.String(), "http.listen not changed") })
	if c := get(newPort, "/healthz"); c != http.StatusOK {
		t.Errorf("/healthz on the running address = %d after a failed move, want 200", c)
	}
}

// TestOpsErrorLog: what net/http's server logs on its own goes through the
// daemon's slog handler (so --log-format json holds for it).
func TestOpsErrorLog(t *testing.T) {
	var logs syncBuffer
	r := newOpsRig(true)
	r.d.log = slog.New(slog.NewJSONHandler(&logs, nil))
	ops, err := r.d.listenHTTP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := ops.srv
	defer srv.Close()
	if srv.ErrorLog == nil {
		t.Fatal("http.Server has no ErrorLog: net/http writes to the standard logger")
	}
	srv.ErrorLog.Printf("http: TLS handshake error from 127.0.0.1:1: EOF")
	var last map[string]any
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || last["level"] != "WARN" || !strings.Contains(fmt.Sprint(last["msg"]), "TLS handshake error") {
		t.Fatalf("ErrorLog line: %v\n%s", err, logs.String())
	}
}

// TestOpsReloadNeedsAdmin: without http.admin the endpoint is read-only:
// a reload, however well-formed, is refused and nothing is requested.
func TestOpsReloadNeedsAdmin(t *testing.T) {
	r := newOpsRig(true)
	r.d.cfg = &config.Config{}
	w := r.do(http.MethodPost, "/-/reload", "127.0.0.1:7070", map[string]string{"Content-Type": "application/json"})
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "http.admin") {
		t.Fatalf("reload without http.admin: %d %s", w.Code, w.Body)
	}
	if len(r.d.reload) != 0 {
		t.Fatal("reload requested although actions are off")
	}
	if w := r.do(http.MethodGet, "/api/status", "127.0.0.1:7070", nil); w.Code != http.StatusOK {
		t.Fatalf("status without http.admin: %d", w.Code)
	}
}

// writeStatusJSON writes, one feed at a time, what json.Encoder with a
// two-space indent wrote of the whole status.
func TestWriteStatusJSON(t *testing.T) {
	at := time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)
	feed := func(name string) FeedStatus {
		return FeedStatus{Name: name, URL: "https://example.org/rss?a=1&b=<2>", LastPoll: at, Result: "ok", NextDue: at.Add(time.Minute)}
	}
	withPush := feed(`"feeds": [] <b>`)
	withPush.Push = &websub.FeedPush{State: websub.StateActive, Hub: "https://hub.example/", Expires: at}
	withPush.Error, withPush.Failures = "http 503 & more", 3
	full := Status{Mode: "run", Ready: true, Profiles: map[string]ProfileStats{"xinjiang": {}},
		Notifiers: map[string]NotifierStats{`"feeds": []`: {Delivered: 2}},
		State:     &StateCheck{Result: "ok"},
		Members:   []ownership.Member{{ID: "h-1", Role: "run", Host: "h", PID: 1, Started: at, LastSeen: at, FeedsOwned: 3}}}
	for _, tc := range []struct {
		name  string
		feeds []FeedStatus
	}{
		{"no feeds", []FeedStatus{}},
		{"one feed", []FeedStatus{feed("world")}},
		{"several, with push and markup", []FeedStatus{feed("world"), withPush, feed("uk")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, s := range []Status{{Mode: "watch", Profiles: map[string]ProfileStats{}}, full} {
				s.Feeds = tc.feeds
				var want, got strings.Builder
				enc := json.NewEncoder(&want)
				enc.SetIndent("", "  ")
				if err := enc.Encode(s); err != nil {
					t.Fatal(err)
				}
				if err := writeStatusJSON(&got, s); err != nil {
					t.Fatal(err)
				}
				if got.String() != want.String() {
					t.Errorf("got:\n%s\nwant:\n%s", got.String(), want.String())
				}
			}
		})
	}
}
