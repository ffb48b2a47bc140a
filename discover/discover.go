// Package discover finds the feeds a web page advertises, the way feed
// readers do, and confirms each by fetching and parsing it as the watcher
// would.
//
//   - The page itself may be a feed: then it is the one found.
//   - Otherwise every <link rel="alternate"> of type application/rss+xml,
//     application/atom+xml, application/feed+json or application/json is a
//     candidate, resolved against <base href> (itself resolved against the
//     page's URL after redirects); after them, those of a generic XML type
//     (application/xml, text/xml, application/rdf+xml) or of none (unless
//     they name a language or media: a translation or print version), as
//     sites advertise working feeds that way too. Each is confirmed by
//     parsing it, so a page that is not a feed is only a wasted fetch.
//   - Only when no advertised candidate is confirmed, a few common paths
//     on the page's origin are tried one after the other (/feed, /rss,
//     /rss.xml, /atom.xml, /feed.xml, /index.xml, /feed.json), stopping at
//     the first feed: a site rarely has two, and politeness matters more
//     than completeness.
//   - Fetches go one at a time through the watcher's fetcher (its limits,
//     User-Agent and redirect rules). A candidate must be http(s); one on
//     a loopback, private or link-local address advertised by a page on a
//     public address is refused unless private redirects are allowed, as
//     the watcher refuses such a redirect.
package discover

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/feedwatch/feedwatch/watcher/fetch"
	"github.com/feedwatch/feedwatch/watcher/parse"
)

// CommonPaths are tried, in order, when a page advertises no feed.
var CommonPaths = []string{"/feed", "/rss", "/rss.xml", "/atom.xml", "/feed.xml", "/index.xml", "/feed.json"}

// feedTypes are the link types that advertise a feed.
var feedTypes = map[string]bool{
	"application/rss+xml":   true,
	"application/atom+xml":  true,
	"application/feed+json": true,
	"application/json":      true,
}

// weakFeedTypes advertise a feed less surely: tried after feedTypes.
var weakFeedTypes = map[string]bool{
	"application/xml":     true,
	"text/xml":            true,
	"application/rdf+xml": true,
	"":                    true,
}

// MaxCandidates bounds the advertised links fetched for one page.
const MaxCandidates = 10

// Feed is a confirmed feed.
type Feed struct {
	// URL is the feed's URL, after redirects, without userinfo.
	URL   string
	Title string
	Items int
	// How says how it was found: "page" (the URL given is a feed),
	// "advertised" (a <link>) or "common path".
	How string
}

// Fetcher fetches one document (*fetch.Fetcher).
type Fetcher interface {
	Fetch(ctx context.Context, req fetch.Request) (*fetch.Response, error)
}

// Options configure Discover.
type Options struct {
	Fetcher Fetcher
	// MaxItems caps items per document, as the watcher does (0: the
	// parser's default).
	MaxItems int
	// AllowPrivate lets a public page lead to a private address, as
	// watcher.allow_private_redirects does for redirects.
	AllowPrivate bool
	// IsPrivate classifies addresses; nil is fetch.IsPrivate.
	IsPrivate func(netip.AddrPort) bool
	// Lookup resolves a host; nil is net.DefaultResolver.
	Lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	// Note, when set, hears why a candidate was passed over.
	Note func(candidate, why string)
}

// ErrNotHTTP is returned for a page URL that is not an absolute http(s) URL.
var ErrNotHTTP = errors.New("not an http(s) URL")

// PageURL checks a URL given on the command line; a bare host
// ("example.org") is taken as https://example.org/.
func PageURL(s string) (*url.URL, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "://") && s != "" && !strings.HasPrefix(s, "/") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, ErrNotHTTP
	}
	return u, nil
}

// Discover finds the feeds of the page at pageURL. It fails only when the
// page cannot be fetched; a page without feeds is an empty result.
func Discover(ctx context.Context, pageURL string, o Options) ([]Feed, error) {
	if o.IsPrivate == nil {
		o.IsPrivate = fetch.IsPrivate
	}
	if o.Lookup == nil {
		o.Lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	if o.Note == nil {
		o.Note = func(string, string) {}
	}
	page, err := PageURL(pageURL)
	if err != nil {
		return nil, err
	}
	resp, err := o.Fetcher.Fetch(ctx, fetch.Request{URL: page.String()})
	if err != nil {
		return nil, fmt.Errorf("fetch page: %w", err)
	}
	body, ctype := resp.Body, resp.ContentType
	final := page
	if resp.FinalURL != "" {
		if u, err := url.Parse(resp.FinalURL); err == nil {
			final = u
		}
	}
	if doc, err := parse.Parse(body, ctype, o.MaxItems); err == nil {
		resp.Release()
		return []Feed{{URL: final.String(), Title: doc.Title, Items: len(doc.Items), How: "page"}}, nil
	}
	links := Links(body, final)
	resp.Release()

	d := &discoverer{o: o, tried: map[string]bool{}, page: final}
	d.pagePublic = d.public(ctx, final)
	var found []Feed
	for _, l := range links {
		if f, ok := d.try(ctx, l, "advertised"); ok {
			found = append(found, f)
		}
	}
	if len(found) > 0 {
		return found, nil
	}
	for _, p := range CommonPaths {
		if ctx.Err() != nil {
			break
		}
		u := &url.URL{Scheme: final.Scheme, Host: final.Host, Path: p}
		if f, ok := d.try(ctx, u, "common path"); ok {
			return []Feed{f}, nil
		}
	}
	return nil, nil
}

type discoverer struct {
	o          Options
	tried      map[string]bool
	page       *url.URL
	pagePublic bool
}

// try fetches u and reports the feed it is, if it is one.
func (d *discoverer) try(ctx context.Context, u *url.URL, how string) (Feed, bool) {
	u.User = nil
	key := u.String()
	if d.tried[key] {
		return Feed{}, false
	}
	d.tried[key] = true
	if u.Scheme != "http" && u.Scheme != "https" {
		d.o.Note(key, "not an http(s) URL")
		return Feed{}, false
	}
	if !d.o.AllowPrivate && d.pagePublic && fetch.Origin(u) != fetch.Origin(d.page) && !d.public(ctx, u) {
		d.o.Note(key, "a public page pointing to a private address (watcher.allow_private_redirects allows it)")
		return Feed{}, false
	}
	resp, err := d.o.Fetcher.Fetch(ctx, fetch.Request{URL: key})
	if err != nil {
		if how != "common path" {
			d.o.Note(key, err.Error())
		}
		return Feed{}, false
	}
	defer resp.Release()
	doc, err := parse.Parse(resp.Body, resp.ContentType, d.o.MaxItems)
	if err != nil {
		if how != "common path" {
			d.o.Note(key, err.Error())
		}
		return Feed{}, false
	}
	final := key
	if resp.FinalURL != "" {
		final = resp.FinalURL
	}
	if final != key && d.tried[final] {
		return Feed{}, false // two links to one feed
	}
	d.tried[final] = true
	return Feed{URL: final, Title: doc.Title, Items: len(doc.Items), How: how}, true
}

// public reports whether u's host has a public address: a host that does
// not resolve counts as public (the fetch will fail on its own).
func (d *discoverer) public(ctx context.Context, u *url.URL) bool {
	port := u.Port()
	if port == "" {
		port = "443"
		if u.Scheme == "http" {
			port = "80"
		}
	}
	var pn uint16
	fmt.Sscanf(port, "%d", &pn)
	host := u.Hostname()
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		as, err := d.o.Lookup(ctx, host)
		if err != nil || len(as) == 0 {
			return true
		}
		addrs = as
	}
	for _, a := range addrs {
		if d.o.IsPrivate(netip.AddrPortFrom(a.Unmap(), pn)) {
			return false
		}
	}
	return true
}

// Links returns the feeds an HTML page advertises, resolved against its
// <base href> and the page's URL, without repeats, at most MaxCandidates.
// Only http(s) links are returned.
func Links(body []byte, page *url.URL) []*url.URL {
	z := html.NewTokenizer(bytes.NewReader(body))
	base := page
	baseSet := false
	var out, weak []*url.URL
	seen := map[string]bool{}
	for len(out) < MaxCandidates {
		tt := z.Next()
		if tt == html.ErrorToken {
			break // io.EOF, or a read error of a reader that has none
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		name, hasAttr := z.TagName()
		if !hasAttr {
			continue
		}
		switch atom.Lookup(name) {
		case atom.Base:
			attrs := attrsOf(z)
			if h, ok := attrs["href"]; ok && !baseSet {
				// The first <base href> counts, as in browsers.
				if u, err := page.Parse(strings.TrimSpace(h)); err == nil {
					base, baseSet = u, true
				}
			}
		case atom.Link:
			attrs := attrsOf(z)
			if !hasToken(attrs["rel"], "alternate") {
				continue
			}
			typ, _, _ := strings.Cut(strings.ToLower(attrs["type"]), ";")
			typ = strings.TrimSpace(typ)
			_, lang := attrs["hreflang"]
			_, media := attrs["media"]
			sure := feedTypes[typ]
			if !sure && (!weakFeedTypes[typ] || typ == "" && (lang || media)) {
				continue
			}
			href := strings.TrimSpace(attrs["href"])
			if href == "" {
				continue
			}
			u, err := base.Parse(href)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
				continue
			}
			u.Fragment = ""
			if k := u.String(); !seen[k] {
				seen[k] = true
				if sure {
					out = append(out, u)
				} else {
					weak = append(weak, u)
				}
			}
		}
	}
	for _, u := range weak {
		if len(out) >= MaxCandidates {
			break
		}
		out = append(out, u)
	}
	return out
}

// attrsOf reads the current tag's attributes, keys lower-case, the first
// of each name kept.
func attrsOf(z *html.Tokenizer) map[string]string {
	m := map[string]string{}
	for {
		k, v, more := z.TagAttr()
		key := strings.ToLower(string(k))
		if _, ok := m[key]; !ok {
			m[key] = string(v)
		}
		if !more {
			return m
		}
	}
}

// hasToken reports whether a space-separated list (rel="alternate feed")
// holds tok, ignoring case.
func hasToken(list, tok string) bool {
	for _, f := range strings.Fields(list) {
		if strings.EqualFold(f, tok) {
			return true
		}
	}
	return false
}
