package bus

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedwatch/feedwatch/archive"
	"github.com/feedwatch/feedwatch/item"
)

// An archive written before batches (one message per item on
// feedwatch.items.<identity>, records of version 1 or 2, an S2 stream
// with one message per subject) keeps reading after the stream is updated,
// beside the batches written since; an item in both is read once, its
// first copy.
func TestArchiveMixedFormats(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := Open(ctx, Options{DataDir: dir, Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// The stream as the per-item code made it, and its writes.
	if _, err := b.js.CreateStream(ctx, jetstream.StreamConfig{
		Name: ItemsStream, Subjects: []string{ItemsPrefix + "*"}, Storage: jetstream.FileStorage,
		Compression: jetstream.S2Compression, MaxAge: time.Hour, MaxBytes: 1 << 20,
		MaxMsgsPerSubject: 1, Duplicates: time.Minute,
	}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	putOld := func(feed string, it item.Item, v1 bool) {
		t.Helper()
		it.Key = feed + "/" + it.ID
		rec := archive.FromItem(item.Feed{Name: feed}, &it, now)
		data := rec.Encode(nil)
		if v1 {
			data = encodeV1(&rec)
		}
		m := &nats.Msg{Subject: ItemsPrefix + archive.Identity(&it), Data: data,
			Header: nats.Header{jetstream.ExpectedLastSubjSeqHeader: []string{"0"}}}
		if _, err := b.js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	putOld("world", item.Item{ID: "1", Title: "old v1", Link: "https://example.org/1"}, true)
	putOld("world", item.Item{ID: "2", Title: "old v2", Link: "https://example.org/2"}, false)
	b.Close()

	b = openArchive(t, dir, ArchiveOptions{Retention: time.Hour, MaxBytes: 1 << 20})
	defer b.Close()
	st, err := b.js.Stream(ctx, ItemsStream)
	if err != nil {
		t.Fatal(err)
	}
	if c := st.CachedInfo().Config; c.Compression != jetstream.S2Compression || c.MaxMsgsPerSubject != -1 || len(c.Subjects) != 2 {
		t.Errorf("stream not updated: %+v", c)
	}
	archiveItems(t, b, "uk",
		item.Item{ID: "a", Title: "old v2 again", Link: "https://example.org/2"}, // archived before: skipped on read
		item.Item{ID: "b", Title: "new", Link: "https://example.org/3"})
	archiveItems(t, b, "uk", item.Item{ID: "c", Title: "newer"})
	rs, msgs := readAllMsgs(t, b, time.Time{})
	if got, want := titles(rs), "world:old v1 world:old v2 uk:new uk:newer"; got != want || msgs != 4 {
		t.Errorf("read %q in %d messages, want %q in 4", got, msgs, want)
	}
	for _, r := range rs {
		if r.Key == "" || r.Key != r.Feed.Name+"/"+r.ID {
			t.Errorf("record %q: key %q", r.Title, r.Key)
		}
	}
}

// encodeV1 is version 1 of the record's encoding, as the first archives
// hold it (a copy of archive's test encoder: the package writes version 2).
func encodeV1(r *archive.Record) []byte {
	str := func(dst []byte, s string) []byte { return append(binary.AppendUvarint(dst, uint64(len(s))), s...) }
	dst := []byte{1}
	dst = binary.AppendVarint(dst, r.ArchivedAt.Unix())
	if r.Published != nil {
		dst = append(dst, 1)
		dst = binary.AppendVarint(dst, r.Published.Unix())
		dst = binary.AppendUvarint(dst, uint64(r.Published.Nanosecond()))
	} else {
		dst = append(dst, 0)
	}
	for _, s := range [...]string{r.Feed.Name, r.Feed.URL, r.Feed.Title, r.Key, r.ID, r.Title, r.Link, r.Summary, r.Content} {
		dst = str(dst, s)
	}
	for _, l := range [...][]string{r.Feed.Tags, r.Authors, r.Categories} {
		dst = binary.AppendUvarint(dst, uint64(len(l)))
		for _, s := range l {
			dst = str(dst, s)
		}
	}
	return dst
}

// An archive stream left uncompressed (as feedwatch made it for a while)
// is updated to S2; the batches written before and after, and after the
// server reloads the stream with its new setting, all read.
func TestArchiveUncompressedStreamUpdated(t *testing.T) {
	dir := t.TempDir()
	// Small enough for the server's smallest blocks (a quarter of
	// max_bytes, at least 32 KB), large enough to keep every item.
	const maxBytes = 120_000
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := Open(ctx, Options{DataDir: dir, Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.js.CreateStream(ctx, jetstream.StreamConfig{
		Name: ItemsStream, Subjects: []string{ItemsPrefix + "*", ItemsBatchPrefix + "*"}, Storage: jetstream.FileStorage,
		Compression: jetstream.NoCompression, MaxAge: time.Hour, MaxBytes: maxBytes, MaxMsgsPerSubject: -1,
	}); err != nil {
		t.Fatal(err)
	}
	w, err := archive.NewBatchWriter()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	it := item.Item{ID: "1", Key: "world/1", Title: "before", Link: "https://example.org/1"}
	rec := archive.FromItem(item.Feed{Name: "world"}, &it, time.Now())
	data, _, err := w.AppendBatch(nil, nil, []archive.Record{rec}, []archive.ID{archive.IdentityOf(&it)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.js.Publish(ctx, batchSubject("world"), data); err != nil {
		t.Fatal(err)
	}
	b.Close()

	b = openArchive(t, dir, ArchiveOptions{Retention: time.Hour, MaxBytes: maxBytes})
	st, err := b.js.Stream(ctx, ItemsStream)
	if err != nil {
		t.Fatal(err)
	}
	if c := st.CachedInfo().Config.Compression; c != jetstream.S2Compression {
		t.Errorf("stream compression %v after the update, want s2", c)
	}
	archiveItems(t, b, "world", item.Item{ID: "2", Title: "after", Link: "https://example.org/2"})
	if got := titles(readAll(t, b, time.Time{})); got != "world:before world:after" {
		t.Errorf("read %q after the update", got)
	}
	b.Close()

	// Loaded again, the stream compresses the blocks it writes now: enough
	// polls to seal blocks, read before and after another restart.
	b = openArchive(t, dir, ArchiveOptions{Retention: time.Hour, MaxBytes: maxBytes})
	archiveItems(t, b, "world", item.Item{ID: "3", Title: "reloaded", Link: "https://example.org/3"})
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 100 {
		body := make([]byte, 1000)
		for j := range body {
			body[j] = 'a' + byte(r.IntN(26))
		}
		archiveItems(t, b, "world", item.Item{ID: fmt.Sprint("n", i), Title: fmt.Sprint("n", i), Summary: string(body)})
	}
	want := len(readAll(t, b, time.Time{}))
	if want != 103 {
		t.Fatalf("read %d items, want 103", want)
	}
	// The server compresses a sealed block in the background: wait for
	// one to be S2 on disk (its header "cmp" and the algorithm).
	blocks := filepath.Join(dir, "jetstream", "jetstream", "$G", "streams", ItemsStream, "msgs", "*.blk")
	for deadline := time.Now().Add(10 * time.Second); ; {
		if s2Blocks(t, blocks) > 0 {
			break
		}
		if time.Now().After(deadline) {
			files, _ := filepath.Glob(blocks)
			for _, f := range files {
				data, _ := os.ReadFile(f)
				t.Logf("%s: %d bytes, %q", f, len(data), data[:min(8, len(data))])
			}
			t.Fatal("no block of the archive stream is S2-compressed on disk")
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Close()
	b = openArchive(t, dir, ArchiveOptions{Retention: time.Hour, MaxBytes: maxBytes})
	defer b.Close()
	rs := readAll(t, b, time.Time{})
	if len(rs) != want || titles(rs[:3]) != "world:before world:after world:reloaded" {
		t.Errorf("read %d items (%s ...) after a restart, want %d", len(rs), titles(rs[:min(3, len(rs))]), want)
	}
}

// s2Blocks counts the message blocks matching pattern that are
// S2-compressed on disk.
func s2Blocks(t *testing.T, pattern string) int {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err == nil && len(data) > 4 && string(data[:3]) == "cmp" && data[3] == byte(jetstream.S2Compression) {
			n++
		}
	}
	return n
}
