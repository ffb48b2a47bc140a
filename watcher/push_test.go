package watcher

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/feedwatch/feedwatch/item"
)

// fakeHubs records Found calls and gives every feed interval.
type fakeHubs struct {
	mu       sync.Mutex
	found    []string // feed + " " + first Link header
	interval time.Duration
}

func (h *fakeHubs) Found(feed, _ string, links []string, body []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	l := ""
	if len(links) > 0 {
		l = links[0]
	}
	h.found = append(h.found, feed+" "+l)
}

func (h *fakeHubs) Interval(_ string, normal time.Duration) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.interval > 0 {
		return h.interval
	}
	return normal
}

func (h *fakeHubs) calls() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.found)
}

func pushResults(w *Watcher, result string) float64 {
	var d dto.Metric
	_ = w.m.pushes.WithLabelValues(result).Write(&d)
	return d.GetCounter().GetValue()
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 2000 {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// servedDoc serves an RSS document that the test may change, with a hub
// Link header.
type servedDoc struct {
	mu  sync.Mutex
	doc string
}

func (s *servedDoc) set(d string) { s.mu.Lock(); s.doc = d; s.mu.Unlock() }

func (s *servedDoc) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	d := s.doc
	s.mu.Unlock()
	w.Header().Add("Link", `<https://hub.example/>; rel="hub"`)
	w.Header().Set("Content-Type", "application/rss+xml")
	fmt.Fprint(w, d)
}

func startWatcher(t *testing.T, o Options) *Watcher {
	t.Helper()
	w, err := New(testOptions(o))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = w.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	waitUntil(t, "the watcher to run", func() bool { w.mu.Lock(); defer w.mu.Unlock(); return w.running })
	return w
}

// TestPushHandledLikeAPoll: a pushed document goes through the same
// identity keys and seen-state as polls: an item alerts once, whether it
// came by push or poll first; a document that is not a feed is refused.
func TestPushHandledLikeAPoll(t *testing.T) {
	now := time.Now().UTC().Format(time.RFC1123Z)
	it := func(id string) string { return id + "|" + id + "|https://example.org/" + id + "|" + now }
	doc := &servedDoc{doc: rssDoc(it("A"))}
	srv := httptest.NewServer(doc)
	t.Cleanup(srv.Close)
	sink := &recSink{}
	hubs := &fakeHubs{}
	w := startWatcher(t, Options{
		Feeds: []FeedConfig{{Name: "world", URL: srv.URL}}, Interval: time.Hour,
		Sink: sink, Seen: newMemSeen(), State: newMemState(), Hubs: hubs,
	})
	waitUntil(t, "the first poll", func() bool { return len(sink.titles()) == 1 })
	if got := hubs.calls(); len(got) != 1 || got[0] != `world <https://hub.example/>; rel="hub"` {
		t.Fatalf("hub observer saw %q", got)
	}
	if err := w.Push("world", []byte(rssDoc(it("A"), it("B"))), "application/rss+xml"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the pushed item", func() bool { return len(sink.titles()) == 2 })
	// The same document pushed twice (hubs retry): nothing new.
	if err := w.Push("world", []byte(rssDoc(it("B"), it("A"))), "application/rss+xml"); err != nil {
		t.Fatal(err)
	}
	if err := w.Push("world", []byte("<html><body>not a feed</body></html>"), "text/html"); err != nil {
		t.Fatal(err)
	}
	if err := w.Push("nobody", []byte(rssDoc(it("Z"))), ""); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the pushes handled", func() bool {
		return pushResults(w, "ok") == 2 && pushResults(w, "not_feed") == 1 && pushResults(w, "not_watched") == 1
	})
	if got := sink.titles(); !slices.Equal(got, []string{"A", "B"}) {
		t.Fatalf("delivered %q, want A by poll, B by push, once each", got)
	}
	// The pushed item is seen for polls too.
	doc.set(rssDoc(it("A"), it("B"), it("C")))
	if err := w.Push("world", []byte(rssDoc(it("C"))), ""); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "C", func() bool { return len(sink.titles()) == 3 })
	if got := sink.titles(); !slices.Equal(got, []string{"A", "B", "C"}) {
		t.Fatalf("delivered %q", got)
	}
}

// TestPushIntervalFromHubs: the observer's interval is the one polls use
// (the fallback interval while a subscription is active).
func TestPushIntervalFromHubs(t *testing.T) {
	doc := &servedDoc{doc: rssDoc("A|A|https://example.org/a|")}
	srv := httptest.NewServer(doc)
	t.Cleanup(srv.Close)
	w := startWatcher(t, Options{
		Feeds: []FeedConfig{{Name: "world", URL: srv.URL}}, Interval: time.Minute,
		Sink: &recSink{}, Seen: newMemSeen(), State: newMemState(), Hubs: &fakeHubs{interval: 3 * time.Hour},
	})
	waitUntil(t, "the first poll", func() bool { s := w.Status(); return len(s) == 1 && !s[0].LastPoll.IsZero() })
	s := w.Status()[0]
	if d := s.NextDue.Sub(s.LastPoll); d < 3*time.Hour {
		t.Fatalf("next poll in %v, want the observer's 3h", d)
	}
}

// TestPollSoon: a feed scheduled far ahead is polled at once.
func TestPollSoon(t *testing.T) {
	doc := &servedDoc{doc: rssDoc("A|A|https://example.org/a|")}
	srv := httptest.NewServer(doc)
	t.Cleanup(srv.Close)
	hubs := &fakeHubs{interval: 3 * time.Hour}
	w := startWatcher(t, Options{
		Feeds: []FeedConfig{{Name: "world", URL: srv.URL}}, Interval: time.Minute,
		Sink: &recSink{}, Seen: newMemSeen(), State: newMemState(), Hubs: hubs,
	})
	waitUntil(t, "the first poll", func() bool { return len(hubs.calls()) == 1 })
	w.PollSoon("world")
	w.PollSoon("nobody")
	waitUntil(t, "the second poll", func() bool { return len(hubs.calls()) == 2 })
}

// concSink fails the test when two deliveries of one feed overlap, and
// counts each title.
type concSink struct {
	inFlight atomic.Int32
	overlap  atomic.Bool
	mu       sync.Mutex
	n        map[string]int
}

func (c *concSink) Handle(_ context.Context, _ item.Feed, items []item.Item) error {
	if c.inFlight.Add(1) > 1 {
		c.overlap.Store(true)
	}
	defer c.inFlight.Add(-1)
	time.Sleep(time.Millisecond) // widen the window
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, it := range items {
		c.n[it.Title]++
	}
	return nil
}

// TestPushNeverBesidePoll: pushes and polls of one feed, fired together
// and often, never run at once (the seen-state has one writer per feed)
// and deliver each item once.
func TestPushNeverBesidePoll(t *testing.T) {
	now := time.Now().UTC().Format(time.RFC1123Z)
	var served atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		// Every poll sees one more item than the last.
		n := int(served.Add(1))
		var items []string
		for i := range n {
			items = append(items, fmt.Sprintf("p%d|p%d|https://example.org/p%d|%s", i, i, i, now))
		}
		fmt.Fprint(w, rssDoc(items...))
	}))
	t.Cleanup(srv.Close)
	sink := &concSink{n: map[string]int{}}
	w := startWatcher(t, Options{
		Feeds: []FeedConfig{{Name: "world", URL: srv.URL, Interval: time.Millisecond}}, Interval: time.Millisecond,
		Concurrency: 4, PerHost: 4, Sink: sink, Seen: newMemSeen(), State: newMemState(),
	})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				id := fmt.Sprintf("x%d-%d", g, i)
				body := []byte(rssDoc(id + "|" + id + "|https://example.org/" + id + "|" + now))
				for w.Push("world", body, "") != nil {
					time.Sleep(time.Millisecond) // budget full: try again
				}
			}
		}()
	}
	wg.Wait()
	waitUntil(t, "every push handled", func() bool { return pushResults(w, "ok") == 100 })
	waitUntil(t, "a few polls", func() bool { return served.Load() > 5 })
	if sink.overlap.Load() {
		t.Fatal("two deliveries of one feed overlapped")
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for title, n := range sink.n {
		if n != 1 {
			t.Errorf("%s delivered %d times", title, n)
		}
	}
	for g := range 4 {
		for i := range 25 {
			if id := fmt.Sprintf("x%d-%d", g, i); sink.n[id] != 1 {
				t.Errorf("pushed %s delivered %d times", id, sink.n[id])
			}
		}
	}
}

// TestPushBudget: pushed bytes waiting are bounded.
func TestPushBudget(t *testing.T) {
	w, err := New(testOptions(Options{Feeds: []FeedConfig{{Name: "world", URL: "http://127.0.0.1:1/"}}, MaxBody: 100,
		Sink: &recSink{}, Seen: newMemSeen(), State: newMemState()}))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Push("world", make([]byte, 10), ""); err != ErrNotRunning {
		t.Fatalf("push before Run = %v", err)
	}
	w.mu.Lock()
	w.running = true // no scheduler: pushes stay queued
	w.mu.Unlock()
	for i := range 4 {
		if err := w.Push("world", make([]byte, 100), ""); err != nil {
			t.Fatalf("push %d: %v", i, err)
		}
	}
	if err := w.Push("world", make([]byte, 1), ""); err != ErrPushBusy {
		t.Fatalf("push past the budget = %v", err)
	}
}
