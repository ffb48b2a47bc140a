package console

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/hit"
)

// The SPEC's scale: 50,000 feeds, 1,000 profiles, 100,000 stored hits.
const (
	benchFeeds    = 50_000
	benchProfiles = 1_000
	benchHits     = 100_000
)

// genHits makes hit i of the benchmark: spread over feeds, profiles and
// the last week.
func genHit(i int, now time.Time) hit.Hit {
	return hit.Hit{V: 1, ID: fmt.Sprintf("%032x", i), Profile: fmt.Sprintf("profile-%d", i%benchProfiles),
		DetectedAt: now.Add(-time.Duration(benchHits-i) * 6 * time.Second),
		Feed:       hit.Feed{Name: fmt.Sprintf("feed-%05d", (i*7919)%benchFeeds)},
		Item: hit.Item{ID: fmt.Sprint(i), Title: fmt.Sprintf("Xinjiang and the trade bill, part %d", i), Link: fmt.Sprintf("https://news.example.org/%d", i),
			Summary: "A long summary about the Xinjiang region and the trade bill amendment votes in parliament."},
		Matches: []hit.Match{{Field: "title", Text: "Xinjiang", Term: "xinjiang"}, {Field: "title", Text: "trade bill", Term: "trade bill"}},
		Snippet: "…the persecution of ethnic minorities in the western «Xinjiang» region, and the «trade bill»…"}
}

// genHits is the hits stream: generated on demand, as JetStream would
// read them back (the index keeps none of their text).
type genHits struct{ now time.Time }

func (g genHits) Hit(_ context.Context, seq uint64) (hit.Hit, error) {
	return genHit(int(seq), g.now), nil
}

type everyOther struct{}

func (everyOther) Delivered(_ context.Context, n, id string) (bool, error) {
	return id[len(id)-1]%2 == 0, nil
}

func benchStatus(now time.Time) func() Status {
	feeds := make([]Feed, benchFeeds)
	for i := range feeds {
		feeds[i] = Feed{Name: fmt.Sprintf("feed-%05d", i), URL: fmt.Sprintf("https://host%d.example.org/feeds/%d.xml", i%997, i),
			Result: "ok", LastPoll: now.Add(-time.Duration(i%300) * time.Second), NextDue: now.Add(time.Duration(i%300) * time.Second), ItemsPerDay: float64(i % 40)}
		if i%50 == 0 {
			feeds[i].Error, feeds[i].Failures, feeds[i].Result = "status 503", i%7+1, "http_error"
		}
	}
	profiles := make([]Profile, benchProfiles)
	for i := range profiles {
		profiles[i] = Profile{Name: fmt.Sprintf("profile-%d", i), Query: `"trade bill" AND xinjiang`, Notifiers: []string{"slack", "mail"}}
	}
	return func() Status {
		// A fresh copy each time, as the daemon builds it.
		return Status{Mode: "run", Ready: true, Feeds: slices.Clone(feeds), Profiles: slices.Clone(profiles),
			Notifiers: []Notifier{{Name: "slack", Type: "slack"}, {Name: "mail", Type: "email"}}}
	}
}

// benchItems is a full ring of new items spread over the feeds, with
// titles and links of titleLen and linkLen bytes.
func benchItems(now time.Time, titleLen, linkLen int) *Items {
	x := NewItems(DefaultItemsSize, 0)
	for i := range DefaultItemsSize {
		feed := fmt.Sprintf("feed-%05d", i*7%benchFeeds)
		link := fmt.Sprintf("https://host.example.org/%d/", i)
		link += strings.Repeat("l", max(0, linkLen-len(link)))
		pub := now.Add(-time.Duration(i) * time.Minute)
		x.Add(feed, fmt.Sprint("id-", i), strings.Repeat("t", titleLen), link, &pub, now)
	}
	return x
}

func benchConsole(b testing.TB) *Console {
	now := time.Now()
	idx := NewIndex(benchHits)
	for i := 1; i <= benchHits; i++ {
		idx.Add(uint64(i), genHit(i, now))
	}
	c, err := New(Options{Status: benchStatus(now), Index: idx, Items: benchItems(now, 80, 90), Hits: genHits{now}, Ledger: everyOther{}, Searcher: nil})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

var benchPages = []string{
	"/", "/feeds", "/feeds?page=500", "/feeds?sort=items&desc=1", "/feeds?q=host12&state=failing",
	"/feeds/feed-00123", "/profiles", "/profiles/profile-7", "/hits", "/hits?page=100", "/hits?profile=profile-3&feed=feed-00021",
	"/members", "/search?q=x",
}

// BenchmarkPages reports each page's server time (mean and p99 over the
// runs) at the SPEC's scale. The status is rebuilt once a second, as the
// console asks the daemon for it, so p99 includes that.
func BenchmarkPages(b *testing.B) {
	c := benchConsole(b)
	for _, p := range benchPages {
		b.Run(p, func(b *testing.B) {
			times := make([]time.Duration, 0, b.N)
			for b.Loop() {
				start := time.Now()
				w := httptest.NewRecorder()
				c.ServeHTTP(w, httptest.NewRequest(http.MethodGet, p, nil))
				times = append(times, time.Since(start))
				if w.Code != http.StatusOK {
					b.Fatalf("%s: %d", p, w.Code)
				}
			}
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(times[len(times)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// TestConsoleMemory logs the heap the console holds at the SPEC's scale:
// the index of 100,000 hits, and its status snapshot of 50,000 feeds (the
// daemon's own feed list, which the fake keeps as the daemon would, is
// left out).
func TestConsoleMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the full-scale index")
	}
	heap := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	now := time.Now()
	status := benchStatus(now)
	h0 := heap()
	idx := NewIndex(benchHits)
	for i := 1; i <= benchHits; i++ {
		idx.Add(uint64(i), genHit(i, now))
	}
	h1 := heap()
	items := benchItems(now, 80, 90)
	hi := heap()
	worst := benchItems(now, maxItemTitle, maxItemLink)
	hw := heap()
	runtime.KeepAlive(worst)
	t.Logf("items ring of at most %d: %.1f MB with 80-byte titles and 90-byte links, %.1f MB at the longest kept", DefaultItemsSize,
		float64(hi-h1)/(1<<20), float64(hw-hi)/(1<<20))
	c, err := New(Options{Status: status, Index: idx, Items: items, Hits: genHits{now}, Ledger: everyOther{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range benchPages {
		w := httptest.NewRecorder()
		c.ServeHTTP(w, httptest.NewRequest(http.MethodGet, p, nil))
	}
	h2 := heap()
	mb := func(b uint64) float64 { return float64(b) / (1 << 20) }
	t.Logf("index of %d hits: %.1f MB; items, status snapshot, views and caches: %.1f MB; console in all: %.1f MB",
		idx.Len(), mb(h1-h0), mb(h2-h1), mb(h2-h0))
	runtime.KeepAlive(c)
	runtime.KeepAlive(status)
}
