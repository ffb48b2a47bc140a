package notifier_test

import (
	"testing"

	"github.com/feedwatch/feedwatch/notifier"
)

// muter mutes the profiles it names.
type muter map[string]bool

func (m muter) Muted(profile string) bool { return m[profile] }

func TestEngineSkipsMutedProfiles(t *testing.T) {
	rec := newRecorder()
	h := start(t, rec, func(o *notifier.EngineOptions) { o.Mutes = muter{"noisy": true} }, func(h *harness) {
		for i := range 6 {
			x := testHit(i)
			if i%2 == 0 {
				x.Profile = "noisy"
			}
			h.q.AddHit(x)
		}
	})
	waitFor(t, "all acked", h.q.Settled)
	h.stop(t)
	for i := range 6 {
		want := 1
		if i%2 == 0 {
			want = 0
		}
		if n := rec.count(testHit(i).ID); n != want {
			t.Errorf("hit %d sent %d times, want %d", i, n, want)
		}
	}
	if got := h.counter(t, notifier.ResultMuted); got != 3 {
		t.Errorf("muted metric = %v, want 3", got)
	}
	for _, s := range h.q.Records() {
		if !s.Acked || len(s.Naks) > 0 {
			t.Errorf("%s: acked=%v naks=%v", s.ID, s.Acked, s.Naks)
		}
	}
}
