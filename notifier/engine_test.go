package notifier_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier"
	"github.com/feedwatch/feedwatch/notifier/notifiertest"
)

type harness struct {
	q      *notifiertest.Queue
	ledger *notifiertest.Ledger
	dead   *notifiertest.Dead
	reg    *prometheus.Registry
	eng    *notifier.Engine
	cancel context.CancelFunc
	done   chan error
	grace  time.Duration
}

func start(t *testing.T, n notifier.Notifier, mod func(*notifier.EngineOptions), setup func(*harness)) *harness {
	t.Helper()
	h := &harness{q: notifiertest.NewQueue(), ledger: &notifiertest.Ledger{}, dead: &notifiertest.Dead{}, reg: prometheus.NewRegistry(), grace: 50 * time.Millisecond}
	if setup != nil {
		setup(h)
	}
	o := notifier.EngineOptions{
		Name: "hook", Notifier: n, Source: h.q, Ledger: h.ledger, Dead: h.dead,
		Metrics: notifier.NewMetrics(h.reg), AckWait: time.Hour,
		Now: func() time.Time { return time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC) },
	}
	if mod != nil {
		mod(&o)
	}
	eng, err := notifier.NewEngine(o)
	if err != nil {
		t.Fatal(err)
	}
	notifier.SetGrace(eng, h.grace)
	h.eng = eng
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.done = make(chan error, 1)
	go func() { h.done <- eng.Run(ctx) }()
	t.Cleanup(func() { h.stop(t) })
	return h
}

func (h *harness) stop(t *testing.T) {
	t.Helper()
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	if err := <-h.done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if v := h.q.Violations(); len(v) > 0 {
		t.Errorf("message protocol violations: %v", v)
	}
}

func (h *harness) counter(t *testing.T, result string) float64 {
	return notifier.DeliveryCount(t, h.eng, "hook", result)
}

func TestEngineDeliversEachHitOnce(t *testing.T) {
	for _, inFlight := range []int{1, 4} {
		t.Run(fmt.Sprintf("in_flight_%d", inFlight), func(t *testing.T) {
			rec := newRecorder()
			h := start(t, rec, func(o *notifier.EngineOptions) { o.MaxInFlight = inFlight }, func(h *harness) {
				for i := range 50 {
					h.q.AddHit(testHit(i))
				}
			})
			waitFor(t, "all acked", h.q.Settled)
			h.stop(t)
			for i := range 50 {
				id := testHit(i).ID
				if n := rec.count(id); n != 1 {
					t.Errorf("%s sent %d times", id, n)
				}
				if ok, _ := h.ledger.Delivered(context.Background(), "hook", id); !ok {
					t.Errorf("%s not in ledger", id)
				}
			}
			for _, s := range h.q.Records() {
				if !s.Acked || len(s.Naks) > 0 || s.Delivered != 1 {
					t.Errorf("%s: acked=%v naks=%v delivered=%d", s.ID, s.Acked, s.Naks, s.Delivered)
				}
			}
			if got := h.counter(t, notifier.ResultDelivered); got != 50 {
				t.Errorf("delivered metric = %v", got)
			}
		})
	}
}

// retryErr is a retryable failure that may carry a Retry-After.
type retryErr struct{ after time.Duration }

func (e retryErr) Error() string { return "status 503" }
func (e retryErr) RetryAfter() time.Duration {
	return e.after
}

func TestEngineRetriesWithBackoff(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		failures int
		want     []time.Duration
	}{
		{"exponential", errors.New("status 500"), 3, []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond}},
		{"retry-after longer wins", retryErr{50 * time.Millisecond}, 2, []time.Duration{50 * time.Millisecond, 50 * time.Millisecond}},
		{"backoff longer wins", retryErr{time.Millisecond}, 2, []time.Duration{10 * time.Millisecond, 20 * time.Millisecond}},
		{"wrapped retry-after", fmt.Errorf("post: %w", retryErr{30 * time.Millisecond}), 1, []time.Duration{30 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			n := notifierFunc(func(context.Context, []hit.Hit) (bool, error) {
				if int(calls.Add(1)) <= tt.failures {
					return true, tt.err
				}
				return false, nil
			})
			var r *notifiertest.Record
			h := start(t, n, func(o *notifier.EngineOptions) { o.BaseBackoff = 10 * time.Millisecond }, func(h *harness) { r = h.q.AddHit(testHit(1)) })
			waitFor(t, "acked", h.q.Settled)
			h.stop(t)
			s := h.q.Snapshot(r)
			if !s.Acked || s.Termed {
				t.Fatalf("acked=%v termed=%v", s.Acked, s.Termed)
			}
			if fmt.Sprint(s.Naks) != fmt.Sprint(tt.want) {
				t.Errorf("nak delays = %v, want %v", s.Naks, tt.want)
			}
			if int(calls.Load()) != tt.failures+1 {
				t.Errorf("sends = %d, want %d", calls.Load(), tt.failures+1)
			}
			if len(h.dead.Letters()) != 0 {
				t.Errorf("unexpected dead letters")
			}
		})
	}
}

func TestEngineBackoffCap(t *testing.T) {
	e, err := notifier.NewEngine(notifier.EngineOptions{Name: "x", Notifier: newRecorder(), Source: notifiertest.NewQueue(),
		Ledger: &notifiertest.Ledger{}, Dead: &notifiertest.Dead{}, BaseBackoff: time.Second, MaxBackoff: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for attempt, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 500: 10 * time.Second} {
		if got := notifier.Backoff(e, attempt, nil); got != want {
			t.Errorf("backoff(%d) = %v, want %v", attempt, got, want)
		}
	}
	if got := notifier.Backoff(e, 1, retryErr{time.Hour}); got != time.Hour {
		t.Errorf("Retry-After beyond the cap = %v, want 1h", got)
	}
}

func TestEngineDeadLetters(t *testing.T) {
	tests := []struct {
		name         string
		retry        bool
		wantAttempts int
		wantNaks     int
	}{
		{"permanent failure", false, 1, 0},
		{"attempts exhausted", true, 3, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := notifierFunc(func(context.Context, []hit.Hit) (bool, error) {
				return tt.retry, errors.New("slack: status 400 invalid_blocks")
			})
			var r *notifiertest.Record
			h := start(t, n, func(o *notifier.EngineOptions) { o.MaxAttempts = 3 }, func(h *harness) { r = h.q.AddHit(testHit(7)) })
			waitFor(t, "termed", h.q.Settled)
			h.stop(t)
			s := h.q.Snapshot(r)
			if !s.Termed || s.Acked || len(s.Naks) != tt.wantNaks {
				t.Errorf("termed=%v acked=%v naks=%v", s.Termed, s.Acked, s.Naks)
			}
			dl := h.dead.Letters()
			if len(dl) != 1 {
				t.Fatalf("dead letters = %d", len(dl))
			}
			if dl[0].Hit.ID != testHit(7).ID || dl[0].Attempts != tt.wantAttempts || dl[0].Notifier != "hook" ||
				dl[0].Error != "slack: status 400 invalid_blocks" || dl[0].At.IsZero() {
				t.Errorf("dead letter = %+v", dl[0])
			}
			if got := notifier.DeadCount(t, h.eng, "hook"); got != 1 {
				t.Errorf("dead metric = %v", got)
			}
		})
	}
}

func TestEngineUndecodableIsDeadLettered(t *testing.T) {
	rec := newRecorder()
	var bad, future, good *notifiertest.Record
	h := start(t, rec, nil, func(h *harness) {
		bad = h.q.Add("bad", []byte("{not json"))
		future = h.q.Add("future", []byte(`{"v": 9, "id": "x"}`))
		good = h.q.AddHit(testHit(1))
	})
	waitFor(t, "settled", h.q.Settled)
	h.stop(t)
	if !h.q.Snapshot(bad).Termed || !h.q.Snapshot(future).Termed || !h.q.Snapshot(good).Acked {
		t.Errorf("bad and future should be termed, good acked")
	}
	dl := h.dead.Letters()
	if len(dl) != 2 || !strings.Contains(dl[0].Error+dl[1].Error, "decode hit") {
		t.Errorf("dead letters = %+v", dl)
	}
	if rec.count(testHit(1).ID) != 1 || len(rec.calls) != 1 {
		t.Errorf("calls = %v", rec.calls)
	}
}

func TestEngineDeadLetterPublishFailureRetries(t *testing.T) {
	n := notifierFunc(func(context.Context, []hit.Hit) (bool, error) { return false, errors.New("status 404") })
	var r *notifiertest.Record
	h := start(t, n, nil, func(h *harness) {
		h.dead.Fail = 1
		r = h.q.AddHit(testHit(1))
	})
	waitFor(t, "termed", h.q.Settled)
	h.stop(t)
	if s := h.q.Snapshot(r); !s.Termed || len(s.Naks) != 1 || len(h.dead.Letters()) != 1 {
		t.Errorf("want one nak then a dead letter: %+v, letters %d", s, len(h.dead.Letters()))
	}
}

func TestEngineLedgerPreventsResend(t *testing.T) {
	t.Run("already in ledger", func(t *testing.T) {
		rec := newRecorder()
		var r *notifiertest.Record
		h := start(t, rec, nil, func(h *harness) {
			_ = h.ledger.MarkDelivered(context.Background(), "hook", testHit(1).ID)
			r = h.q.AddHit(testHit(1))
		})
		waitFor(t, "acked", h.q.Settled)
		h.stop(t)
		if rec.count(testHit(1).ID) != 0 || !h.q.Snapshot(r).Acked {
			t.Errorf("a ledgered hit was sent again")
		}
		if h.counter(t, notifier.ResultDuplicate) != 1 {
			t.Errorf("duplicate metric = %v", h.counter(t, notifier.ResultDuplicate))
		}
	})
	t.Run("crash between send and ack", func(t *testing.T) {
		rec := newRecorder()
		var r *notifiertest.Record
		h := start(t, rec, nil, func(h *harness) {
			r = h.q.AddHit(testHit(1))
			r.FailAcks = 1 // the ack is lost; the bus redelivers
		})
		waitFor(t, "acked", h.q.Settled)
		h.stop(t)
		s := h.q.Snapshot(r)
		if s.Delivered != 2 || !s.Acked {
			t.Errorf("delivered=%d acked=%v, want a redelivery that is acked", s.Delivered, s.Acked)
		}
		if n := rec.count(testHit(1).ID); n != 1 {
			t.Errorf("sent %d times, want 1", n)
		}
	})
	t.Run("restarted engine", func(t *testing.T) {
		// The first engine sends and records, then "dies" before its ack
		// lands; a fresh engine over the same ledger does not send again.
		rec := newRecorder()
		q, ledger := notifiertest.NewQueue(), &notifiertest.Ledger{}
		r := q.AddHit(testHit(1))
		r.DropAcks = 1
		run := func(until func() bool) {
			eng, err := notifier.NewEngine(notifier.EngineOptions{Name: "hook", Notifier: rec, Source: q, Ledger: ledger, Dead: &notifiertest.Dead{}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- eng.Run(ctx) }()
			waitFor(t, "delivery", until)
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
		run(func() bool { return q.Snapshot(r).DropAcks == 0 })
		q.Redeliver(r)
		run(func() bool { return q.Snapshot(r).Acked })
		if n := rec.count(testHit(1).ID); n != 1 {
			t.Errorf("sent %d times across restarts, want 1", n)
		}
		if s := q.Snapshot(r); s.Delivered != 2 {
			t.Errorf("delivered = %d, want 2", s.Delivered)
		}
	})
}

func TestEngineKeepsLeaseDuringSlowSend(t *testing.T) {
	var reached <-chan struct{}
	var calls atomic.Int32
	n := notifierFunc(func(ctx context.Context, _ []hit.Hit) (bool, error) {
		calls.Add(1)
		<-reached // released once the lease was extended three times
		return false, nil
	})
	var r *notifiertest.Record
	h := start(t, n, func(o *notifier.EngineOptions) { o.AckWait = 3 * time.Millisecond }, func(h *harness) {
		r = h.q.AddHit(testHit(1))
		reached = h.q.InProgressReached(r, 3)
	})
	waitFor(t, "acked", h.q.Settled)
	h.stop(t)
	s := h.q.Snapshot(r)
	if s.InProgress < 3 || s.Delivered != 1 || calls.Load() != 1 {
		t.Errorf("inProgress=%d delivered=%d sends=%d", s.InProgress, s.Delivered, calls.Load())
	}
}

func TestEngineDigest(t *testing.T) {
	t.Run("one message, acked after delivery", func(t *testing.T) {
		var release <-chan struct{}
		var mu sync.Mutex
		var got [][]string
		var q *notifiertest.Queue
		var recs []*notifiertest.Record
		n := notifierFunc(func(_ context.Context, hits []hit.Hit) (bool, error) {
			for _, r := range recs {
				if q.Snapshot(r).Acked {
					t.Errorf("%s acked before its digest was delivered", r.ID)
				}
			}
			<-release
			mu.Lock()
			defer mu.Unlock()
			ids := make([]string, len(hits))
			for i, h := range hits {
				ids[i] = h.ID
			}
			got = append(got, ids)
			return false, nil
		})
		h := start(t, n, func(o *notifier.EngineOptions) {
			o.Digest = 20 * time.Millisecond
			o.AckWait = 3 * time.Millisecond
		}, func(h *harness) {
			q = h.q
			for i := range 5 {
				recs = append(recs, h.q.AddHit(testHit(i)))
			}
			// Hold the send until every hit's lease has been extended.
			release = h.q.InProgressReached(recs[4], 5)
		})
		waitFor(t, "acked", h.q.Settled)
		h.stop(t)
		if len(got) != 1 || len(got[0]) != 5 {
			t.Fatalf("digest sends = %v, want one with 5 hits", got)
		}
		for _, r := range recs {
			if s := h.q.Snapshot(r); s.Delivered != 1 || !s.Acked {
				t.Errorf("%s: delivered=%d acked=%v", r.ID, s.Delivered, s.Acked)
			}
		}
	})
	t.Run("retry keeps every hit", func(t *testing.T) {
		var calls atomic.Int32
		rec := newRecorder()
		n := notifierFunc(func(ctx context.Context, hits []hit.Hit) (bool, error) {
			if calls.Add(1) == 1 {
				return true, errors.New("smtp 451 try later")
			}
			return rec.Notify(ctx, hits)
		})
		h := start(t, n, func(o *notifier.EngineOptions) { o.Digest = time.Millisecond }, func(h *harness) {
			for i := range 3 {
				h.q.AddHit(testHit(i))
			}
		})
		waitFor(t, "acked", h.q.Settled)
		h.stop(t)
		for i := range 3 {
			if rec.count(testHit(i).ID) != 1 {
				t.Errorf("%s delivered %d times", testHit(i).ID, rec.count(testHit(i).ID))
			}
			if s := h.q.Records()[i]; len(s.Naks) != 1 || !s.Acked {
				t.Errorf("%s: naks=%v acked=%v", s.ID, s.Naks, s.Acked)
			}
		}
	})
	t.Run("large window split", func(t *testing.T) {
		rec := newRecorder()
		h := start(t, rec, func(o *notifier.EngineOptions) { o.Digest = time.Millisecond }, func(h *harness) {
			for i := range notifier.MaxDigest + 5 {
				h.q.AddHit(testHit(i))
			}
		})
		waitFor(t, "acked", h.q.Settled)
		h.stop(t)
		total := 0
		for _, c := range rec.calls {
			if len(c) > notifier.MaxDigest {
				t.Errorf("digest of %d hits exceeds %d", len(c), notifier.MaxDigest)
			}
			total += len(c)
		}
		if total != notifier.MaxDigest+5 {
			t.Errorf("hits sent = %d", total)
		}
	})
	t.Run("shutdown hands the window back", func(t *testing.T) {
		rec := newRecorder()
		h := start(t, rec, func(o *notifier.EngineOptions) { o.Digest = time.Hour }, func(h *harness) {
			h.q.AddHit(testHit(1))
		})
		waitFor(t, "fetched", func() bool { return h.q.Records()[0].Delivered == 1 })
		h.stop(t)
		if s := h.q.Records()[0]; s.Acked || fmt.Sprint(s.Naks) != "[3s]" || len(rec.calls) != 0 {
			t.Errorf("want the hit handed back unsent: %+v", s)
		}
	})
}

func TestEngineShutdown(t *testing.T) {
	t.Run("in-flight send finishes", func(t *testing.T) {
		started, release := make(chan struct{}), make(chan struct{})
		n := notifierFunc(func(context.Context, []hit.Hit) (bool, error) {
			close(started)
			<-release
			return false, nil
		})
		h := start(t, n, nil, func(h *harness) {
			h.q.AddHit(testHit(1))
			h.grace = time.Minute
		})
		<-started
		h.cancel()
		close(release)
		if err := <-h.done; err != nil {
			t.Fatal(err)
		}
		h.cancel = nil
		if !h.q.Records()[0].Acked {
			t.Errorf("the send finished but the hit was not acked")
		}
	})
	t.Run("send cut after the grace is handed back", func(t *testing.T) {
		started := make(chan struct{})
		n := notifierFunc(func(ctx context.Context, _ []hit.Hit) (bool, error) {
			close(started)
			<-ctx.Done()
			return true, ctx.Err()
		})
		h := start(t, n, nil, func(h *harness) { h.q.AddHit(testHit(1)) })
		<-started
		h.stop(t)
		s := h.q.Records()[0]
		if s.Acked || s.Termed || fmt.Sprint(s.Naks) != "[3s]" {
			t.Errorf("want NakWithDelay(3s), the hand-back delay: %+v", s)
		}
		if len(h.dead.Letters()) != 0 {
			t.Errorf("a shutdown must not dead-letter")
		}
	})
}

func TestEnginePanickingNotifierRetries(t *testing.T) {
	var calls atomic.Int32
	n := notifierFunc(func(context.Context, []hit.Hit) (bool, error) {
		if calls.Add(1) == 1 {
			panic("boom")
		}
		return false, nil
	})
	h := start(t, n, nil, func(h *harness) { h.q.AddHit(testHit(1)) })
	waitFor(t, "acked", h.q.Settled)
	h.stop(t)
	if s := h.q.Records()[0]; !s.Acked || len(s.Naks) != 1 {
		t.Errorf("want one retry then ack: %+v", s)
	}
}

func TestEngineRateLimitStillDelivers(t *testing.T) {
	rec := newRecorder()
	h := start(t, rec, func(o *notifier.EngineOptions) { o.RateLimit = 1000; o.MaxInFlight = 2 }, func(h *harness) {
		for i := range 10 {
			h.q.AddHit(testHit(i))
		}
	})
	waitFor(t, "acked", h.q.Settled)
	h.stop(t)
	if len(rec.calls) != 10 {
		t.Errorf("sends = %d", len(rec.calls))
	}
}

func TestNewEngineRejectsBadOptions(t *testing.T) {
	ok := notifier.EngineOptions{Name: "x", Notifier: newRecorder(), Source: notifiertest.NewQueue(), Ledger: &notifiertest.Ledger{}, Dead: &notifiertest.Dead{}}
	tests := map[string]func(*notifier.EngineOptions){
		"no name":     func(o *notifier.EngineOptions) { o.Name = "" },
		"no notifier": func(o *notifier.EngineOptions) { o.Notifier = nil },
		"no source":   func(o *notifier.EngineOptions) { o.Source = nil },
		"no ledger":   func(o *notifier.EngineOptions) { o.Ledger = nil },
		"no dead":     func(o *notifier.EngineOptions) { o.Dead = nil },
		"negative":    func(o *notifier.EngineOptions) { o.RateLimit = -1 },
	}
	for name, mod := range tests {
		t.Run(name, func(t *testing.T) {
			o := ok
			mod(&o)
			if _, err := notifier.NewEngine(o); err == nil {
				t.Error("want an error")
			}
		})
	}
	if _, err := notifier.NewEngine(ok); err != nil {
		t.Errorf("valid options: %v", err)
	}
}

// flakySource fails its first fetches, once with a message in hand.
type flakySource struct {
	*notifiertest.Queue
	calls atomic.Int32
}

func (f *flakySource) Fetch(ctx context.Context, n int, wait time.Duration) ([]notifier.Message, error) {
	switch f.calls.Add(1) {
	case 1:
		return nil, errors.New("nats: connection closed")
	case 2:
		msgs, _ := f.Queue.Fetch(ctx, 1, wait)
		return msgs, errors.New("nats: partial batch")
	}
	return f.Queue.Fetch(ctx, n, wait)
}

func TestEngineSurvivesFetchErrors(t *testing.T) {
	for _, digest := range []time.Duration{0, time.Millisecond} {
		t.Run(fmt.Sprint("digest_", digest), func(t *testing.T) {
			rec := newRecorder()
			q := notifiertest.NewQueue()
			for i := range 3 {
				q.AddHit(testHit(i))
			}
			eng, err := notifier.NewEngine(notifier.EngineOptions{Name: "hook", Notifier: rec, Source: &flakySource{Queue: q},
				Ledger: &notifiertest.Ledger{}, Dead: &notifiertest.Dead{}, Digest: digest, BaseBackoff: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- eng.Run(ctx) }()
			waitFor(t, "acked", q.Settled)
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				if rec.count(testHit(i).ID) != 1 {
					t.Errorf("%s sent %d times", testHit(i).ID, rec.count(testHit(i).ID))
				}
			}
		})
	}
}

func TestEngineRetryAfterHoldsBackOtherHits(t *testing.T) {
	var calls atomic.Int32
	n := notifierFunc(func(context.Context, []hit.Hit) (bool, error) {
		calls.Add(1)
		return true, retryErr{time.Hour}
	})
	var second *notifiertest.Record
	h := start(t, n, nil, func(h *harness) {
		h.q.AddHit(testHit(1))
		second = h.q.AddHit(testHit(2))
	})
	// The second hit is fetched and then waits out the first's Retry-After.
	waitFor(t, "first sent, second fetched", func() bool { return calls.Load() == 1 && h.q.Snapshot(second).Delivered == 1 })
	h.stop(t)
	if c := calls.Load(); c != 1 {
		t.Errorf("%d sends during a Retry-After, want 1", c)
	}
	if s := h.q.Snapshot(second); fmt.Sprint(s.Naks) != "[3s]" || s.Termed {
		t.Errorf("second hit: %+v, want it handed back untouched", s)
	}
	// The queue hands a nakked hit back at once, so the engine may hold it
	// again before the stop: only its first nak is the Retry-After.
	if s := h.q.Records()[0]; len(s.Naks) == 0 || s.Naks[0] != time.Hour {
		t.Errorf("first hit naks = %v", s.Naks)
	}
}
