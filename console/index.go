package console

import (
	"encoding/json"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/feedwatch/feedwatch/hit"
)

// DefaultIndexSize is how many hits the index keeps by default: the newest
// ones of the hits stream.
const DefaultIndexSize = 100_000

// rec is one hit in the index: 32 bytes, its text stays in JetStream and
// is read by sequence for the rows a page shows.
type rec struct {
	seq     uint64
	at      int64  // detected_at, unix seconds
	item    uint64 // hash of feed and item id: a feed page groups by it
	profile uint32
	feed    uint32
}

// Index keeps the newest hits of the stream, by profile and by feed, so
// that pages count and list hits without asking JetStream. It is bounded:
// past max hits the oldest go.
type Index struct {
	mu  sync.RWMutex
	max int
	// ring holds the hits by ordinal (the count of hits added before):
	// ordinal o is at ring[o%max] while o >= first.
	ring  []rec
	first uint64 // oldest ordinal kept
	next  uint64 // ordinal of the next hit

	profiles  interner
	feeds     interner
	byProfile [][]uint64 // ordinals, oldest first, trimmed lazily
	byFeed    [][]uint64
	lastSeq   uint64
}

// NewIndex makes an index of at most max hits (0: DefaultIndexSize).
func NewIndex(max int) *Index {
	if max <= 0 {
		max = DefaultIndexSize
	}
	return &Index{max: max, profiles: newInterner(), feeds: newInterner()}
}

type interner struct {
	ids   map[string]uint32
	names []string
}

func newInterner() interner { return interner{ids: map[string]uint32{}} }

func (in *interner) id(name string) uint32 {
	if id, ok := in.ids[name]; ok {
		return id
	}
	id := uint32(len(in.names))
	in.ids[name] = id
	in.names = append(in.names, name)
	return id
}

// hitHead is the part of a hit message the index reads.
type hitHead struct {
	Profile    string    `json:"profile"`
	DetectedAt time.Time `json:"detected_at"`
	Feed       struct {
		Name string `json:"name"`
	} `json:"feed"`
	Item struct {
		ID   string `json:"id"`
		Link string `json:"link"`
	} `json:"item"`
}

// AddMessage indexes one message of the hits stream; one that does not
// decode is left out (the notifiers dead-letter it).
func (x *Index) AddMessage(seq uint64, data []byte) {
	var h hitHead
	if err := json.Unmarshal(data, &h); err != nil || h.Profile == "" {
		return
	}
	x.add(seq, h.Profile, h.Feed.Name, h.Item.ID, h.Item.Link, h.DetectedAt)
}

// Add indexes one hit (tests and benchmarks).
func (x *Index) Add(seq uint64, h hit.Hit) {
	x.add(seq, h.Profile, h.Feed.Name, h.Item.ID, h.Item.Link, h.DetectedAt)
}

func (x *Index) add(seq uint64, profile, feed, id, link string, at time.Time) {
	key := itemKey(feed, id, link)
	x.mu.Lock()
	defer x.mu.Unlock()
	if seq <= x.lastSeq {
		return // read again after the consumer was recreated
	}
	x.lastSeq = seq
	r := rec{seq: seq, at: at.Unix(), item: key, profile: x.profiles.id(profile), feed: x.feeds.id(feed)}
	if x.ring == nil {
		x.ring = make([]rec, 0, min(x.max, 1024))
	}
	o := x.next
	if len(x.ring) < x.max {
		x.ring = append(x.ring, r)
	} else {
		x.ring[o%uint64(x.max)] = r
		x.first = o + 1 - uint64(x.max)
	}
	x.next++
	x.byProfile = appendTo(x.byProfile, r.profile, o, x.first)
	x.byFeed = appendTo(x.byFeed, r.feed, o, x.first)
}

// appendTo adds ordinal o to list id, dropping ordinals below first from
// its front now and then so the lists stay bounded with the ring.
func appendTo(lists [][]uint64, id uint32, o, first uint64) [][]uint64 {
	for int(id) >= len(lists) {
		lists = append(lists, nil)
	}
	l := lists[id]
	if len(l) > 0 && l[0] < first && len(l) == cap(l) {
		i := sort.Search(len(l), func(i int) bool { return l[i] >= first })
		l = append(l[:0:0], l[i:]...)
	}
	lists[id] = append(l, o)
	return lists
}

func (x *Index) at(o uint64) rec { return x.ring[o%uint64(x.max)] }

// live returns the part of a list still in the ring.
func (x *Index) live(l []uint64) []uint64 {
	i := sort.Search(len(l), func(i int) bool { return l[i] >= x.first })
	return l[i:]
}

// Ref is one indexed hit: where to read it and what it is about.
type Ref struct {
	Seq     uint64
	At      time.Time
	Profile string
	Feed    string
	Item    uint64
}

func (x *Index) ref(r rec) Ref {
	return Ref{Seq: r.seq, At: time.Unix(r.at, 0), Profile: x.profiles.names[r.profile], Feed: x.feeds.names[r.feed], Item: r.item}
}

// Filter picks hits by profile and feed ("" for any).
type Filter struct{ Profile, Feed string }

// Recent returns the newest hits matching f, skipping the first skip, at
// most n of them, and how many match in all.
func (x *Index) Recent(f Filter, skip, n int) ([]Ref, int) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var list []uint64
	var total int
	switch {
	case f.Profile != "":
		id, ok := x.profiles.ids[f.Profile]
		if !ok || int(id) >= len(x.byProfile) {
			return nil, 0
		}
		list = x.live(x.byProfile[id])
	case f.Feed != "":
		id, ok := x.feeds.ids[f.Feed]
		if !ok || int(id) >= len(x.byFeed) {
			return nil, 0
		}
		list = x.live(x.byFeed[id])
	default:
		total = int(x.next - x.first)
		var out []Ref
		for o := int64(x.next) - 1 - int64(skip); o >= int64(x.first) && len(out) < n; o-- {
			out = append(out, x.ref(x.at(uint64(o))))
		}
		return out, total
	}
	var out []Ref
	if f.Profile != "" && f.Feed != "" {
		fid, ok := x.feeds.ids[f.Feed]
		if !ok {
			return nil, 0
		}
		for i := len(list) - 1; i >= 0; i-- {
			r := x.at(list[i])
			if r.feed != fid {
				continue
			}
			if total >= skip && len(out) < n {
				out = append(out, x.ref(r))
			}
			total++
		}
		return out, total
	}
	total = len(list)
	for i := len(list) - 1 - skip; i >= 0 && len(out) < n; i-- {
		out = append(out, x.ref(x.at(list[i])))
	}
	return out, total
}

// Since counts each profile's hits detected at or after t.
func (x *Index) Since(t time.Time) map[string]int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := make(map[string]int, len(x.byProfile))
	ts := t.Unix()
	for id, l := range x.byProfile {
		l = x.live(l)
		// Hits come in roughly by time: count from the newest back.
		c := 0
		for i := len(l) - 1; i >= 0 && x.at(l[i]).at >= ts; i-- {
			c++
		}
		if c > 0 {
			out[x.profiles.names[id]] = c
		}
	}
	return out
}

// PerDay counts a profile's hits per UTC day for the days days up to and
// including today, oldest first.
func (x *Index) PerDay(profile string, now time.Time, days int) []int {
	out := make([]int, days)
	x.mu.RLock()
	defer x.mu.RUnlock()
	id, ok := x.profiles.ids[profile]
	if !ok || int(id) >= len(x.byProfile) {
		return out
	}
	today := now.UTC().Truncate(24 * time.Hour).Unix()
	start := today - int64(days-1)*86400
	l := x.live(x.byProfile[id])
	for i := len(l) - 1; i >= 0; i-- {
		at := x.at(l[i]).at
		if at < start {
			break
		}
		if d := (at - start) / 86400; d < int64(days) {
			out[d]++
		}
	}
	return out
}

// Len is how many hits the index holds.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return int(x.next - x.first)
}

// Feeds lists the feeds with hits in the index.
func (x *Index) Feeds() []string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return slices.Clone(x.feeds.names)
}
