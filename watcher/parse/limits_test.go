package parse

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/feedwatch/feedwatch/watcher/parse/hostile"
)

// TestHostileDocumentsRefused: the review's documents (issue 12), at full
// size, are refused by the structure scan before any parser sees them. On
// the old code the nested ones killed the process (stack overflow) and the
// others took gigabytes or, for fragmented text, minutes.
func TestHostileDocumentsRefused(t *testing.T) {
	for _, d := range hostile.All() {
		t.Run(d.Name, func(t *testing.T) {
			_, err := Parse(d.Body, "", 0)
			if k := kindOf(err); k != KindTooComplex && k != KindTooMany {
				t.Fatalf("err %v, want %s or %s", err, KindTooComplex, KindTooMany)
			}
			if !strings.Contains(err.Error(), "more than") && !strings.Contains(err.Error(), "deeper than") {
				t.Fatalf("error does not name the limit: %v", err)
			}
		})
	}
}

func TestStructureLimits(t *testing.T) {
	cases := []struct {
		name string
		body []byte
		kind Kind // "" when within the limits
	}{
		{"depth at limit", closed(MaxDepth - 5), ""},
		{"depth past limit", closed(MaxDepth + 1), KindTooComplex},
		{"nested default namespace past limit", hostile.NestedRSS(MaxDepth), KindTooComplex},
		{"extensions at limit", hostile.FlatExtensions(MaxExtElements - 10), ""},
		{"extensions past limit", hostile.FlatExtensions(MaxExtElements + 1), KindTooComplex},
		{"elements past limit", hostile.FlatElements(MaxNodes), KindTooComplex},
		{"attributes past limit", hostile.Attributes(MaxNodes), KindTooComplex},
		{"fragmented text", hostile.FragmentedText(20_000), KindTooComplex},
		{"few fragments", hostile.FragmentedText(100), ""},
		{"mixed text", hostile.MixedText(20_000), KindTooComplex},
		{"items past cap", hostile.ManyItems(DefaultMaxItems + 1), KindTooMany},
		{"json items at cap", hostile.JSONItems(DefaultMaxItems), ""},
		{"json items past cap", hostile.JSONItems(DefaultMaxItems + 1), KindTooMany},
		{"json nesting past limit", hostile.NestedJSON(MaxDepth + 1), KindTooComplex},
		{"json array values past limit", hostile.JSONArrayValues(MaxNodes), KindTooComplex},
		{"items in comments do not count", []byte(`<rss version="2.0"><channel><!--` + strings.Repeat("<item>", 50) + `--><item><guid>1</guid></item></channel></rss>`), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Prepare(c.body, "", 0)
			if err == nil {
				err = p.Check()
			}
			if kindOf(err) != c.kind || (c.kind == "" && err != nil) {
				t.Fatalf("err %v, want kind %q", err, c.kind)
			}
		})
	}
}

// TestHeavy: a document takes a big-parse slot when its body or its
// structure is big, however small the body.
func TestHeavy(t *testing.T) {
	cases := []struct {
		name  string
		body  []byte
		heavy bool
	}{
		{"typical feed", benchDoc(), false},
		{"big body", hostile.LongDoctype(HeavyBody), true},
		{"many extension elements", hostile.FlatExtensions(heavyExt + 1), true},
		{"many elements", hostile.FlatElements(heavyNodes + 1), true},
		{"fragmented text", hostile.MixedText(1000), true},
		{"json with many items", hostile.JSONItems(heavyNodes), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Prepare(c.body, "", 0)
			if err == nil {
				err = p.Check()
			}
			if err != nil || p.Heavy() != c.heavy {
				t.Fatalf("err %v, heavy %v", err, !c.heavy)
			}
		})
	}
}

// closed is an RSS item holding n nested, closed extension elements.
func closed(n int) []byte {
	return []byte(`<rss version="2.0"><channel><title>t</title><item><guid>1</guid>` + strings.Repeat(`<a xmlns="http://x/">`, n) +
		strings.Repeat("</a>", n) + `</item></channel></rss>`)
}

// TestLongDoctype (issue 12, item 14): a DOCTYPE longer than the 4 KB that
// format detection reads made a valid feed "not a feed".
func TestLongDoctype(t *testing.T) {
	for _, n := range []int{10, 5000, 100_000} {
		d, err := Parse(hostile.LongDoctype(n), "", 0)
		if err != nil || len(d.Items) != 1 || d.Items[0].Title != "a" {
			t.Fatalf("doctype of %d bytes: %v %+v", n, err, d)
		}
	}
}

// TestEntitiesNotExpanded keeps what held in the review: internal entities
// are never expanded (the billion laughs stays a few bytes).
func TestEntitiesNotExpanded(t *testing.T) {
	d, err := Parse(hostile.EntityBomb(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Title) > 64 || len(d.Items) != 1 || len(d.Items[0].Title) > 64 {
		t.Fatalf("entity expanded: title %d bytes", len(d.Title))
	}
}

// FuzzScanXML: the structure scan never sees less nesting or fewer
// elements than encoding/xml (configured as gofeed configures it) yields
// before it stops, so a document it passes cannot be deeper or bigger for
// gofeed.
func FuzzScanXML(f *testing.F) {
	f.Add([]byte(`<rss><channel><item><a xmlns="x"><a><a></a></a></a></item></channel></rss>`))
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY a "<b>"> <!-- > -->]><r a='>' b="<!--"><c/><d>x<![CDATA[<e>]]></d></r>`))
	f.Add([]byte("<r><a\x01><b></b></r>"))
	f.Add([]byte(`<r><a><b></a><c><d></d></c></r>`))
	f.Add([]byte(`<r a b=c d = 'x'><?pi <a>?><!x <a>><e/></r>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<16 {
			return
		}
		clean := stripControls(b)
		s := &xmlScan{b: clean, maxItems: 1 << 30, root: -1}
		if err := s.run(); err != nil {
			return // refused: nothing to compare
		}
		depth, maxDepth, nodes := 0, 0, 0
		d := xml.NewDecoder(bytes.NewReader(clean))
		d.Strict = false
		d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
		for {
			tok, err := d.Token()
			if err != nil {
				if !errors.Is(err, io.EOF) && depth > s.maxDepth {
					t.Fatalf("decoder depth %d, scan %d", depth, s.maxDepth)
				}
				break
			}
			switch tok := tok.(type) {
			case xml.StartElement:
				depth++
				nodes += 1 + len(tok.Attr)
				maxDepth = max(maxDepth, depth)
			case xml.EndElement:
				depth--
			}
		}
		if maxDepth > s.maxDepth || nodes > s.nodes {
			t.Fatalf("decoder saw depth %d, %d nodes; scan %d, %d", maxDepth, nodes, s.maxDepth, s.nodes)
		}
	})
}

// TestFastPathBoundsDepth: the fast path declines what the scan refuses,
// so both paths give the same answer for deep plain markup.
func TestFastPathBoundsDepth(t *testing.T) {
	deep := func(n int) []byte {
		return []byte(`<rss version="2.0"><channel><title>t</title><item><guid>1</guid><description>` +
			strings.Repeat("<b>", n) + strings.Repeat("</b>", n) + `</description></item></channel></rss>`)
	}
	if _, err := Parse(deep(MaxDepth), "", 0); kindOf(err) != KindTooComplex {
		t.Fatalf("err %v", err)
	}
	if d, err := Parse(deep(20), "", 0); err != nil || len(d.Items) != 1 {
		t.Fatalf("%v %+v", err, d)
	}
}

// TestFastPathDeclinesPastLimits: whatever the fast path accepts, the
// gofeed path (structure scan first) accepts too, so the differential
// invariant holds for big documents as well.
func TestFastPathDeclinesPastLimits(t *testing.T) {
	head := `<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>t</title><item><guid>1</guid>`
	cases := map[string]string{
		"elements":   `<description>` + strings.Repeat("<b/>", MaxNodes) + `</description>`,
		"attributes": `<description><b` + strings.Repeat(` a="1"`, MaxNodes) + `/></description>`,
		"extensions": strings.Repeat("<dc:date>2006-01-02T15:04:05Z</dc:date>", MaxExtElements+1),
		"fragments":  `<content:encoded>` + strings.Repeat("<![CDATA[xxxxxxxx]]>", 3000) + `</content:encoded>`,
	}
	for name, body := range cases {
		b := []byte(head + body + `</item></channel></rss>`)
		if _, ok := fastRSS(b, DefaultMaxItems); ok {
			t.Errorf("%s: fast path accepted", name)
		}
		if _, err := Parse(b, "", 0); kindOf(err) != KindTooComplex {
			t.Errorf("%s: err %v", name, err)
		}
	}
}
