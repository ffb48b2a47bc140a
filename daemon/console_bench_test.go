package daemon

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/bus"
	"github.com/feedwatch/feedwatch/console"
	"github.com/feedwatch/feedwatch/hit"
)

// BenchmarkConsoleHitsJetStream is the hits page with its rows read back
// from a real (embedded) JetStream, each with two notifiers' ledger
// lookups: the part of a page the console's own benchmark fakes. Pages
// cycle over 6,000 hits, more than the console's cache keeps.
func BenchmarkConsoleHitsJetStream(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bs, err := bus.Open(ctx, bus.Options{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer bs.Close()
	const n = 6000
	now := time.Now()
	for i := range n {
		h := hit.Hit{V: 1, ID: hit.ID(fmt.Sprint("p", i%100), fmt.Sprint(i)), Profile: fmt.Sprint("p", i%100), DetectedAt: now,
			Feed: hit.Feed{Name: fmt.Sprint("feed-", i%500)}, Item: hit.Item{ID: fmt.Sprint(i), Title: fmt.Sprintf("Xinjiang story %d", i), Link: "https://example.org/"},
			Matches: []hit.Match{{Field: "title", Text: "Xinjiang"}}, Snippet: "…the «Xinjiang» region…"}
		if err := bs.PublishHit(ctx, h); err != nil {
			b.Fatal(err)
		}
		if i%2 == 0 {
			if err := bs.Ledger().MarkDelivered(ctx, "slack", h.ID); err != nil {
				b.Fatal(err)
			}
		}
	}
	idx := console.NewIndex(0)
	go func() { _ = bs.TailHits(ctx, 0, idx.AddMessage) }()
	for idx.Len() < n {
		time.Sleep(10 * time.Millisecond)
	}
	profiles := make([]console.Profile, 100)
	for i := range profiles {
		profiles[i] = console.Profile{Name: fmt.Sprint("p", i), Notifiers: []string{"slack", "mail"}}
	}
	c, err := console.New(console.Options{
		Status: func() console.Status { return console.Status{Profiles: profiles} },
		Index:  idx, Hits: bs, Ledger: bs.Ledger(), Dead: deadBox{bs.DeadBox()},
	})
	if err != nil {
		b.Fatal(err)
	}
	var times []time.Duration
	page := 0
	for b.Loop() {
		page = page%(n/console.PageSize) + 1
		start := time.Now()
		w := httptest.NewRecorder()
		c.ServeHTTP(w, httptest.NewRequest(http.MethodGet, fmt.Sprintf("/hits?page=%d", page), nil))
		times = append(times, time.Since(start))
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(times[len(times)*99/100].Microseconds())/1000, "p99-ms")
}
