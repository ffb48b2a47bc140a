package websub

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/url"
	"strings"
)

// Links are a feed's WebSub hubs and its self (topic) URL.
type Links struct {
	Hubs []string
	Self string
}

// maxHeadTokens bounds the discovery scan of a document: hub and self
// links sit in the feed's head, before the first item.
const maxHeadTokens = 4096

// Discover finds the hub and self URLs of a fetched feed (W3C WebSub
// section 4): HTTP Link headers first (they win when they name a hub),
// else the document's <link rel="hub"> / <atom:link rel="hub"> (Atom and
// RSS) or a JSON Feed's "hubs". Relative URLs resolve against base; only
// http(s) URLs are kept.
func Discover(base string, linkHeaders []string, body []byte) Links {
	b, _ := url.Parse(base)
	l := parseLinkHeaders(linkHeaders)
	if len(l.Hubs) == 0 {
		d := documentLinks(body)
		l.Hubs = d.Hubs
		if l.Self == "" {
			l.Self = d.Self
		}
	}
	out := Links{Self: resolve(b, l.Self)}
	for _, h := range l.Hubs {
		if r := resolve(b, h); r != "" && !contains(out.Hubs, r) {
			out.Hubs = append(out.Hubs, r)
		}
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func resolve(base *url.URL, ref string) string {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return ""
	}
	u, err := url.Parse(ref)
	if err != nil {
		return ""
	}
	if base != nil {
		u = base.ResolveReference(u)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return u.String()
}

// parseLinkHeaders reads RFC 8288 Link header values:
// `<https://hub.example/>; rel="hub", <https://example.org/feed>; rel=self`.
func parseLinkHeaders(values []string) Links {
	var l Links
	for _, v := range values {
		for len(v) > 0 {
			v = strings.TrimLeft(v, " \t,")
			if !strings.HasPrefix(v, "<") {
				// Not a link-value: skip to the next comma.
				i := strings.IndexByte(v, ',')
				if i < 0 {
					break
				}
				v = v[i+1:]
				continue
			}
			end := strings.IndexByte(v, '>')
			if end < 0 {
				break
			}
			target := v[1:end]
			v = v[end+1:]
			// Parameters up to the next comma outside quotes.
			var params string
			inQuote := false
			i := 0
			for ; i < len(v); i++ {
				c := v[i]
				if c == '"' {
					inQuote = !inQuote
				}
				if c == ',' && !inQuote {
					break
				}
			}
			params, v = v[:i], v[i:]
			for _, rel := range linkRels(params) {
				switch rel {
				case "hub":
					l.Hubs = append(l.Hubs, target)
				case "self":
					if l.Self == "" {
						l.Self = target
					}
				}
			}
		}
	}
	return l
}

// linkRels returns the rel values of a link's parameters, lower-cased.
func linkRels(params string) []string {
	for _, p := range strings.Split(params, ";") {
		k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "rel") {
			continue
		}
		val = strings.Trim(strings.TrimSpace(val), `"`)
		return strings.Fields(strings.ToLower(val))
	}
	return nil
}

// documentLinks scans a feed's head for hub and self links.
func documentLinks(body []byte) Links {
	trimmed := bytes.TrimLeft(body, " \t\r\n\ufeff")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		return jsonFeedLinks(trimmed)
	}
	var l Links
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = false
	// Hub URLs are ASCII: read any declared charset as is.
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	for range maxHeadTokens {
		tok, err := d.Token()
		if err != nil {
			break
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch strings.ToLower(se.Name.Local) {
		case "item", "entry":
			return l // the head is over
		case "link":
			var rel, href string
			for _, a := range se.Attr {
				switch strings.ToLower(a.Name.Local) {
				case "rel":
					rel = a.Value
				case "href":
					href = a.Value
				}
			}
			for _, r := range strings.Fields(strings.ToLower(rel)) {
				switch r {
				case "hub":
					l.Hubs = append(l.Hubs, href)
				case "self":
					if l.Self == "" {
						l.Self = href
					}
				}
			}
		}
	}
	return l
}

// jsonFeedLinks reads JSON Feed's "feed_url" and "hubs" (type WebSub).
func jsonFeedLinks(body []byte) Links {
	var f struct {
		FeedURL string `json:"feed_url"`
		Hubs    []struct {
			Type string `json:"type"`
			URL  string `json:"url"`
		} `json:"hubs"`
	}
	if json.Unmarshal(body, &f) != nil {
		return Links{}
	}
	l := Links{Self: f.FeedURL}
	for _, h := range f.Hubs {
		if strings.EqualFold(h.Type, "websub") || strings.EqualFold(h.Type, "pubsubhubbub") {
			l.Hubs = append(l.Hubs, h.URL)
		}
	}
	return l
}

// parseQuery is url.ParseQuery with a bound on the query's size.
func parseQuery(raw string) (url.Values, error) {
	if len(raw) > 8192 {
		return nil, errQueryTooLong
	}
	return url.ParseQuery(raw)
}
