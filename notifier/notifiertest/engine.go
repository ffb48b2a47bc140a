package notifiertest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier"
	"github.com/feedwatch/feedwatch/notifier/render"
)

// RunEngine delivers hits through the notifier engine to n, as the daemon
// does (ledger, retries, dead letters), until each is acked or
// dead-lettered, and returns each message's record and the dead letters.
// Naks requeue at once (the Queue records the delay and does not wait),
// so a retried send takes no backoff time.
func RunEngine(t testing.TB, n notifier.Notifier, maxAttempts int, hits ...hit.Hit) ([]Record, []notifier.DeadLetter) {
	t.Helper()
	return RunEngineWith(t, n, func(o *notifier.EngineOptions) { o.MaxAttempts = maxAttempts }, hits...)
}

// RunEngineWith is RunEngine with the engine's options changed by mod
// (Digest, RateLimit…).
func RunEngineWith(t testing.TB, n notifier.Notifier, mod func(*notifier.EngineOptions), hits ...hit.Hit) ([]Record, []notifier.DeadLetter) {
	t.Helper()
	q, dead := NewQueue(), &Dead{}
	for _, h := range hits {
		q.AddHit(h)
	}
	o := notifier.EngineOptions{
		Name: "test", Notifier: n, Source: q, Ledger: &Ledger{}, Dead: dead,
		AckWait: time.Hour, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if mod != nil {
		mod(&o)
	}
	eng, err := notifier.NewEngine(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	// A bound against a hang, not a timing assertion.
	deadline := time.Now().Add(30 * time.Second)
	for !q.Settled() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("engine: %v", err)
	}
	if !q.Settled() {
		t.Fatal("the engine did not settle every hit within 30 s")
	}
	if v := q.Violations(); len(v) > 0 {
		t.Errorf("message protocol violations: %v", v)
	}
	return q.Records(), dead.Letters()
}

// DigestHits are n hits of distinct items, as a digest gathers them.
func DigestHits(n int) []hit.Hit {
	out := make([]hit.Hit, n)
	for i := range out {
		h := render.SampleHit(time.Date(2026, 11, 28, 12, 0, i, 0, time.UTC))
		h.Item.ID = fmt.Sprintf("%s-%d", h.Item.ID, i)
		h.Item.Title = fmt.Sprintf("%s (%d)", h.Item.Title, i)
		h.Item.Link = fmt.Sprintf("%s-%d", h.Item.Link, i)
		h.ID = hit.ID(h.Profile, h.Feed.Name+"\x00"+h.Item.ID)
		out[i] = h
	}
	return out
}
