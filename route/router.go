package route

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/item"
	"github.com/feedwatch/feedwatch/watcher"
)

// Router turns a poll's new items into published hits. As the watcher's
// Sink it marks items seen only after Handle returns nil, so a failure
// here means the items are routed again on the next poll, never dropped.
type Router struct {
	table     atomic.Pointer[Table]
	store     Store
	now       func() time.Time
	published func(hit.Hit)
}

var _ watcher.Sink = (*Router)(nil)

// RouterOption configures a Router.
type RouterOption func(*Router)

// WithClock sets the clock that stamps DetectedAt (default time.Now).
func WithClock(now func() time.Time) RouterOption {
	return func(r *Router) { r.now = now }
}

// OnPublished is called after each hit is stored (metrics, status pages).
func OnPublished(fn func(hit.Hit)) RouterOption {
	return func(r *Router) { r.published = fn }
}

// NewRouter builds a Router over t (nil: route nothing until SetTable) and
// store (the bus; DryRun for a backtest). store must not be nil.
func NewRouter(t *Table, store Store, opts ...RouterOption) *Router {
	r := &Router{store: store, now: time.Now, published: func(hit.Hit) {}}
	for _, o := range opts {
		o(r)
	}
	r.table.Store(t)
	return r
}

// SetTable swaps the compiled profiles (a config reload); routing in
// progress finishes on the table it started with.
func (r *Router) SetTable(t *Table) { r.table.Store(t) }

// Handle routes the items of one feed: each match of a profile that watches
// the feed becomes a hit, published unless it was alerted before or another
// feed already claimed its link for that profile.
func (r *Router) Handle(ctx context.Context, feed item.Feed, items []item.Item) error {
	t := r.table.Load()
	if t == nil {
		return nil
	}
	for i := range items {
		it := &items[i]
		for _, m := range t.Match(feed, it) {
			h := NewHit(m, feed, it, r.now())
			if err := r.publish(ctx, feed, it, h); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *Router) publish(ctx context.Context, _ item.Feed, _ *item.Item, h hit.Hit) error {
	ok, err := Publish(ctx, r.store, h)
	if ok {
		r.published(h)
	}
	return err
}

// Publish stores h unless it was alerted before or another feed already
// claimed its link for the profile, and reports whether it did: what the
// Router does with each hit it makes, for hits made elsewhere (a
// profile's catch-up over the archive). h must come from NewHit.
func Publish(ctx context.Context, s Store, h hit.Hit) (bool, error) {
	done, err := s.Alerted(ctx, h.ID)
	if err != nil || done {
		return false, err
	}
	if lk := LinkClaim(h.Profile, &item.Item{Link: h.Item.Link}); lk != "" {
		owner, err := s.ClaimLink(ctx, lk, h.Feed.Name)
		if err != nil {
			return false, err
		}
		if owner != h.Feed.Name {
			// Another feed already alerted this profile to this article.
			return false, nil
		}
	}
	if err := s.PublishHit(ctx, h); err != nil {
		return false, err
	}
	return true, nil
}
