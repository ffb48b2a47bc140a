package opml

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func readFixture(t *testing.T, name string) *Document {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := Parse(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return doc
}

// short is a feed without its line, for comparing.
type short struct {
	Title, XMLURL, HTMLURL string
	Categories             []string
}

func shorten(fs []Feed) []short {
	out := make([]short, len(fs))
	for i, f := range fs {
		out[i] = short{f.Title, f.XMLURL, f.HTMLURL, f.Categories}
	}
	return out
}

func TestParseReaderExports(t *testing.T) {
	tests := []struct {
		file  string
		title string
		want  []short
	}{
		{"miniflux.opml", "Miniflux", []short{
			{"Hacker News", "https://news.ycombinator.com/rss", "https://news.ycombinator.com/", []string{"All"}},
			{"BBC News - World", "https://feeds.bbci.co.uk/news/world/rss.xml", "https://www.bbc.co.uk/news/world", []string{"World News"}},
			{"Al Jazeera & Friends", "https://www.aljazeera.com/xml/rss/all.xml", "https://www.aljazeera.com/", []string{"World News"}},
		}},
		{"freshrss.opml", "FreshRSS", []short{
			{"The Guardian", "https://www.theguardian.com/world/rss", "https://www.theguardian.com/world", []string{"Uncategorized"}},
			{"Radio Free Asia", "https://www.rfa.org/english/RSS", "https://www.rfa.org/english", []string{"Asia"}},
			{"South China Morning Post", "https://www.scmp.com/rss/91/feed", "https://www.scmp.com", []string{"Asia"}},
			{"Scraped page", "https://example.org/news?page=1&lang=en", "https://example.org/news", []string{"Asia"}},
		}},
		{"feedly.opml", "Alex subscriptions in feedly Cloud", []short{
			{"Politico", "https://rss.politico.com/politics-news.xml", "https://www.politico.com", []string{"Politics"}},
			{"The Diplomat", "https://thediplomat.com/feed/", "https://thediplomat.com", []string{"Politics"}},
			{"Ars Technica", "https://feeds.arstechnica.com/arstechnica/index", "https://arstechnica.com", []string{"Tech"}},
			{"The Diplomat", "https://thediplomat.com/feed/", "https://thediplomat.com", []string{"Tech"}},
		}},
		{"newsboat.opml", "newsboat - Exported Feeds", []short{
			{"LWN.net", "https://lwn.net/headlines/rss", "https://lwn.net", nil},
			{"", "https://hrichina.org/en/feed", "", nil},
			{"Human Rights Watch", "https://www.hrw.org/rss/news", "https://www.hrw.org", nil},
		}},
		{"nested.opml", "Nested", []short{
			{"Le Monde", "https://www.lemonde.fr/rss/une.xml", "", []string{"News", "Europe", "français", "press"}},
			{"NHK", "https://www3.nhk.or.jp/rss/news/cat0.xml", "", []string{"News", "Asia", "Japan", "Tokyo"}},
			{"", "http://example.org/untitled.xml", "", nil},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			doc := readFixture(t, tt.file)
			if doc.Title != tt.title {
				t.Errorf("title %q, want %q", doc.Title, tt.title)
			}
			if got := shorten(doc.Feeds); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("feeds\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseLines(t *testing.T) {
	doc := readFixture(t, "feedly.opml")
	var lines []int
	for _, f := range doc.Feeds {
		lines = append(lines, f.Line)
	}
	if want := []int{9, 10, 13, 14}; !reflect.DeepEqual(lines, want) {
		t.Errorf("lines %v, want %v", lines, want)
	}
}

func TestParseBad(t *testing.T) {
	deep := "<opml><body>" + strings.Repeat("<outline text='x'>", MaxDepth+5) + strings.Repeat("</outline>", MaxDepth+5) + "</body></opml>"
	tests := []struct {
		name string
		doc  string
		line int
		msg  string
	}{
		{"empty", "  \n", 0, "the file is empty"},
		{"not xml", "feeds:\n  - url: https://example.org/rss\n", 0, "no <opml> element"},
		{"html", "<!doctype html>\n<html><body><p>hi</p></body></html>", 2, "root element is <html>"},
		{"truncated", "<opml>\n<body>\n<outline text='a'", 3, "not well-formed XML"},
		{"unclosed", "<opml>\n<body>\n<outline text='a' xmlUrl='https://example.org/a'>\n", 4, "not well-formed XML"},
		{"no body", "<opml version='2.0'>\n<head><title>x</title></head>\n</opml>", 0, "no <body> element"},
		{"bad url", "<opml>\n<body>\n<outline text='A' xmlUrl='https://example.org/a'/>\n<outline text='B' xmlUrl='ftp://example.org/b'/>\n</body></opml>", 4, `outline "B": xmlUrl has scheme "ftp"`},
		{"relative url", "<opml><body>\n\n<outline title='C' xmlUrl='/feed.xml'/></body></opml>", 3, "not an absolute URL"},
		{"no host", "<opml><body>\n<outline xmlUrl='https:///feed.xml'/></body></opml>", 2, `outline (untitled): xmlUrl has no host`},
		{"deep", deep, 1, "nested more than 64 levels"},
		{"deep bomb", "<opml><body>\n" + strings.Repeat("<outline>", 1<<20), 2, "nested more than 64 levels"},
		{"element flood", "<opml><body>\n" + strings.Repeat("<x/>", MaxElements+1) + "</body></opml>", 2, "more than 250000 elements"},
		{"two roots", "<opml><body/></opml>\n<opml/>", 2, "a second root"},
		{"attributes", "<opml><body><outline " + strings.Repeat("a='=' ", MaxAttrs/2+1) + "/></body></opml>", 0, "more than 2000000 attributes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := Parse([]byte(tt.doc))
			if err == nil {
				t.Fatalf("no error; feeds %+v", doc.Feeds)
			}
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error %T %v, want Errors", err, err)
			}
			if es[0].Line != tt.line || !strings.Contains(es[0].Msg, tt.msg) {
				t.Errorf("got line %d %q, want line %d containing %q", es[0].Line, es[0].Msg, tt.line, tt.msg)
			}
		})
	}
}

// A DTD's entities are never expanded ("billion laughs"): the reference
// stays as written.
func TestParseEntitiesNotExpanded(t *testing.T) {
	doc := `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol9 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<opml><body><outline text="&lol9;" xmlUrl="https://example.org/&lol9;"/></body></opml>`
	d, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Feeds) != 1 || d.Feeds[0].Title != "&lol9;" || d.Feeds[0].Line != 8 {
		t.Fatalf("feeds %+v", d.Feeds)
	}
}

func TestParseManyBadURLsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("<opml><body>\n")
	for range 500 {
		b.WriteString("<outline xmlUrl='nope'/>\n")
	}
	b.WriteString("</body></opml>")
	_, err := Parse([]byte(b.String()))
	var es Errors
	if !errors.As(err, &es) || len(es) != maxProblems {
		t.Fatalf("got %d problems (%v), want %d", len(es), err, maxProblems)
	}
}

// big builds an export of n feeds in folders of 100.
func big(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<opml version=\"2.0\"><head><title>big</title></head><body>\n")
	for i := 0; i < n; i++ {
		if i%100 == 0 {
			if i > 0 {
				b.WriteString("</outline>\n")
			}
			fmt.Fprintf(&b, "<outline text=\"folder %d\">\n", i/100)
		}
		fmt.Fprintf(&b, "<outline type=\"rss\" text=\"Feed %d\" title=\"Feed %d\" xmlUrl=\"https://host%d.example.org/feed/%d.xml\" htmlUrl=\"https://host%d.example.org/\"/>\n", i, i, i%977, i, i%977)
	}
	b.WriteString("</outline>\n</body></opml>\n")
	return b.Bytes()
}

func TestParseLarge(t *testing.T) {
	doc, err := Parse(big(50_000))
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Feeds) != 50_000 || doc.Feeds[49_999].Categories[0] != "folder 499" {
		t.Fatalf("%d feeds", len(doc.Feeds))
	}
}

func BenchmarkParse50k(b *testing.B) {
	data := big(50_000)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

func TestWriteRoundTrip(t *testing.T) {
	feeds := []ExportFeed{
		{Name: "world", XMLURL: "https://example.org/world/rss", HTMLURL: "https://example.org/world", Tags: []string{"news", "uk"}},
		{Name: "Ars & <Tech>", XMLURL: "https://example.org/ars?a=1&b=2", Tags: []string{"tech"}},
		{Name: "plain", XMLURL: "https://example.org/plain.xml"},
		{Name: "uk only", XMLURL: "https://example.org/uk.xml", Tags: []string{"uk", "uk"}},
	}
	var buf bytes.Buffer
	created := time.Date(2026, 12, 6, 23, 0, 0, 0, time.UTC)
	if err := Write(&buf, "feedwatch", created, feeds); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "<dateCreated>Sun, 06 Dec 2026 23:00:00 +0000</dateCreated>") ||
		!strings.Contains(buf.String(), `<opml version="2.0">`) {
		t.Errorf("head:\n%s", buf.String())
	}
	doc, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	// Merge by URL as the config does.
	got := map[string]short{}
	var order []string
	for _, f := range doc.Feeds {
		s, ok := got[f.XMLURL]
		if !ok {
			order = append(order, f.XMLURL)
			s = short{Title: f.Title, XMLURL: f.XMLURL, HTMLURL: f.HTMLURL}
		}
		s.Categories = append(s.Categories, f.Categories...)
		got[f.XMLURL] = s
	}
	if len(got) != len(feeds) {
		t.Fatalf("%d feeds back, want %d:\n%s", len(got), len(feeds), buf.String())
	}
	for _, f := range feeds {
		g := got[f.XMLURL]
		want := short{Title: f.Name, XMLURL: f.XMLURL, HTMLURL: f.HTMLURL}
		seen := map[string]bool{}
		for _, tag := range f.Tags {
			if !seen[tag] {
				seen[tag] = true
				want.Categories = append(want.Categories, tag)
			}
		}
		if !reflect.DeepEqual(g, want) {
			t.Errorf("got %+v, want %+v", g, want)
		}
	}
}
