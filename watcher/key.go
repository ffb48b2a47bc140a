package watcher

import (
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/feedwatch/feedwatch/item"
)

// Key namespaces: an item's identity is its GUID/id, else its link, else a
// hash of title and date (SPEC "Items, dedup and state"), always within
// its feed.
const (
	nsGUID  = "g_"
	nsLink  = "l_"
	nsHash  = "h_"
	nsGUIDL = "d_" // a GUID repeated in one document for a different link
)

// token hashes parts into a KV-safe key: prefix + 32 base64url characters
// (192 bits of SHA-256), 34 characters in all.
func token(prefix string, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return prefix + base64.RawURLEncoding.EncodeToString(sum[:24])
}

// ItemKey returns the identity of it within feed: GUID/id, else normalised
// link, else title and date.
func ItemKey(feed string, it item.Item) string {
	switch {
	case it.ID != "":
		return token(nsGUID, feed, it.ID)
	case it.Link != "":
		return linkKey(feed, NormalizeLink(it.Link))
	default:
		date := ""
		if it.Published != nil {
			date = it.Published.UTC().Format(time.RFC3339)
		}
		return token(nsHash, feed, it.Title, date)
	}
}

func linkKey(feed, normLink string) string { return token(nsLink, feed, normLink) }

// NormalizeLink canonicalises a link for identity: lower-case scheme and
// host, default port dropped, no fragment, no utm_* parameters, remaining
// query parameters sorted. Unparseable input is returned trimmed.
func NormalizeLink(s string) string {
	s = strings.TrimSpace(s)
	if plainLink(s) {
		return s // already canonical: skip url.Parse (hot path)
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return s
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Host = strings.ToLower(u.Host)
	if (u.Scheme == "http" && strings.HasSuffix(u.Host, ":80")) || (u.Scheme == "https" && strings.HasSuffix(u.Host, ":443")) {
		u.Host = u.Host[:strings.LastIndexByte(u.Host, ':')]
	}
	u.Fragment = ""
	u.RawFragment = ""
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			if strings.HasPrefix(strings.ToLower(k), "utm_") {
				delete(q, k)
			}
		}
		u.RawQuery = encodeSorted(q)
	}
	if u.Path == "" && u.Opaque == "" {
		u.Path = "/"
	}
	return u.String()
}

func encodeSorted(q url.Values) string {
	if len(q) == 0 {
		return ""
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range q[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(k))
			b.WriteByte('=')
			b.WriteString(url.QueryEscape(v))
		}
	}
	return b.String()
}

// keyed is an item with its identity keys for one poll.
type keyed struct {
	it item.Item
	// alt is a second identity, the feed+link key of a GUID item whose link
	// is unique in the document, so a GUID that changes while the link
	// stays does not alert twice. "" when not applicable.
	alt string
}

// assignKeys sets Key on every item, drops exact repeats inside the
// document, and keeps a repeated GUID that points to a different link as a
// distinct item (publisher bug; losing a genuinely new item is worse).
func assignKeys(feed item.Feed, siteLink string, items []item.Item) []keyed {
	linkCount := make(map[string]int, len(items))
	norm := make([]string, len(items))
	for i, it := range items {
		if it.Link != "" {
			norm[i] = NormalizeLink(it.Link)
			linkCount[norm[i]]++
		}
	}
	site := ""
	if siteLink != "" {
		site = NormalizeLink(siteLink)
	}
	out := make([]keyed, 0, len(items))
	byKey := make(map[string]int, len(items))
	for i, it := range items {
		it.Feed = feed
		it.Key = ItemKey(feed.Name, it)
		if j, dup := byKey[it.Key]; dup {
			first := out[j].it
			if it.ID == "" || norm[i] == "" || NormalizeLink(first.Link) == norm[i] {
				continue // the same item twice
			}
			it.Key = token(nsGUIDL, feed.Name, it.ID, norm[i])
			if _, dup2 := byKey[it.Key]; dup2 {
				continue
			}
		}
		k := keyed{it: it}
		// A link shared by several items (or the site's home page) does
		// not identify an item; only a unique link backs up the GUID.
		if it.ID != "" && norm[i] != "" && linkCount[norm[i]] == 1 && norm[i] != site {
			k.alt = linkKey(feed.Name, norm[i])
		}
		byKey[it.Key] = len(out)
		out = append(out, k)
	}
	return out
}

// absLinks makes relative item links absolute against the document's URL
// (relative links are common in Atom with xml:base); a link that does not
// parse is left alone.
func absLinks(items []item.Item, base string) {
	b, err := url.Parse(base)
	if err != nil || b.Scheme == "" || b.Host == "" {
		return
	}
	// Links are published with hits: they must not inherit the feed URL's
	// credentials (a relative link keeps the base's userinfo, and "#x" its
	// query, ?token= included).
	b.User = nil
	b.RawQuery, b.ForceQuery = "", false
	for i := range items {
		l := items[i].Link
		if l == "" || strings.Contains(l, "://") {
			continue
		}
		if u, err := url.Parse(l); err == nil && u.Scheme == "" {
			items[i].Link = b.ResolveReference(u).String()
		}
	}
}

// plainLink reports whether s is an http(s) URL that NormalizeLink would
// return unchanged: lower-case scheme and host, no port, a path of
// unreserved characters only, no query, no fragment.
func plainLink(s string) bool {
	var rest string
	switch {
	case strings.HasPrefix(s, "https://"):
		rest = s[8:]
	case strings.HasPrefix(s, "http://"):
		rest = s[7:]
	default:
		return false
	}
	slash := strings.IndexByte(rest, '/')
	if slash <= 0 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '.':
		case i > slash && (c == '/' || c == '_' || c == '~' || (c >= 'A' && c <= 'Z')):
		default:
			return false
		}
	}
	return true
}
