package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/bus"
	"github.com/feedwatch/feedwatch/item"
	"github.com/feedwatch/feedwatch/seenlog"
	"github.com/feedwatch/feedwatch/watcher"
)

// snapshotFeed serves one RSS document that the test replaces step by
// step, and counts how often each version was served.
type snapshotFeed struct {
	mu      sync.Mutex
	version int
	body    string
	served  map[int]int
}

type snapItem struct{ guid, link string }

func (f *snapshotFeed) set(items []snapItem) int {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>https://news.example.org/</link>`)
	pub := time.Now().UTC().Format(time.RFC1123Z)
	for _, it := range items {
		fmt.Fprintf(&b, `<item><title>%s</title><link>https://news.example.org/%s</link><guid isPermaLink="false">%s</guid><pubDate>%s</pubDate></item>`,
			it.link, it.link, it.guid, pub)
	}
	b.WriteString(`</channel></rss>`)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.version++
	f.body = b.String()
	return f.version
}

func (f *snapshotFeed) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	body, v := f.body, f.version
	f.served[v]++
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/rss+xml")
	_, _ = io.WriteString(w, body) // no validators: every poll is a parsed 200
}

func (f *snapshotFeed) servedTimes(v int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.served[v]
}

// TestSeenStateAcrossRestarts runs the watcher on real JetStream seen-state
// through a sequence of documents (new items, a GUID that changes while the
// link stays, items that drop out and come back, more writes than a log
// holds deltas) with restarts of the watcher and the bus in between, and
// checks that every item is delivered exactly once.
func TestSeenStateAcrossRestarts(t *testing.T) {
	feed := &snapshotFeed{served: map[int]int{}}
	srv := httptest.NewServer(feed)
	defer srv.Close()
	dir := t.TempDir()

	var mu sync.Mutex
	delivered := map[string]int{} // by title (= link path)
	sink := watcher.SinkFunc(func(_ context.Context, _ item.Feed, items []item.Item) error {
		mu.Lock()
		defer mu.Unlock()
		for _, it := range items {
			delivered[it.Title]++
		}
		return nil
	})

	type run struct {
		b      *bus.Bus
		cancel context.CancelFunc
		done   chan error
	}
	start := func() *run {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		b, err := bus.Open(ctx, bus.Options{DataDir: dir})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		w, err := watcher.New(watcher.Options{
			Feeds:    []watcher.FeedConfig{{Name: "world", URL: srv.URL + "/feed.xml"}},
			Interval: 5 * time.Millisecond, Timeout: 30 * time.Second, MaxBody: 10 << 20, Concurrency: 1, PerHost: 1,
			Backfill: 24 * time.Hour, Sink: sink, Seen: b.Seen(), State: b.FeedState(),
			Logger: slog.New(slog.DiscardHandler),
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel = context.WithCancel(context.Background())
		r := &run{b: b, cancel: cancel, done: make(chan error, 1)}
		go func() { r.done <- w.Run(ctx) }()
		return r
	}
	stop := func(r *run) {
		r.cancel()
		<-r.done
		r.b.Close()
	}
	// show serves items and waits until a poll of them has completed (the
	// feed's polls run one after the other, so the second request for a
	// version means the first poll of it is done).
	show := func(step string, items []snapItem) {
		v := feed.set(items)
		waitFor(t, step, 20*time.Second, func() bool { return feed.servedTimes(v) >= 2 })
	}
	items := func(ids ...string) []snapItem {
		out := make([]snapItem, len(ids))
		for i, id := range ids {
			out[i] = snapItem{guid: "guid-" + id, link: id}
		}
		return out
	}

	r := start()
	show("first document", items("a", "b", "c"))
	show("b drops out, d is new", items("a", "c", "d"))
	// The GUID of c changes while its link stays: not new.
	show("c's GUID changes", []snapItem{{"guid-a", "a"}, {"guid-c2", "c"}, {"guid-d", "d"}})
	stop(r)

	r = start()
	show("b comes back after a restart", items("a", "b", "d"))
	// More writes than the log holds deltas, so snapshots are written.
	var ids []string
	for i := range seenlog.Deltas + 3 {
		ids = append(ids, fmt.Sprintf("n%d", i))
		show(fmt.Sprintf("write %d", i), items(ids[max(0, len(ids)-5):]...))
	}
	stop(r)

	r = start()
	defer stop(r)
	// Everything seen comes back at once, with one new item.
	show("all old items again, and e", items(append([]string{"a", "b", "c", "d", "e"}, ids...)...))

	mu.Lock()
	defer mu.Unlock()
	want := append([]string{"a", "b", "c", "d", "e"}, ids...)
	for _, id := range want {
		if delivered[id] != 1 {
			t.Errorf("item %s delivered %d times, want once", id, delivered[id])
		}
	}
	if len(delivered) != len(want) {
		t.Errorf("delivered %v, want exactly %v", delivered, want)
	}
}
