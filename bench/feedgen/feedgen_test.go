package feedgen

import (
	"strings"
	"testing"
	"time"
)

func TestWindow(t *testing.T) {
	g := New(1)
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	a, b := string(g.Window(2, 7, now)), string(g.Window(2, 8, now))
	if a == b {
		t.Fatal("consecutive windows are identical")
	}
	for _, id := range []string{"urn:farm:2/w8<", "urn:farm:2/w26<"} {
		if !strings.Contains(a, id) || !strings.Contains(b, id) {
			t.Errorf("%s not in both windows", id)
		}
	}
	if strings.Contains(a, "urn:farm:2/w27<") || !strings.Contains(b, "urn:farm:2/w27<") {
		t.Error("w27 should be new in the second window only")
	}
}

func TestDoc(t *testing.T) {
	g := New(1)
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name         string
		feed, poll   int
		same         bool
		otherFeed    int
		otherPollArg int
	}{
		{name: "deterministic", feed: 3, poll: 5, same: true, otherFeed: 3, otherPollArg: 5},
		{name: "next poll differs", feed: 3, poll: 5, same: false, otherFeed: 3, otherPollArg: 6},
		{name: "other feed differs", feed: 3, poll: 5, same: false, otherFeed: 4, otherPollArg: 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := g.Doc(tc.feed, tc.poll, now)
			b := New(1).Doc(tc.otherFeed, tc.otherPollArg, now)
			if (string(a) == string(b)) != tc.same {
				t.Fatalf("same = %v, want %v", !tc.same, tc.same)
			}
			if len(a) < 26<<10 || len(a) > 34<<10 {
				t.Fatalf("document is %d bytes, want ~30 KB", len(a))
			}
		})
	}
}
