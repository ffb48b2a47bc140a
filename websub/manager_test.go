package websub

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/feedwatch/feedwatch/websub/websubtest"
)

// memStore is a Store in memory.
type memStore struct {
	mu   sync.Mutex
	recs map[string][]byte
}

func newMemStore() *memStore { return &memStore{recs: map[string][]byte{}} }

func (s *memStore) Get(_ context.Context, feed string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recs[feed], nil
}

func (s *memStore) Put(_ context.Context, feed string, b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs[feed] = bytes.Clone(b)
	return nil
}

func (s *memStore) Delete(_ context.Context, feed string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.recs, feed)
	return nil
}

func (s *memStore) List(context.Context) ([][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out [][]byte
	for _, b := range s.recs {
		out = append(out, b)
	}
	return out, nil
}

// pushed records what the manager hands the watcher.
type pushed struct {
	mu     sync.Mutex
	feeds  []string
	bodies [][]byte
	polls  []string
	ch     chan string
}

func newPushed() *pushed { return &pushed{ch: make(chan string, 100)} }

func (p *pushed) Push(feed string, body []byte, _ string) error {
	p.mu.Lock()
	p.feeds = append(p.feeds, feed)
	p.bodies = append(p.bodies, body)
	p.mu.Unlock()
	p.ch <- feed
	return nil
}

func (p *pushed) PollSoon(feed string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.polls = append(p.polls, feed)
}

func (p *pushed) pollsAsked() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.polls...)
}

func (p *pushed) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.feeds)
}

type env struct {
	m      *Manager
	hub    *websubtest.Hub
	store  *memStore
	push   *pushed
	srv    *httptest.Server
	feed   string // the feed's URL: the topic
	cancel context.CancelFunc
	done   chan struct{}
}

func atomWithHub(hub, self string) []byte {
	return fmt.Appendf(nil, `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:x</id>
<link rel="hub" href="%s"/><link rel="self" href="%s"/>
<entry><title>one</title><id>urn:1</id><link rel="hub" href="http://not-this-one.example/"/></entry></feed>`, hub, self)
}

// start runs a manager whose callbacks are served by an httptest server,
// with store (a fresh one when nil) and a test hub.
func start(t *testing.T, store *memStore, hub *websubtest.Hub, tweak func(*Options)) *env {
	t.Helper()
	e := &env{hub: hub, store: store, push: newPushed(), done: make(chan struct{})}
	if e.store == nil {
		e.store = newMemStore()
	}
	if e.hub == nil {
		e.hub = websubtest.Start()
		t.Cleanup(e.hub.Close)
	}
	var h http.Handler = http.NotFoundHandler()
	var hmu sync.Mutex
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hmu.Lock()
		hh := h
		hmu.Unlock()
		hh.ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	o := Options{
		CallbackURL: e.srv.URL + "/websub", LeaseSeconds: 600, Fallback: time.Hour, MaxBody: 1 << 20,
		Store: e.store, Pusher: e.push, Tick: 20 * time.Millisecond, VerifyWait: time.Minute, RetryMin: 50 * time.Millisecond,
	}
	if tweak != nil {
		tweak(&o)
	}
	m, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	e.m = m
	mux := http.NewServeMux()
	mux.Handle(m.PathPrefix(), m.Handler())
	hmu.Lock()
	h = mux
	hmu.Unlock()
	e.feed = "http://127.0.0.1:1/feed.xml"
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	if err := m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(e.done)
		_ = m.Run(ctx)
	}()
	t.Cleanup(e.stop)
	return e
}

func (e *env) stop() {
	e.cancel()
	<-e.done
}

// waitFor polls cond every 10 ms for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func (e *env) subscribe(t *testing.T, feed string) {
	t.Helper()
	e.m.Found(feed, e.feed, nil, atomWithHub(e.hub.URL, e.feed))
	waitFor(t, "active subscription", func() bool { return e.m.Status(feed).State == StateActive })
	// The hub records it once our answer is back.
	waitFor(t, "the hub's record", func() bool { return len(e.hub.Subs()) > 0 })
}

func pushCount(m *Manager, result string) float64 {
	var d dto.Metric
	_ = m.m.pushes.WithLabelValues(result).Write(&d)
	return d.GetCounter().GetValue()
}

func TestSubscribeVerifyPush(t *testing.T) {
	e := start(t, nil, nil, nil)
	e.subscribe(t, "world")
	if d := e.m.Interval("world", 5*time.Minute); d != time.Hour {
		t.Fatalf("interval with an active subscription = %v, want the fallback 1h", d)
	}
	if d := e.m.Interval("other", 5*time.Minute); d != 5*time.Minute {
		t.Fatalf("interval without = %v", d)
	}
	if d := e.m.Interval("world", 2*time.Hour); d != 2*time.Hour {
		t.Fatalf("a feed interval longer than the fallback stays: %v", d)
	}
	reqs := e.hub.Requests()
	if len(reqs) != 1 || reqs[0].Mode != "subscribe" || reqs[0].Topic != e.feed || reqs[0].LeaseSeconds != 600 ||
		!strings.HasPrefix(reqs[0].Callback, e.srv.URL+"/websub/") {
		t.Fatalf("hub requests = %+v", reqs)
	}
	body := []byte("<feed>pushed</feed>")
	res := e.hub.Publish(context.Background(), e.feed, body, "application/atom+xml")
	if len(res) != 1 || res[0].Status != http.StatusAccepted {
		t.Fatalf("publish = %+v", res)
	}
	if f := <-e.push.ch; f != "world" || !bytes.Equal(e.push.bodies[0], body) {
		t.Fatalf("pushed %q %q", f, e.push.bodies[0])
	}
	if pushCount(e.m, PushAccepted) != 1 {
		t.Fatal("accepted push not counted")
	}
	st := e.m.Status("world")
	if st.LastPush.IsZero() || st.Expires.IsZero() || st.Hub != e.hub.URL {
		t.Fatalf("status = %+v", st)
	}
	// Every signature method of the spec is accepted.
	for _, method := range []string{"sha1", "sha384", "sha512"} {
		e.hub.Method = method
		if res := e.hub.Publish(context.Background(), e.feed, body, "application/atom+xml"); res[0].Status != http.StatusAccepted {
			t.Fatalf("%s: %+v", method, res)
		}
		<-e.push.ch
	}
	// Seen again (same hub, same topic): nothing new is asked.
	e.m.Found("world", e.feed, nil, atomWithHub(e.hub.URL, e.feed))
	if n := len(e.hub.Requests()); n != 1 {
		t.Fatalf("%d hub requests after an unchanged poll, want 1", n)
	}
}

// TestPushesDropped: wrong or missing signatures, unknown callbacks and
// oversized bodies never reach the watcher; each is counted.
func TestPushesDropped(t *testing.T) {
	e := start(t, nil, nil, func(o *Options) { o.MaxBody = 1000 })
	e.subscribe(t, "world")
	ctx := context.Background()
	cb := e.hub.Subs()[0].Callback
	body := []byte("<feed/>")
	tests := []struct {
		name, cb, sig string
		body          []byte
		status        int
		result        string
	}{
		{"wrong secret", cb, Sign("sha256", []byte("not the secret"), body), body, http.StatusAccepted, PushBadSignature},
		{"signature of another body", cb, Sign("sha256", []byte(e.hub.Subs()[0].Secret), []byte("other")), body, http.StatusAccepted, PushBadSignature},
		{"unknown method", cb, "md5=" + strings.Repeat("0", 32), body, http.StatusAccepted, PushBadSignature},
		{"missing", cb, "", body, http.StatusAccepted, PushNoSignature},
		{"unknown callback", e.srv.URL + "/websub/AAAAAAAAAAAAAAAAAAAAAA", Sign("sha256", []byte("x"), body), body, http.StatusGone, PushUnknown},
		{"too large", cb, Sign("sha256", []byte(e.hub.Subs()[0].Secret), bytes.Repeat([]byte("a"), 1001)), bytes.Repeat([]byte("a"), 1001), http.StatusRequestEntityTooLarge, PushTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := pushCount(e.m, tt.result)
			if got := e.hub.PostTo(ctx, tt.cb, e.feed, tt.body, "application/atom+xml", tt.sig); got != tt.status {
				t.Fatalf("status %d, want %d", got, tt.status)
			}
			if pushCount(e.m, tt.result)-before != 1 {
				t.Fatalf("%s not counted", tt.result)
			}
		})
	}
	// Signed with the right secret, but the hub names another topic.
	secret := []byte(e.hub.Subs()[0].Secret)
	before := pushCount(e.m, PushWrongTopic)
	if got := e.hub.PostTo(ctx, cb, "http://127.0.0.1:1/other.xml", body, "application/atom+xml", Sign("sha256", secret, body)); got != http.StatusAccepted || pushCount(e.m, PushWrongTopic) != before+1 {
		t.Fatalf("push for another topic: %d", got)
	}
	if n := e.push.count(); n != 0 {
		t.Fatalf("%d dropped pushes reached the watcher", n)
	}
	// A path differing in case is another topic.
	if got := e.hub.PostTo(ctx, cb, "https://127.0.0.1:1/FEED.xml/", body, "application/atom+xml", Sign("sha256", secret, body)); got != http.StatusAccepted {
		t.Fatalf("status %d", got)
	}
	if n := e.push.count(); n != 0 {
		t.Fatalf("a path differing in case is another topic: %d pushed", n)
	}
	// The same topic as a hub may write it (https, a trailing slash) is taken.
	if got := e.hub.PostTo(ctx, cb, "https://127.0.0.1:1/feed.xml/", body, "application/atom+xml", Sign("sha256", secret, body)); got != http.StatusAccepted || e.push.count() != 1 {
		t.Fatalf("status %d, %d pushed", got, e.push.count())
	}
	<-e.push.ch
	// A body at the cap is taken.
	full := bytes.Repeat([]byte("a"), 1000)
	if got := e.hub.PostTo(ctx, cb, e.feed, full, "application/atom+xml", Sign("sha512", []byte(e.hub.Subs()[0].Secret), full)); got != http.StatusAccepted || e.push.count() != 2 {
		t.Fatalf("body at the cap: %d, %d pushed", got, e.push.count())
	}
}

// TestUnsolicitedVerification: the challenge is echoed only for a request
// this process made.
func TestUnsolicitedVerification(t *testing.T) {
	e := start(t, nil, nil, nil)
	e.subscribe(t, "world")
	cb := e.hub.Subs()[0].Callback
	tests := []struct {
		name, cb, mode, topic string
	}{
		{"unknown callback", e.srv.URL + "/websub/AAAAAAAAAAAAAAAAAAAAAA", "subscribe", e.feed},
		{"callback outside the prefix", e.srv.URL + "/other", "subscribe", e.feed},
		{"wrong topic", cb, "subscribe", "http://evil.example/feed"},
		{"unsubscribe never asked", cb, "unsubscribe", e.feed},
		{"unknown mode", cb, "publish", e.feed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, echoed := e.hub.SendVerification(tt.cb, tt.mode, tt.topic)
			if code != http.StatusNotFound || echoed {
				t.Fatalf("status %d, echoed %v; want 404 without the challenge", code, echoed)
			}
		})
	}
	if st := e.m.Status("world"); st.State != StateActive {
		t.Fatalf("state after hostile verifications = %s", st.State)
	}
	// A feed we never subscribed to, verified out of the blue.
	code, echoed := e.hub.SendVerification(e.srv.URL+"/websub/"+randomToken(16), "subscribe", "http://127.0.0.1:1/other.xml")
	if code != http.StatusNotFound || echoed {
		t.Fatalf("unsolicited: %d %v", code, echoed)
	}
}

// TestHubNeverVerifies: the subscription stays pending, the feed keeps its
// normal interval, and the request is sent again after VerifyWait.
func TestHubNeverVerifies(t *testing.T) {
	hub := websubtest.Start()
	t.Cleanup(hub.Close)
	hub.NeverVerify = true
	e := start(t, nil, hub, func(o *Options) { o.VerifyWait = 100 * time.Millisecond })
	e.m.Found("world", e.feed, nil, atomWithHub(hub.URL, e.feed))
	waitFor(t, "a second subscribe request", func() bool { return len(hub.Requests()) >= 2 })
	if st := e.m.Status("world"); st.State != StatePending {
		t.Fatalf("state = %s, want pending", st.State)
	}
	if d := e.m.Interval("world", 5*time.Minute); d != 5*time.Minute {
		t.Fatalf("interval = %v, want the normal 5m", d)
	}
}

func TestDenied(t *testing.T) {
	hub := websubtest.Start()
	t.Cleanup(hub.Close)
	hub.Deny = true
	e := start(t, nil, hub, nil)
	e.m.Found("world", e.feed, nil, atomWithHub(hub.URL, e.feed))
	waitFor(t, "denial", func() bool { return e.m.Status("world").State == StateDenied })
	if st := e.m.Status("world"); !strings.Contains(st.Reason, "not on the list") {
		t.Fatalf("reason = %q", st.Reason)
	}
	if d := e.m.Interval("world", 5*time.Minute); d != 5*time.Minute {
		t.Fatalf("interval = %v", d)
	}
	if n := len(hub.Requests()); n != 1 {
		t.Fatalf("%d requests: a denial is not asked again at once", n)
	}
}

// TestLeaseRenewal: a short lease is renewed before it runs out, and the
// subscription stays active throughout.
func TestLeaseRenewal(t *testing.T) {
	hub := websubtest.Start()
	t.Cleanup(hub.Close)
	hub.MaxLease = 2 * time.Second
	e := start(t, nil, hub, nil)
	e.subscribe(t, "world")
	first := e.m.Status("world").Expires
	waitFor(t, "renewal", func() bool { return e.m.Status("world").Expires.After(first) })
	if n := len(hub.Requests()); n < 2 {
		t.Fatalf("%d requests, want a renewal", n)
	}
	if st := e.m.Status("world"); st.State != StateActive {
		t.Fatalf("state %s", st.State)
	}
}

// TestLeaseLapses: a lease that was not renewed (the hub stopped
// answering) puts the feed back on its normal interval.
func TestLeaseLapses(t *testing.T) {
	hub := websubtest.Start()
	t.Cleanup(hub.Close)
	hub.MaxLease = time.Second
	e := start(t, nil, hub, nil)
	e.subscribe(t, "world")
	hub.NeverVerify = true
	waitFor(t, "lapse", func() bool { return e.m.Status("world").State == StatePending })
	if d := e.m.Interval("world", 5*time.Minute); d != 5*time.Minute {
		t.Fatalf("interval after the lease lapsed = %v", d)
	}
	// The poll scheduled at the fallback interval is brought forward.
	if got := e.push.pollsAsked(); len(got) != 1 || got[0] != "world" {
		t.Fatalf("polls asked: %q", got)
	}
}

// TestUnsubscribeOnRemoval: a feed that leaves the config is unsubscribed
// (verified by the hub) and its record deleted; its callback is gone.
func TestUnsubscribeOnRemoval(t *testing.T) {
	e := start(t, nil, nil, nil)
	e.m.SetFeeds([]string{"world", "uk"})
	e.subscribe(t, "world")
	cb := e.hub.Subs()[0].Callback
	e.m.SetFeeds([]string{"uk"})
	waitFor(t, "unsubscribed at the hub", func() bool { return len(e.hub.Subs()) == 0 })
	if b, _ := e.store.Get(context.Background(), "world"); b != nil {
		t.Fatal("record kept")
	}
	if st := e.m.Status("world"); st.State != StateNone {
		t.Fatalf("status %s", st.State)
	}
	if got := e.hub.PostTo(context.Background(), cb, e.feed, []byte("x"), "text/xml", "sha256=00"); got != http.StatusGone {
		t.Fatalf("push to the old callback: %d, want 410", got)
	}
	// A removed feed's later poll result does not subscribe it again.
	e.m.Found("world", e.feed, nil, atomWithHub(e.hub.URL, e.feed))
	if st := e.m.Status("world"); st.State != StateNone {
		t.Fatalf("status %s", st.State)
	}
}

// TestHubChange: a new hub gets a new subscription; the old is ended.
func TestHubChange(t *testing.T) {
	e := start(t, nil, nil, nil)
	e.subscribe(t, "world")
	old := e.hub
	hub2 := websubtest.Start()
	t.Cleanup(hub2.Close)
	e.m.Found("world", e.feed, nil, atomWithHub(hub2.URL, e.feed))
	waitFor(t, "the new hub's subscription", func() bool {
		st := e.m.Status("world")
		return st.State == StateActive && st.Hub == hub2.URL
	})
	waitFor(t, "unsubscribed at the old hub", func() bool { return len(old.Subs()) == 0 })
	// The feed no longer names any hub: unsubscribed.
	e.m.Found("world", e.feed, nil, []byte(`<rss version="2.0"><channel><title>t</title></channel></rss>`))
	waitFor(t, "unsubscribed at the new hub", func() bool { return len(hub2.Subs()) == 0 })
}

// TestRestartKeepsSubscription: a second manager on the same store takes
// pushes at once, without subscribing again.
func TestRestartKeepsSubscription(t *testing.T) {
	store := newMemStore()
	e := start(t, store, nil, nil)
	e.subscribe(t, "world")
	e.stop()
	sub := e.hub.Subs()[0]
	// The same callback base (the daemon's public URL) after a restart.
	m2, err := New(Options{CallbackURL: e.srv.URL + "/websub", LeaseSeconds: 600, Fallback: time.Hour, MaxBody: 1 << 20, Store: store, Pusher: e.push})
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	body := []byte("<feed/>")
	req := httptest.NewRequest(http.MethodPost, sub.Callback, bytes.NewReader(body))
	req.Header.Set("X-Hub-Signature", Sign("sha256", []byte(sub.Secret), body))
	m2.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusAccepted || <-e.push.ch != "world" {
		t.Fatalf("push after restart: %d", rec.Code)
	}
	if st := m2.Status("world"); st.State != StateActive {
		t.Fatalf("state after restart %s", st.State)
	}
}

// notOwner owns nothing.
type ownerFunc func(string) bool

func (f ownerFunc) Owns(feed string) bool { return f(feed) }

// TestNotOwner: a signed push for a feed this process no longer owns is
// 503 while the stored subscription is still its own (ownership
// settling), and 410 once the new owner has subscribed with its callback.
func TestNotOwner(t *testing.T) {
	var mu sync.Mutex
	owned := true
	e := start(t, nil, nil, func(o *Options) {
		o.Owner = ownerFunc(func(string) bool { mu.Lock(); defer mu.Unlock(); return owned })
	})
	e.subscribe(t, "world")
	sub := e.hub.Subs()[0]
	mu.Lock()
	owned = false
	mu.Unlock()
	ctx := context.Background()
	body := []byte("<feed/>")
	if got := e.hub.PostTo(ctx, sub.Callback, e.feed, body, "text/xml", Sign("sha256", []byte(sub.Secret), body)); got != http.StatusServiceUnavailable {
		t.Fatalf("push while not owner: %d, want 503", got)
	}
	_ = e.store.Put(ctx, "world", []byte(`{"feed":"world","id":"someone-else","callback":"http://node2.example/websub/someone-else"}`))
	if got := e.hub.PostTo(ctx, sub.Callback, e.feed, body, "text/xml", Sign("sha256", []byte(sub.Secret), body)); got != http.StatusGone {
		t.Fatalf("push after the new owner subscribed: %d, want 410", got)
	}
	if e.push.count() != 0 {
		t.Fatal("a push for a feed not owned reached the watcher")
	}
}

// TestPrivateHubRefused: a public feed cannot make feedwatch POST to a
// loopback or private address by naming it as its hub.
func TestPrivateHubRefused(t *testing.T) {
	e := start(t, nil, nil, nil)
	e.m.Found("world", "https://example.org/feed.xml", nil, atomWithHub(e.hub.URL, "https://example.org/feed.xml"))
	waitFor(t, "a refused request", func() bool { return strings.Contains(e.m.Status("world").Reason, "private") })
	if n := len(e.hub.Requests()); n != 0 {
		t.Fatalf("the hub got %d requests", n)
	}
}

func TestNewChecksOptions(t *testing.T) {
	good := Options{CallbackURL: "https://fw.example.org/ws", LeaseSeconds: 60, Fallback: time.Hour, MaxBody: 1, Store: newMemStore(), Pusher: newPushed()}
	for _, tweak := range []func(*Options){
		func(o *Options) { o.CallbackURL = "" },
		func(o *Options) { o.CallbackURL = "/ws" },
		func(o *Options) { o.Store = nil },
		func(o *Options) { o.Fallback = 0 },
	} {
		o := good
		tweak(&o)
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
	m, err := New(good)
	if err != nil || m.PathPrefix() != "/ws/" {
		t.Fatalf("%v %q", err, m.PathPrefix())
	}
}

// TestVerificationLongAfterRequest: a subscribe verification that comes
// long after our last request (nobody asked for it) is refused, and the
// lease stays as the hub granted it.
func TestVerificationLongAfterRequest(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	e := start(t, nil, nil, func(o *Options) { o.Now, o.LeaseSeconds = clock, 10*24*3600 })
	e.subscribe(t, "world")
	before := e.m.Status("world").Expires
	cb := e.hub.Subs()[0].Callback
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	if code, echoed := e.hub.SendVerification(cb, "subscribe", e.feed); code != http.StatusNotFound || echoed {
		t.Fatalf("status %d, echoed %v; want 404 without the challenge", code, echoed)
	}
	if st := e.m.Status("world"); st.State != StateActive || !st.Expires.Equal(before) {
		t.Fatalf("state %s, expires %v; want active, %v", st.State, st.Expires, before)
	}
}

// TestSetTunables: a reload's fallback interval, body cap and lease apply
// to the next poll, push and request.
func TestSetTunables(t *testing.T) {
	e := start(t, nil, nil, func(o *Options) { o.MaxBody = 1000 })
	e.subscribe(t, "world")
	if err := e.m.SetTunables(Tunables{LeaseSeconds: 1234, Fallback: 30 * time.Minute, MaxBody: 10}); err != nil {
		t.Fatal(err)
	}
	if d := e.m.Interval("world", 5*time.Minute); d != 30*time.Minute {
		t.Errorf("interval with an active subscription = %v, want the new fallback 30m", d)
	}
	cb := e.hub.Subs()[0].Callback
	body := bytes.Repeat([]byte("a"), 11)
	if got := e.hub.PostTo(context.Background(), cb, e.feed, body, "application/atom+xml", Sign("sha256", []byte(e.hub.Subs()[0].Secret), body)); got != http.StatusRequestEntityTooLarge {
		t.Errorf("push over the new cap: status %d, want 413", got)
	}
	e.m.Found("other", "http://127.0.0.1:1/other.xml", nil, atomWithHub(e.hub.URL, "http://127.0.0.1:1/other.xml"))
	waitFor(t, "a second subscribe request", func() bool { return len(e.hub.Requests()) >= 2 })
	if r := e.hub.Requests()[len(e.hub.Requests())-1]; r.LeaseSeconds != 1234 {
		t.Errorf("lease asked %d, want 1234", r.LeaseSeconds)
	}
	if err := e.m.SetTunables(Tunables{LeaseSeconds: 0, Fallback: time.Hour, MaxBody: 1}); err == nil {
		t.Error("a zero lease was taken")
	}
}
