package daemon

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/feedwatch/feedwatch/bus"
	"github.com/feedwatch/feedwatch/checkpoint"
	"github.com/feedwatch/feedwatch/item"
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

// TestStateLostWhileStoppedPerStream: which streams' loss while the daemon
// is stopped the check at start reports. The archive and the mutes are
// reported (the daemon makes the archive again, empty, before the check);
// the WebSub subscriptions and catch-up fingerprints rebuild themselves
// and are not.
func TestStateLostWhileStoppedPerStream(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	archive := bus.ArchiveOptions{Retention: time.Hour}
	b, err := bus.Open(ctx, bus.Options{DataDir: dir, Archive: archive})
	if err != nil {
		t.Fatal(err)
	}
	feed := item.Feed{Name: "world"}
	if _, err := b.Archiver().Put(feed, []item.Item{{Feed: feed, Key: "world\x00a", Title: "Xinjiang"}}).Wait(ctx); err != nil {
		t.Fatal(err)
	}
	m, err := b.Mutes(ctx, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Mute(ctx, "xinjiang", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	ws, err := b.WebSub(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Put(ctx, "world", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CatchUps().Claim(ctx, "xinjiang", "fp", "me"); err != nil {
		t.Fatal(err)
	}
	newKeeper := func(b *bus.Bus) *stateKeeper {
		return newStateKeeper(dir, "embedded", b, slog.New(slog.DiscardHandler), prometheus.NewRegistry(), time.Now, 24*time.Hour)
	}
	if c := newKeeper(b).start(ctx); c.Result != StateFirstStart {
		t.Fatalf("first start: %+v", c)
	}
	b.Close()

	// Stopped: the four streams' folders go.
	for _, name := range []string{bus.ItemsStream, "KV_" + bus.MutesBucket, "KV_" + bus.WebSubBucket, "KV_" + bus.CatchUpBucket} {
		p := filepath.Join(dir, "jetstream", "jetstream", "$G", "streams", name)
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("stream %s not on disk: %v", name, err)
		}
		if err := os.RemoveAll(p); err != nil {
			t.Fatal(err)
		}
	}
	b, err = bus.Open(ctx, bus.Options{DataDir: dir, Archive: archive})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	c := newKeeper(b).start(ctx)
	got := strings.Join(c.Lost, "\n")
	if c.Result != StateDamaged || len(c.Lost) != 2 ||
		!strings.Contains(got, "archived items (stream FEEDWATCH_ITEMS): last sequence 0, was 1") ||
		!strings.Contains(got, "muted profiles (bucket feedwatch_mutes): missing") {
		t.Errorf("lost while stopped: %s, want the archive and the mutes only:\n%s", c.Result, got)
	}
}
