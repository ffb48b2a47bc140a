package notifier_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier"
	"github.com/feedwatch/feedwatch/notifier/notifiertest"
	"github.com/feedwatch/feedwatch/notifier/render"
	"github.com/feedwatch/feedwatch/notifier/webhook"
)

func benchHit(i int) hit.Hit {
	h := render.SampleHit(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
	h.ID = fmt.Sprintf("%032x", i)
	return h
}

// BenchmarkEngineWebhook measures hits/s from the in-memory source through
// the engine and the webhook channel to an httptest receiver on 127.0.0.1.
func BenchmarkEngineWebhook(b *testing.B) {
	for _, inFlight := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("in_flight_%d", inFlight), func(b *testing.B) {
			var got atomic.Int64
			done := make(chan struct{})
			var once sync.Once
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				if got.Add(1) == int64(b.N) {
					once.Do(func() { close(done) })
				}
			}))
			defer srv.Close()
			tr := &http.Transport{MaxIdleConnsPerHost: 64}
			defer tr.CloseIdleConnections()
			wh, err := webhook.New(webhook.Config{URL: srv.URL, Secret: "bench-secret"}, &http.Client{Transport: tr})
			if err != nil {
				b.Fatal(err)
			}
			q := notifiertest.NewQueue()
			for i := range b.N {
				q.AddHit(benchHit(i))
			}
			eng, err := notifier.NewEngine(notifier.EngineOptions{
				Name: "bench", Notifier: wh, Source: q, Ledger: &notifiertest.Ledger{},
				Dead: &notifiertest.Dead{}, MaxInFlight: inFlight,
			})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			b.ResetTimer()
			start := time.Now()
			go func() { _ = eng.Run(ctx) }()
			<-done
			elapsed := time.Since(start)
			b.StopTimer()
			cancel()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "hits/s")
		})
	}
}

// BenchmarkEngineLatency publishes 300 hits at a steady 100 hits/s and
// reports enqueue-to-delivered latency percentiles. Run with -benchtime=1x.
func BenchmarkEngineLatency(b *testing.B) {
	const n, rate = 300, 100
	for range b.N {
		var mu sync.Mutex
		sent := map[string]time.Time{}
		var lat []time.Duration
		done := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var h hit.Hit
			_ = json.NewDecoder(r.Body).Decode(&h)
			mu.Lock()
			defer mu.Unlock()
			lat = append(lat, time.Since(sent[h.ID]))
			if len(lat) == n {
				close(done)
			}
		}))
		wh, err := webhook.New(webhook.Config{URL: srv.URL}, srv.Client())
		if err != nil {
			b.Fatal(err)
		}
		q := notifiertest.NewQueue()
		eng, err := notifier.NewEngine(notifier.EngineOptions{
			Name: "bench", Notifier: wh, Source: q, Ledger: &notifiertest.Ledger{},
			Dead: &notifiertest.Dead{}, MaxInFlight: 4,
		})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() { _ = eng.Run(ctx) }()
		tick := time.NewTicker(time.Second / rate)
		for i := range n {
			<-tick.C
			h := benchHit(i)
			mu.Lock()
			sent[h.ID] = time.Now()
			mu.Unlock()
			q.AddHit(h)
		}
		tick.Stop()
		<-done
		cancel()
		srv.Close()
		slices.Sort(lat)
		b.ReportMetric(float64(lat[n/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[n*99/100].Microseconds())/1000, "p99-ms")
	}
}
