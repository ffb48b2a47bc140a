package watcher

import (
	"fmt"
	"testing"
	"time"
)

// statusWatcher is a Watcher holding only the status of n feeds, with URLs
// of the usual shapes (some with a query or a token segment to mask).
func statusWatcher(n int) *Watcher {
	w := &Watcher{status: make(map[string]*FeedStatus, n)}
	now := time.Now()
	for i := range n {
		name := fmt.Sprintf("feed %06d", (i*7919)%n) // not inserted in order
		u := fmt.Sprintf("https://site%d.example.com/news/section-%d/rss.xml", i%997, i)
		switch i % 4 {
		case 1:
			u += "?apikey=abc&x=1"
		case 2:
			u = fmt.Sprintf("https://user:pw@feeds%d.example.org/token/0123456789abcdef%04d/atom", i%101, i%10000)
		}
		w.status[name] = &FeedStatus{Name: name, URL: u, LastPoll: now, Result: "ok", NextDue: now.Add(time.Minute)}
	}
	return w
}

// BenchmarkStatus: one Status call at 50,000 feeds (the console's refresh,
// /api/status, feedwatch status).
func BenchmarkStatus(b *testing.B) {
	w := statusWatcher(50_000)
	b.ReportAllocs()
	for b.Loop() {
		if len(w.Status()) != 50_000 {
			b.Fatal("short status")
		}
	}
}
