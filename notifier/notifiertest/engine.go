package notifiertest

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier"
)

// RunEngine delivers hits through the notifier engine to n, as the daemon
// does (ledger, retries, dead letters), until each is acked or
// dead-lettered, and returns each message's record and the dead letters.
// Naks requeue at once (the Queue records the delay and does not wait),
// so a retried send takes no backoff time.
func RunEngine(t testing.TB, n notifier.Notifier, maxAttempts int, hits ...hit.Hit) ([]Record, []notifier.DeadLetter) {
	t.Helper()
	q, dead := NewQueue(), &Dead{}
	for _, h := range hits {
		q.AddHit(h)
	}
	eng, err := notifier.NewEngine(notifier.EngineOptions{
		Name: "test", Notifier: n, Source: q, Ledger: &Ledger{}, Dead: dead,
		MaxAttempts: maxAttempts, AckWait: time.Hour,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
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
