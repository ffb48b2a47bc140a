package console

import (
	"hash/fnv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// DefaultItemsSize is how many new items the feed pages remember, across
// all feeds: with titles cut to maxItemTitle and links to maxItemLink
// bytes, at most about 15 MB (typically 3 to 5).
const DefaultItemsSize = 20_000

const (
	maxItemTitle = 200
	// A longer link is not kept (cutting it would break it).
	maxItemLink = 512
)

// Items remembers the newest items the watcher handed on, hit or not, for
// the feed pages. It is one ring for all feeds: memory stays bounded with
// 50,000 feeds, and a page scans it for its feed.
type Items struct {
	mu   sync.Mutex
	ring []itemRec
	next int // where the next item goes once the ring is full
	max  int
}

type itemRec struct {
	feed        string // shared with the config: no copy per item
	title, link string
	published   int64 // unix seconds, 0: none
	seen        int64
	key         uint64 // itemKey: what the hit index groups by
}

// NewItems makes a ring of at most max items (0: DefaultItemsSize).
func NewItems(max int) *Items {
	if max <= 0 {
		max = DefaultItemsSize
	}
	return &Items{max: max}
}

// Add remembers one new item of feed. id and link are the item's as in
// its hits (they identify it in the hit index); title is plain text.
func (x *Items) Add(feed, id, title, link string, published *time.Time, seen time.Time) {
	if x == nil {
		return
	}
	r := itemRec{feed: feed, title: strings.Clone(cut(title, maxItemTitle)), seen: seen.Unix(), key: itemKey(feed, id, link)}
	if len(link) <= maxItemLink {
		r.link = strings.Clone(link)
	}
	if published != nil {
		r.published = published.Unix()
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if len(x.ring) < x.max {
		x.ring = append(x.ring, r)
		return
	}
	x.ring[x.next] = r
	x.next = (x.next + 1) % x.max
}

// Item is one remembered item.
type Item struct {
	Title, Link string
	Published   time.Time // zero: the feed gave none
	Seen        time.Time
	Key         uint64
}

// Feed returns the remembered items of feed, the newest seen first.
func (x *Items) Feed(feed string) []Item {
	if x == nil {
		return nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []Item
	n := len(x.ring)
	for i := range n {
		// From the newest back: the slot before next, wrapping.
		r := &x.ring[(x.next-1-i+2*n)%n]
		if r.feed != feed {
			continue
		}
		it := Item{Title: r.title, Link: r.link, Seen: time.Unix(r.seen, 0), Key: r.key}
		if r.published != 0 {
			it.Published = time.Unix(r.published, 0)
		}
		out = append(out, it)
	}
	return out
}

// itemKey identifies an item of a feed as the hit index does.
func itemKey(feed, id, link string) uint64 {
	f := fnv.New64a()
	_, _ = f.Write([]byte(feed))
	_, _ = f.Write([]byte{0})
	_, _ = f.Write([]byte(id))
	_, _ = f.Write([]byte{0})
	_, _ = f.Write([]byte(link))
	return f.Sum64()
}

// cut shortens s to at most n bytes, on a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
