package notifier_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/notifier"
)

// flagLease is a digest lease the test grants and takes away.
type flagLease struct {
	held     atomic.Bool
	released atomic.Int32
}

func (l *flagLease) Hold(context.Context) (bool, error) { return l.held.Load(), nil }
func (l *flagLease) Release(context.Context) error {
	l.released.Add(1)
	return nil
}

// TestEngineDigestLease: without the lease the engine fetches nothing; with
// it, it gathers and sends; losing it mid-window hands the window's hits
// back unsent; the lease is released at shutdown.
func TestEngineDigestLease(t *testing.T) {
	lease := &flagLease{}
	rec := newRecorder()
	h := start(t, rec, func(o *notifier.EngineOptions) {
		o.Digest = time.Hour
		o.DigestLease = lease
		o.LeaseEvery = time.Millisecond
	}, func(h *harness) {
		h.q.AddHit(testHit(1))
	})
	time.Sleep(50 * time.Millisecond)
	if d := h.q.Records()[0].Delivered; d != 0 {
		t.Fatalf("fetched %d times without the lease", d)
	}
	lease.held.Store(true)
	waitFor(t, "fetched with the lease", func() bool { return h.q.Records()[0].Delivered == 1 })
	lease.held.Store(false)
	waitFor(t, "handed back when the lease is lost", func() bool { return len(h.q.Records()[0].Naks) == 1 })
	if s := h.q.Records()[0]; s.Acked || s.Naks[0] != 3*time.Second || len(rec.calls) != 0 {
		t.Errorf("want the hit handed back unsent at once: %+v, sends %v", s, rec.calls)
	}
	lease.held.Store(true)
	waitFor(t, "fetched again", func() bool { return h.q.Records()[0].Delivered == 2 })
	h.stop(t)
	if lease.released.Load() != 1 {
		t.Errorf("lease released %d times at shutdown, want 1", lease.released.Load())
	}
}
