package ownership

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFingerprint(t *testing.T) {
	base := Fingerprint([]string{"a", "b", "c"})
	if len(base) != 16 {
		t.Errorf("fingerprint %q: want 16 hex digits", base)
	}
	for _, tc := range []struct {
		name string
		keys []string
		same bool
	}{
		{"other order", []string{"c", "a", "b"}, true},
		{"one more", []string{"a", "b", "c", "d"}, false},
		{"one less", []string{"a", "b"}, false},
		{"one changed", []string{"a", "b", "x"}, false},
		{"run together", []string{"ab", "c"}, false},
		{"empty key added", []string{"a", "b", "c", ""}, false},
	} {
		if got := Fingerprint(tc.keys) == base; got != tc.same {
			t.Errorf("%s: same fingerprint = %v, want %v", tc.name, got, tc.same)
		}
	}
	if Fingerprint(nil) == "" || Fingerprint(nil) != Fingerprint([]string{}) {
		t.Error("an empty list needs a fingerprint of its own, the same for nil and empty")
	}
}

// TestFingerprintScale measures a reload's fingerprint at 50,000 feeds
// (reported, not asserted).
func TestFingerprintScale(t *testing.T) {
	keys := make([]string, 50000)
	for i := range keys {
		keys[i] = fmt.Sprintf("feed-%d\x00https://news%d.example.org/section/%d/rss.xml", i, i%500, i)
	}
	start := time.Now()
	Fingerprint(keys)
	t.Logf("fingerprint of 50,000 feeds: %s", time.Since(start))
}

// logCapture counts warnings and keeps the log text.
type logCapture struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	warn int
}

func (l *logCapture) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		l.mu.Lock()
		defer l.mu.Unlock()
		if bytes.Contains(p, []byte("another feed list")) && bytes.Contains(p, []byte("level=WARN")) {
			l.warn++
		}
		return l.buf.Write(p)
	}), nil))
}

func (l *logCapture) warnings() (int, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.warn, l.buf.String()
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestFeedListGroups: a member shares its feeds only with the live
// watchers whose feed list is its own, or unknown (an older version's
// record); the others get a warning naming them, once.
func TestFeedListGroups(t *testing.T) {
	const mine, theirs = "1111111111111111", "2222222222222222"
	type peer struct {
		id, role, list string
		dead           bool
	}
	for _, tc := range []struct {
		name   string
		self   string // this member's list; "" is a coordinator never given one
		peers  []peer
		group  []string // peers it shares with
		others []string // peers named in the warning
	}{
		{name: "alone", self: mine},
		{name: "same list", self: mine, peers: []peer{{id: "p1", role: RoleWatch, list: mine}, {id: "p2", role: RoleRun, list: mine}}, group: []string{"p1", "p2"}},
		{name: "another list", self: mine, peers: []peer{{id: "p1", role: RoleRun, list: theirs}}, others: []string{"p1"}},
		{name: "two groups", self: mine, peers: []peer{{id: "p1", role: RoleWatch, list: mine}, {id: "p2", role: RoleWatch, list: theirs}, {id: "p3", role: RoleRun, list: theirs}},
			group: []string{"p1"}, others: []string{"p2", "p3"}},
		{name: "older version", self: mine, peers: []peer{{id: "p1", role: RoleWatch}}, group: []string{"p1"}},
		{name: "older version and another list", self: mine, peers: []peer{{id: "p1", role: RoleWatch}, {id: "p2", role: RoleWatch, list: theirs}}, group: []string{"p1"}, others: []string{"p2"}},
		{name: "no list of its own", self: "", peers: []peer{{id: "p1", role: RoleWatch, list: mine}, {id: "p2", role: RoleWatch, list: theirs}}, group: []string{"p1", "p2"}},
		{name: "notify members do not count", self: mine, peers: []peer{{id: "p1", role: RoleNotify, list: theirs}, {id: "p2", role: RoleNotify}}},
		{name: "dead members do not count", self: mine, peers: []peer{{id: "p1", role: RoleWatch, list: mine, dead: true}, {id: "p2", role: RoleWatch, list: theirs, dead: true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newMemStore()
			for _, p := range tc.peers {
				at := time.Now()
				if p.dead {
					at = at.Add(-time.Minute)
				}
				s.putMember(Member{ID: p.id, Role: p.role, Host: "h2", PID: 7, FeedList: p.list, FeedsConfigured: 3}, at)
			}
			logs := &logCapture{}
			c, err := New(Options{Store: s, Role: RoleWatch, Host: "h1", PID: 100, Renew: 100 * time.Millisecond, Lease: 400 * time.Millisecond, TTL: 600 * time.Millisecond,
				Logger: logs.logger(), alive: func(int) bool { return true }})
			if err != nil {
				t.Fatal(err)
			}
			feeds := feedNames(40)
			c.SetFeedList(feeds, tc.self)
			if err := c.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			c.mu.Lock()
			c.holdUntil = time.Time{} // skip the join's hold
			c.mu.Unlock()
			c.compute()
			c.compute()

			want := append(slices.Clone(tc.group), c.ID())
			slices.Sort(want)
			if got := c.Watchers(); !slices.Equal(got, want) {
				t.Errorf("shares with %v, want %v", got, want)
			}
			// Its share is its part of all its feeds among its group.
			n := 0
			for _, f := range feeds {
				if c.Owns(f) != (Owner(f, want) == c.ID()) {
					t.Errorf("owns %s = %v, its group assigns it to %s", f, c.Owns(f), Owner(f, want))
				}
				if c.Owns(f) {
					n++
				}
			}
			if len(tc.group) == 0 && n != len(feeds) {
				t.Errorf("alone in its group, owns %d of %d feeds", n, len(feeds))
			}

			var self Member
			for _, m := range c.Members() {
				if m.ID == c.ID() {
					self = m
				}
			}
			if self.FeedList != tc.self || self.FeedsConfigured != len(feeds) {
				t.Errorf("members shows this member with list %q and %d feeds, want %q and %d", self.FeedList, self.FeedsConfigured, tc.self, len(feeds))
			}

			warned, text := logs.warnings()
			if len(tc.others) == 0 {
				if warned != 0 {
					t.Errorf("warned of other feed lists with none:\n%s", text)
				}
				return
			}
			if warned != 1 {
				t.Errorf("%d warnings of other feed lists, want 1:\n%s", warned, text)
			}
			for _, id := range tc.others {
				if !strings.Contains(text, id+" (h2, 3 feeds, list "+theirs+")") {
					t.Errorf("the warning does not name %s:\n%s", id, text)
				}
			}
			if !strings.Contains(text, "should run the same config") {
				t.Errorf("the warning gives no hint:\n%s", text)
			}
		})
	}
}

// TestFeedListChange: two members with different feed lists each poll all
// of their own feeds (a feed in both lists is polled by one of each); when
// one takes the other's list (a rolling config edit), they split it with
// no feed owned by both at any moment, and the warning clears. The store
// has no watch: they learn of each other at their re-reads.
func TestFeedListChange(t *testing.T) {
	s := newMemStore()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	listA, listB := feedNames(30), feedNames(40)[10:] // feeds 10-29 in both
	logs := &logCapture{}
	// a re-reads every 100 ms; b's hold (3 renewals) is 600 ms.
	coord := func(host string, renew time.Duration, feeds []string) *Coordinator {
		c, err := New(Options{Store: s, Role: RoleWatch, Host: host, PID: 1, Renew: renew, Lease: time.Second, TTL: 1500 * time.Millisecond,
			Logger: logs.logger().With("host", host), alive: func(int) bool { return true }})
		if err != nil {
			t.Fatal(err)
		}
		c.SetFeeds(feeds)
		if err := c.Start(ctx); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); _ = c.Run(ctx) }()
		return c
	}
	a := coord("a", 50*time.Millisecond, listA)
	b := coord("b", 200*time.Millisecond, listB)
	waitOwns := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 10 s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	ownsAll := func(c *Coordinator, feeds []string) bool {
		for _, f := range feeds {
			if !c.Owns(f) {
				return false
			}
		}
		return true
	}
	waitOwns("each member owns all of its own feeds", func() bool { return ownsAll(a, listA) && ownsAll(b, listB) })
	waitOwns("both warn", func() bool { n, _ := logs.warnings(); return n == 2 })

	// b takes a's list. Until its record shows the new list, it keeps its
	// share of the old group (the common feeds polled by both, as before);
	// from then on it holds off until a can have seen it.
	b.SetFeeds(listA)
	waitOwns("b publishes its new list", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.self.FeedList == Fingerprint(listA)
	})
	both := map[string]bool{}
	deadline := time.Now().Add(10 * time.Second)
	for {
		na, nb := 0, 0
		for _, f := range listA {
			ob := b.Owns(f)
			oa := a.Owns(f)
			if oa && ob {
				both[f] = true
			}
			if oa {
				na++
			}
			if ob {
				nb++
			}
		}
		if na > 0 && nb > 0 && na+nb == len(listA) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no split of the common list after 10 s: a owns %d, b %d", na, nb)
		}
		time.Sleep(time.Millisecond)
	}
	if len(both) > 0 {
		t.Errorf("%d feeds owned by both members at once after the list change", len(both))
	}
	for _, f := range listB[20:] {
		if b.Owns(f) {
			t.Errorf("b still owns %s, gone from its list", f)
		}
	}
	waitOwns("the warnings clear", func() bool {
		_, text := logs.warnings()
		return strings.Count(text, "has this member's feed list again") == 2
	})
	if n, text := logs.warnings(); n != 2 {
		t.Errorf("%d warnings, want one per member:\n%s", n, text)
	}
}
