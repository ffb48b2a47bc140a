package parse

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// benchDoc is the watcher's benchmark document: ~31 KB of RSS, 20 items.
func benchDoc() []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Bench news</title><link>https://news.example/</link><description>d</description>`)
	para := strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor. ", 16)
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&b, `<item><title>Story a %d about the trade bill</title><link>https://news.example/story/a/%d?utm_source=rss</link><guid isPermaLink="false">urn:news:a:%d</guid><pubDate>%s</pubDate><category>world</category><description><![CDATA[<p>%s</p>]]></description></item>`,
			i, i, i, time.Date(2026, 3, 1, 12, i, 0, 0, time.UTC).Format(time.RFC1123Z), para)
	}
	b.WriteString(`</channel></rss>`)
	return []byte(b.String())
}

// BenchmarkParse: the whole fast path (charset, structure check, fast RSS).
func BenchmarkParse(b *testing.B) {
	body := benchDoc()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(body, "", 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseScanOnly: the structure check's scan alone, the cost it
// adds to every parse.
func BenchmarkParseScanOnly(b *testing.B) {
	body := benchDoc()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := scanXML(body, DefaultMaxItems); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseGofeed: the same document through the structure scan and
// gofeed (what documents the fast path declines cost).
func BenchmarkParseGofeed(b *testing.B) {
	body := benchDoc()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseDoc(body, "", 0, false); err != nil {
			b.Fatal(err)
		}
	}
}
