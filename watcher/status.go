package watcher

import (
	"slices"
	"strings"
	"sync"

	"github.com/feedwatch/feedwatch/feedurl"
)

// statusCache remembers, from one Status call to the next, the feeds in
// name order and each one's masked URL. Masking every URL and sorting
// every name took ~110-140 ms and 22 MB per call at 50,000 feeds, and
// the console, /api/status and `feedwatch status` call it again and
// again while the set of feeds and their URLs seldom change.
type statusCache struct {
	mu     sync.Mutex // one Status at a time; not w.mu, which polls take
	names  []string   // the feeds of the last call, sorted
	raw    []string   // names[i]'s URL as polled then
	masked []string   // feedurl.Masked(raw[i])
}

// Status returns a snapshot of every feed, sorted by name, with URLs
// masked (no credentials, query or token-like path segments).
func (w *Watcher) Status() []FeedStatus {
	c := &w.stCache
	c.mu.Lock()
	defer c.mu.Unlock()

	w.mu.Lock()
	out := make([]FeedStatus, 0, len(w.status))
	// Same feeds as last time (same count, each found): copy them in the
	// order already sorted.
	same := len(c.names) == len(w.status)
	if same {
		for _, name := range c.names {
			s := w.status[name]
			if s == nil {
				same = false
				break
			}
			out = append(out, *s)
		}
	}
	if !same {
		out = out[:0]
		for _, s := range w.status {
			out = append(out, *s)
		}
	}
	w.mu.Unlock()

	if !same {
		c.rebuild(out)
	}
	for i := range out {
		if out[i].URL != c.raw[i] {
			// A redirect moved the feed, or a reload changed its URL.
			c.raw[i], c.masked[i] = out[i].URL, feedurl.Masked(out[i].URL)
		}
		out[i].URL = c.masked[i]
	}
	return out
}

// rebuild sorts out by name and makes the cache follow it, keeping the
// masked URLs of feeds still there.
func (c *statusCache) rebuild(out []FeedStatus) {
	slices.SortFunc(out, func(a, b FeedStatus) int { return strings.Compare(a.Name, b.Name) })
	type known struct{ raw, masked string }
	prev := make(map[string]known, len(c.names))
	for i, n := range c.names {
		prev[n] = known{c.raw[i], c.masked[i]}
	}
	c.names = make([]string, len(out))
	c.raw = make([]string, len(out))
	c.masked = make([]string, len(out))
	for i, f := range out {
		c.names[i] = f.Name
		if k, ok := prev[f.Name]; ok && k.raw == f.URL {
			c.raw[i], c.masked[i] = k.raw, k.masked
		} else {
			c.raw[i], c.masked[i] = f.URL, feedurl.Masked(f.URL)
		}
	}
}
