package watcher

import (
	"container/heap"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/item"
)

func newTestScheduler(t *testing.T, conc, perHost int, feeds []FeedConfig) (*scheduler, *fakeClock) {
	t.Helper()
	clock := &fakeClock{t: t0}
	w, err := New(testOptions(Options{
		Feeds: feeds, Concurrency: conc, PerHost: perHost,
		Sink: &recSink{}, Seen: newMemSeen(), State: newMemState(), Now: clock.Now,
	}))
	if err != nil {
		t.Fatal(err)
	}
	s := newScheduler(w)
	s.applyPending()
	return s, clock
}

// started drains the job queue.
func started(s *scheduler) []*feed {
	var out []*feed
	for {
		select {
		case j := <-s.jobs:
			out = append(out, j.f)
		default:
			return out
		}
	}
}

func TestSchedulerLimits(t *testing.T) {
	var feeds []FeedConfig
	for i := 0; i < 6; i++ {
		feeds = append(feeds, FeedConfig{Name: fmt.Sprintf("a%d", i), URL: fmt.Sprintf("http://a.example/%d", i)})
	}
	for i := 0; i < 3; i++ {
		feeds = append(feeds, FeedConfig{Name: fmt.Sprintf("b%d", i), URL: fmt.Sprintf("http://B.example/%d", i)})
	}
	s, clock := newTestScheduler(t, 3, 2, feeds)
	clock.Add(3 * time.Second) // past the start spread: everything due
	polls := map[string]int{}
	for round := 0; round < 20 && len(polls) < len(feeds); round++ {
		s.dispatch()
		if s.inFlight > 3 || s.perHost["a.example"] > 2 || s.perHost["b.example"] > 2 {
			t.Fatalf("limits broken: inFlight %d perHost %v", s.inFlight, s.perHost)
		}
		run := started(s)
		if len(run) == 0 {
			t.Fatalf("nothing started in round %d (inFlight %d, parked %d)", round, s.inFlight, len(s.parked))
		}
		for _, f := range run {
			polls[f.name]++
			s.finish(done{f: f, next: clock.Now().Add(time.Hour)})
		}
	}
	for _, fc := range feeds {
		if polls[fc.Name] != 1 {
			t.Fatalf("feed %s polled %d times: %v", fc.Name, polls[fc.Name], polls)
		}
	}
	if len(s.h) != len(feeds) || s.inFlight != 0 {
		t.Fatalf("heap %d inFlight %d", len(s.h), s.inFlight)
	}
}

func TestSchedulerStartSpread(t *testing.T) {
	cases := []struct {
		n        int
		min, max time.Duration
	}{
		{1, 0, 0},
		{100, time.Second, 2 * time.Second},
		{1000, 9 * time.Second, 10 * time.Second},
		{50000, 4 * time.Minute, 5 * time.Minute}, // capped at the interval
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.n), func(t *testing.T) {
			var feeds []FeedConfig
			for i := 0; i < c.n; i++ {
				feeds = append(feeds, FeedConfig{Name: fmt.Sprintf("f%d", i), URL: fmt.Sprintf("http://h%d.example/", i)})
			}
			s, _ := newTestScheduler(t, 100, 2, feeds)
			// The first visits (state loads) are due at once; the first
			// polls are spread.
			first, last := s.h[0].first, s.h[0].first
			for _, f := range s.h {
				if f.due.Sub(t0) > time.Millisecond {
					t.Fatalf("first visit of %s due %v after start", f.name, f.due.Sub(t0))
				}
				if f.first.Before(first) {
					first = f.first
				}
				if f.first.After(last) {
					last = f.first
				}
			}
			if !first.Equal(t0) || last.Sub(first) < c.min || last.Sub(first) > c.max {
				t.Fatalf("first polls spread over %v", last.Sub(first))
			}
		})
	}
}

func TestSchedulerReload(t *testing.T) {
	s, clock := newTestScheduler(t, 4, 2, []FeedConfig{
		{Name: "a", URL: "http://x.example/a"},
		{Name: "b", URL: "http://x.example/b"},
		{Name: "c", URL: "http://x.example/c"},
	})
	clock.Add(3 * time.Second)
	s.dispatch()
	for _, f := range started(s) {
		f.st.ETag = "kept"
		s.finish(done{f: f, next: clock.Now().Add(time.Hour)})
	}
	// c is running when the reload arrives.
	s.feeds["c"].due = clock.Now()
	s.dispatch() // nothing due except c
	run := started(s)
	if len(run) != 1 || run[0].name != "c" {
		t.Fatalf("started %v", run)
	}
	bDue := s.feeds["b"].due
	s.w.SetFeeds([]FeedConfig{
		{Name: "b", URL: "http://x.example/b", Tags: []string{"new tag"}}, // unchanged URL
		{Name: "c", URL: "http://x.example/c2"},                           // URL changed while running
		{Name: "d", URL: "http://x.example/d"},                            // new
	})
	s.applyPending()
	if _, ok := s.feeds["a"]; ok {
		t.Fatal("a not removed")
	}
	b := s.feeds["b"]
	if !b.due.Equal(bDue) || b.st.ETag != "kept" || len(b.cfg.Tags) != 1 {
		t.Fatalf("b: due %v etag %q tags %v", b.due, b.st.ETag, b.cfg.Tags)
	}
	c := s.feeds["c"]
	if c.cfg.URL != "http://x.example/c" || c.pendingCfg == nil {
		t.Fatal("config of a running feed changed under its worker")
	}
	s.finish(done{f: c, next: clock.Now().Add(time.Hour)})
	if c.cfg.URL != "http://x.example/c2" || c.st.ETag != "" || c.due.After(clock.Now()) {
		t.Fatalf("c after reload: url %s etag %q due %v", c.cfg.URL, c.st.ETag, c.due)
	}
	if d := s.feeds["d"]; d == nil || d.index < 0 {
		t.Fatal("d not scheduled")
	}
	if n := len(s.w.Status()); n != 3 {
		t.Fatalf("status has %d feeds", n)
	}
}

// TestSchedulerReaddWhileRunning: a feed removed by one reload and added
// back by the next while its poll runs is the same feed, not a second one
// polled beside it (calls to the seen store for one feed never overlap).
func TestSchedulerReaddWhileRunning(t *testing.T) {
	feeds := []FeedConfig{{Name: "a", URL: "http://x.example/a"}}
	s, clock := newTestScheduler(t, 4, 2, feeds)
	clock.Add(3 * time.Second)
	s.dispatch()
	run := started(s)
	if len(run) != 1 {
		t.Fatalf("started %v", run)
	}
	s.w.SetFeeds(nil)
	s.applyPending()
	s.w.SetFeeds([]FeedConfig{{Name: "a", URL: "http://x.example/a", Tags: []string{"t"}}})
	s.applyPending()
	clock.Add(3 * time.Second)
	s.dispatch()
	if again := started(s); len(again) != 0 {
		t.Fatalf("feed polled again while its first poll runs: %v", again)
	}
	s.finish(done{f: run[0], next: clock.Now()})
	a := s.feeds["a"]
	if a != run[0] || a.removed || a.index < 0 || len(a.cfg.Tags) != 1 {
		t.Fatalf("a after its poll: same %v removed %v index %d tags %v", a == run[0], a.removed, a.index, a.cfg.Tags)
	}
	s.dispatch()
	if again := started(s); len(again) != 1 {
		t.Fatalf("a not polled after its first poll: %v", again)
	}
	// Removed for good: it leaves when its poll ends, status included
	// (which its worker records after the removal).
	s.w.SetFeeds(nil)
	s.applyPending()
	s.w.setStatus("a", func(st *FeedStatus) { st.Result = "ok" })
	s.finish(done{f: a, next: clock.Now()})
	if len(s.feeds) != 0 || len(s.h) != 0 || len(s.leaving) != 0 || len(s.w.Status()) != 0 {
		t.Fatalf("removed feed left behind: feeds %d heap %d leaving %d status %v", len(s.feeds), len(s.h), len(s.leaving), s.w.Status())
	}
}

// TestHostileFeedDoesNotStallOthers: a feed that hangs until its timeout
// occupies one worker; the other feeds are polled meanwhile.
func TestHostileFeedDoesNotStallOthers(t *testing.T) {
	release := make(chan struct{})
	hung := make(chan struct{}, 1)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hung <- struct{}{}
		w.WriteHeader(200)
		_, _ = w.Write([]byte("<rss>"))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	good := newDocServer(t, rssDoc("1|fresh|http://x/1|"+time.Now().Format(time.RFC1123Z)))
	sink := &recSink{ch: make(chan item.Item, 1)}
	w, err := New(testOptions(Options{
		Feeds:       []FeedConfig{{Name: "slow", URL: slow.URL}, {Name: "good", URL: good.srv.URL}},
		Concurrency: 2, Timeout: time.Minute,
		Sink: sink, Seen: newMemSeen(), State: newMemState(),
	}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = w.Run(ctx) }()
	<-hung
	select {
	case it := <-sink.ch:
		if it.Title != "fresh" {
			t.Fatalf("got %q", it.Title)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("good feed starved by the hanging one")
	}
}

// TestSchedulerIntervalReload: a reload that changes a feed's interval
// reschedules it from its last poll, not after the poll the old interval
// scheduled; backoff and what the server asked for still hold.
func TestSchedulerIntervalReload(t *testing.T) {
	last := t0.Add(-10 * time.Second)
	for _, tc := range []struct {
		name     string
		st       feedState
		from, to time.Time
	}{
		{"shorter", feedState{LastPoll: last}, last.Add(time.Minute), last.Add(72 * time.Second)},
		{"server hint holds", feedState{LastPoll: last, HintUntil: t0.Add(30 * time.Minute)}, t0.Add(30 * time.Minute), t0.Add(30 * time.Minute)},
		{"backoff after failures", feedState{LastPoll: last, Failures: 2}, last.Add(2 * time.Minute), last.Add(144 * time.Second)},
		{"overdue: spread", feedState{LastPoll: t0.Add(-2 * time.Hour)}, t0, t0.Add(30 * time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := "http://x.example/a"
			s, _ := newTestScheduler(t, 4, 2, []FeedConfig{{Name: "a", URL: url, Interval: time.Hour}})
			f := s.feeds["a"]
			f.loaded, f.st = true, tc.st
			f.st.ConfigURL = url
			f.due = last.Add(time.Hour)
			heap.Fix(&s.h, f.index)
			s.w.SetFeeds([]FeedConfig{{Name: "a", URL: url, Interval: time.Minute}})
			s.applyPending()
			if f.due.Before(tc.from) || f.due.After(tc.to) {
				t.Errorf("due %v after t0, want %v to %v", f.due.Sub(t0), tc.from.Sub(t0), tc.to.Sub(t0))
			}
			if s.h[0] != f || f.cfg.Interval != time.Minute {
				t.Error("the heap or the feed's config was not updated")
			}
		})
	}
}

// TestLoadStateShorterInterval: a due time stored under a longer interval
// (the config changed while feedwatch was down) gives way to the current
// interval from the last poll.
func TestLoadStateShorterInterval(t *testing.T) {
	ds := newDocServer(t, rssDoc())
	h := newHarness(t, ds.srv.URL, func(o *Options) { o.Feeds[0].Interval = time.Minute })
	last := t0.Add(-10 * time.Second)
	for _, tc := range []struct {
		name     string
		stored   time.Time
		interval time.Duration
		from, to time.Time
	}{
		{"stored under 1h", last.Add(time.Hour), time.Hour, last.Add(time.Minute), last.Add(72 * time.Second)},
		{"stored under 1m: kept", last.Add(70 * time.Second), time.Minute, last.Add(70 * time.Second), last.Add(70 * time.Second)},
		{"a server's hint kept", last.Add(time.Hour), time.Minute, last.Add(time.Hour), last.Add(time.Hour)},
		{"written before intervals were stored: kept", last.Add(time.Hour), 0, last.Add(time.Hour), last.Add(time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := feedState{ConfigURL: ds.srv.URL, LastPoll: last, NextDue: tc.stored, Interval: tc.interval, Primed: true}.encode()
			if err != nil {
				t.Fatal(err)
			}
			if err := h.state.Save(context.Background(), "f", b); err != nil {
				t.Fatal(err)
			}
			h.f.loaded = false
			next, poll, _ := h.w.loadState(context.Background(), h.f, t0, time.Minute)
			if poll || next.Before(tc.from) || next.After(tc.to) {
				t.Errorf("next %v after t0 (poll now: %v), want %v to %v", next.Sub(t0), poll, tc.from.Sub(t0), tc.to.Sub(t0))
			}
		})
	}
}
