package console

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/feedwatch/feedwatch/hit"
)

// allowedTags are the elements the console's templates write. Feed text
// must never add one, nor an event handler, nor a link elsewhere than
// http(s) or the console itself.
var allowedTags = map[string]bool{
	"html": true, "head": true, "meta": true, "title": true, "link": true, "body": true, "header": true, "nav": true,
	"a": true, "main": true, "h1": true, "h2": true, "h3": true, "p": true, "article": true, "time": true, "mark": true,
	"footer": true, "div": true, "span": true, "b": true, "small": true, "br": true, "form": true, "input": true,
	"button": true, "select": true, "option": true, "label": true, "table": true, "thead": true, "tbody": true,
	"tr": true, "th": true, "td": true, "dl": true, "dt": true, "dd": true, "code": true, "section": true,
	"svg": true, "rect": true, "line": true, "figure": true, "figcaption": true,
}

// checkInert parses a page and fails on any element, attribute or link
// that feed text could have added.
func checkInert(t *testing.T, page string) {
	t.Helper()
	z := html.NewTokenizer(strings.NewReader(page))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		tok := z.Token()
		if !allowedTags[tok.Data] {
			t.Fatalf("element <%s> on the page:\n%s", tok.Data, page)
		}
		for _, a := range tok.Attr {
			k := strings.ToLower(a.Key)
			if strings.HasPrefix(k, "on") || k == "style" || k == "srcdoc" || k == "formaction" {
				t.Fatalf("attribute %s=%q on <%s>", a.Key, a.Val, tok.Data)
			}
			if k == "href" || k == "src" || k == "action" {
				v := strings.ToLower(strings.TrimSpace(a.Val))
				if !strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "http://") && !strings.HasPrefix(v, "https://") && v != "data:," {
					t.Fatalf("%s=%q on <%s>", a.Key, a.Val, tok.Data)
				}
				if strings.HasPrefix(v, "//") {
					t.Fatalf("protocol-relative %s=%q", a.Key, a.Val)
				}
			}
		}
	}
}

// FuzzHitPages renders hits made of arbitrary feed text on the pages that
// show them, and checks that the text stays text.
func FuzzHitPages(f *testing.F) {
	for _, s := range [][4]string{
		{`<script>alert(1)</script>`, `«<img src=x onerror=alert(1)>»`, `javascript:alert(1)`, `x`},
		{`"><svg onload=alert(1)>`, `«a» ' onmouseover='alert(2)`, ` JaVaScRiPt:alert(1)`, `</textarea>`},
		{`Xinjiang «`, `»«»«`, `//evil.example/x`, "\x00\u202e"},
		{`</title><style>*{}</style>`, `«</mark><script>`, `data:text/html,<script>alert(1)</script>`, `{{.}}`},
		{`Trade Bill`, `…the «Trade Bill»…`, `https://news.example.org/a?b=<c>&d="e"`, `vbscript:x`},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, title, snippet, link, summary string) {
		h := hit.Hit{V: 1, ID: "id1", Profile: "xinjiang", DetectedAt: now, Feed: hit.Feed{Name: "world", Title: title},
			Item:    hit.Item{ID: "1", Title: title, Link: link, Summary: summary},
			Matches: []hit.Match{{Field: "title", Text: title, Term: "x"}, {Field: "summary", Text: snippet, Term: "y"}},
			Snippet: snippet}
		idx := NewIndex(0)
		idx.Add(1, h)
		// The feed page lists the hit's item and one that hit nothing.
		items := NewItems(0, 0)
		items.Add("world", "1", title, link, nil, now)
		items.Add("world", "2", summary, snippet, nil, now)
		s := &fakeSearcher{hits: []hit.Hit{h}}
		c, err := New(Options{
			Status: func() Status {
				return Status{Feeds: []Feed{{Name: "world", Error: title, URL: link}}, Profiles: []Profile{{Name: "xinjiang", Query: summary, Notifiers: []string{"console"}}}}
			},
			Index: idx, Items: items, Hits: memHits{1: h}, Searcher: s, Now: func() time.Time { return now },
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"/hits", "/feeds", "/feeds/world", "/profiles/xinjiang", "/search?q=x"} {
			w := httptest.NewRecorder()
			c.ServeHTTP(w, httptest.NewRequest(http.MethodGet, p, nil))
			if w.Code != http.StatusOK {
				t.Fatalf("%s: %d", p, w.Code)
			}
			checkInert(t, w.Body.String())
		}
	})
}
