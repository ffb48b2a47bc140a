// Package item holds the one shape every feed entry takes inside feedwatch,
// whatever format (RSS, Atom, JSON Feed) it came from.
package item

import "time"

// Feed names the feed an item came from.
type Feed struct {
	Name  string
	URL   string
	Title string
	Tags  []string
}

// Item is a feed entry after parsing. Summary and Content are the feed's own
// (often HTML) text; the matcher strips markup itself.
type Item struct {
	Feed Feed
	// ID is the GUID or id the feed gave, or "" when it gave none.
	ID string
	// Key is the item's identity per SPEC: feed plus GUID/id; without one, its
	// link; without both, a hash of title and date. Set by the watcher.
	Key        string
	Title      string
	Link       string
	Published  *time.Time
	Authors    []string
	Categories []string
	Summary    string
	Content    string
}
