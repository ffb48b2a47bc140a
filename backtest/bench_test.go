package backtest

// Backtest speed against the matcher alone, in the same run:
//
//	go test -run '^$' -bench Backtest -benchtime 3x ./backtest
//
// 20,000 items of the whole-daemon benchmark's text (bench/feedgen: 1,000
// feeds' documents, ~1.5 KB of text per item) are archived in an embedded
// JetStream store; "backtest" matches the whole archive with its 1,000
// profiles through Run (read, decode, route; GOMAXPROCS workers; after
// one run unmeasured: the first paid for loading the store's blocks),
// "matcher" matches the same items from memory, one goroutine, through
// route.Table.Match. The archive's bytes per item (stored: one zstd batch
// per feed's poll of 20 items; and with one item per poll) are reported
// against the items' size in the feed documents.

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"
	"gopkg.in/yaml.v3"

	"github.com/feedwatch/feedwatch/bench/feedgen"
	"github.com/feedwatch/feedwatch/bus"
	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/item"
	"github.com/feedwatch/feedwatch/route"
	"github.com/feedwatch/feedwatch/watcher"
	"github.com/feedwatch/feedwatch/watcher/parse"
)

type benchData struct {
	b        *bus.Bus
	dir      string
	items    []item.Item
	feeds    []item.Feed
	table    *route.Table
	rawBytes int64 // the items' documents
}

const benchFeeds = 1000

func loadBench(b *testing.B) *benchData {
	dir, err := os.MkdirTemp("", "feedwatch-backtest-bench")
	if err != nil {
		b.Fatal(err)
	}
	d, err := buildBench(dir)
	b.Cleanup(func() {
		if d != nil && d.b != nil {
			d.b.Close()
		}
		_ = os.RemoveAll(dir)
	})
	if err != nil {
		b.Fatal(err)
	}
	return d
}

func buildBench(dir string) (*benchData, error) {
	g := feedgen.New(1)
	var pc struct {
		Profiles []config.Profile `yaml:"profiles"`
	}
	if err := yaml.Unmarshal([]byte("profiles:\n"+g.Profiles(1000, 2)), &pc); err != nil {
		return nil, err
	}
	t, err := route.Compile(pc.Profiles)
	if err != nil {
		return nil, err
	}
	d := &benchData{table: t}
	d.dir = dir
	ctx := context.Background()
	d.b, err = bus.Open(ctx, bus.Options{DataDir: d.dir, Retention: time.Hour,
		Archive: bus.ArchiveOptions{Retention: 24 * time.Hour, MaxBytes: 2 << 30}})
	if err != nil {
		return nil, err
	}
	now := time.Now()
	p := gofeed.NewParser()
	for f := range benchFeeds {
		doc := g.Doc(f, 1, now)
		d.rawBytes += int64(len(doc))
		parsed, err := p.ParseString(string(doc))
		if err != nil {
			return nil, err
		}
		feed := item.Feed{Name: "f" + itoa(f), URL: "http://farm/f/" + itoa(f), Title: parsed.Title}
		items := make([]item.Item, 0, len(parsed.Items))
		for _, gi := range parsed.Items {
			it := item.Item{Feed: feed, ID: gi.GUID, Title: strings.TrimSpace(gi.Title), Link: strings.TrimSpace(gi.Link), Summary: gi.Description, Content: gi.Content, Published: gi.PublishedParsed}
			it.Key = watcher.ItemKey(feed.Name, it)
			items = append(items, it)
		}
		if _, err := d.b.Archiver().Put(feed, items).Wait(ctx); err != nil {
			return nil, err
		}
		d.items = append(d.items, items...)
		d.feeds = append(d.feeds, feed)
	}
	return d, nil
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

func BenchmarkBacktest(b *testing.B) {
	d := loadBench(b)
	n := float64(len(d.items))
	benchRun(b, d, "backtest", 0)
	b.Run("read", func(b *testing.B) {
		// The messages only, through the server, on the reader's goroutine.
		start, cpu0 := time.Now(), cpuTime()
		for range b.N {
			if err := d.b.ReadArchive(context.Background(), time.Time{}, func(bus.ArchiveMsg) error { return nil }); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(n*float64(b.N)/time.Since(start).Seconds(), "items/s")
		b.ReportMetric(n*float64(b.N)/(cpuTime()-cpu0).Seconds(), "items/cpu-s")
	})
	b.Run("matcher", func(b *testing.B) {
		var hits int
		start, cpu0 := time.Now(), cpuTime()
		for range b.N {
			hits = 0
			for i := range d.items {
				hits += len(d.table.Match(d.items[i].Feed, &d.items[i]))
			}
		}
		b.ReportMetric(n*float64(b.N)/time.Since(start).Seconds(), "items/s")
		b.ReportMetric(n*float64(b.N)/(cpuTime()-cpu0).Seconds(), "items/cpu-s")
		b.ReportMetric(float64(hits), "hits")
	})
	b.Run("bytes", func(b *testing.B) {
		info, err := d.b.ArchiveInfo(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		var disk int64
		_ = filepath.WalkDir(filepath.Join(d.dir, "jetstream"), func(p string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() && strings.Contains(p, bus.ItemsStream) {
				if fi, err := e.Info(); err == nil {
					disk += fi.Size()
				}
			}
			return nil
		})
		b.ReportMetric(float64(d.rawBytes)/n, "raw-B/item")
		b.ReportMetric(float64(info.Bytes)/n, "stored-B/item")
		b.ReportMetric(float64(disk)/n, "disk-B/item")
		b.ReportMetric(0, "ns/op")
	})
	// The usual poll finds one new item: one message (and one compressed
	// frame) per item. The first 2,000 items, each archived alone.
	b.Run("bytes-one-per-poll", func(b *testing.B) {
		bs, err := bus.Open(context.Background(), bus.Options{DataDir: b.TempDir(), Retention: time.Hour,
			Archive: bus.ArchiveOptions{Retention: 24 * time.Hour, MaxBytes: 2 << 30}})
		if err != nil {
			b.Fatal(err)
		}
		defer bs.Close()
		const m = 2000
		for i := range d.items[:m] {
			if _, err := bs.Archiver().Put(d.items[i].Feed, d.items[i:i+1]).Wait(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
		info, err := bs.ArchiveInfo(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(d.rawBytes)/n, "raw-B/item")
		b.ReportMetric(float64(info.Bytes)/m, "stored-B/item")
		b.ReportMetric(0, "ns/op")
	})
}

func benchRun(b *testing.B, d *benchData, name string, workers int) {
	n := float64(len(d.items))
	b.Run(name, func(b *testing.B) {
		var hits uint64
		if _, err := Run(context.Background(), d.b, Options{Table: d.table, Workers: workers}, func(hit.Hit) error { return nil }); err != nil {
			b.Fatal(err)
		}
		start, cpu0 := time.Now(), cpuTime()
		for range b.N {
			st, err := Run(context.Background(), d.b, Options{Table: d.table, Workers: workers}, func(hit.Hit) error { return nil })
			if err != nil {
				b.Fatal(err)
			}
			if st.Read != uint64(n) {
				b.Fatalf("read %d of %v", st.Read, n)
			}
			hits = st.Hits
		}
		b.ReportMetric(n*float64(b.N)/time.Since(start).Seconds(), "items/s")
		b.ReportMetric(n*float64(b.N)/(cpuTime()-cpu0).Seconds(), "items/cpu-s")
		b.ReportMetric(float64(hits), "hits")
	})
}

// cpuTime is the CPU time this process used so far (the embedded server's
// included).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkArchiveBytesCorpus archives the items of the feedparser
// corpus's well-formed documents (real feeds' shapes: markup, entities,
// summaries and contents) and reports bytes stored per item against the
// documents' bytes per item, beside Backtest/bytes's generated text:
//
//	go test -run '^$' -bench ArchiveBytesCorpus -benchtime 1x ./backtest
//
// The corpus's documents are test cases (one or two items, a leading
// comment saying what is tested), so raw-B/item counts that comment too;
// noComment-B/item leaves it out.
func BenchmarkArchiveBytesCorpus(b *testing.B) {
	const corpus = "../testdata/corpus/feedparser/wellformed"
	dir := b.TempDir()
	ctx := context.Background()
	bs, err := bus.Open(ctx, bus.Options{DataDir: dir, Retention: time.Hour,
		Archive: bus.ArchiveOptions{Retention: 24 * time.Hour, MaxBytes: 2 << 30}})
	if err != nil {
		b.Fatal(err)
	}
	defer bs.Close()
	var raw, noComment, items int64
	n := 0
	err = filepath.WalkDir(corpus, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(p, ".xml") {
			return err
		}
		body, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		doc, err := parse.Parse(body, "", 0)
		if err != nil || len(doc.Items) == 0 {
			return nil //nolint:nilerr // documents that are not feeds hold no items
		}
		n++
		feed := item.Feed{Name: "c" + itoa(n), URL: "http://corpus/" + itoa(n), Title: doc.Title}
		for i := range doc.Items {
			doc.Items[i].Feed = feed
			doc.Items[i].Key = watcher.ItemKey(feed.Name, doc.Items[i])
		}
		stored, err := bs.Archiver().Put(feed, doc.Items).Wait(ctx)
		if err != nil {
			return err
		}
		if stored > 0 {
			// Only documents whose items were stored (items of the same
			// link in two test documents are one copy).
			raw += int64(len(body)) * int64(stored) / int64(len(doc.Items))
			c := body
			if i, j := bytes.Index(c, []byte("<!--")), bytes.Index(c, []byte("-->")); i >= 0 && j > i {
				c = append(append([]byte{}, c[:i]...), c[j+3:]...)
			}
			noComment += int64(len(c)) * int64(stored) / int64(len(doc.Items))
			items += int64(stored)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	info, err := bs.ArchiveInfo(ctx)
	if err != nil {
		b.Fatal(err)
	}
	bs.Close() // flush the store's last block
	disk := streamDisk(dir)
	f := float64(items)
	b.ReportMetric(f, "items")
	b.ReportMetric(float64(raw)/f, "raw-B/item")
	b.ReportMetric(float64(noComment)/f, "noComment-B/item")
	b.ReportMetric(float64(info.Bytes)/f, "stored-B/item")
	b.ReportMetric(float64(disk)/f, "disk-B/item")
	b.ReportMetric(0, "ns/op")
}

// streamDisk is the archive stream's bytes on disk under a data_dir.
func streamDisk(dir string) int64 {
	var disk int64
	_ = filepath.WalkDir(filepath.Join(dir, "jetstream"), func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() && strings.Contains(p, bus.ItemsStream) {
			if fi, err := e.Info(); err == nil {
				disk += fi.Size()
			}
		}
		return nil
	})
	return disk
}
