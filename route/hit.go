package route

import (
	"net/url"
	"time"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/item"
	"github.com/feedwatch/feedwatch/matcher"
	"github.com/feedwatch/feedwatch/notifier/render"
	"github.com/feedwatch/feedwatch/plaintext"
	"github.com/feedwatch/feedwatch/watcher"
)

// SummaryLimit is the SPEC's cap on item.summary, in characters.
const SummaryLimit = 1000

// LinkClaim is the key under which the first feed to alert a profile to a
// link records itself, so the same article reached through another feed does
// not alert again (SPEC: "alerts once per profile"). Items of the same feed
// may share a link (live blogs, home-page links) and still alert each: only
// another feed's claim suppresses a hit. Links to a bare site root say
// nothing about the article and make no claim ("").
func LinkClaim(profile string, it *item.Item) string {
	if it.Link == "" {
		return ""
	}
	l := watcher.NormalizeLink(it.Link)
	u, err := url.Parse(l)
	if err != nil || u.Host == "" || (u.Path == "" || u.Path == "/") && u.RawQuery == "" {
		return ""
	}
	return "link_" + hit.ID(profile, l)
}

// NewHit is the hit message (SPEC JSON) for one match of an item.
func NewHit(r matcher.Result, feed item.Feed, it *item.Item, now time.Time) hit.Hit {
	summary := plaintext.FromHTML(it.Summary)
	if summary == "" {
		summary = plaintext.FromHTML(it.Content)
	}
	var published *time.Time
	if it.Published != nil {
		p := it.Published.UTC()
		published = &p
	}
	matches := r.Matches
	if matches == nil {
		matches = []hit.Match{}
	}
	return hit.Hit{
		V:          hit.Version,
		ID:         hit.ID(r.Profile, it.Key),
		Profile:    r.Profile,
		DetectedAt: now.UTC().Truncate(time.Second),
		Feed:       hit.Feed{Name: feed.Name, URL: feed.URL, Title: feed.Title},
		Item: hit.Item{
			ID:         itemID(it),
			Title:      plaintext.FromHTML(it.Title),
			Link:       it.Link,
			Published:  published,
			Authors:    nonNil(it.Authors),
			Categories: nonNil(it.Categories),
			Summary:    render.Truncate(SummaryLimit, summary),
		},
		Matches: matches,
		Snippet: r.Snippet,
	}
}

// itemID is item.id of a hit: the feed's GUID/id, else what identifies
// the item instead (SPEC "Items, dedup and state"): its link, else its
// key, the hash of its title and date. Never "": a receiver that drops
// repeats by item.id would otherwise drop every item without a GUID but
// the first.
func itemID(it *item.Item) string {
	switch {
	case it.ID != "":
		return it.ID
	case it.Link != "":
		return it.Link
	default:
		return it.Key
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
