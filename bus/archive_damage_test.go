package bus

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/item"
)

// A store damaged while stopped: reading the archive gives an error that
// says so, or (nats-server drops a damaged block's messages as it loads it,
// without a trace) reads what is left; it never hangs.
func TestReadArchiveDamaged(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		wantErr    error // nil: fewer items read, no error
	}{
		{"stream config", "meta.inf", ErrArchiveDamaged},
		{"message block", filepath.Join("msgs", "1.blk"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			b := openArchive(t, dir, ArchiveOptions{Retention: time.Hour, MaxBytes: 8 << 20})
			for i := range 300 {
				archiveItems(t, b, "f", item.Item{ID: fmt.Sprint(i), Title: fmt.Sprint("item ", i), Summary: strings.Repeat("text ", 50)})
			}
			b.Close()
			path := filepath.Join(dir, "jetstream", "jetstream", "$G", "streams", ItemsStream, tc.file)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for i := len(data) / 3; i < len(data)/3+4096 && i < len(data); i++ {
				data[i] ^= 0x5a
			}
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			r, err := Open(ctx, Options{DataDir: dir, ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			n := 0
			err = r.ReadArchive(ctx, time.Time{}, func(ArchiveMsg) error { n++; return nil })
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), "could not load") {
					t.Errorf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil || n >= 300 {
				t.Errorf("read %d of 300, err %v", n, err)
			}
		})
	}
}
