package bus

import (
	"context"
	"fmt"
	"testing"
	"time"
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
