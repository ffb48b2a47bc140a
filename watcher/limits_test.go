package watcher

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/item"
)

func TestSchedulerSetLimits(t *testing.T) {
	var feeds []FeedConfig
	for i := range 6 {
		feeds = append(feeds, FeedConfig{Name: fmt.Sprintf("a%d", i), URL: fmt.Sprintf("http://a.example/%d", i)})
	}
	s, clock := newTestScheduler(t, 2, 1, feeds)
	clock.Add(3 * time.Second) // past the start spread: everything due
	s.dispatch()
	if run := started(s); len(run) != 1 || len(s.parked["a.example"]) != 5 {
		t.Fatalf("per host 1: started %d, parked %d", len(run), len(s.parked["a.example"]))
	}
	old := s.jobs
	if err := s.w.SetLimits(Limits{Timeout: time.Second, MaxBody: 1 << 20, Concurrency: 4, PerHost: 3}); err != nil {
		t.Fatal(err)
	}
	s.applyLimits()
	if _, open := <-old; open {
		t.Error("the old pool's job channel is still open")
	}
	// The larger host cap starts parked feeds at the next dispatch, on the
	// new pool.
	s.dispatch()
	if run := started(s); len(run) != 2 || s.inFlight != 3 || cap(s.jobs) != 4 {
		t.Fatalf("per host 3: started %d more, in flight %d, pool %d", len(run), s.inFlight, cap(s.jobs))
	}
	s.dispatch()
	if run := started(s); len(run) != 0 {
		t.Fatalf("started %d past the host cap", len(run))
	}
	// Lower limits hold from the next dispatch; polls in flight finish.
	if err := s.w.SetLimits(Limits{Timeout: time.Second, MaxBody: 1 << 20, Concurrency: 1, PerHost: 1}); err != nil {
		t.Fatal(err)
	}
	s.applyLimits()
	for range 3 {
		s.finish(done{f: s.feeds[firstRunning(s)], next: clock.Now().Add(time.Hour)})
	}
	// Only the last finish, below the new concurrency, starts a parked
	// feed.
	s.dispatch()
	if run := started(s); len(run) != 1 || s.inFlight != 1 {
		t.Fatalf("concurrency 1: started %d, in flight %d", len(run), s.inFlight)
	}
	if err := s.w.SetLimits(Limits{Timeout: time.Second, MaxBody: 1 << 20, Concurrency: 0, PerHost: 1}); err == nil {
		t.Error("SetLimits took concurrency 0")
	}
}

func firstRunning(s *scheduler) string {
	for name, f := range s.feeds {
		if f.running {
			return name
		}
	}
	return ""
}

// TestSetLimitsWhileRunning changes the user agent and the per-host cap of
// a running watcher: feeds parked behind the old cap start at once, and
// their requests carry the new user agent.
func TestSetLimitsWhileRunning(t *testing.T) {
	var (
		mu       sync.Mutex
		inFlight int
		agents   []string
	)
	release := make(chan struct{})
	reached := make(chan int, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		agents = append(agents, r.UserAgent())
		reached <- inFlight
		mu.Unlock()
		<-release
		mu.Lock()
		inFlight--
		mu.Unlock()
		w.Header().Set("Content-Type", "application/rss+xml")
		_, _ = w.Write([]byte(rssDoc("1|one|https://example.org/1|" + time.Now().Format(time.RFC1123Z))))
	}))
	defer srv.Close()
	defer close(release)
	var feeds []FeedConfig
	for i := range 4 {
		feeds = append(feeds, FeedConfig{Name: fmt.Sprintf("f%d", i), URL: fmt.Sprintf("%s/%d", srv.URL, i)})
	}
	w, err := New(testOptions(Options{Feeds: feeds, Concurrency: 4, PerHost: 1, UserAgent: "old",
		Sink: &recSink{}, Seen: newMemSeen(), State: newMemState()}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = w.Run(ctx) }()
	waitFor := func(n int) {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for {
			select {
			case got := <-reached:
				if got > n {
					t.Fatalf("%d requests in flight, want at most %d", got, n)
				}
				if got == n {
					return
				}
			case <-deadline:
				t.Fatalf("never %d requests in flight", n)
			}
		}
	}
	waitFor(1)
	select {
	case got := <-reached:
		t.Fatalf("%d requests in flight with per_host 1", got)
	case <-time.After(3 * time.Second): // past the start spread
	}
	if err := w.SetLimits(Limits{Timeout: 30 * time.Second, MaxBody: 10 << 20, Concurrency: 4, PerHost: 4, UserAgent: "new", Backfill: 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	waitFor(4)
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(agents, ","); got != "old,new,new,new" {
		t.Errorf("user agents %s, want old,new,new,new", got)
	}
}

// TestFlushStatesOnLeave: polls that change nothing leave the stored state
// behind (one write per 6 h); when a feed leaves this watcher (a stop, or
// handed to another by SetFeeds) its last poll and next due time are
// written, so its next owner keeps its schedule instead of polling at once.
func TestFlushStatesOnLeave(t *testing.T) {
	for _, how := range []string{"stop", "handed over"} {
		t.Run(how, func(t *testing.T) {
			ds := newDocServer(t, rssDoc("1|one|https://example.org/1|"+time.Now().Format(time.RFC1123Z)))
			ds.hook = etagX
			state := newMemState()
			w, err := New(testOptions(Options{Feeds: []FeedConfig{{Name: "f", URL: ds.srv.URL, Interval: 300 * time.Millisecond}},
				Sink: &recSink{}, Seen: newMemSeen(), State: state,
				Configured: func(string) bool { return true }})) // handed to another watcher, not removed
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- w.Run(ctx) }()
			deadline := time.Now().Add(20 * time.Second)
			for {
				ds.mu.Lock()
				n := len(ds.reqs)
				ds.mu.Unlock()
				if n >= 3 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d polls", n)
				}
				time.Sleep(20 * time.Millisecond)
			}
			stored := func() feedState {
				state.mu.Lock()
				defer state.mu.Unlock()
				st, err := decodeState(state.m["f"])
				if err != nil {
					t.Fatal(err)
				}
				return st
			}
			before := stored().LastPoll
			if how == "stop" {
				cancel()
				if err := <-done; err != nil {
					t.Fatal(err)
				}
			} else {
				w.SetFeeds(nil)
			}
			deadline = time.Now().Add(10 * time.Second)
			for !stored().LastPoll.After(before) {
				if time.Now().After(deadline) {
					t.Fatalf("stored last poll %v, not the latest one", stored().LastPoll)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if st := stored(); !st.NextDue.After(st.LastPoll) {
				t.Errorf("stored next due %v, not after the last poll %v", st.NextDue, st.LastPoll)
			}
		})
	}
}

// TestSinkFailureRetriedSoon: a delivery that fails on our side (NATS
// electing a leader) is offered again within seconds, from the document
// already fetched, not an interval later, and the feed is not fetched
// again for it.
func TestSinkFailureRetriedSoon(t *testing.T) {
	ds := newDocServer(t, rssDoc("1|one|https://example.org/1|"+time.Now().Format(time.RFC1123Z)))
	sink := &recSink{fail: errBoom, ch: make(chan item.Item, 4)}
	w, err := New(testOptions(Options{Feeds: []FeedConfig{{Name: "f", URL: ds.srv.URL, Interval: time.Hour}},
		Sink: sink, Seen: newMemSeen(), State: newMemState()}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = w.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ds.mu.Lock()
		n := len(ds.reqs)
		ds.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no poll")
		}
		time.Sleep(10 * time.Millisecond)
	}
	sink.mu.Lock()
	sink.fail = nil // the stream is back
	sink.mu.Unlock()
	select {
	case it := <-sink.ch:
		if it.Title != "one" {
			t.Fatalf("delivered %q", it.Title)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the failed delivery was not retried before the next poll (an hour)")
	}
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if len(ds.reqs) != 1 {
		t.Errorf("%d fetches, want 1: the retry reuses the document", len(ds.reqs))
	}
	if n := pushResults(w, "ok") + pushResults(w, "sink"); n != 0 {
		t.Errorf("a retried delivery counted as %v WebSub pushes", n)
	}
}
