package watcher

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestSchedulerSlack: with Slack, a wake starts every poll due within it
// (early, never late), but never one whose interval since its last poll
// is not over; the scheduler sleeps until the next due time.
func TestSchedulerSlack(t *testing.T) {
	const slack = 100 * time.Millisecond
	cases := []struct {
		name      string
		due       time.Duration // after now
		floor     time.Duration // after now; 0: none
		start     bool          // started by this wake
		wakeAfter time.Duration // for the first feed not started
	}{
		{name: "due", due: 0, start: true},
		{name: "overdue", due: -time.Second, start: true},
		{name: "within slack", due: 80 * time.Millisecond, start: true},
		{name: "at the slack", due: slack, start: true},
		{name: "past the slack", due: slack + time.Millisecond, wakeAfter: slack + time.Millisecond},
		{name: "floor passed", due: 50 * time.Millisecond, floor: -time.Millisecond, start: true},
		{name: "floor ahead", due: 80 * time.Millisecond, floor: 30 * time.Millisecond, wakeAfter: 80 * time.Millisecond},
		// A due time before the floor (a poll asked for now, a changed
		// URL) is kept.
		{name: "due before floor", due: 0, floor: time.Hour, start: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, clock := newSlackScheduler(t, slack, "a")
			now := clock.Now()
			f := s.feeds["a"]
			f.due = now.Add(c.due)
			if c.floor != 0 {
				f.floor = now.Add(c.floor)
			}
			s.dispatch()
			got := started(s)
			if c.start != (len(got) == 1) {
				t.Fatalf("started %d polls, want start %v", len(got), c.start)
			}
			if c.start {
				return
			}
			if w := s.wait(); w != c.wakeAfter {
				t.Fatalf("sleeps %v, want %v", w, c.wakeAfter)
			}
			// At the wake, the poll starts.
			clock.Add(c.wakeAfter)
			s.dispatch()
			if got := started(s); len(got) != 1 {
				t.Fatalf("not started at the wake: %d", len(got))
			}
		})
	}
}

// TestSchedulerSlackBurst: feeds due over a second start in bursts (one
// wake per slack window), each within the slack of its due time, and the
// interval stays a floor across real polls.
func TestSchedulerSlackBurst(t *testing.T) {
	const slack = 100 * time.Millisecond
	names := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}
	s, clock := newSlackScheduler(t, slack, names...)
	start := clock.Now()
	for i, n := range names {
		s.feeds[n].due = start.Add(time.Duration(i) * 45 * time.Millisecond)
	}
	heapInit(s)
	var wakes int
	startedAt := map[string]time.Time{}
	for len(startedAt) < len(names) {
		s.dispatch()
		got := started(s)
		if len(got) > 0 {
			wakes++
		}
		for _, f := range got {
			if early := f.due.Sub(clock.Now()); early > slack || early < -time.Millisecond {
				t.Fatalf("%s started %v before its due time", f.name, early)
			}
			startedAt[f.name] = clock.Now()
			s.finish(done{f: f, next: clock.Now().Add(time.Hour)})
		}
		clock.Add(s.wait())
	}
	// Due 0, 45, ..., 405 ms: a slack of 100 ms takes them in 4 wakes
	// (0-90, 135-225, 270-360, 405), not 10.
	if wakes != 4 {
		t.Fatalf("%d wakes for %d polls", wakes, len(names))
	}
}

func newSlackScheduler(t *testing.T, slack time.Duration, names ...string) (*scheduler, *fakeClock) {
	t.Helper()
	clock := &fakeClock{t: t0}
	var feeds []FeedConfig
	for _, n := range names {
		// Files: no per-host limit in the way.
		feeds = append(feeds, FeedConfig{Name: n, URL: "file:///" + n})
	}
	w, err := New(testOptions(Options{
		Feeds: feeds, Concurrency: 32, Slack: slack,
		Sink: &recSink{}, Seen: newMemSeen(), State: newMemState(), Now: clock.Now,
	}))
	if err != nil {
		t.Fatal(err)
	}
	s := newScheduler(w)
	s.applyPending()
	return s, clock
}

// heapInit re-orders the heap after due times were set by hand.
func heapInit(s *scheduler) {
	slices.SortFunc(s.h, func(a, b *feed) int { return a.due.Compare(b.due) })
	for i, f := range s.h {
		f.index = i
	}
}

// TestPollSetsFloor: a poll's floor is its start plus the un-jittered
// interval (or backoff), so Slack never brings the next poll closer than
// the interval; the jittered due time is at or after it.
func TestPollSetsFloor(t *testing.T) {
	doc := newDocServer(t, rssDoc("1|one|http://x/1|"+recent(time.Hour)))
	h := newHarness(t, doc.srv.URL, func(o *Options) { o.Slack = time.Second })
	next, _ := h.poll()
	if want := t0.Add(5 * time.Minute); !h.f.floor.Equal(want) || next.Before(want) {
		t.Fatalf("after a poll: floor %v, next %v, want floor %v", h.f.floor, next, want)
	}
	doc.mu.Lock()
	doc.body = "not a feed"
	doc.mu.Unlock()
	h.clock.Add(5 * time.Minute)
	// Second failure in a row: the backoff (2 x interval) is the floor.
	h.poll()
	h.clock.Add(5 * time.Minute)
	next, _ = h.poll()
	if want := h.clock.Now().Add(10 * time.Minute); !h.f.floor.Equal(want) || next.Before(want) {
		t.Fatalf("after two failures: floor %v, next %v, want floor %v", h.f.floor, next, want)
	}
}

// TestSchedulerSlackHeldBounded: many feeds due within the slack whose
// interval is not over stay scheduled (the heap intact), a wake looks at a
// bounded number of them, and each starts by its due time.
func TestSchedulerSlackHeldBounded(t *testing.T) {
	const slack = 100 * time.Millisecond
	var names []string
	for i := range 3 * maxHeld {
		names = append(names, fmt.Sprintf("f%d", i))
	}
	s, clock := newSlackScheduler(t, slack, names...)
	now := clock.Now()
	for i, n := range names {
		f := s.feeds[n]
		f.due = now.Add(slack/2 + time.Duration(i)*time.Microsecond)
		f.floor = f.due.Add(-time.Microsecond) // past now only at its due time
	}
	heapInit(s)
	s.dispatch()
	if got := started(s); len(got) != 0 {
		t.Fatalf("started %d polls before their floors", len(got))
	}
	if len(s.h) != len(names) {
		t.Fatalf("heap holds %d of %d feeds", len(s.h), len(names))
	}
	for i, f := range s.h {
		if f.index != i {
			t.Fatalf("heap index %d of %s at %d", f.index, f.name, i)
		}
	}
	n := 0
	for i := 0; i < 2*len(names) && n < len(names); i++ {
		clock.Add(s.wait())
		s.dispatch()
		for _, f := range started(s) {
			if clock.Now().After(f.due) {
				t.Fatalf("%s started late: %v after its due time", f.name, clock.Now().Sub(f.due))
			}
			n++
			s.finish(done{f: f, next: clock.Now().Add(time.Hour)})
		}
	}
	if n != len(names) {
		t.Fatalf("%d of %d polls started", n, len(names))
	}
}
