package plaintext

import (
	"testing"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/feedwatch/feedwatch/bench/feedgen"
)

// feedgenDescriptions returns the item descriptions of bench/feedgen's
// documents as gofeed hands them to the watcher: ~1.4 KB of words, commas
// and full stops in one <p>.
func feedgenDescriptions(b *testing.B) (descs []string, bytes int64) {
	g := feedgen.New(1)
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	p := gofeed.NewParser()
	for feed := range 50 {
		f, err := p.ParseString(string(g.Doc(feed, 1, now)))
		if err != nil {
			b.Fatal(err)
		}
		for _, it := range f.Items {
			descs = append(descs, it.Description)
			bytes += int64(len(it.Description))
		}
	}
	return descs, bytes
}

// BenchmarkFromHTMLFeedgen: FromHTML on the whole-daemon benchmark's item
// descriptions; "append" reuses one buffer (as the matcher does).
func BenchmarkFromHTMLFeedgen(b *testing.B) {
	descs, bytes := feedgenDescriptions(b)
	b.Run("string", func(b *testing.B) {
		b.SetBytes(bytes)
		for b.Loop() {
			for _, d := range descs {
				FromHTML(d)
			}
		}
	})
	b.Run("append", func(b *testing.B) {
		b.SetBytes(bytes)
		var buf []byte
		for b.Loop() {
			for _, d := range descs {
				buf = AppendFromHTML(buf[:0], d)
			}
		}
	})
}
