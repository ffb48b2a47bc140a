package bus

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedwatch/feedwatch/archive"
	"github.com/feedwatch/feedwatch/item"
)

func openArchive(t *testing.T, dir string, o ArchiveOptions) *Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := Open(ctx, Options{DataDir: dir, Retention: time.Hour, Archive: o})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return b
}

func archiveItems(t *testing.T, b *Bus, feed string, items ...item.Item) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range items {
		items[i].Key = feed + "/" + items[i].ID
	}
	if _, err := b.Archiver().Put(item.Feed{Name: feed}, items).Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

// readAll returns the archived records as a reader sees them: in archive
// order, an item's first copy only (by identity).
func readAll(t *testing.T, b *Bus, from time.Time) []archive.Record {
	t.Helper()
	out, _ := readAllMsgs(t, b, from)
	return out
}

// readAllMsgs is readAll and how many messages were read.
func readAllMsgs(t *testing.T, b *Bus, from time.Time) ([]archive.Record, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	br, err := archive.NewBatchReader()
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	var out []archive.Record
	seen := map[archive.ID]bool{}
	keep := func(id archive.ID, data []byte) error {
		r, err := archive.Decode(data)
		if err != nil {
			return err
		}
		if id != r.Identity() {
			t.Errorf("%s: batch says identity %x, the record's is %x", r.Title, id, r.Identity())
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, r)
		}
		return nil
	}
	msgs := 0
	err = b.ReadArchive(ctx, from, func(m ArchiveMsg) error {
		msgs++
		if m.Batch {
			return br.ReadBatch(m.Data, keep)
		}
		r, err := archive.Decode(m.Data)
		if err != nil {
			return err
		}
		return keep(r.Identity(), m.Data)
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, msgs
}

func titles(rs []archive.Record) string {
	var ts []string
	for _, r := range rs {
		ts = append(ts, r.Feed.Name+":"+r.Title)
	}
	return strings.Join(ts, " ")
}

// Each item is read once: across polls, restarts and feeds that carry the
// same article (the first feed's copy stays). A poll offered again, or a
// second feed with an article this process archived, writes no message.
func TestArchiveOnce(t *testing.T) {
	dir := t.TempDir()
	o := ArchiveOptions{Retention: time.Hour, MaxBytes: 1 << 20}
	b := openArchive(t, dir, o)
	a := item.Item{ID: "1", Title: "A", Link: "https://example.org/a"}
	bb := item.Item{ID: "2", Title: "B", Link: "https://example.org/"} // a site root: no article identity
	c := item.Item{ID: "3", Title: "C"}
	archiveItems(t, b, "world", a, bb, c)
	archiveItems(t, b, "world", a, bb, c) // a repeated poll
	if _, msgs := readAllMsgs(t, b, time.Time{}); msgs != 1 {
		t.Errorf("%d messages after a poll and its repeat, want 1", msgs)
	}
	a2 := a
	a2.ID, a2.Link, a2.Title = "x", "https://EXAMPLE.org/a?utm_source=rss", "A elsewhere"
	archiveItems(t, b, "uk", a2) // another feed, an article archived already
	if _, msgs := readAllMsgs(t, b, time.Time{}); msgs != 1 {
		t.Errorf("%d messages after another feed's copy of an archived article, want 1", msgs)
	}
	b.Close()
	b = openArchive(t, dir, o)
	defer b.Close()
	archiveItems(t, b, "world", a, c) // after a restart: written again, read once
	archiveItems(t, b, "uk", a2, bb)  // another feed; a root link is its own item
	want := "world:A world:B world:C uk:B"
	if got := titles(readAll(t, b, time.Time{})); got != want {
		t.Errorf("archive reads %q, want %q", got, want)
	}
}

// A poll sent again after its ack was lost is read once.
func TestArchiveRetriedPoll(t *testing.T) {
	b := openArchive(t, t.TempDir(), ArchiveOptions{Retention: time.Hour, MaxBytes: 1 << 20})
	defer b.Close()
	items := []item.Item{{ID: "1", Title: "A", Key: "f/1"}, {ID: "2", Title: "B", Key: "f/2"}}
	ctx := context.Background()
	for range 2 {
		if n, err := b.Archiver().Put(item.Feed{Name: "f"}, items).Wait(ctx); err != nil || n != 2 {
			t.Fatalf("stored %d, %v", n, err)
		}
		b.archiver.recent = recentSet{} // as if the process never saw the ack
	}
	if got := titles(readAll(t, b, time.Time{})); got != "f:A f:B" {
		t.Errorf("read %q", got)
	}
}

func TestArchiveLimits(t *testing.T) {
	t.Run("max_bytes drops the oldest", func(t *testing.T) {
		b := openArchive(t, t.TempDir(), ArchiveOptions{Retention: time.Hour, MaxBytes: 64 << 10})
		defer b.Close()
		r := rand.New(rand.NewPCG(1, 2))
		for i := range 200 {
			// Text that compression leaves at over half its size.
			body := make([]byte, 1200)
			for j := range body {
				body[j] = 'a' + byte(r.IntN(26))
			}
			archiveItems(t, b, "f", item.Item{ID: fmt.Sprint(i), Title: fmt.Sprint(i), Summary: string(body)})
		}
		rs := readAll(t, b, time.Time{})
		info, err := b.ArchiveInfo(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if info.Bytes > 64<<10 || len(rs) == 0 || len(rs) >= 200 {
			t.Fatalf("%d items, %d bytes: want fewer than 200 within 64 KB", len(rs), info.Bytes)
		}
		if rs[len(rs)-1].Title != "199" || rs[0].Title != fmt.Sprint(200-len(rs)) {
			t.Errorf("kept %s ... %s, want the newest", rs[0].Title, rs[len(rs)-1].Title)
		}
	})
	t.Run("retention expires items", func(t *testing.T) {
		b := openArchive(t, t.TempDir(), ArchiveOptions{Retention: time.Second, MaxBytes: 1 << 20})
		defer b.Close()
		archiveItems(t, b, "f", item.Item{ID: "old", Title: "old"})
		deadline := time.Now().Add(20 * time.Second)
		for {
			info, err := b.ArchiveInfo(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if info.Msgs == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("item still archived long after its retention: %+v", info)
			}
			time.Sleep(100 * time.Millisecond)
		}
		// Expired, it may be archived anew: no trace of it blocks a new copy.
		archiveItems(t, b, "f", item.Item{ID: "old", Title: "old"})
		if got := titles(readAll(t, b, time.Time{})); got != "f:old" {
			t.Errorf("archive holds %q", got)
		}
	})
	t.Run("off stores nothing", func(t *testing.T) {
		b := openArchive(t, t.TempDir(), ArchiveOptions{})
		defer b.Close()
		archiveItems(t, b, "f", item.Item{ID: "1", Title: "x"})
		if _, err := b.ArchiveInfo(context.Background()); err != ErrNoArchive {
			t.Errorf("ArchiveInfo err = %v, want ErrNoArchive", err)
		}
	})
	t.Run("settings change updates the stream", func(t *testing.T) {
		dir := t.TempDir()
		b := openArchive(t, dir, ArchiveOptions{Retention: time.Hour, MaxBytes: 1 << 20})
		b.Close()
		b = openArchive(t, dir, ArchiveOptions{Retention: 2 * time.Hour, MaxBytes: 2 << 20})
		defer b.Close()
		info, err := b.ArchiveInfo(context.Background())
		if err != nil || info.Retention != 2*time.Hour || info.MaxBytes != 2<<20 {
			t.Errorf("info = %+v, %v", info, err)
		}
		// The SPEC's archive is a compressed stream: S2 on the server,
		// over batches the client compressed.
		st, err := b.js.Stream(context.Background(), ItemsStream)
		if err != nil {
			t.Fatal(err)
		}
		if c := st.CachedInfo().Config.Compression; c != jetstream.S2Compression {
			t.Errorf("stream compression %v, want s2", c)
		}
	})
}

func TestReadArchiveFrom(t *testing.T) {
	b := openArchive(t, t.TempDir(), ArchiveOptions{Retention: time.Hour, MaxBytes: 1 << 20})
	defer b.Close()
	archiveItems(t, b, "f", item.Item{ID: "1", Title: "early"})
	time.Sleep(1100 * time.Millisecond) // archiving times are in seconds
	mid := time.Now()
	archiveItems(t, b, "f", item.Item{ID: "2", Title: "late"})
	if got := titles(readAll(t, b, mid)); got != "f:late" {
		t.Errorf("from mid: %q", got)
	}
	if got := titles(readAll(t, b, time.Now().Add(time.Hour))); got != "" {
		t.Errorf("from the future: %q", got)
	}
	if got := titles(readAll(t, b, time.Time{})); got != "f:early f:late" {
		t.Errorf("all: %q", got)
	}
}

// A reader slower than the idle limit is not taken for a damaged archive.
func TestReadArchiveSlowReader(t *testing.T) {
	b := openArchive(t, t.TempDir(), ArchiveOptions{Retention: time.Hour, MaxBytes: 1 << 20})
	defer b.Close()
	b.archiveIdle = 200 * time.Millisecond
	archiveItems(t, b, "f", item.Item{ID: "1", Title: "a"})
	archiveItems(t, b, "f", item.Item{ID: "2", Title: "b"})
	n := 0
	err := b.ReadArchive(context.Background(), time.Time{}, func(ArchiveMsg) error {
		n++
		if n == 1 {
			time.Sleep(5 * b.archiveIdle)
		}
		return nil
	})
	if err != nil || n != 2 {
		t.Errorf("read %d, err %v", n, err)
	}
}

// A poll whose batch would pass the server's max_payload (1 MB) is split
// into messages that fit.
func TestArchiveSplitsLargePolls(t *testing.T) {
	b := openArchive(t, t.TempDir(), ArchiveOptions{Retention: time.Hour, MaxBytes: 64 << 20})
	defer b.Close()
	r := rand.New(rand.NewPCG(3, 4))
	var items []item.Item
	for i := range 4 {
		body := make([]byte, 600<<10) // random letters: ~60 % of this compressed
		for j := range body {
			body[j] = 'a' + byte(r.IntN(26))
		}
		items = append(items, item.Item{ID: fmt.Sprint(i), Title: fmt.Sprint("big ", i), Summary: string(body)})
	}
	archiveItems(t, b, "f", items...)
	rs, msgs := readAllMsgs(t, b, time.Time{})
	if got := titles(rs); got != "f:big 0 f:big 1 f:big 2 f:big 3" || msgs < 2 {
		t.Errorf("read %q in %d messages", got, msgs)
	}
}

// An item whose text alone would not fit a message (a hostile or just
// enormous feed entry: max_body allows 10 MB) is archived with its text
// cut, rather than failing its poll on every retry, which would keep the
// feed's new items from alerting for good.
func TestArchiveCutsOversizeItem(t *testing.T) {
	b := openArchive(t, t.TempDir(), ArchiveOptions{Retention: time.Hour, MaxBytes: 64 << 20})
	defer b.Close()
	r := rand.New(rand.NewPCG(5, 6))
	letters := func(n int) string {
		s := make([]byte, n)
		for j := range s {
			s[j] = 'a' + byte(r.IntN(26))
		}
		return string(s)
	}
	for _, tc := range []struct {
		name           string
		summary, title string
		content        string
	}{
		// Past the server's 1 MB message once compressed.
		{name: "past max_payload", summary: "short", content: "Xinjiang " + letters(3<<20)},
		// Past the batch's 8 MB bound before compression, in two fields.
		{name: "past batch bound", summary: letters(2 << 20), content: "Xinjiang " + letters(9<<20)},
		// Title and summary past it too; multi-byte text is cut on a
		// character boundary.
		{name: "every field", title: strings.Repeat("é", 1<<20), summary: letters(1 << 20), content: strings.Repeat("新疆", 1<<20)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			title := tc.title
			if title == "" {
				title = "huge " + tc.name
			}
			feed := strings.ReplaceAll(tc.name, " ", "-")
			archiveItems(t, b, feed,
				item.Item{ID: "1", Title: title, Summary: tc.summary, Content: tc.content},
				item.Item{ID: "2", Title: "small one", Summary: "kept whole"})
			var got []archive.Record
			for _, rec := range readAll(t, b, time.Time{}) {
				if rec.Feed.Name == feed {
					got = append(got, rec)
				}
			}
			if len(got) != 2 {
				t.Fatalf("archived %d records, want 2", len(got))
			}
			big := got[0]
			if big.Summary == "" && tc.summary != "" || len(big.Content)+len(big.Summary)+len(big.Title) > 1<<20 {
				t.Errorf("stored %d+%d+%d bytes of text", len(big.Title), len(big.Summary), len(big.Content))
			}
			for _, s := range []string{big.Title, big.Summary, big.Content} {
				if !utf8.ValidString(s) {
					t.Errorf("text cut inside a character: %q", s[max(len(s)-8, 0):])
				}
			}
			if tc.content != "" && !strings.HasPrefix(big.Content, tc.content[:12]) {
				t.Errorf("content starts %q", big.Content[:min(len(big.Content), 12)])
			}
			if big.Title == "" || big.Link != "" || got[1].Summary != "kept whole" {
				t.Errorf("title %d bytes, second record %+v", len(big.Title), got[1])
			}
		})
	}
}
