package bus

import (
	"context"
	"encoding/json"
	"strconv"
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
	if err := b.Seen().MarkSeen(ctx, []string{"k1", "k2"}); err != nil {
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
	seen, err := b.Seen().Seen(ctx, []string{"k1", "k2", "k3"})
	if err != nil {
		t.Fatal(err)
	}
	if !seen["k1"] || !seen["k2"] || seen["k3"] {
		t.Fatalf("seen = %v", seen)
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
	for in, want := range map[string]string{"world": "world", "a b": "a=20b", "é": "=C3=A9", "x.y": "x=2Ey"} {
		if got := kvKey(in); got != want {
			t.Errorf("kvKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRedactURL(t *testing.T) {
	if got := redactURL("nats://user:pw@host:4222"); got != "nats://***@host:4222" {
		t.Fatal(got)
	}
}

func BenchmarkMarkSeen20(b *testing.B) {
	ctx := context.Background()
	bs, err := Open(ctx, Options{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer bs.Close()
	s := bs.Seen()
	keys := make([]string, 20)
	for i := 0; i < b.N; i++ {
		for j := range keys {
			keys[j] = "k" + strconv.Itoa(i) + "_" + strconv.Itoa(j)
		}
		if err := s.MarkSeen(ctx, keys); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSeen20(b *testing.B) {
	ctx := context.Background()
	bs, err := Open(ctx, Options{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer bs.Close()
	s := bs.Seen()
	keys := make([]string, 20)
	for j := range keys {
		keys[j] = "k" + strconv.Itoa(j)
	}
	if err := s.MarkSeen(ctx, keys[:10]); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Seen(ctx, keys); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSeenBatchMatchesGets checks the batched lookup against one KV get per
// key: present, absent, deleted, purged and re-put keys, over several
// batches.
func TestSeenBatchMatchesGets(t *testing.T) {
	b := open(t, t.TempDir())
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := b.Seen()
	if !s.direct.Load() {
		t.Fatal("batched direct gets are off for the embedded server")
	}

	n := 2*seenBatchMax + 37
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "k" + strconv.Itoa(i)
	}
	var marked []string
	for i, k := range keys {
		if i%5 != 0 { // every fifth key is never written
			marked = append(marked, k)
		}
	}
	if err := s.MarkSeen(ctx, marked); err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		switch {
		case i%5 == 0:
		case i%7 == 0:
			if err := b.seen.Delete(ctx, k); err != nil {
				t.Fatal(err)
			}
		case i%11 == 0:
			if err := b.seen.Purge(ctx, k); err != nil {
				t.Fatal(err)
			}
		case i%13 == 0: // deleted, then seen again
			if err := b.seen.Delete(ctx, k); err != nil {
				t.Fatal(err)
			}
			if err := s.MarkSeen(ctx, []string{k}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Keys in a batch but with no message at all, and a repeated key.
	query := append(append([]string{}, keys...), "never1", "never2", keys[1])

	want, err := s.seenEach(ctx, query)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		keys []string
	}{
		{"all", query},
		{"one batch", query[:seenBatchMax]},
		{"one key", query[1:2]},
		{"absent only", []string{"never1", "never2"}},
		{"empty", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.seenBatch(ctx, tc.keys)
			if len(tc.keys) == 0 {
				got, err = s.Seen(ctx, tc.keys)
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range tc.keys {
				if got[k] != want[k] {
					t.Errorf("key %s: batched %v, per-key %v", k, got[k], want[k])
				}
			}
			if len(got) > len(tc.keys) {
				t.Errorf("batched answer has %d keys for %d asked", len(got), len(tc.keys))
			}
		})
	}
	// Sanity: the mix has each kind.
	if !want["k1"] || want["k0"] || want["k7"] || want["k11"] || !want["k13"] {
		t.Fatalf("unexpected per-key answers: k1 %v k0 %v k7 %v k11 %v k13 %v",
			want["k1"], want["k0"], want["k7"], want["k11"], want["k13"])
	}
	if !s.direct.Load() {
		t.Fatal("batched path fell back to per-key gets")
	}
}

func TestSeenBatchRejectsWildcards(t *testing.T) {
	b := open(t, t.TempDir())
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := b.Seen()
	if err := s.MarkSeen(ctx, []string{"a1", "a2"}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"*", ">", "a.", ".a", "a..b", "a b", ""} {
		t.Run(k, func(t *testing.T) {
			if _, err := s.Seen(ctx, []string{"a1", k}); err == nil {
				t.Fatalf("key %q: no error", k)
			}
		})
	}
}

// TestSeenExpired checks that an item past the bucket's TTL is not seen.
func TestSeenExpired(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := Open(ctx, Options{DataDir: t.TempDir(), Retention: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	s := b.Seen()
	if err := s.MarkSeen(ctx, []string{"old1", "old2"}); err != nil {
		t.Fatal(err)
	}
	// Wait for the server to drop them (its expiry timer), then mark fresh
	// ones: the batch must report only those.
	for {
		got, err := s.seenEach(ctx, []string{"old1", "old2"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("items never expired")
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err := s.MarkSeen(ctx, []string{"new1"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.seenBatch(ctx, []string{"old1", "old2", "new1"})
	if err != nil {
		t.Fatal(err)
	}
	if got["old1"] || got["old2"] || !got["new1"] {
		t.Fatalf("got %v, want only new1", got)
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
