package notifier

import (
	"slices"
	"strings"
	"time"

	"github.com/feedwatch/feedwatch/hit"
)

// Grouping: the stream carries one hit per (profile, item), but a reader
// wants one message per item naming every profile it matched. The watcher
// publishes an item's hits one after the other, so they arrive together;
// the engine sends the hits of one item that arrive together as one
// message, and settles (ledger, ack, retry, dead letter) each hit on its own.

const (
	// defaultGatherQuiet is how long the engine waits for more hits after
	// one arrives (an item's hits for other profiles are published
	// milliseconds apart) before it sends what it holds.
	defaultGatherQuiet = 100 * time.Millisecond
	// defaultGatherMax caps that wait from the first hit held, so a
	// steady stream of hits is not held back.
	defaultGatherMax = 400 * time.Millisecond
	// gatherSettle is how long a group waits after its last hit once a
	// hit of another item has come: hits of several watchers may
	// interleave in the stream, an item's own come milliseconds apart.
	gatherSettle = 20 * time.Millisecond
	// minGatherBatch is the fewest hits the engine may hold while they
	// wait for their items' other hits.
	minGatherBatch = 16
)

// group is the hits of one item that go out as one message.
type group []entry

// itemKey is the identity of a hit's item as far as the hit shows it: the
// fields the item's identity is made of (feed plus GUID, link, or title
// and date). The hits of one item from one poll agree on all of them.
func itemKey(h hit.Hit) string {
	published := ""
	if h.Item.Published != nil {
		published = h.Item.Published.UTC().Format(time.RFC3339Nano)
	}
	return strings.Join([]string{h.Feed.Name, h.Item.ID, h.Item.Link, h.Item.Title, published}, "\x00")
}

// groupEntries is groupEntries, or each entry a group of its own when the
// engine sends each hit on its own.
func (e *Engine) groupEntries(ens []entry) []group {
	if !e.o.PerHit {
		return groupEntries(ens)
	}
	groups := make([]group, len(ens))
	for i, en := range ens {
		groups[i] = group{en}
	}
	return groups
}

// groupEntries groups decoded entries by item, in order of first
// appearance. A group never holds two different hits of one profile: those
// are different items however alike they look, and each is sent.
func groupEntries(ens []entry) []group {
	var groups []group
	byKey := map[string][]int{}
next:
	for _, en := range ens {
		k := itemKey(en.hit)
		for _, gi := range byKey[k] {
			if fits(groups[gi], en.hit) {
				groups[gi] = append(groups[gi], en)
				continue next
			}
		}
		byKey[k] = append(byKey[k], len(groups))
		groups = append(groups, group{en})
	}
	return groups
}

// fits reports whether h may join g: its profile is not in g yet, or it is
// the same hit handed out twice.
func fits(g group, h hit.Hit) bool {
	for _, en := range g {
		if en.hit.Profile == h.Profile {
			return en.hit.ID == h.ID
		}
	}
	return true
}

// merge is the one hit a group is sent as: the first hit, with Profiles
// naming every profile (in stream order, once each), the matches of all
// of them (once each), and the earliest detection time.
func merge(g group) hit.Hit {
	m := g[0].hit
	m.Profiles = []string{m.Profile}
	m.Matches = append([]hit.Match(nil), m.Matches...)
	seen := map[hit.Match]bool{}
	for _, x := range m.Matches {
		seen[x] = true
	}
	for _, en := range g[1:] {
		h := en.hit
		if !slices.Contains(m.Profiles, h.Profile) {
			m.Profiles = append(m.Profiles, h.Profile)
		}
		for _, x := range h.Matches {
			if !seen[x] {
				seen[x] = true
				m.Matches = append(m.Matches, x)
			}
		}
		if h.DetectedAt.Before(m.DetectedAt) {
			m.DetectedAt = h.DetectedAt
		}
		if m.Snippet == "" {
			m.Snippet = h.Snippet
		}
	}
	return m
}

// entries flattens groups.
func entries(gs []group) []entry {
	var out []entry
	for _, g := range gs {
		out = append(out, g...)
	}
	return out
}
