package console

import (
	"hash/fnv"
	"sync"
	"time"
	"unicode/utf8"
)

// DefaultItemsSize is how many new items the feed pages remember at most,
// across all feeds, and DefaultItemsBytes how many bytes of their titles
// and links: with the slots, under 2 MB in all, whatever the feeds write
// (the rest of the console takes about 18 of its 20 MB at 50,000 feeds).
// Typical items (170 bytes of text) fill about 6,800.
const (
	DefaultItemsSize  = 8_000
	DefaultItemsBytes = 1_200_000
)

const (
	maxItemTitle = 200
	// A longer link is not kept (cutting it would break it).
	maxItemLink = 512
)

// Items remembers the newest items the watcher handed on, hit or not, for
// the feed pages. It is one ring for all feeds: memory stays bounded with
// 50,000 feeds, and a page scans it for its feed.
type Items struct {
	mu     sync.Mutex
	ring   []itemRec // made at the first item, max long
	start  int       // the oldest item
	n      int       // items held
	bytes  int       // their text
	max    int
	budget int
}

// itemRec is packed: 56 bytes and one allocation for title and link.
type itemRec struct {
	feed      string // shared with the config: no copy per item
	text      string // title then link
	key       uint64 // itemKey: what the hit index groups by
	published uint32 // unix seconds, 0: none (or before 1970)
	seen      uint32
	titleLen  uint16
}

// unix32 is t in unix seconds, 0 when it does not fit.
func unix32(t time.Time) uint32 {
	u := t.Unix()
	if u <= 0 || u > 1<<32-1 {
		return 0
	}
	return uint32(u)
}

// NewItems makes a ring of at most max items (0: DefaultItemsSize) and
// budget bytes of text (0: DefaultItemsBytes).
func NewItems(max, budget int) *Items {
	if max <= 0 {
		max = DefaultItemsSize
	}
	if budget <= 0 {
		budget = DefaultItemsBytes
	}
	return &Items{max: max, budget: budget}
}

// Add remembers one new item of feed. id and link are the item's as in
// its hits (they identify it in the hit index); title is plain text.
func (x *Items) Add(feed, id, title, link string, published *time.Time, seen time.Time) {
	if x == nil {
		return
	}
	key := itemKey(feed, id, link)
	title = cut(title, maxItemTitle)
	if len(link) > maxItemLink {
		link = ""
	}
	r := itemRec{feed: feed, text: title + link, titleLen: uint16(len(title)), seen: unix32(seen), key: key}
	if published != nil {
		r.published = unix32(*published)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.ring == nil {
		x.ring = make([]itemRec, x.max)
	}
	// The oldest go until the new one fits.
	for x.n > 0 && (x.n == x.max || x.bytes+len(r.text) > x.budget) {
		x.bytes -= len(x.ring[x.start].text)
		x.ring[x.start] = itemRec{}
		x.start = (x.start + 1) % x.max
		x.n--
	}
	x.ring[(x.start+x.n)%x.max] = r
	x.n++
	x.bytes += len(r.text)
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
	for i := x.n - 1; i >= 0; i-- {
		r := &x.ring[(x.start+i)%x.max]
		if r.feed != feed {
			continue
		}
		it := Item{Title: r.text[:r.titleLen], Link: r.text[r.titleLen:], Seen: time.Unix(int64(r.seen), 0), Key: r.key}
		if r.published != 0 {
			it.Published = time.Unix(int64(r.published), 0)
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
