package watcher

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestStatusAfterRestart: a restarted watcher shows each feed's last
// result, error and failures as soon as its state is loaded, not an empty
// result until the feed's next poll.
func TestStatusAfterRestart(t *testing.T) {
	cases := []struct {
		name       string
		answer     int // 0: a feed document
		wantResult string
		wantErr    bool
		failures   int
	}{
		{"ok", 0, "ok", false, 0},
		{"error", http.StatusInternalServerError, "http_status", true, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ds := newDocServer(t, rssDoc("1|one|https://example.org/1|"+recent(time.Hour)))
			if c.answer != 0 {
				ds.hook = func(w http.ResponseWriter, r *http.Request) bool { w.WriteHeader(c.answer); return true }
			}
			h := newHarness(t, ds.srv.URL, nil)
			next, _ := h.poll()
			before := h.status()
			if before.Result != c.wantResult {
				t.Fatalf("first run: result %q, want %q", before.Result, c.wantResult)
			}

			// Restart before the feed is due: its state is loaded, no
			// request is made, and status shows the last run's poll.
			h2 := newHarness(t, ds.srv.URL, func(o *Options) { o.State, o.Seen = h.state, h.seen })
			h2.clock.Add(time.Minute)
			reqs := len(ds.reqs)
			if next2, _ := h2.poll(); !next2.Equal(next) || len(ds.reqs) != reqs {
				t.Fatalf("restart polled (next %v, want %v)", next2, next)
			}
			got := h2.status()
			if got.Result != c.wantResult || got.Failures != c.failures || (got.Error != "") != c.wantErr ||
				got.Error != before.Error || !got.LastPoll.Equal(t0) || !got.NextDue.Equal(next) {
				t.Fatalf("status after restart = %+v, want result %q, error %q, failures %d, last poll %v, next %v",
					got, c.wantResult, before.Error, c.failures, t0, next)
			}
		})
	}
}

// TestResultAloneWritesNoState: a feed alternating between 200 (the same
// body: "unchanged") and 304 does not write its state for the changed
// result alone; the result goes with the next write that happens anyway
// (here: the periodic one).
func TestResultAloneWritesNoState(t *testing.T) {
	st := &countState{memState: newMemState()}
	ds := newDocServer(t, rssDoc("1|one|https://example.org/1|"+recent(time.Hour)))
	var notModified atomic.Bool
	ds.hook = func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("ETag", `"e1"`)
		if notModified.Load() && r.Header.Get("If-None-Match") == `"e1"` {
			w.WriteHeader(http.StatusNotModified)
			return true
		}
		return false
	}
	h := newHarness(t, ds.srv.URL, func(o *Options) { o.State = st })
	h.poll()
	if st.saves != 1 {
		t.Fatalf("first poll: %d saves, want 1", st.saves)
	}
	// Same body without a conditional answer ("unchanged"), then 304
	// ("not_modified"), again and again: the result changes every poll,
	// the state does not.
	for i := range 6 {
		notModified.Store(i%2 == 1)
		h.clock.Add(6 * time.Minute)
		h.poll()
		want := "unchanged"
		if notModified.Load() {
			want = "not_modified"
		}
		if r := h.status().Result; r != want {
			t.Fatalf("poll %d: result %q, want %q", i, r, want)
		}
	}
	if st.saves != 1 {
		t.Fatalf("%d saves for results alone, want 1", st.saves)
	}
	h.clock.Add(stateSaveEvery)
	h.poll()
	if st.saves != 2 {
		t.Fatalf("%d saves after %v, want 2 (the periodic write)", st.saves, stateSaveEvery)
	}
	saved, err := decodeState(st.m["f"])
	if err != nil {
		t.Fatal(err)
	}
	if saved.LastResult != h.status().Result {
		t.Fatalf("periodic write stored result %q, want %q", saved.LastResult, h.status().Result)
	}
}

// TestFirstVisitLoadsOnly: the first visit of a feed loads its state
// at once but does not poll before the feed's place in the start spread
// (f.first), with or without stored state.
func TestFirstVisitLoadsOnly(t *testing.T) {
	slot := t0.Add(90 * time.Second)
	cases := []struct {
		name  string
		state *feedState
		poll  bool
		min   time.Time // earliest next
	}{
		{"no state", nil, false, slot},
		{"overdue", &feedState{LastPoll: t0.Add(-time.Hour), NextDue: t0.Add(-time.Minute), LastResult: "ok"}, false, slot},
		{"due later", &feedState{LastPoll: t0.Add(-time.Minute), NextDue: t0.Add(time.Hour), LastResult: "not_modified"}, false, t0.Add(time.Hour)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, "https://example.org/f", nil)
			if c.state != nil {
				c.state.ConfigURL = "https://example.org/f"
				b, err := c.state.encode()
				if err != nil {
					t.Fatal(err)
				}
				h.state.m["f"] = b
			}
			h.f.first = slot
			next, poll, _ := h.w.loadState(context.Background(), h.f, t0, 5*time.Minute)
			if poll != c.poll || next.Before(c.min) {
				t.Fatalf("next %v poll %v, want poll %v not before %v", next, poll, c.poll, c.min)
			}
			got := h.status()
			if !got.NextDue.Equal(next) {
				t.Errorf("status next due %v, want %v", got.NextDue, next)
			}
			if c.state != nil && got.Result != c.state.LastResult {
				t.Errorf("status result %q, want %q", got.Result, c.state.LastResult)
			}
		})
	}
}
