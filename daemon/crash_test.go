package daemon

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/bus"
	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier"
	"github.com/feedwatch/feedwatch/notifier/webhook"
)

// lostAcks is a Source whose acks never reach the server: the process
// "dies" right after a successful send and its ledger entry, before the ack.
type lostAcks struct{ notifier.Source }

func (l lostAcks) Fetch(ctx context.Context, n int, wait time.Duration) ([]notifier.Message, error) {
	ms, err := l.Source.Fetch(ctx, n, wait)
	for i, m := range ms {
		ms[i] = lostAck{m}
	}
	return ms, err
}

type lostAck struct{ notifier.Message }

func (lostAck) Ack(context.Context) error { return nil }

// TestCrashBetweenSendAndAck: with real JetStream, a hit sent but never
// acked is redelivered after AckWait, and the delivery ledger keeps it from
// being sent a second time.
func TestCrashBetweenSendAndAck(t *testing.T) {
	ctx := context.Background()
	b, err := bus.Open(ctx, bus.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	wh, err := webhook.New(webhook.Config{URL: srv.URL, Timeout: 5 * time.Second}, http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	const ackWait = time.Second
	src, err := b.EnsureConsumer(ctx, "hook", bus.ConsumerOptions{AckWait: ackWait})
	if err != nil {
		t.Fatal(err)
	}
	run := func(s notifier.Source) (stop func()) {
		e, err := notifier.NewEngine(notifier.EngineOptions{Name: "hook", Notifier: wh, Source: s, Ledger: b.Ledger(), Dead: b.DeadLetters(), AckWait: ackWait, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		ectx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { _ = e.Run(ectx); close(done) }()
		return func() { cancel(); <-done }
	}

	stop := run(lostAcks{src})
	h := hit.Hit{V: 1, ID: "crash-1", Profile: "xinjiang", DetectedAt: time.Now().UTC(), Item: hit.Item{Title: "Xinjiang", Authors: []string{}, Categories: []string{}}, Matches: []hit.Match{}}
	if err := b.PublishHit(ctx, h); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "first send", 10*time.Second, func() bool { bs, _ := rec.snapshot(); return len(bs) == 1 })
	stop()

	// The restarted notifier gets the hit again after AckWait and must not send it.
	stop = run(src)
	defer stop()
	time.Sleep(3 * ackWait)
	if bs, _ := rec.snapshot(); len(bs) != 1 {
		t.Fatalf("hit sent %d times, want 1", len(bs))
	}
	msgs, err := src.Fetch(ctx, 1, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 0 {
		t.Fatalf("hit still pending after the restarted notifier saw it: %d", len(msgs))
	}
}
