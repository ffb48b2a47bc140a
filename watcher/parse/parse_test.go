package parse

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/encoding/unicode"
)

func kindOf(err error) Kind {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Kind
	}
	return ""
}

func rssWithTitle(decl, title string) string {
	return decl + `<rss version="2.0"><channel><title>` + title + `</title><item><title>` + title + `</title><guid>1</guid></item></channel></rss>`
}

func encode(t *testing.T, enc encoding.Encoding, s string) []byte {
	t.Helper()
	b, err := enc.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCharsets(t *testing.T) {
	cases := []struct {
		name, label, ctype, title string
		enc                       encoding.Encoding
	}{
		{"windows-1251 decl", "windows-1251", "", "Новости", charmap.Windows1251},
		{"windows-1252 decl", "windows-1252", "", "café “quoted”", charmap.Windows1252},
		{"iso-8859-2 decl", "iso-8859-2", "", "Zażółć", charmap.ISO8859_2},
		{"koi8-r decl", "koi8-r", "", "Привет", charmap.KOI8R},
		{"gbk decl", "gbk", "", "新疆维吾尔自治区", simplifiedchinese.GBK},
		{"gb2312 decl", "gb2312", "", "新疆", simplifiedchinese.GBK},
		{"big5 decl", "big5", "", "臺灣新聞", traditionalchinese.Big5},
		{"shift_jis decl", "shift_jis", "", "日本語のニュース", japanese.ShiftJIS},
		{"euc-kr decl", "euc-kr", "", "한국어 뉴스", korean.EUCKR},
		{"http header overrides decl", "iso-8859-1", "application/rss+xml; charset=windows-1251", "Новости", charmap.Windows1251},
		{"http header without decl", "", "text/xml; charset=koi8-r", "Привет", charmap.KOI8R},
		{"quoted header charset", "", "text/xml; charset='windows-1251'", "Новости", charmap.Windows1251},
		{"utf-16le with bom", "utf-16", "", "Ünïcödé", unicode.UTF16(unicode.LittleEndian, unicode.UseBOM)},
		{"utf-16be with bom", "utf-16", "", "Ünïcödé", unicode.UTF16(unicode.BigEndian, unicode.UseBOM)},
		{"utf-16le no bom", "utf-16", "", "Ünïcödé", unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM)},
		{"utf-16le no bom, http utf-16", "utf-16", "text/xml; charset=utf-16", "Ünïcödé", unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM)},
		{"utf-16be no bom, http ucs-2", "", "text/xml; charset=ucs-2", "Ünïcödé", unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM)},
		{"utf-8 declared utf-16", "utf-16", "", "Ünïcödé", unicode.UTF8},
		{"utf-8 declared utf-32, http utf-16", "utf-32", "text/xml; charset=utf-16", "Ünïcödé", unicode.UTF8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			decl := `<?xml version="1.0"?>`
			if c.label != "" {
				decl = `<?xml version="1.0" encoding="` + c.label + `"?>`
			}
			body := encode(t, c.enc, rssWithTitle(decl, c.title))
			d, err := Parse(body, c.ctype, 0)
			if err != nil {
				t.Fatal(err)
			}
			if d.Title != c.title || len(d.Items) != 1 || d.Items[0].Title != c.title {
				t.Fatalf("title %q items %+v", d.Title, d.Items)
			}
		})
	}
}

func TestInvalidBytesKeepFeed(t *testing.T) {
	body := []byte(rssWithTitle(`<?xml version="1.0" encoding="utf-8"?>`, "bad \xff byte"))
	d, err := Parse(body, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if d.Title != "bad \uFFFD byte" {
		t.Fatalf("title %q", d.Title)
	}
	// An 8-bit document that declares UTF-16 is read as UTF-8 too.
	d, err = Parse([]byte(rssWithTitle(`<?xml version="1.0" encoding="utf-16"?>`, "caf\xe9")), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if d.Title != "caf\uFFFD" {
		t.Fatalf("declared utf-16: title %q", d.Title)
	}
}

func TestClassification(t *testing.T) {
	cases := []struct {
		name, body, ctype string
		kind              Kind
	}{
		{"empty", "", "", KindNotFeed},
		{"whitespace", " \n\t", "", KindNotFeed},
		{"html page", "<!DOCTYPE html><html><head><title>x</title></head><body>hi</body></html>", "text/html", KindNotFeed},
		{"html no doctype", "<html><body>hi</body></html>", "", KindNotFeed},
		{"plain text", "hello world", "", KindNotFeed},
		{"other xml", `<?xml version="1.0"?><svg></svg>`, "", KindNotFeed},
		{"broken xml", `<rss version="2.0"><channel><title>x</title><item><title>a</item></channel>`, "", KindBadXML},
		{"garbage after lt", "<<<<>>>>", "", KindBadXML},
		{"json not a feed", `{"a": 1}`, "", KindNotFeed},
		{"broken json", `{"version": "https://jsonfeed.org/version/1", "items": [`, "", KindNotFeed},
		{"unknown encoding, bad bytes", "<?xml version=\"1.0\" encoding=\"x-nonsense\"?><rss><channel><title>\xff</title></channel></rss>", "", KindBadEncoding},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.body), c.ctype, 0)
			if kindOf(err) != c.kind {
				t.Fatalf("err %v, want %s", err, c.kind)
			}
		})
	}
}

func TestUnknownEncodingValidUTF8(t *testing.T) {
	d, err := Parse([]byte(rssWithTitle(`<?xml version="1.0" encoding="x-nonsense"?>`, "ok é")), "", 0)
	if err != nil || d.Title != "ok é" {
		t.Fatalf("%v %+v", err, d)
	}
}

func TestFormats(t *testing.T) {
	cases := []struct {
		name, body string
		title      string
		n          int
		ttl        time.Duration
	}{
		{"rss 2.0", `<rss version="2.0"><channel><title>R</title><ttl>60</ttl><item><guid>a</guid><title>A</title><pubDate>Mon, 02 Jan 2006 15:04:05 GMT</pubDate></item></channel></rss>`, "R", 1, time.Hour},
		{"rss 0.91", `<rss version="0.91"><channel><title>R</title><item><title>A</title><link>http://x/a</link></item></channel></rss>`, "R", 1, 0},
		{"rss 1.0", `<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"><channel><title>R</title></channel><item><title>A</title><link>http://x/a</link></item></rdf:RDF>`, "R", 1, 0},
		{"atom 1.0", `<feed xmlns="http://www.w3.org/2005/Atom"><title>F</title><entry><id>urn:1</id><title>A</title><updated>2006-01-02T15:04:05Z</updated></entry></feed>`, "F", 1, 0},
		{"atom 0.3", `<feed version="0.3" xmlns="http://purl.org/atom/ns#"><title>F</title><entry><id>urn:1</id><title>A</title><issued>2006-01-02T15:04:05Z</issued></entry></feed>`, "F", 1, 0},
		{"json feed", `{"version":"https://jsonfeed.org/version/1.1","title":"J","items":[{"id":"1","title":"A","content_text":"x"}]}`, "J", 1, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := Parse([]byte(c.body), "", 0)
			if err != nil {
				t.Fatal(err)
			}
			if d.Title != c.title || len(d.Items) != c.n || d.TTL != c.ttl || d.Items[0].Title != "A" {
				t.Fatalf("%+v", d)
			}
		})
	}
}

func TestItemCap(t *testing.T) {
	var b strings.Builder
	b.WriteString(`<rss version="2.0"><channel><title>x</title>`)
	for i := 0; i < 101; i++ {
		fmt.Fprintf(&b, "<item><guid>%d</guid></item>", i)
	}
	b.WriteString(`</channel></rss>`)
	if _, err := Parse([]byte(b.String()), "", 100); kindOf(err) != KindTooMany {
		t.Fatalf("err %v", err)
	}
	d, err := Parse([]byte(b.String()), "", 101)
	if err != nil || len(d.Items) != 101 {
		t.Fatalf("%v", err)
	}
	// Items are counted by the structure scan, prefixed or not, before any
	// parser sees them.
	if _, err := Parse([]byte(`<feed xmlns="http://www.w3.org/2005/Atom"><atom:entry/><entry/><items/><item/></feed>`), "", 2); kindOf(err) != KindTooMany {
		t.Fatalf("err %v", err)
	}
}

// FuzzParse: arbitrary bodies and content types never panic, and errors
// are always classified.
func FuzzParse(f *testing.F) {
	// More seeds (corpus documents) live in testdata/fuzz/FuzzParse.
	f.Add([]byte(`<rss version="2.0"><channel><item><guid>1</guid></item></channel></rss>`), "text/xml; charset=koi8-r")
	f.Add([]byte("\xff\xfe<\x00r\x00s\x00s\x00>\x00"), "")
	f.Add([]byte(`{"version":"https://jsonfeed.org/version/1","items":[{"id":1}]}`), "")
	f.Fuzz(func(t *testing.T, body []byte, ctype string) {
		d, err := Parse(body, ctype, 50)
		if err != nil {
			if kindOf(err) == "" {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if len(d.Items) > 50 {
			t.Fatalf("%d items", len(d.Items))
		}
	})
}
