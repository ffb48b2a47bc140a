package watcher

import (
	"slices"
	"strings"
	"testing"
)

// TestStatusCache: Status stays sorted and masked while feeds come, go and
// change URL between calls, and a repeated call does not mask or sort
// again (allocations stay flat, not one or more per feed).
func TestStatusCache(t *testing.T) {
	w := statusWatcher(2000)
	check := func(t *testing.T) []FeedStatus {
		t.Helper()
		st := w.Status()
		w.mu.Lock()
		n := len(w.status)
		w.mu.Unlock()
		if len(st) != n {
			t.Fatalf("%d feeds in status, %d held", len(st), n)
		}
		if !slices.IsSortedFunc(st, func(a, b FeedStatus) int { return strings.Compare(a.Name, b.Name) }) {
			t.Fatal("not sorted by name")
		}
		for _, f := range st {
			if strings.Contains(f.URL, "pw@") || strings.Contains(f.URL, "apikey") || strings.Contains(f.URL, "0123456789abcdef") {
				t.Fatalf("%s: URL not masked: %s", f.Name, f.URL)
			}
		}
		return st
	}
	byName := func(st []FeedStatus, name string) FeedStatus {
		i, ok := slices.BinarySearchFunc(st, name, func(f FeedStatus, n string) int { return strings.Compare(f.Name, n) })
		if !ok {
			t.Fatalf("%s not in status", name)
		}
		return st[i]
	}

	check(t)
	if n := testing.AllocsPerRun(5, func() { w.Status() }); n > 10 {
		t.Fatalf("%.0f allocations per repeated Status call of 2,000 feeds: masking or sorting again", n)
	}

	// A URL changes (a redirect): its new masked form shows.
	w.setStatus("feed 000007", func(s *FeedStatus) { s.URL = "https://moved.example.net/rss?token=s3cret" })
	if got := byName(check(t), "feed 000007").URL; got != "https://moved.example.net/rss?redacted" {
		t.Fatalf("moved URL shows as %q", got)
	}
	// Another result is shown: the snapshot is fresh, not cached.
	w.setStatus("feed 000008", func(s *FeedStatus) { s.Result = "timeout" })
	if got := byName(check(t), "feed 000008").Result; got != "timeout" {
		t.Fatalf("result %q", got)
	}
	// One feed leaves and another comes (same count), then one more.
	w.mu.Lock()
	delete(w.status, "feed 000009")
	w.mu.Unlock()
	w.setStatus("aaa first", func(s *FeedStatus) { s.URL = "https://a.example/feed" })
	st := check(t)
	if st[0].Name != "aaa first" || st[0].URL != "https://a.example/feed" {
		t.Fatalf("first feed %+v", st[0])
	}
	if slices.ContainsFunc(st, func(f FeedStatus) bool { return f.Name == "feed 000009" }) {
		t.Fatal("removed feed still shown")
	}
	w.setStatus("zzz last", func(s *FeedStatus) { s.URL = "https://user:pw@z.example/feed" })
	st = check(t)
	if last := st[len(st)-1]; last.Name != "zzz last" || last.URL != "https://z.example/feed" {
		t.Fatalf("last feed %+v", last)
	}
	if got := byName(st, "feed 000007").URL; got != "https://moved.example.net/rss?redacted" {
		t.Fatalf("after a rebuild the moved URL shows as %q", got)
	}
}
