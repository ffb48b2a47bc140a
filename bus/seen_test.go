package bus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/seenlog"
)

// logKeys lists the KV keys of a feed's log.
func logKeys(t *testing.T, b *Bus, feed string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lister, err := b.seen.ListKeysFiltered(ctx, "f."+feedToken(feed)+".*")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	return keys
}

// TestSeenLog writes a feed's log past several snapshots, with a restart
// in the middle, and checks after every write that every key written is
// seen, nothing else is, and the log stays at most Deltas+1 KV keys.
func TestSeenLog(t *testing.T) {
	for _, tc := range []struct {
		name   string
		direct bool
	}{{"direct get", true}, {"watcher", false}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			dir := t.TempDir()
			b := open(t, dir)
			defer func() { b.Close() }()
			const feed = "world.news *>" // subject characters must not leak into subjects
			var written []string
			writes := 3*(seenlog.Deltas+1) + 2
			for i := range writes {
				if i == writes/2 { // restart: the position must be read back
					b.Close()
					b = open(t, dir)
				}
				s := b.Seen()
				s.direct.Store(tc.direct && s.direct.Load())
				batch := []string{"g_" + strconv.Itoa(i) + "a", "g_" + strconv.Itoa(i) + "b"}
				if err := s.MarkSeen(ctx, feed, batch); err != nil {
					t.Fatalf("write %d: %v", i, err)
				}
				written = append(written, batch...)
				query := append(append([]string{}, written...), "never", "g_"+strconv.Itoa(i+1)+"a")
				got, err := s.Seen(ctx, feed, query)
				if err != nil {
					t.Fatal(err)
				}
				for _, k := range written {
					if !got[k] {
						t.Fatalf("write %d: %s not seen", i, k)
					}
				}
				if len(got) != len(written) {
					t.Fatalf("write %d: %d seen, want %d", i, len(got), len(written))
				}
				if n := len(logKeys(t, b, feed)); n > seenlog.Deltas+1 {
					t.Fatalf("write %d: the log has %d keys", i, n)
				}
			}
			if other, err := b.Seen().Seen(ctx, "world", written); err != nil || len(other) != 0 {
				t.Fatalf("another feed sees %d keys (%v)", len(other), err)
			}
		})
	}
}

// TestSeenRetention checks that a snapshot drops keys last seen more than
// the retention ago and keeps the ones seen again since.
func TestSeenRetention(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := open(t, t.TempDir()) // retention 1h: entries older than 2 days go
	defer b.Close()
	s := b.Seen()
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	if err := s.MarkSeen(ctx, "f", []string{"old", "kept"}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(5 * 24 * time.Hour)
	// Deltas-1 more writes fill the deltas; the next is a snapshot.
	for i := range seenlog.Deltas - 1 {
		keys := []string{"new" + strconv.Itoa(i)}
		if i == 0 {
			keys = append(keys, "kept") // seen again in its feed
		}
		if err := s.MarkSeen(ctx, "f", keys); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Seen(ctx, "f", []string{"old", "kept"})
	if err != nil || !got["old"] || !got["kept"] {
		t.Fatalf("before the snapshot: %v, %v", got, err)
	}
	if err := s.MarkSeen(ctx, "f", []string{"last"}); err != nil {
		t.Fatal(err)
	}
	if keys := logKeys(t, b, "f"); !strings.Contains(fmt.Sprint(keys), ".s0") {
		t.Fatalf("no snapshot written: %v", keys)
	}
	// The deltas the snapshot folded are still stored (their slots are
	// reused later) but no longer count: a store that knows the log's
	// position (it reads the live records only) and one that reads every
	// record answer alike, without old.
	for _, st := range []*SeenStore{s, otherStore(s)} {
		got, err = st.Seen(ctx, "f", []string{"old", "kept", "last", "new3"})
		if err != nil {
			t.Fatal(err)
		}
		if got["old"] || !got["kept"] || !got["last"] || !got["new3"] {
			t.Fatalf("after the snapshot: %v (want kept, last and new3 but not old)", got)
		}
	}
}

// TestSeenExpired checks that a log past the bucket's TTL is forgotten and
// that writing to the feed afterwards works.
func TestSeenExpired(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := Open(ctx, Options{DataDir: t.TempDir(), Retention: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	s := b.Seen()
	if err := s.MarkSeen(ctx, "f", []string{"old1", "old2"}); err != nil {
		t.Fatal(err)
	}
	for {
		got, err := s.Seen(ctx, "f", []string{"old1", "old2"})
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
	if err := s.MarkSeen(ctx, "f", []string{"new1"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Seen(ctx, "f", []string{"old1", "old2", "new1"})
	if err != nil {
		t.Fatal(err)
	}
	if got["old1"] || got["old2"] || !got["new1"] {
		t.Fatalf("got %v, want only new1", got)
	}
}

// seenWithA opens a bus whose feed "f" has seen key "a".
func seenWithA(t *testing.T) (context.Context, *Bus, *SeenStore) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	b := open(t, t.TempDir())
	t.Cleanup(b.Close)
	s := b.Seen()
	if err := s.MarkSeen(ctx, "f", []string{"a"}); err != nil {
		t.Fatal(err)
	}
	return ctx, b, s
}

// TestSeenUnreadableRecord checks that a damaged record is skipped (its
// keys unseen) without failing the feed's other records.
func TestSeenUnreadableRecord(t *testing.T) {
	ctx, b, s := seenWithA(t)
	if _, err := b.seen.Put(ctx, "f."+feedToken("f")+".d9", []byte("garbage")); err != nil {
		t.Fatal(err)
	}
	got, err := s.Seen(ctx, "f", []string{"a", "b"})
	if err != nil || !got["a"] || got["b"] {
		t.Fatalf("got %v, %v", got, err)
	}
	if err := s.MarkSeen(ctx, "f", []string{"b"}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Seen(ctx, "f", []string{"a", "b"}); err != nil || !got["a"] || !got["b"] {
		t.Fatalf("got %v, %v", got, err)
	}
}

// TestSeenFailedWrite checks that a write that fails forgets the log's
// position, so the next write reads it again instead of reusing a slot.
func TestSeenFailedWrite(t *testing.T) {
	ctx, _, s := seenWithA(t)
	done, stop := context.WithCancel(ctx)
	stop()
	if err := s.MarkSeen(done, "f", []string{"b"}); err == nil {
		t.Fatal("write with a canceled context succeeded")
	}
	if _, ok := s.logs.get(feedToken("f")); ok {
		t.Fatal("position kept after a failed write")
	}
	if err := s.MarkSeen(ctx, "f", []string{"c"}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Seen(ctx, "f", []string{"a", "c"}); err != nil || !got["a"] || !got["c"] {
		t.Fatalf("got %v, %v", got, err)
	}
}

func benchSeenStore(b *testing.B) *SeenStore {
	ctx := context.Background()
	bs, err := Open(ctx, Options{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(bs.Close)
	return bs.Seen()
}

// BenchmarkMarkSeen20: one poll's worth of new keys (20 items with their
// link keys) written to one feed's log; 100 feeds in turn.
func BenchmarkMarkSeen20(b *testing.B) {
	ctx := context.Background()
	s := benchSeenStore(b)
	keys := make([]string, 40)
	for i := 0; i < b.N; i++ {
		for j := range keys {
			keys[j] = "g_" + strconv.Itoa(i) + "_" + strconv.Itoa(j)
		}
		if err := s.MarkSeen(ctx, "feed"+strconv.Itoa(i%100), keys); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSeen20 looks up 40 keys in a log of a snapshot and 8 deltas.
func BenchmarkSeen20(b *testing.B) {
	ctx := context.Background()
	s := benchSeenStore(b)
	keys := make([]string, 40)
	for i := range seenlog.Deltas + 9 {
		for j := range keys {
			keys[j] = "g_" + strconv.Itoa(i) + "_" + strconv.Itoa(j)
		}
		if err := s.MarkSeen(ctx, "feed", keys); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Seen(ctx, "feed", keys); err != nil {
			b.Fatal(err)
		}
	}
}

// otherStore is a second process's view of the same seen bucket: its own
// log positions.
func otherStore(s *SeenStore) *SeenStore {
	o := *s
	o.logs = &logPositions{m: map[string]logPosition{}}
	return &o
}

// TestSeenFenced: a store whose feed's log was written by another store
// since it last read it (a watcher that lost the feed to a new owner)
// cannot append to it; its keys stay unseen and the new owner's stay.
func TestSeenFenced(t *testing.T) {
	ctx, _, old := seenWithA(t)
	if !old.direct.Load() {
		t.Fatal("the embedded server refuses batched direct gets")
	}
	owner := otherStore(old)
	if err := owner.MarkSeen(ctx, "f", []string{"b"}); err != nil {
		t.Fatal(err)
	}
	err := old.MarkSeen(ctx, "f", []string{"stale"})
	if !errors.Is(err, ErrStateChanged) {
		t.Fatalf("a write after another store's: %v, want ErrStateChanged", err)
	}
	got, err := owner.Seen(ctx, "f", []string{"a", "b", "stale"})
	if err != nil || !got["a"] || !got["b"] || got["stale"] {
		t.Fatalf("got %v, %v; want a and b only", got, err)
	}
	// The owner's own writes go on, and the fenced store, once it has
	// read the log again, writes after them (it is the watcher's lease
	// that says whether it should).
	if err := owner.MarkSeen(ctx, "f", []string{"c"}); err != nil {
		t.Fatal(err)
	}
	if _, err := old.Seen(ctx, "f", []string{"a"}); err != nil {
		t.Fatal(err)
	}
	if err := old.MarkSeen(ctx, "f", []string{"d"}); err != nil {
		t.Fatal(err)
	}
	if got, err := owner.Seen(ctx, "f", []string{"a", "b", "c", "d"}); err != nil || len(got) != 4 {
		t.Fatalf("got %v, %v; want all four", got, err)
	}
}

// TestSeenFencedSnapshot: the fence holds for a write that folds the
// deltas into a snapshot too (several records, each expecting the one
// before).
func TestSeenFencedSnapshot(t *testing.T) {
	ctx, _, old := seenWithA(t)
	for i := 0; ; i++ {
		pos, _ := old.logs.get(feedToken("f"))
		if kind, _ := pos.log.Next(); kind == seenlog.Snapshot {
			break
		}
		if err := old.MarkSeen(ctx, "f", []string{"k" + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	owner := otherStore(old)
	if err := owner.MarkSeen(ctx, "f", []string{"b"}); err != nil {
		t.Fatal(err)
	}
	// old's next write is a snapshot, which reads the log first: it is
	// fenced against writes after that read, not before.
	if err := old.MarkSeen(ctx, "f", []string{"x"}); err != nil {
		t.Fatal(err)
	}
	if err := owner.MarkSeen(ctx, "f", []string{"y"}); !errors.Is(err, ErrStateChanged) {
		t.Fatalf("owner writing after a snapshot it did not read: %v, want ErrStateChanged", err)
	}
	if got, err := owner.Seen(ctx, "f", []string{"a", "b", "x", "k0"}); err != nil || len(got) != 4 {
		t.Fatalf("got %v, %v; want every key", got, err)
	}
}

// TestSeenExpiredUnderKnownPosition: a log whose records expired after
// this store wrote it is not someone else's write: the next write goes on.
func TestSeenExpiredUnderKnownPosition(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := Open(ctx, Options{DataDir: t.TempDir(), Retention: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	s := b.Seen()
	if err := s.MarkSeen(ctx, "f", []string{"old"}); err != nil {
		t.Fatal(err)
	}
	probe := otherStore(s) // reads without moving s's position
	for {
		got, err := probe.Seen(ctx, "f", []string{"old"})
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
	if err := s.MarkSeen(ctx, "f", []string{"new"}); err != nil {
		t.Fatalf("write after expiry: %v", err)
	}
	if got, err := probe.Seen(ctx, "f", []string{"old", "new"}); err != nil || len(got) != 1 || !got["new"] {
		t.Fatalf("got %v, %v; want only new", got, err)
	}
}

// TestSeenReadsLiveRecords: a store that knows a feed's log position reads
// only the snapshot, the deltas after it and the next slot (not the stale
// slots a fold leaves), answers as a store reading every record does, and
// still sees another store's later write, whether a delta or a fold.
func TestSeenReadsLiveRecords(t *testing.T) {
	ctx, b, s := seenWithA(t)
	var written []string
	for i := range seenlog.Deltas + 3 { // a fold, then deltas
		k := "k" + strconv.Itoa(i)
		if err := s.MarkSeen(ctx, "f", []string{k}); err != nil {
			t.Fatal(err)
		}
		written = append(written, k)
	}
	tok := feedToken("f")
	pos, ok := s.logs.get(tok)
	if !ok || pos.log.Snap == 0 || pos.log.Chunks != 1 {
		t.Fatalf("position %+v, %v: want a known snapshot of one chunk", pos, ok)
	}
	subs := liveSubjects(tok, pos)
	if len(subs) != 1+pos.log.Pending+1 {
		t.Fatalf("live subjects %v: want the chunk, %d deltas and the next slot", subs, pos.log.Pending)
	}
	if n := len(logKeys(t, b, "f")); n != seenlog.Deltas+1 {
		t.Fatalf("the log has %d keys, want every slot and the chunk", n)
	}
	query := append([]string{"a", "never"}, written...)
	same := func(step string) {
		t.Helper()
		got, err := s.Seen(ctx, "f", query)
		if err != nil {
			t.Fatal(err)
		}
		full, err := otherStore(s).Seen(ctx, "f", query)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(full) || got["never"] {
			t.Fatalf("%s: live records give %v, every record %v", step, got, full)
		}
	}
	same("own writes")
	// Another store appends (it took the feed while this one did not
	// notice): its delta goes to the next slot, which the read includes.
	owner := otherStore(s)
	if err := owner.MarkSeen(ctx, "f", []string{"theirs"}); err != nil {
		t.Fatal(err)
	}
	query = append(query, "theirs")
	same("another store's delta")
	if got, err := s.Seen(ctx, "f", []string{"theirs"}); err != nil || !got["theirs"] {
		t.Fatalf("another store's delta unseen: %v, %v", got, err)
	}
	// ... and folds: the snapshot's first chunk is read too.
	for i := 0; ; i++ {
		p, _ := owner.logs.get(tok)
		if kind, _ := p.log.Next(); kind == seenlog.Snapshot {
			break
		}
		if err := owner.MarkSeen(ctx, "f", []string{"o" + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Seen(ctx, "f", []string{"a"}); err != nil { // s reads the owner's position
		t.Fatal(err)
	}
	if err := owner.MarkSeen(ctx, "f", []string{"folded"}); err != nil { // a fold
		t.Fatal(err)
	}
	query = append(query, "folded")
	same("another store's fold")
	if got, err := s.Seen(ctx, "f", []string{"folded", "theirs"}); err != nil || !got["folded"] || !got["theirs"] {
		t.Fatalf("another store's fold unseen: %v, %v", got, err)
	}
}
