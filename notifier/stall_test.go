package notifier_test

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/feedwatch/feedwatch/notifier"
	"github.com/feedwatch/feedwatch/notifier/notifiertest"
)

// stuckSource is a queue that, while stuck, reports hits pending but hands
// out none (a consumer whose pull requests were lost), or fails every fetch.
type stuckSource struct {
	*notifiertest.Queue
	stuck   atomic.Bool
	failing atomic.Bool
}

func (s *stuckSource) Fetch(ctx context.Context, n int, maxWait time.Duration) ([]notifier.Message, error) {
	if s.stuck.Load() {
		sleepCtx(ctx, min(maxWait, 5*time.Millisecond))
		if s.failing.Load() {
			return nil, context.DeadlineExceeded
		}
		return nil, nil
	}
	return s.Queue.Fetch(ctx, n, maxWait)
}

func (s *stuckSource) Pending(context.Context) (int, error) {
	if s.stuck.Load() {
		return 3, nil
	}
	return 0, nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// lockedBuffer (debuglog_test.go) collects log lines from several goroutines.
func (l *lockedBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

// TestEngineReportsStall: hits wait at the source but none arrive (or every
// fetch fails): the notifier is reported stalled once, in the log and the
// feedwatch_notify_stalled gauge, and recovered when hits flow again.
func TestEngineReportsStall(t *testing.T) {
	for _, failing := range []bool{false, true} {
		name := "pending"
		if failing {
			name = "fetch_failing"
		}
		t.Run(name, func(t *testing.T) {
			src := &stuckSource{Queue: notifiertest.NewQueue()}
			src.stuck.Store(true)
			src.failing.Store(failing)
			rec := newRecorder()
			logs := &lockedBuffer{}
			eng, err := notifier.NewEngine(notifier.EngineOptions{Name: "hook", Notifier: rec, Source: src,
				Ledger: &notifiertest.Ledger{}, Dead: &notifiertest.Dead{}, Metrics: notifier.NewMetrics(prometheus.NewRegistry()),
				StallAfter: 30 * time.Millisecond, BaseBackoff: time.Millisecond,
				Logger: slog.New(slog.NewTextHandler(logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- eng.Run(ctx) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Error(err)
				}
			}()

			waitFor(t, "stalled gauge", func() bool { return notifier.Stalled(t, eng, "hook") == 1 })
			// Several more periods: still one warning.
			time.Sleep(150 * time.Millisecond)
			if n := logs.count("notifier stalled"); n != 1 {
				t.Errorf("stall warned %d times, want 1", n)
			}
			if failing {
				if n := logs.count(`msg="fetch hits failed"`); n < 1 || n > 2 {
					t.Errorf("fetch failure warned %d times, want one (then a minute later)", n)
				}
			}

			src.Queue.AddHit(testHit(1))
			src.stuck.Store(false)
			waitFor(t, "delivery", func() bool { return rec.count(testHit(1).ID) == 1 })
			waitFor(t, "stalled gauge back to 0", func() bool { return notifier.Stalled(t, eng, "hook") == 0 })
			if n := logs.count("notifier no longer stalled"); n != 1 {
				t.Errorf("recovery logged %d times, want 1", n)
			}
		})
	}
}

// TestEngineIdleIsNotStalled: nothing pending, nothing arriving: idle.
func TestEngineIdleIsNotStalled(t *testing.T) {
	src := &stuckSource{Queue: notifiertest.NewQueue()}
	logs := &lockedBuffer{}
	eng, err := notifier.NewEngine(notifier.EngineOptions{Name: "hook", Notifier: newRecorder(), Source: src,
		Ledger: &notifiertest.Ledger{}, Dead: &notifiertest.Dead{}, Metrics: notifier.NewMetrics(prometheus.NewRegistry()),
		StallAfter: 10 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer cancel()
	if err := eng.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if n := logs.count("stalled"); n != 0 {
		t.Errorf("idle engine logged a stall")
	}
}
