package discover

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/watcher/fetch"
)

func rss(title string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0"?><rss version="2.0"><channel><title>%s</title><link>https://example.org/</link>`, title)
	for i := range n {
		fmt.Fprintf(&b, "<item><title>item %d</title><guid>g%d</guid></item>", i, i)
	}
	b.WriteString("</channel></rss>")
	return b.String()
}

func atomDoc(title string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>%s</title><id>urn:x</id>`, title)
	for i := range n {
		fmt.Fprintf(&b, "<entry><title>e %d</title><id>urn:e%d</id></entry>", i, i)
	}
	b.WriteString("</feed>")
	return b.String()
}

const jsonFeed = `{"version": "https://jsonfeed.org/version/1.1", "title": "JSON News", "items": [{"id": "1", "content_text": "x"}]}`

func page(head string) string {
	return "<!doctype html><html><head><title>Site</title>" + head + "</head><body><p>hello</p></body></html>"
}

// site is an httptest server of path -> (content type, body), recording
// each request's path and User-Agent.
type site struct {
	srv   *httptest.Server
	mu    sync.Mutex
	paths []string
	uas   []string
}

type doc struct{ ctype, body string }

func newSite(t *testing.T, docs map[string]doc, redirects map[string]string) *site {
	t.Helper()
	s := &site{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.paths = append(s.paths, r.URL.Path)
		s.uas = append(s.uas, r.Header.Get("User-Agent"))
		s.mu.Unlock()
		if to, ok := redirects[r.URL.Path]; ok {
			http.Redirect(w, r, to, http.StatusMovedPermanently)
			return
		}
		d, ok := docs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", d.ctype)
		fmt.Fprint(w, strings.ReplaceAll(d.body, "SITE", s.srv.URL))
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *site) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.paths...)
}

func testFetcher(t *testing.T, isPrivate func(netip.AddrPort) bool) *fetch.Fetcher {
	t.Helper()
	f, err := fetch.New(fetch.Config{Timeout: 10 * time.Second, MaxBody: 1 << 20, UserAgent: "feedwatch-test/1", Concurrency: 1, PerHost: 1, IsPrivate: isPrivate})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

type got struct {
	Path, Title string
	Items       int
	How         string
}

func run(t *testing.T, s *site, path string, o Options) ([]got, []string) {
	t.Helper()
	if o.Fetcher == nil {
		o.Fetcher = testFetcher(t, nil)
	}
	var notes []string
	o.Note = func(c, why string) { notes = append(notes, strings.TrimPrefix(c, s.srv.URL)+": "+why) }
	feeds, err := Discover(context.Background(), s.srv.URL+path, o)
	if err != nil {
		t.Fatal(err)
	}
	var out []got
	for _, f := range feeds {
		out = append(out, got{strings.TrimPrefix(f.URL, s.srv.URL), f.Title, f.Items, f.How})
	}
	return out, notes
}

func TestDiscover(t *testing.T) {
	html := "text/html; charset=utf-8"
	tests := []struct {
		name      string
		docs      map[string]doc
		redirects map[string]string
		path      string
		want      []got
		requests  []string // when set, exactly these
	}{
		{
			name: "usual shapes: RSS and Atom advertised, absolute and relative",
			docs: map[string]doc{
				"/": {html, page(`<link rel="alternate" type="application/rss+xml" title="RSS" href="SITE/rss.xml">
					<link rel="alternate" type="application/atom+xml" href="/atom.xml">
					<link rel="alternate" type="text/html" hreflang="fr" href="/fr/">
					<link rel="stylesheet" type="text/css" href="/s.css">`)},
				"/rss.xml":  {"application/rss+xml", rss("Site RSS", 3)},
				"/atom.xml": {"application/atom+xml", atomDoc("Site Atom", 2)},
			},
			path:     "/",
			want:     []got{{"/rss.xml", "Site RSS", 3, "advertised"}, {"/atom.xml", "Site Atom", 2, "advertised"}},
			requests: []string{"/", "/rss.xml", "/atom.xml"},
		},
		{
			name: "JSON Feed, rel among others, type in capitals with parameters",
			docs: map[string]doc{
				"/blog/post/": {html, page(`<LINK REL="Alternate Feed" TYPE="Application/Feed+JSON; charset=utf-8" HREF="../feed.json">
					<link rel="alternate" type="application/json" href="/blog/feed.json#latest">`)},
				"/blog/feed.json": {"application/feed+json", jsonFeed},
			},
			path: "/blog/post/",
			want: []got{{"/blog/feed.json", "JSON News", 1, "advertised"}},
		},
		{
			name: "relative link resolved against <base href>",
			docs: map[string]doc{
				"/a/page.html":   {html, page(`<base href="/news/"><base href="/ignored/"><link rel="alternate" type="application/rss+xml" href="feed.xml">`)},
				"/news/feed.xml": {"application/rss+xml", rss("News", 1)},
			},
			path: "/a/page.html",
			want: []got{{"/news/feed.xml", "News", 1, "advertised"}},
		},
		{
			name: "wrong content type: a feed served as text/html or text/plain is still a feed",
			docs: map[string]doc{
				"/":      {html, page(`<link rel="alternate" type="application/rss+xml" href="/f1"><link rel="alternate" type="application/atom+xml" href="/f2">`)},
				"/f1":    {"text/html", rss("F1", 1)},
				"/f2":    {"text/plain", atomDoc("F2", 4)},
				"/other": {html, "x"},
			},
			path: "/",
			want: []got{{"/f1", "F1", 1, "advertised"}, {"/f2", "F2", 4, "advertised"}},
		},
		{
			name: "HTML pages that only look like feeds are not feeds; common paths then",
			docs: map[string]doc{
				"/":         {html, page(`<link rel="alternate" type="application/rss+xml" href="/fake.xml"><link rel="alternate" type="application/json" href="/api.json">`)},
				"/fake.xml": {"application/rss+xml", page(`<p>&lt;rss version="2.0"&gt;</p>`)},
				"/api.json": {"application/json", `{"status": "ok", "items": [1, 2]}`},
				"/rss.xml":  {"application/rss+xml", rss("Real", 5)},
			},
			path:     "/",
			want:     []got{{"/rss.xml", "Real", 5, "common path"}},
			requests: []string{"/", "/fake.xml", "/api.json", "/feed", "/rss", "/rss.xml"},
		},
		{
			name:      "redirected page: relative links resolve against where it ended",
			docs:      map[string]doc{"/new/": {html, page(`<link rel="alternate" type="application/rss+xml" href="feed.xml"><link rel="alternate" type="application/rss+xml" href="/moved.xml">`)}, "/new/feed.xml": {"application/rss+xml", rss("New", 2)}, "/final.xml": {"application/rss+xml", rss("Moved", 1)}},
			redirects: map[string]string{"/old": "/new/", "/moved.xml": "/final.xml"},
			path:      "/old",
			want:      []got{{"/new/feed.xml", "New", 2, "advertised"}, {"/final.xml", "Moved", 1, "advertised"}},
		},
		{
			name: "generic XML types and untyped alternates: after the sure types; translations and print versions skipped",
			docs: map[string]doc{
				"/": {html, page(`<link rel="alternate" type="application/xml" href="/b.xml">
					<link rel="alternate" href="/untyped">
					<link rel="alternate" hreflang="de" href="/de/">
					<link rel="alternate" media="print" href="/print">
					<link rel="alternate" type="text/xml" href="/c.xml">
					<link rel="alternate" type="application/atom+xml" href="/a.xml">`)},
				"/a.xml":   {"application/atom+xml", atomDoc("A", 1)},
				"/b.xml":   {"application/xml", atomDoc("B", 2)},
				"/untyped": {"text/xml", rss("U", 3)},
				"/c.xml":   {"text/xml", rss("C", 4)},
			},
			path:     "/",
			want:     []got{{"/a.xml", "A", 1, "advertised"}, {"/b.xml", "B", 2, "advertised"}, {"/untyped", "U", 3, "advertised"}, {"/c.xml", "C", 4, "advertised"}},
			requests: []string{"/", "/a.xml", "/b.xml", "/untyped", "/c.xml"},
		},
		{
			name: "the page is a feed",
			docs: map[string]doc{"/rss": {"application/xml", rss("Itself", 7)}},
			path: "/rss",
			want: []got{{"/rss", "Itself", 7, "page"}},
		},
		{
			name:     "a site with no feeds: every common path once, in order, then nothing",
			docs:     map[string]doc{"/": {html, page("")}},
			path:     "/",
			want:     nil,
			requests: append([]string{"/"}, CommonPaths...),
		},
		{
			name: "a file:// link is never read",
			docs: map[string]doc{"/": {html, page(`<link rel="alternate" type="application/rss+xml" href="file:///etc/passwd">`)}},
			path: "/",
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSite(t, tt.docs, tt.redirects)
			feeds, notes := run(t, s, tt.path, Options{})
			if !reflect.DeepEqual(feeds, tt.want) {
				t.Errorf("feeds\n got %+v\nwant %+v\nnotes %q", feeds, tt.want, notes)
			}
			if tt.requests != nil && !reflect.DeepEqual(s.requests(), tt.requests) {
				t.Errorf("requests %v, want %v", s.requests(), tt.requests)
			}
			for _, ua := range s.uas {
				if ua != "feedwatch-test/1" {
					t.Errorf("User-Agent %q", ua)
				}
			}
		})
	}
}

func TestDiscoverUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close()
	_, err := Discover(context.Background(), u+"/", Options{Fetcher: testFetcher(t, nil)})
	if err == nil || !strings.Contains(err.Error(), "fetch page") {
		t.Fatalf("err %v", err)
	}
}

// A page on a public address must not lead discovery to a private one
// (as the watcher refuses such a redirect): here the page's server counts
// as public and the other server as private.
func TestDiscoverPrivateFromPublic(t *testing.T) {
	inner := newSite(t, map[string]doc{"/feed.xml": {"application/rss+xml", rss("Intranet", 1)}}, nil)
	innerURL, _ := url.Parse(inner.srv.URL)
	outer := newSite(t, map[string]doc{"/": {"text/html", page(`<link rel="alternate" type="application/rss+xml" href="` + inner.srv.URL + `/feed.xml">`)}}, nil)
	innerPort := innerURL.Port()
	isPrivate := func(ap netip.AddrPort) bool { return fmt.Sprint(ap.Port()) == innerPort }

	feeds, notes := run(t, outer, "/", Options{Fetcher: testFetcher(t, isPrivate), IsPrivate: isPrivate})
	if len(feeds) != 0 || len(inner.requests()) != 0 {
		t.Fatalf("feeds %+v, inner requests %v", feeds, inner.requests())
	}
	if len(notes) == 0 || !strings.Contains(notes[0], "private address") {
		t.Errorf("notes %q", notes)
	}
	feeds, _ = run(t, outer, "/", Options{Fetcher: testFetcher(t, isPrivate), IsPrivate: isPrivate, AllowPrivate: true})
	if len(feeds) != 1 || feeds[0].Title != "Intranet" {
		t.Fatalf("with AllowPrivate: %+v", feeds)
	}
}

func TestPageURL(t *testing.T) {
	for in, want := range map[string]string{
		"example.org":              "https://example.org",
		"http://example.org/x":     "http://example.org/x",
		" https://example.org/ \n": "https://example.org/",
	} {
		u, err := PageURL(in)
		if err != nil || u.String() != want {
			t.Errorf("PageURL(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
	for _, bad := range []string{"", "ftp://example.org/", "file:///etc/passwd", "/just/a/path", "https://"} {
		if _, err := PageURL(bad); err == nil {
			t.Errorf("PageURL(%q): no error", bad)
		}
	}
}

func FuzzLinks(f *testing.F) {
	f.Add([]byte(page(`<base href="/x/"><link rel="alternate" type="application/rss+xml" href="f.xml">`)))
	f.Add([]byte(`<link rel=alternate type=application/atom+xml href=javascript:alert(1)><script><link rel="alternate" type="application/rss+xml" href="/no"></script>`))
	base, _ := url.Parse("https://example.org/a/b")
	f.Fuzz(func(t *testing.T, body []byte) {
		links := Links(body, base)
		if len(links) > MaxCandidates {
			t.Fatalf("%d links", len(links))
		}
		for _, l := range links {
			if l.Scheme != "http" && l.Scheme != "https" {
				t.Fatalf("link %v", l)
			}
		}
	})
}
