package watcher

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/item"
	"github.com/feedwatch/feedwatch/watcher/parse"
)

// benchDoc is a ~30 KB RSS document with n items, like a typical news feed.
func benchDoc(n int, salt string) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Bench news</title><link>https://news.example/</link><description>d</description>`)
	para := strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor. ", 16)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `<item><title>Story %s %d about the trade bill</title><link>https://news.example/story/%s/%d?utm_source=rss</link><guid isPermaLink="false">urn:news:%s:%d</guid><pubDate>%s</pubDate><category>world</category><description><![CDATA[<p>%s</p>]]></description></item>`,
			salt, i, salt, i, salt, i, time.Date(2026, 3, 1, 12, i, 0, 0, time.UTC).Format(time.RFC1123Z), para)
	}
	b.WriteString(`</channel></rss>`)
	return []byte(b.String())
}

// BenchmarkHotPath: parse a 20-item document, compute keys, filter seen.
func BenchmarkHotPath(b *testing.B) {
	body := benchDoc(20, "a")
	seen := newMemSeen()
	fi := item.Feed{Name: "bench"}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		doc, err := parse.Parse(body, "application/rss+xml; charset=utf-8", 0)
		if err != nil {
			b.Fatal(err)
		}
		ks := assignKeys(fi, doc.Link, doc.Items)
		keys := make([]string, 0, 2*len(ks))
		for _, k := range ks {
			keys = append(keys, k.it.Key)
			if k.alt != "" {
				keys = append(keys, k.alt)
			}
		}
		if _, err := seen.Seen(context.Background(), "f", keys); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseOnly(b *testing.B) {
	body := benchDoc(20, "a")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parse.Parse(body, "", 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkKeys(b *testing.B) {
	doc, err := parse.Parse(benchDoc(20, "a"), "", 0)
	if err != nil {
		b.Fatal(err)
	}
	fi := item.Feed{Name: "bench"}
	b.ReportAllocs()
	for b.Loop() {
		assignKeys(fi, doc.Link, doc.Items)
	}
}
