package parse

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// corpusDir is the repository's copy of the feedparser corpus (BSD-2).
const corpusDir = "../../testdata/corpus/feedparser"

// sameAsGofeed checks that whenever the fast path accepts a document, the
// result equals the gofeed path's; it reports whether the fast path took it.
func sameAsGofeed(t *testing.T, name string, body []byte, ctype string) bool {
	t.Helper()
	utf, err := ToUTF8(body, ctype)
	if err != nil {
		return false
	}
	fast, ok := fastRSS(trimLeft(utf), DefaultMaxItems)
	if !ok {
		return false
	}
	slow, err := parseDoc(body, ctype, DefaultMaxItems, false)
	if err != nil {
		t.Errorf("%s: fast path accepted what gofeed rejects: %v", name, err)
		return true
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Errorf("%s: fast path differs\nfast: %s\nslow: %s", name, dump(fast), dump(slow))
	}
	return true
}

func trimLeft(b []byte) []byte { return []byte(strings.TrimLeft(string(b), " \t\r\n")) }

func dump(d *Doc) string {
	var b strings.Builder
	fmt.Fprintf(&b, "title=%q link=%q ttl=%v\n", d.Title, d.Link, d.TTL)
	for _, it := range d.Items {
		pub := "<nil>"
		if it.Published != nil {
			pub = it.Published.String()
		}
		fmt.Fprintf(&b, "  id=%q title=%q link=%q pub=%s cats=%#v authors=%#v\n  summary=%q\n  content=%q\n", it.ID, it.Title, it.Link, pub, it.Categories, it.Authors, it.Summary, it.Content)
	}
	return b.String()
}

func TestFastRSSMatchesGofeedOnCorpus(t *testing.T) {
	if _, err := os.Stat(corpusDir); err != nil {
		t.Fatalf("corpus missing (it is part of the repository): %v", err)
	}
	var taken, total int
	err := filepath.WalkDir(corpusDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".xml") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		total++
		if sameAsGofeed(t, p, b, "") {
			taken++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fast path took %d of %d corpus documents", taken, total)
}

func TestFastRSSTypicalFeeds(t *testing.T) {
	day := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).Format(time.RFC1123Z)
	docs := map[string]string{
		"plain": `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>T &amp; U</title><link>https://x.example/</link><ttl>30</ttl>` +
			`<item><title>A &lt;b&gt; &#8217; &copy;</title><link>https://x.example/a?x=1&amp;y=2</link><guid isPermaLink="false"> g1 </guid><pubDate>` + day + `</pubDate><category>c1</category><category><![CDATA[c2]]></category><description><![CDATA[<p>para</p>]]> tail &amp;</description></item>` +
			`<item><title>B</title><description>raw <b>inner</b> markup</description><pubDate>Sun, 01 Mar 2026 12:00:00 GMT</pubDate></item></channel></rss>`,
		"wordpress": `<?xml version="1.0"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:wfw="http://wellformedweb.org/CommentAPI/" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>W</title><atom:link href="https://x.example/feed" rel="self" type="application/rss+xml"/><link>https://x.example</link>` +
			`<item><title>P</title><link>https://x.example/p</link><guid>https://x.example/?p=1</guid><content:encoded><![CDATA[<p>full</p>]]></content:encoded><wfw:commentRss>https://x.example/p/feed</wfw:commentRss><comments>https://x.example/p#c</comments><enclosure url="https://x.example/a.mp3" length="1" type="audio/mpeg"/></item></channel></rss>`,
		"dublin core": `<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>D</title><link>https://x.example/</link>` +
			`<item><title>1</title><dc:creator>Jane Doe</dc:creator><dc:date>2026-03-01T10:00:00+01:00</dc:date></item>` +
			`<item><title>2</title><dc:creator><![CDATA[ jane@x.example (Jane) ]]></dc:creator><pubDate>` + day + `</pubDate><dc:date>garbage</dc:date></item>` +
			`<item><title>3</title><dc:creator>a@b.example</dc:creator><dc:creator>second</dc:creator></item></channel></rss>`,
	}
	for name, d := range docs {
		t.Run(name, func(t *testing.T) {
			if !sameAsGofeed(t, name, []byte(d), "") {
				t.Fatal("fast path declined a typical feed")
			}
		})
	}
	declined := map[string]string{
		"author":         `<rss version="2.0"><channel><title>T</title><link>https://x/</link><item><author>a@b (A)</author></item></channel></rss>`,
		"odd date":       `<rss version="2.0"><channel><title>T</title><link>https://x/</link><item><pubDate>yesterday</pubDate></item></channel></rss>`,
		"xml base":       `<rss version="2.0" xml:base="https://x/"><channel><title>T</title><link>/</link></channel></rss>`,
		"unclosed":       `<rss version="2.0"><channel><title>T</title><link>https://x/</link><item><title>a</item></channel></rss>`,
		"doctype subset": `<!DOCTYPE rss [<!ENTITY x "y">]><rss version="2.0"><channel><title>T</title><link>https://x/</link></channel></rss>`,
	}
	for name, d := range declined {
		t.Run(name, func(t *testing.T) {
			if _, ok := fastRSS([]byte(d), DefaultMaxItems); ok {
				t.Fatal("fast path accepted")
			}
		})
	}
}

// FuzzFastRSS: on any input the fast path either declines or agrees with
// gofeed.
func FuzzFastRSS(f *testing.F) {
	f.Add([]byte(`<rss version="2.0"><channel><title>T</title><link>https://x/</link><item><title>a &amp; b</title><guid>1</guid><description><![CDATA[x]]>y</description></item></channel></rss>`))
	f.Add([]byte(`<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>T</title><link>l</link><item><content:encoded>&lt;p&gt;</content:encoded><pubDate>Mon, 02 Jan 2006 15:04:05 GMT</pubDate></item></channel></rss>`))
	f.Add([]byte(`<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>T</title><link>l</link><item><dc:creator>x (y@z)</dc:creator><dc:date>2006-01-02T15:04:05Z</dc:date></item></channel></rss>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		sameAsGofeed(t, "fuzz", b, "")
	})
}
