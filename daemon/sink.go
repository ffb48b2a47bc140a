package daemon

import (
	"context"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/item"
	"github.com/feedwatch/feedwatch/matcher"
	"github.com/feedwatch/feedwatch/notifier/render"
	"github.com/feedwatch/feedwatch/plaintext"
	"github.com/feedwatch/feedwatch/watcher"
)

// hitPublisher stores hits; the bus implements it.
type hitPublisher interface {
	Alerted(ctx context.Context, hitID string) (bool, error)
	ClaimLink(ctx context.Context, key, feed string) (owner string, err error)
	PublishHit(ctx context.Context, h hit.Hit) error
}

// sink turns a poll's new items into published hits. The watcher marks the
// items seen only after Handle returns nil, so a failure here means the items
// are matched again on the next poll, never dropped.
type sink struct {
	routes atomic.Pointer[routes]
	pub    hitPublisher
	now    func() time.Time
	hits   *prometheus.CounterVec

	mu    sync.Mutex
	stats map[string]ProfileStats
}

type ProfileStats struct {
	Hits    int64     `json:"hits"`
	LastHit time.Time `json:"last_hit,omitzero"`
}

var _ watcher.Sink = (*sink)(nil)

func newSink(pub hitPublisher, reg prometheus.Registerer, now func() time.Time) *sink {
	s := &sink{
		pub: pub, now: now, stats: map[string]ProfileStats{},
		hits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "feedwatch_hits_total", Help: "Hits published, by profile.",
		}, []string{"profile"}),
	}
	if reg != nil {
		reg.MustRegister(s.hits)
	}
	return s
}

func (s *sink) Handle(ctx context.Context, feed item.Feed, items []item.Item) error {
	rt := s.routes.Load()
	if rt == nil {
		return nil
	}
	for i := range items {
		it := &items[i]
		for _, r := range rt.m.Match(it) {
			if !rt.scopes[r.Index].allows(feed) {
				continue
			}
			h := newHit(r, feed, it, s.now())
			done, err := s.pub.Alerted(ctx, h.ID)
			if err != nil {
				return err
			}
			if done {
				continue
			}
			if lk := linkClaim(r.Profile, it); lk != "" {
				owner, err := s.pub.ClaimLink(ctx, lk, feed.Name)
				if err != nil {
					return err
				}
				if owner != feed.Name {
					// Another feed already alerted this profile to this article.
					continue
				}
			}
			if err := s.pub.PublishHit(ctx, h); err != nil {
				return err
			}
			s.hits.WithLabelValues(h.Profile).Inc()
			s.mu.Lock()
			st := s.stats[h.Profile]
			st.Hits++
			st.LastHit = h.DetectedAt
			s.stats[h.Profile] = st
			s.mu.Unlock()
		}
	}
	return nil
}

func (s *sink) ProfileStats() map[string]ProfileStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]ProfileStats, len(s.stats))
	for k, v := range s.stats {
		out[k] = v
	}
	return out
}

// summaryLimit is the SPEC's cap on item.summary, in characters.
const summaryLimit = 1000

// linkClaim is the key under which the first feed to alert a profile to a
// link records itself, so the same article reached through another feed does
// not alert again (SPEC: "alerts once per profile"). Items of the same feed
// may share a link (live blogs, home-page links) and still alert each: only
// another feed's claim suppresses a hit. Links to a bare site root say
// nothing about the article and make no claim.
func linkClaim(profile string, it *item.Item) string {
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

func newHit(r matcher.Result, feed item.Feed, it *item.Item, now time.Time) hit.Hit {
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
			ID:         it.ID,
			Title:      plaintext.FromHTML(it.Title),
			Link:       it.Link,
			Published:  published,
			Authors:    nonNil(it.Authors),
			Categories: nonNil(it.Categories),
			Summary:    render.Truncate(summaryLimit, summary),
		},
		Matches: matches,
		Snippet: r.Snippet,
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
