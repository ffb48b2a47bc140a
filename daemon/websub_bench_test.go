package daemon

// Push to hit: the real daemon (embedded JetStream, WebSub on, callbacks
// on http.listen) subscribed to a test hub; each iteration adds an item
// to the feed, the hub pushes the document, and the clock stops when the
// hit is published on NATS (a core subscription on feedwatch.hits.>,
// which sees the hit as the stream stores it). The polling path runs in
// the same benchmark with watcher.interval 1s: the time from an item's
// appearance to its hit is then up to an interval (plus 0-20 % jitter).
//
//	go test -run '^$' -bench WebSubLatency -benchtime 200x ./daemon

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func BenchmarkWebSubLatency(b *testing.B) {
	for _, mode := range []struct {
		name     string
		interval string
		push     bool
	}{{"push", "1h", true}, {"poll-1s", "1s", false}} {
		b.Run(mode.name, func(b *testing.B) {
			s := setupWebSub(b, mode.interval, false)
			// Polling alone: a hub that never verifies leaves the feed on
			// its normal interval.
			s.hub.NeverVerify = !mode.push
			ctx, cancel := context.WithCancel(context.Background())
			ready, done := make(chan struct{}), make(chan error, 1)
			go func() {
				done <- Run(ctx, Options{ConfigPath: s.path, Stdout: s.out, Getenv: func(string) string { return "" },
					Logger: slog.New(slog.NewTextHandler(s.logs, nil)), Version: "bench", Ready: ready})
			}()
			select {
			case <-ready:
			case err := <-done:
				b.Fatalf("daemon exited: %v", err)
			}
			defer func() { cancel(); <-done }()
			if mode.push {
				deadline := time.Now().Add(30 * time.Second)
				for len(s.hub.Subs()) == 0 {
					if time.Now().After(deadline) {
						b.Fatal("no subscription")
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", s.natsPort))
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			hits := make(chan time.Time, 16)
			if _, err := nc.Subscribe("feedwatch.hits.>", func(*nats.Msg) { hits <- time.Now() }); err != nil {
				b.Fatal(err)
			}
			_ = nc.Flush()
			// Wait out the first poll before measuring.
			time.Sleep(3 * time.Second)
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				s.feed.add(fmt.Sprintf("b%d", i), fmt.Sprintf("Xinjiang story %d", i))
				start := time.Now()
				if mode.push {
					if res := s.hub.Publish(ctx, s.feedURL, s.feed.doc(), "application/rss+xml"); len(res) != 1 || res[0].Status != 202 {
						b.Fatalf("publish: %+v", res)
					}
				}
				select {
				case at := <-hits:
					lat = append(lat, at.Sub(start))
				case <-time.After(30 * time.Second):
					b.Fatalf("no hit for item %d", i)
				}
			}
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
			b.ReportMetric(float64(pct(0.5).Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
			b.Logf("%s: %d items, p50 %v, p99 %v, max %v", mode.name, len(lat), pct(0.5), pct(0.99), lat[len(lat)-1])
		})
	}
}
