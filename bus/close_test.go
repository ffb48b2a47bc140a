package bus

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/bus/natstest"
)

// TestCloseHandsBackBuffered: hits pulled ahead into the client's buffer
// are handed back at Close, so the next reader gets them at once instead of
// after AckWait (30 s here).
func TestCloseHandsBackBuffered(t *testing.T) {
	ctx := context.Background()
	b := open(t, t.TempDir())
	defer b.Close()
	src, err := b.EnsureConsumer(ctx, "hook", ConsumerOptions{AckWait: 30 * time.Second, Buffer: 16})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if err := b.PublishHit(ctx, sampleHit(fmt.Sprint("h", i), "p")); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 2; i++ {
		ms, err := src.Fetch(ctx, 1, time.Second)
		if err != nil || len(ms) != 1 {
			t.Fatalf("fetch: %v %d", err, len(ms))
		}
		if err := ms[0].Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	src.Close()
	got := 0
	start := time.Now()
	for got < 8 && time.Since(start) < 10*time.Second {
		ms, err := src.Fetch(ctx, 1, 500*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			got++
			_ = m.Ack(ctx)
		}
	}
	if got != 8 {
		t.Fatalf("got %d of the 8 remaining hits within 10 s", got)
	}
}

// TestCleanCloseLogsNoWarning: closing the bus (a clean stop) is not a
// disconnection worth a warning; a server that goes away still is.
func TestCleanCloseLogsNoWarning(t *testing.T) {
	nd := natstest.Start(t)
	var logs lockedBuffer
	b, err := Open(context.Background(), Options{URL: nd.URL(), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	if s := logs.String(); strings.Contains(s, "level=WARN") {
		t.Fatalf("a clean close logged a warning:\n%s", s)
	}

	b, err = Open(context.Background(), Options{URL: nd.URL(), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	nd.Shutdown()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "nats disconnected") {
		if time.Now().After(deadline) {
			t.Fatalf("no warning when the server went away:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
