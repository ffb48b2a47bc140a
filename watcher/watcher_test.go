package watcher

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/item"
)

// rssDoc builds an RSS 2.0 document; each entry is "guid|title|link|date"
// with empty fields left out of the item.
func rssDoc(entries ...string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title><link>https://example.org/</link>`)
	for _, e := range entries {
		p := strings.Split(e+"|||", "|")
		b.WriteString("<item>")
		if p[0] != "" {
			fmt.Fprintf(&b, "<guid isPermaLink=\"false\">%s</guid>", p[0])
		}
		if p[1] != "" {
			fmt.Fprintf(&b, "<title>%s</title>", p[1])
		}
		if p[2] != "" {
			fmt.Fprintf(&b, "<link>%s</link>", p[2])
		}
		if p[3] != "" {
			fmt.Fprintf(&b, "<pubDate>%s</pubDate>", p[3])
		}
		b.WriteString("</item>")
	}
	b.WriteString("</channel></rss>")
	return b.String()
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func recent(d time.Duration) string { return t0.Add(-d).Format(time.RFC1123Z) }

// harness drives polls of one feed directly, with a fake clock, no
// scheduler: deterministic tests of the poll rules.
type harness struct {
	t     *testing.T
	w     *Watcher
	f     *feed
	clock *fakeClock
	seen  *memSeen
	state *memState
	sink  *recSink
}

func newHarness(t *testing.T, url string, mod func(*Options)) *harness {
	t.Helper()
	h := &harness{t: t, clock: &fakeClock{t: t0}, seen: newMemSeen(), state: newMemState(), sink: &recSink{}}
	opts := testOptions(Options{
		Feeds:    []FeedConfig{{Name: "f", URL: url}},
		Interval: 5 * time.Minute, Timeout: 5 * time.Second, Backfill: 24 * time.Hour,
		Sink: h.sink, Seen: h.seen, State: h.state, Now: h.clock.Now,
	})
	if mod != nil {
		mod(&opts)
	}
	w, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	h.w = w
	h.f = &feed{cfg: opts.Feeds[0], name: "f", host: hostOf(url), index: -1}
	return h
}

// poll runs one poll now and returns the next due time.
func (h *harness) poll() (time.Time, bool) {
	h.t.Helper()
	return h.w.pollFeed(context.Background(), h.f)
}

func (h *harness) status() FeedStatus {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	return *h.w.status["f"]
}

// docServer serves whatever body is set, with optional extra handling.
type docServer struct {
	mu   sync.Mutex
	body string
	reqs []*http.Request
	srv  *httptest.Server
	hook func(w http.ResponseWriter, r *http.Request) bool // true = handled
}

func newDocServer(t *testing.T, body string) *docServer {
	d := &docServer{body: body}
	d.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		d.reqs = append(d.reqs, r.Clone(context.Background()))
		hook, body := d.hook, d.body
		d.mu.Unlock()
		if hook != nil && hook(w, r) {
			return
		}
		w.Header().Set("Content-Type", "application/rss+xml")
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(d.srv.Close)
	return d
}

// etagX is a docServer hook serving the body with ETag "x", and 304 to a
// request that has it.
func etagX(w http.ResponseWriter, r *http.Request) bool {
	if r.Header.Get("If-None-Match") == `"x"` {
		w.WriteHeader(http.StatusNotModified)
		return true
	}
	w.Header().Set("ETag", `"x"`)
	return false
}

func (d *docServer) set(body string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.body = body
}

func (d *docServer) last() *http.Request {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.reqs[len(d.reqs)-1]
}

func TestRunDeliversNewItems(t *testing.T) {
	ds := newDocServer(t, rssDoc("1|one|https://example.org/1|"+time.Now().Add(-time.Hour).Format(time.RFC1123Z)))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "local.xml"), []byte(rssDoc("a|local|https://example.org/a|"+time.Now().Format(time.RFC1123Z))), 0o644); err != nil {
		t.Fatal(err)
	}
	sink := &recSink{ch: make(chan item.Item, 10)}
	w, err := New(testOptions(Options{
		Feeds: []FeedConfig{{Name: "http", URL: ds.srv.URL}, {Name: "file", URL: "local.xml"}},
		Sink:  sink, Seen: newMemSeen(), State: newMemState(), BaseDir: dir,
	}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	got := map[string]bool{}
	for len(got) < 2 {
		select {
		case it := <-sink.ch:
			got[it.Title] = true
			if it.Key == "" || it.Feed.Name == "" {
				t.Errorf("item %q without key or feed", it.Title)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("no items; got %v", got)
		}
	}
	if !got["one"] || !got["local"] {
		t.Errorf("got %v", got)
	}
	if st := w.Status(); len(st) != 2 {
		t.Errorf("status: %+v", st)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestBackfillAndSeen(t *testing.T) {
	ds := newDocServer(t, rssDoc(
		"1|new|https://example.org/1|"+recent(time.Hour),
		"2|old|https://example.org/2|"+recent(48*time.Hour),
		"3|undated|https://example.org/3|",
	))
	h := newHarness(t, ds.srv.URL, nil)
	h.poll()
	if got := h.sink.titles(); !slices.Equal(got, []string{"new"}) {
		t.Fatalf("first poll delivered %v, want [new]", got)
	}
	// Later polls: old and undated items that appear are new.
	h.sink.reset()
	ds.set(rssDoc(
		"1|new|https://example.org/1|"+recent(time.Hour),
		"4|undated later|https://example.org/4|",
		"5|old later|https://example.org/5|"+recent(72*time.Hour),
	))
	h.clock.Add(5 * time.Minute)
	h.poll()
	if got := h.sink.titles(); !slices.Equal(got, []string{"undated later", "old later"}) {
		t.Fatalf("second poll delivered %v", got)
	}
}

func TestSinkFailureRedelivers(t *testing.T) {
	ds := newDocServer(t, rssDoc("1|one|https://example.org/1|"+recent(time.Minute)))
	ds.hook = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return true
		}
		w.Header().Set("ETag", `"v1"`)
		return false
	}
	h := newHarness(t, ds.srv.URL, nil)
	h.sink.fail = errBoom
	h.poll()
	if len(h.seen.keys) != 0 {
		t.Fatalf("marked seen although the sink failed")
	}
	if got := ds.last().Header.Get("If-None-Match"); got != "" {
		t.Fatalf("first request sent If-None-Match %q", got)
	}
	h.sink.fail = nil
	h.clock.Add(5 * time.Minute)
	h.poll()
	if got := ds.last().Header.Get("If-None-Match"); got != "" {
		t.Fatalf("validators stored despite sink failure: %q", got)
	}
	if got := h.sink.titles(); !slices.Equal(got, []string{"one"}) {
		t.Fatalf("redelivery %v", got)
	}
	h.clock.Add(5 * time.Minute)
	h.poll()
	if got := ds.last().Header.Get("If-None-Match"); got != `"v1"` {
		t.Fatalf("If-None-Match %q", got)
	}
	if st := h.status(); st.Result != "not_modified" {
		t.Fatalf("result %q", st.Result)
	}
	if got := h.sink.titles(); len(got) != 1 {
		t.Fatalf("delivered twice: %v", got)
	}
}

// TestRecoverBefore: after seen-state was lost, a feed's first document in
// the run marks items published before the known-good time (or undated) as
// seen without alerting, whether the feed's own state survived or not; newer
// items alert, and later polls alert everything new as usual.
func TestRecoverBefore(t *testing.T) {
	goodAt := t0.Add(-2 * time.Hour)
	doc := rssDoc(
		"1|alerted before the loss|https://example.org/1|"+recent(3*time.Hour),
		"2|undated|https://example.org/2|",
		"3|published after the good time|https://example.org/3|"+recent(time.Hour),
		"4|older than backfill|https://example.org/4|"+recent(48*time.Hour),
	)
	for _, tc := range []struct {
		name    string
		primed  bool // the feed's own state survived
		recover time.Time
		want    []string
	}{
		{"no recovery, state lost: plain backfill", false, time.Time{}, []string{"alerted before the loss", "published after the good time"}},
		{"recovery, state lost", false, goodAt, []string{"published after the good time"}},
		{"recovery, feed state kept but seen-state lost", true, goodAt, []string{"published after the good time"}},
		{"recovery older than backfill", false, t0.Add(-72 * time.Hour), []string{"alerted before the loss", "published after the good time"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds := newDocServer(t, doc)
			h := newHarness(t, ds.srv.URL, func(o *Options) { o.RecoverBefore = tc.recover })
			if tc.primed {
				b, err := feedState{ConfigURL: ds.srv.URL, Primed: true, Refreshed: t0}.encode()
				if err != nil {
					t.Fatal(err)
				}
				h.state.m["f"] = b
			}
			h.poll()
			if got := h.sink.titles(); !slices.Equal(got, tc.want) {
				t.Fatalf("first poll delivered %v, want %v", got, tc.want)
			}
			if len(h.seen.keys) == 0 {
				t.Fatal("nothing marked seen")
			}
			// Later documents alert old and undated newcomers again.
			h.sink.reset()
			ds.set(rssDoc("5|old newcomer|https://example.org/5|"+recent(5*time.Hour), "6|undated newcomer|https://example.org/6|"))
			h.clock.Add(10 * time.Minute)
			h.poll()
			if got := h.sink.titles(); !slices.Equal(got, []string{"old newcomer", "undated newcomer"}) {
				t.Fatalf("second poll delivered %v", got)
			}
		})
	}
}

// TestBackfillSpellings: each Backfill value says what a feed's first poll
// alerts; none of them means "a default" (config owns defaults).
func TestBackfillSpellings(t *testing.T) {
	for _, tc := range []struct {
		name     string
		backfill time.Duration
		want     []string
	}{
		{"24h window", 24 * time.Hour, []string{"new"}},
		{"BackfillNone: nothing at the first poll alerts", BackfillNone, nil},
		{"BackfillOff: everything at the first poll alerts", BackfillOff, []string{"new", "old", "undated"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds := newDocServer(t, rssDoc(
				"1|new|https://example.org/1|"+recent(time.Hour),
				"2|old|https://example.org/2|"+recent(48*time.Hour),
				"3|undated|https://example.org/3|",
			))
			h := newHarness(t, ds.srv.URL, func(o *Options) { o.Backfill = tc.backfill })
			h.poll()
			if got := h.sink.titles(); !slices.Equal(got, tc.want) {
				t.Fatalf("first poll delivered %v, want %v", got, tc.want)
			}
		})
	}
}

// TestNewRefusesZeroLimits: a zero limit is an error, not a default.
func TestNewRefusesZeroLimits(t *testing.T) {
	base := Options{Sink: &recSink{}, Seen: newMemSeen(), State: newMemState()}
	for name, mod := range map[string]func(*Options){
		"interval":    func(o *Options) { o.Interval = 0 },
		"timeout":     func(o *Options) { o.Timeout = 0 },
		"max body":    func(o *Options) { o.MaxBody = 0 },
		"concurrency": func(o *Options) { o.Concurrency = 0 },
		"per host":    func(o *Options) { o.PerHost = 0 },
	} {
		o := testOptions(base)
		mod(&o)
		if _, err := New(o); err == nil {
			t.Errorf("zero %s accepted", name)
		}
	}
	if _, _, err := Fetch(context.Background(), "x.xml", Options{}); err == nil || !strings.Contains(err.Error(), "must be positive") {
		t.Errorf("Fetch with zero limits: %v", err)
	}
}
