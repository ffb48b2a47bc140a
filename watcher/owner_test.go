package watcher

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// flagOwner owns every feed while owned is true.
type flagOwner struct{ owned atomic.Bool }

func (o *flagOwner) Owns(string) bool { return o.owned.Load() }

// countState counts Load and Save calls of feeds (not of alias records,
// see rename.go) and can fail Save as changed.
type countState struct {
	*memState
	mu           sync.Mutex
	loads, saves int
	changed      bool
}

func (s *countState) Load(ctx context.Context, feed string) ([]byte, error) {
	if IsAliasName(feed) {
		return s.memState.Load(ctx, feed)
	}
	s.mu.Lock()
	s.loads++
	s.mu.Unlock()
	return s.memState.Load(ctx, feed)
}

func (s *countState) Save(ctx context.Context, feed string, b []byte) error {
	if IsAliasName(feed) {
		return s.memState.Save(ctx, feed, b)
	}
	s.mu.Lock()
	s.saves++
	changed := s.changed
	s.changed = false
	s.mu.Unlock()
	if changed {
		return fmt.Errorf("save: %w", ErrStateChanged)
	}
	return s.memState.Save(ctx, feed, b)
}

// TestOwnerFencesWrites: a watcher that does not own a feed (another
// watcher has it, or its lease lapsed) neither polls it nor writes to the
// sink, the seen-state or the feed state, even when ownership goes in the
// middle of a poll; when the feed comes back its state is loaded again.
func TestOwnerFencesWrites(t *testing.T) {
	own := &flagOwner{}
	own.owned.Store(true)
	st := &countState{memState: newMemState()}
	ds := newDocServer(t, rssDoc("1|one|https://example.org/1|"+recent(time.Hour)))
	h := newHarness(t, ds.srv.URL, func(o *Options) { o.Owner = own; o.State = st })
	h.poll()
	if got := len(h.sink.titles()); got != 1 || st.saves != 1 || st.loads != 1 {
		t.Fatalf("owned poll: %d items, %d saves, %d loads; want 1, 1, 1", got, st.saves, st.loads)
	}

	// Not owned: no request, no write, back soon.
	own.owned.Store(false)
	h.clock.Add(10 * time.Minute)
	reqs := len(ds.reqs)
	next, _ := h.poll()
	if len(ds.reqs) != reqs || st.saves != 1 || h.seen.calls != 1 {
		t.Errorf("poll of a feed not owned: %d requests, %d saves, %d marks", len(ds.reqs)-reqs, st.saves, h.seen.calls)
	}
	if want := h.clock.Now().Add(ownerRecheck); !next.Equal(want) {
		t.Errorf("next = %v, want %v", next, want)
	}

	// fetch polls until a request goes out: a feed loaded again first
	// waits for its stored (overdue) schedule.
	fetch := func() {
		t.Helper()
		n := len(ds.reqs)
		for range 3 {
			next, _ := h.poll()
			if len(ds.reqs) > n {
				return
			}
			h.clock.t = next
		}
		t.Fatal("no request after 3 polls")
	}

	// Lost while the request is in flight: the new item is neither sent
	// nor marked, and no state is saved.
	own.owned.Store(true)
	ds.set(rssDoc("1|one|https://example.org/1|"+recent(time.Hour), "2|two|https://example.org/2|"+recent(time.Minute)))
	ds.mu.Lock()
	ds.hook = func(http.ResponseWriter, *http.Request) bool { own.owned.Store(false); return false }
	ds.mu.Unlock()
	h.clock.Add(10 * time.Minute)
	fetch()
	if got := len(h.sink.titles()); got != 1 || st.saves != 1 || h.seen.calls != 1 {
		t.Errorf("ownership lost mid-poll: %d items, %d saves, %d marks; want 1, 1, 1", got, st.saves, h.seen.calls)
	}

	// Back: state is loaded again and the item goes out.
	ds.mu.Lock()
	ds.hook = nil
	ds.mu.Unlock()
	own.owned.Store(true)
	h.clock.Add(10 * time.Minute)
	loads := st.loads
	fetch()
	if st.loads != loads+1 {
		t.Errorf("state loads after regaining the feed = %d, want %d", st.loads, loads+1)
	}
	if got := h.sink.titles(); len(got) != 2 || got[1] != "two" {
		t.Errorf("items after regaining the feed = %v", got)
	}

	// Written by someone else meanwhile: loaded again before the next poll.
	st.mu.Lock()
	st.changed = true
	st.mu.Unlock()
	ds.set(rssDoc("3|three|https://example.org/3|" + recent(time.Minute)))
	h.clock.Add(10 * time.Minute)
	fetch()
	loads = st.loads
	h.clock.Add(10 * time.Minute)
	fetch()
	if st.loads != loads+1 {
		t.Errorf("state loads after a changed save = %d, want %d", st.loads, loads+1)
	}
}

// TestTakeoverSpread: a feed taken over from another watcher (added after
// the first feed list) and overdue is polled within TakeoverSpread, not
// spread over up to 30 s like the overdue feeds of a restart.
func TestTakeoverSpread(t *testing.T) {
	st := newMemState()
	b, err := feedState{ConfigURL: "https://example.org/f", LastPoll: t0.Add(-time.Hour), NextDue: t0.Add(-time.Minute)}.encode()
	if err != nil {
		t.Fatal(err)
	}
	st.m["f"] = b
	for _, late := range []bool{false, true} {
		h := newHarness(t, "https://example.org/f", func(o *Options) { o.State = st; o.TakeoverSpread = 50 * time.Millisecond })
		h.f.late = late
		longest := time.Duration(0)
		for range 200 {
			h.f.loaded = false
			next, poll, _ := h.w.loadState(context.Background(), h.f, t0, time.Hour)
			if poll {
				t.Fatal("an overdue feed with a last poll is spread, not polled at once")
			}
			longest = max(longest, next.Sub(t0))
		}
		if late && longest > 50*time.Millisecond {
			t.Errorf("taken-over feed: overdue poll up to %s away, want <= 50ms", longest)
		}
		if !late && longest <= 50*time.Millisecond {
			t.Errorf("restart: overdue polls all within %s, want the restart spread (up to 30 s)", longest)
		}
	}
}

// TestSeenFenceStopsPoll: a seen-state write refused because another
// watcher wrote the feed's log (ErrStateChanged) ends the poll like a lost
// lease: no feed state is written, and the state is read again before the
// next poll.
func TestSeenFenceStopsPoll(t *testing.T) {
	st := &countState{memState: newMemState()}
	ds := newDocServer(t, rssDoc("1|one|https://example.org/1|"+recent(time.Hour)))
	h := newHarness(t, ds.srv.URL, func(o *Options) { o.State = st })
	h.poll()
	if st.saves != 1 || st.loads != 1 {
		t.Fatalf("first poll: %d saves, %d loads; want 1, 1", st.saves, st.loads)
	}
	ds.set(rssDoc("1|one|https://example.org/1|"+recent(time.Hour), "2|two|https://example.org/2|"+recent(time.Minute)))
	h.seen.mu.Lock()
	h.seen.markFail = fmt.Errorf("mark seen: %w", ErrStateChanged)
	h.seen.mu.Unlock()
	h.clock.Add(10 * time.Minute)
	next, _ := h.poll()
	if st.saves != 1 {
		t.Errorf("feed state saved %d times after a fenced seen write, want 1", st.saves)
	}
	if want := h.clock.Now().Add(ownerRecheck); !next.Equal(want) {
		t.Errorf("next = %v, want %v (the owner check)", next, want)
	}
	h.clock.t = next
	h.poll()
	if st.loads != 2 {
		t.Errorf("state loads = %d, want 2 (read again after the fence)", st.loads)
	}
}
