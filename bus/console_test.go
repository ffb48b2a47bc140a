package bus

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier"
)

// waitUntil polls cond; the deadline only stops a hung test.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMutesShared: a mute set through one Mutes reaches another watching
// the same bucket (as another process would), and ends when it is lifted.
func TestMutesShared(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := open(t, t.TempDir())
	defer b.Close()
	a, err := b.Mutes(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := b.Mutes(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Mute(ctx, "trade-bill", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the other process to see the mute", func() bool { return other.Muted("trade-bill") })
	if other.Muted("xinjiang") || len(other.List()) != 1 {
		t.Fatalf("mutes %v", other.List())
	}
	if err := a.Mute(ctx, "trade-bill", time.Now()); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the unmute", func() bool { return !other.Muted("trade-bill") })
	// A mute whose time has passed holds no more, whatever the bucket says.
	late, err := b.Mutes(ctx, func() time.Time { return time.Now().Add(2 * time.Hour) })
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Mute(ctx, "xinjiang", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the mute to arrive", func() bool { return other.Muted("xinjiang") })
	if late.Muted("xinjiang") {
		t.Fatal("an ended mute still holds")
	}
	var nilMutes *Mutes
	if nilMutes.Muted("x") {
		t.Fatal("nil Mutes mutes")
	}
}

// TestDeadBoxAndTail: dead letters are listed newest first, dropped and
// replayed (to their notifier's replay subject, which TailHits does not
// list as a new hit).
func TestDeadBoxAndTail(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := open(t, t.TempDir())
	defer b.Close()
	for i := range 3 {
		if err := b.PublishHit(ctx, sampleHit(fmt.Sprint("h", i), "xinjiang")); err != nil {
			t.Fatal(err)
		}
		if err := b.DeadLetters().Dead(ctx, "hook", notifier.DeadLetter{Notifier: "hook", Hit: sampleHit(fmt.Sprint("h", i), "xinjiang"), Error: "status 404"}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var seqs []uint64
	go func() {
		_ = b.TailHits(ctx, 2, func(seq uint64, _ []byte) {
			mu.Lock()
			seqs = append(seqs, seq)
			mu.Unlock()
		})
	}()
	got := func() []uint64 {
		mu.Lock()
		defer mu.Unlock()
		return append([]uint64(nil), seqs...)
	}
	waitUntil(t, "the last 2 hits", func() bool { return len(got()) == 2 })
	if s := got(); s[0] != 2 || s[1] != 3 {
		t.Fatalf("tail read %v, want the last two", s)
	}
	box := b.DeadBox()
	list, err := box.List(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 || list[0].Letter.Hit.ID != "h2" || list[2].Letter.Hit.ID != "h0" {
		t.Fatalf("list %+v", list)
	}
	if err := box.Drop(ctx, list[0].Seq); err != nil {
		t.Fatal(err)
	}
	if err := box.Replay(ctx, list[1].Seq); err != nil {
		t.Fatal(err)
	}
	m, err := b.js.Stream(ctx, HitsStream)
	if err != nil {
		t.Fatal(err)
	}
	rm, err := m.GetLastMsgForSubject(ctx, ReplayPrefix+"hook")
	if err != nil {
		t.Fatalf("replayed hit not on %shook: %v", ReplayPrefix, err)
	}
	var h hit.Hit
	if err := json.Unmarshal(rm.Data, &h); err != nil || h.ID != "h1" {
		t.Fatalf("replayed hit %+v, %v", h, err)
	}
	time.Sleep(200 * time.Millisecond) // a tail that listed it would have by now
	if s := got(); len(s) != 2 {
		t.Fatalf("the tail lists a replay as a new hit: %v", s)
	}
	if list, err = box.List(ctx, 10); err != nil || len(list) != 1 || list[0].Letter.Hit.ID != "h0" {
		t.Fatalf("after drop and replay: %+v, %v", list, err)
	}
	if err := box.Replay(ctx, 999); err == nil {
		t.Fatal("replay of a missing letter succeeded")
	}
}
