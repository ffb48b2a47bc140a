package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/bus"
	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier"
	"github.com/feedwatch/feedwatch/notifier/build"
	"github.com/feedwatch/feedwatch/notifier/webhook"
)

// deliveryRig is real JetStream (embedded) feeding one webhook engine that
// posts to an httptest receiver on 127.0.0.1.
type deliveryRig struct {
	b        *bus.Bus
	got      atomic.Int64
	mu       sync.Mutex
	latency  []time.Duration
	sentAt   sync.Map // hit id -> time.Time
	stop     func()
	inFlight int
	start    time.Time
}

func newDeliveryRig(b *testing.B, inFlight int, preload int, perHit bool) *deliveryRig {
	b.Helper()
	ctx := context.Background()
	bs, err := bus.Open(ctx, bus.Options{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	r := &deliveryRig{b: bs, inFlight: inFlight}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var h hit.Hit
		body, _ := io.ReadAll(req.Body)
		if err := json.Unmarshal(body, &h); err == nil {
			if t0, ok := r.sentAt.Load(h.ID); ok {
				r.mu.Lock()
				r.latency = append(r.latency, time.Since(t0.(time.Time)))
				r.mu.Unlock()
			}
		}
		r.got.Add(1)
	}))
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	wh, err := webhook.New(webhook.Config{URL: srv.URL, Secret: "s", Timeout: 5 * time.Second}, &http.Client{Transport: tr})
	if err != nil {
		b.Fatal(err)
	}
	src, err := bs.EnsureConsumer(ctx, "hook", bus.ConsumerOptions{Buffer: bufferFor(inFlight)})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < preload; i++ {
		if err := bs.PublishHit(ctx, benchHit(i)); err != nil {
			b.Fatal(err)
		}
	}
	r.start = time.Now()
	e, err := notifier.NewEngine(notifier.EngineOptions{Name: "hook", Notifier: wh, Source: src, Ledger: bs.Ledger(), Dead: bs.DeadLetters(), MaxInFlight: inFlight, PerHit: perHit, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	ectx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = e.Run(ectx); close(done) }()
	r.stop = func() { cancel(); <-done; src.Close(); srv.Close(); bs.Close() }
	return r
}

func benchHit(i int) hit.Hit {
	return hit.Hit{V: 1, ID: fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), i), Profile: "xinjiang", DetectedAt: time.Now().UTC(),
		Feed: hit.Feed{Name: "world", URL: "https://news.example.org/rss", Title: "World"},
		Item: hit.Item{ID: fmt.Sprint(i), Title: "US declares genocide in Xinjiang", Link: fmt.Sprintf("https://news.example.org/%d", i), Authors: []string{}, Categories: []string{},
			Summary: "The determination covers Uyghurs and other minorities in the western Xinjiang region."},
		Matches: []hit.Match{{Field: "title", Text: "Xinjiang", Term: "xinjiang"}}, Snippet: "…genocide in «Xinjiang»"}
}

// BenchmarkDeliveryThroughput: hits/s from JetStream to a webhook, the
// whole delivery path (fetch, ledger check, HTTP POST with HMAC, ledger write, ack).
func BenchmarkDeliveryThroughput(b *testing.B) {
	for _, inFlight := range []int{1, build.InFlight(config.Notifier{Type: webhook.Type})} {
		b.Run(fmt.Sprintf("inflight=%d", inFlight), func(b *testing.B) {
			// The hits are stored first; the clock runs from the engine's
			// start to the last delivery.
			b.StopTimer()
			r := newDeliveryRig(b, inFlight, b.N, true)
			defer r.stop()
			b.StartTimer()
			for r.got.Load() < int64(b.N) {
				time.Sleep(100 * time.Microsecond)
			}
			b.ReportMetric(float64(b.N)/time.Since(r.start).Seconds(), "hits/s")
		})
	}
}

// BenchmarkDeliveryLatency publishes at a steady 100 hits/s and reports
// publish-to-delivery latency percentiles: "webhook" sends each hit at
// once (as the daemon runs webhooks); "grouped" waits for an item's other
// hits first, as email, Slack and the other people's channels do.
func BenchmarkDeliveryLatency(b *testing.B) {
	for _, mode := range []struct {
		name   string
		perHit bool
	}{{"webhook", true}, {"grouped", false}} {
		b.Run(mode.name, func(b *testing.B) { deliveryLatency(b, mode.perHit) })
	}
}

func deliveryLatency(b *testing.B, perHit bool) {
	r := newDeliveryRig(b, build.InFlight(config.Notifier{Type: webhook.Type}), 0, perHit)
	defer r.stop()
	ctx := context.Background()
	n := b.N
	if n < 300 {
		n = 300
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	b.ResetTimer()
	for i := 0; i < n; i++ {
		<-tick.C
		h := benchHit(i)
		r.sentAt.Store(h.ID, time.Now())
		if err := r.b.PublishHit(ctx, h); err != nil {
			b.Fatal(err)
		}
	}
	for r.got.Load() < int64(n) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	r.mu.Lock()
	defer r.mu.Unlock()
	sort.Slice(r.latency, func(i, j int) bool { return r.latency[i] < r.latency[j] })
	pct := func(p float64) float64 {
		return float64(r.latency[int(p*float64(len(r.latency)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}
