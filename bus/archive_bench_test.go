package bus

import (
	"context"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/item"
	"github.com/feedwatch/feedwatch/watcher"
)

// BenchmarkArchivePut20 archives one poll's 20 new items (~1.4 KB of text
// each, in a <p>) per op, 100 feeds in turn, and reports the process's
// CPU (client and embedded server) per item and per poll; ArchivePut1 one
// new item per poll:
//
//	go test -run '^$' -bench 'ArchivePut(20|1)$' -benchtime 2000x ./bus
func BenchmarkArchivePut20(b *testing.B) { benchArchivePut(b, 20) }

func BenchmarkArchivePut1(b *testing.B) { benchArchivePut(b, 1) }

func benchArchivePut(b *testing.B, perPoll int) {
	ctx := context.Background()
	bs, err := Open(ctx, Options{DataDir: b.TempDir(), Retention: time.Hour,
		Archive: ArchiveOptions{Retention: time.Hour, MaxBytes: 1 << 30}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(bs.Close)
	text := "<p>" + strings.Repeat("lorem ipsum dolor sit amet consectetur ", 36) + "</p>"
	items := make([]item.Item, perPoll)
	b.ResetTimer()
	cpu0 := benchCPU()
	for i := 0; i < b.N; i++ {
		feed := item.Feed{Name: "feed" + strconv.Itoa(i%100), URL: "http://farm/" + strconv.Itoa(i%100)}
		now := time.Now()
		for j := range items {
			id := strconv.Itoa(i) + "/" + strconv.Itoa(j)
			items[j] = item.Item{Feed: feed, ID: "urn:farm:" + id, Link: "https://news.example/" + id,
				Title: "Item " + id, Summary: text, Published: &now}
			items[j].Key = watcher.ItemKey(feed.Name, items[j])
		}
		if n, err := bs.Archiver().Put(feed, items).Wait(ctx); err != nil || n != len(items) {
			b.Fatal(n, err)
		}
	}
	cpu := float64((benchCPU() - cpu0).Microseconds())
	b.ReportMetric(cpu/float64(b.N*len(items)), "cpu-µs/item")
	b.ReportMetric(cpu/float64(b.N), "cpu-µs/poll")
}

func benchCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
