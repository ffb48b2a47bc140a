package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/bus"
)

// BenchmarkRecordAliases: the one-time alias records of 50,000 feed
// states written by an earlier version, at the first start of this one
// (go test ./daemon -run '^$' -bench RecordAliases -benchtime 1x).
func BenchmarkRecordAliases(b *testing.B) {
	const n = 50_000
	ctx := context.Background()
	bs, err := bus.Open(ctx, bus.Options{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer bs.Close()
	st := bs.FeedState()
	for i := range n {
		u := fmt.Sprintf("https://site%d.example.com/news/section-%d/rss.xml", i%997, i)
		s, _ := json.Marshal(map[string]any{"config_url": u, "last_poll": time.Now(), "etag": `"0123456789abcdef"`, "primed": true})
		if err := st.Save(ctx, fmt.Sprintf("feed %06d", i), s); err != nil {
			b.Fatal(err)
		}
	}
	d := &daemon{bus: bs, log: slog.New(slog.DiscardHandler)}
	for b.Loop() {
		cpu0 := cpuTime()
		start := time.Now()
		if err := d.recordAliases(ctx); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s")
		b.ReportMetric((cpuTime() - cpu0).Seconds(), "cpu-s")
	}
}
