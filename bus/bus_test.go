package bus

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier"
)

func open(t *testing.T, dir string) *Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := Open(ctx, Options{DataDir: dir, Retention: time.Hour})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return b
}

func sampleHit(id, profile string) hit.Hit {
	return hit.Hit{V: 1, ID: id, Profile: profile, DetectedAt: time.Now().UTC(),
		Item: hit.Item{Title: "Xinjiang", Authors: []string{}, Categories: []string{}}}
}

func TestPublishConsumeDedup(t *testing.T) {
	ctx := context.Background()
	b := open(t, t.TempDir())
	defer b.Close()

	src, err := b.EnsureConsumer(ctx, "console", ConsumerOptions{Profiles: []string{"xinjiang"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []hit.Hit{sampleHit("a1", "xinjiang"), sampleHit("a1", "xinjiang"), sampleHit("b2", "trade-bill"), sampleHit("c3", "xinjiang")} {
		if err := b.PublishHit(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for len(got) < 2 {
		msgs, err := src.Fetch(ctx, 10, 500*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			break
		}
		for _, m := range msgs {
			var h hit.Hit
			if err := json.Unmarshal(m.Data(), &h); err != nil {
				t.Fatal(err)
			}
			if m.Delivered() != 1 {
				t.Errorf("delivered = %d", m.Delivered())
			}
			got = append(got, h.ID)
			if err := m.Ack(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(got) != 2 || got[0] != "a1" || got[1] != "c3" {
		t.Fatalf("got %v, want [a1 c3] (dup dropped, other profile filtered)", got)
	}
	if ok, err := b.Alerted(ctx, "b2"); err != nil || !ok {
		t.Fatalf("alerted b2 = %v, %v", ok, err)
	}
	if ok, _ := b.Alerted(ctx, "zz"); ok {
		t.Fatal("zz should not be alerted")
	}
}

func TestStateSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b := open(t, dir)
	if err := b.Seen().MarkSeen(ctx, "world news/é", []string{"k1", "k2"}); err != nil {
		t.Fatal(err)
	}
	if err := b.FeedState().Save(ctx, "world news/é", []byte(`{"etag":"x"}`)); err != nil {
		t.Fatal(err)
	}
	if err := b.Ledger().MarkDelivered(ctx, "me", "h1"); err != nil {
		t.Fatal(err)
	}
	b.Close()

	b = open(t, dir)
	defer b.Close()
	seen, err := b.Seen().Seen(ctx, "world news/é", []string{"k1", "k2", "k3"})
	if err != nil {
		t.Fatal(err)
	}
	if !seen["k1"] || !seen["k2"] || seen["k3"] {
		t.Fatalf("seen = %v", seen)
	}
	if other, err := b.Seen().Seen(ctx, "world", []string{"k1"}); err != nil || other["k1"] {
		t.Fatalf("another feed sees k1: %v, %v", other, err)
	}
	st, err := b.FeedState().Load(ctx, "world news/é")
	if err != nil || string(st) != `{"etag":"x"}` {
		t.Fatalf("state = %q, %v", st, err)
	}
	if st, err := b.FeedState().Load(ctx, "other"); err != nil || st != nil {
		t.Fatalf("absent state = %q, %v", st, err)
	}
	for _, tc := range []struct {
		notifier, id string
		want         bool
	}{{"me", "h1", true}, {"me", "h2", false}, {"slack", "h1", false}} {
		got, err := b.Ledger().Delivered(ctx, tc.notifier, tc.id)
		if err != nil || got != tc.want {
			t.Errorf("delivered(%s,%s) = %v, %v; want %v", tc.notifier, tc.id, got, err, tc.want)
		}
	}
}

func TestDeadLetter(t *testing.T) {
	ctx := context.Background()
	b := open(t, t.TempDir())
	defer b.Close()
	sub, err := b.nc.SubscribeSync(DeadPrefix + ">")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.DeadLetters().Dead(ctx, "hook", notifier.DeadLetter{Notifier: "hook", Hit: sampleHit("x", "p"), Error: "status 400", Attempts: 1}); err != nil {
		t.Fatal(err)
	}
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "feedwatch.dead.hook" {
		t.Fatalf("subject %s", m.Subject)
	}
	var l notifier.DeadLetter
	if err := json.Unmarshal(m.Data, &l); err != nil || l.Error != "status 400" || l.Hit.ID != "x" {
		t.Fatalf("letter %+v, %v", l, err)
	}
}

func TestKVKey(t *testing.T) {
	for in, want := range map[string]string{"world": "world", "a b": "a=20b", "é": "=C3=A9", "x.y": "x=2Ey", "=": "=3D"} {
		if got := kvKey(in); got != want {
			t.Errorf("kvKey(%q) = %q, want %q", in, got, want)
		}
		if back, ok := nameOfKey(want); !ok || back != in {
			t.Errorf("nameOfKey(%q) = %q, %v, want %q", want, back, ok, in)
		}
	}
	for _, bad := range []string{"a=2", "=ZZ", "x="} {
		if got, ok := nameOfKey(bad); ok {
			t.Errorf("nameOfKey(%q) = %q, want no name", bad, got)
		}
	}
}

func TestMultiLastServer(t *testing.T) {
	for v, want := range map[string]bool{
		"2.15.2": true, "2.11.0": true, "3.0.0": true, "2.10.24": false, "2.9": false, "": false, "x": false,
	} {
		if got := multiLastServer(v); got != want {
			t.Errorf("%q: %v, want %v", v, got, want)
		}
	}
}

// TestSetRetention: another watcher.state_retention on reload becomes the
// TTL of the seen, alerted and ledger buckets, and what a seen-log
// snapshot keeps, with the state already there kept.
func TestSetRetention(t *testing.T) {
	ctx := context.Background()
	b := open(t, t.TempDir())
	defer b.Close()
	if err := b.Seen().MarkSeen(ctx, "world", []string{"k1"}); err != nil {
		t.Fatal(err)
	}
	seen := b.Seen()
	if err := b.SetRetention(ctx, 72*time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, bucket := range []string{SeenBucket, AlertedBucket, LedgerBucket} {
		kv, err := b.js.KeyValue(ctx, bucket)
		if err != nil {
			t.Fatal(err)
		}
		st, err := kv.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.TTL() != 72*time.Hour {
			t.Errorf("bucket %s TTL %v, want 72h", bucket, st.TTL())
		}
	}
	// A store made before the reload follows it: 3 days and a day's slack.
	if got := seen.oldestDay(100); got != 96 {
		t.Errorf("oldest day kept %d, want 96", got)
	}
	got, err := b.Seen().Seen(ctx, "world", []string{"k1"})
	if err != nil || !got["k1"] {
		t.Fatalf("seen after the change: %v, %v", got, err)
	}
}
