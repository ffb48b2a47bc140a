package bus

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestUnreadable: a healthy store reads back in full; bytes damaged inside
// a message block leave a message the server still counts but cannot read,
// and Unreadable finds it where the stream's info does not.
func TestUnreadable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	b := open(t, dir)
	// Every stream of StreamNames made: the archive and the mutes are
	// made when turned on and when first used.
	if err := b.SetArchive(ctx, ArchiveOptions{Retention: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Mutes(ctx, time.Now); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := b.Seen().MarkSeen(ctx, fmt.Sprint("feed", i), []string{"k"}); err != nil {
			t.Fatal(err)
		}
	}
	before, err := b.Streams(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range StreamNames() {
		if before[name].Created.IsZero() {
			t.Errorf("stream %s: no creation time", name)
		}
		if n, err := b.Unreadable(ctx, name); err != nil || n != 0 {
			t.Errorf("healthy stream %s: %d unreadable (%v)", name, n, err)
		}
	}
	b.Close()

	// Five one-key records in one block: overwrite bytes in the middle one.
	blk := filepath.Join(dir, "jetstream", "jetstream", "$G", "streams", "KV_"+SeenBucket, "msgs", "1.blk")
	f, err := os.OpenFile(blk, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("damaged bytes!!!"), fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	b = open(t, dir)
	defer b.Close()
	after, err := b.Streams(ctx)
	if err != nil {
		t.Fatal(err)
	}
	name := "KV_" + SeenBucket
	if after[name].Msgs != before[name].Msgs {
		t.Logf("the server noticed: %d messages, was %d", after[name].Msgs, before[name].Msgs)
	}
	n, err := b.Unreadable(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 && after[name].Msgs == before[name].Msgs {
		t.Fatalf("damage inside a block not found: %d unreadable, %d messages", n, after[name].Msgs)
	}
}
