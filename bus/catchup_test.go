package bus

import (
	"context"
	"testing"
	"time"
)

// One process claims a profile's catch-up for a fingerprint; the others
// see it busy, then done; a new fingerprint is claimed afresh.
func TestCatchUpClaim(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := openArchive(t, t.TempDir(), ArchiveOptions{Retention: time.Hour, MaxBytes: 1 << 20})
	defer b.Close()
	c := b.CatchUps()
	steps := []struct {
		name      string
		fp, owner string
		done      bool // call Done(fp) instead
		want      CatchUpClaim
	}{
		{name: "first claim", fp: "fp1", owner: "a", want: CatchUpMine},
		{name: "another process", fp: "fp1", owner: "b", want: CatchUpBusy},
		{name: "done", fp: "fp1", done: true},
		{name: "after done", fp: "fp1", owner: "b", want: CatchUpDone},
		{name: "changed profile", fp: "fp2", owner: "b", want: CatchUpMine},
		{name: "changed again while running", fp: "fp3", owner: "a", want: CatchUpMine},
	}
	for _, s := range steps {
		if s.done {
			if err := c.Done(ctx, "p", s.fp); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := c.Claim(ctx, "p", s.fp, s.owner)
		if err != nil || got != s.want {
			t.Errorf("%s: %v, %v; want %v", s.name, got, err, s.want)
		}
	}
}
