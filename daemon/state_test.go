package daemon

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/feedwatch/feedwatch/bus"
	"github.com/feedwatch/feedwatch/checkpoint"
)

// TestStateCheckStoppedWhileStarting: a stop during the check at start
// leaves the old checkpoint as it was (the store may be damaged and must
// not be recorded as good), also at the final save.
func TestStateCheckStoppedWhileStarting(t *testing.T) {
	dir := t.TempDir()
	b, err := bus.Open(context.Background(), bus.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	path := filepath.Join(dir, checkpoint.FileName)
	old := checkpoint.Checkpoint{NATS: "embedded", GoodAt: time.Now().Add(-time.Hour),
		Streams: map[string]checkpoint.Stream{"KV_" + bus.SeenBucket: {Created: time.Now().Add(-48 * time.Hour), LastSeq: 100, Msgs: 10}}}
	if err := checkpoint.Save(path, old); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	k := newStateKeeper(dir, "embedded", b, slog.New(slog.DiscardHandler), prometheus.NewRegistry(), time.Now, 24*time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if c := k.start(ctx); c.Result != StateUnchecked || !k.recoverBefore().IsZero() {
		t.Fatalf("check with a stopped context: %+v", c)
	}
	k.save(context.Background())
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("checkpoint rewritten after a cut-short check:\n%s", got)
	}
	// The same store checked to the end is damaged against it.
	if c := k.start(context.Background()); c.Result != StateDamaged || !c.RecoverBefore.Equal(old.GoodAt) {
		t.Fatalf("full check: %+v", c)
	}
}
