// Package backtest matches archived items (the FEEDWATCH_ITEMS stream)
// against profiles, as the daemon would have matched them when they were
// new: through package route (the same compiled matcher, the same
// `feeds:` scopes, the same hit, with the id a live hit has). It sends
// nothing and changes no state. `feedwatch backtest`, each profile's
// catch_up and the web console's query box use it.
package backtest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/feedwatch/feedwatch/archive"
	"github.com/feedwatch/feedwatch/bus"
	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/item"
	"github.com/feedwatch/feedwatch/route"
)

// Archive is what a backtest reads: the bus (of a running daemon over
// NATS, or a stopped one's store opened read-only).
type Archive interface {
	ArchiveInfo(ctx context.Context) (bus.ArchiveInfo, error)
	ReadArchive(ctx context.Context, from time.Time, fn func(seq uint64, data []byte) error) error
}

var _ Archive = (*bus.Bus)(nil)

// Errors a caller may explain.
var (
	// ErrNoArchive: the archive stream does not exist (archive.retention
	// is 0, or no daemon with the archive on ever ran against this NATS).
	ErrNoArchive = bus.ErrNoArchive
	// ErrEmpty: the archive holds no item.
	ErrEmpty = errors.New("the archive is empty")
	// ErrDamaged: some archived items could not be read.
	ErrDamaged = bus.ErrArchiveDamaged
)

// Options say what to match.
type Options struct {
	// Table is the compiled profiles (route.Compile).
	Table *route.Table
	// Feed returns the configured feed of a name (route.ConfiguredFeed):
	// items route with the feed's name and tags as configured now. A feed
	// no longer configured routes as it was when archived. Nil: as
	// archived.
	Feed func(name string) (item.Feed, bool)
	// Since starts the window: items published then or later (archived,
	// when undated). Zero: the whole archive.
	Since time.Time
	// OnlyFeed keeps the items of this feed only ("": every feed).
	OnlyFeed string
	// Limit stops after this many hits (0: none).
	Limit int
	// Now stamps each hit's detected_at (nil: time.Now).
	Now func() time.Time
	// Workers match in parallel (0: GOMAXPROCS).
	Workers int
	// Progress, when set, is told now and then how many archived items
	// were read of about how many.
	Progress func(read, total uint64)
}

// Stats sum a run up.
type Stats struct {
	// Read is how many archived items were read; Matched how many of them
	// were in the window (and feed) and matched.
	Read, InWindow, Hits uint64
	// Damaged counts records that could not be decoded.
	Damaged uint64
}

// dateSlack is how far before Since the read starts: an item counts from
// its published date, which may be later than when it was archived (a feed
// that dates items ahead). Items dated more than this after archiving are
// missed by a window that starts after they were archived.
const dateSlack = 48 * time.Hour

// batchSize is how many archived items go to a worker at once.
const batchSize = 256

type batch struct {
	n    int
	data [][]byte
	hits []hit.Hit
	stat Stats
	done chan struct{}
}

var errLimit = errors.New("limit reached")

// Run matches the archive's items in the window and hands each hit to
// emit, in archive order (oldest archived first). An error from emit stops
// the run and is returned.
func Run(ctx context.Context, a Archive, o Options, emit func(hit.Hit) error) (Stats, error) {
	var st Stats
	if o.Table == nil {
		return st, errors.New("backtest: no profiles")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	info, err := a.ArchiveInfo(ctx)
	if err != nil {
		return st, err
	}
	if info.Items == 0 {
		return st, ErrEmpty
	}
	now := o.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// The reader hands batches to the workers and, in the same order, to
	// the collector, which waits for each to be matched: hits come out in
	// archive order.
	work := make(chan *batch, 64)
	ordered := make(chan *batch, 128)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				match(ctx, &o, b, now)
				close(b.done)
			}
		}()
	}
	var emitErr error
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		for b := range ordered {
			<-b.done
			if emitErr != nil {
				continue
			}
			st.Read += b.stat.Read
			st.InWindow += b.stat.InWindow
			st.Damaged += b.stat.Damaged
			for _, h := range b.hits {
				if o.Limit > 0 && st.Hits >= uint64(o.Limit) {
					emitErr = errLimit
					cancel()
					break
				}
				st.Hits++
				if err := emit(h); err != nil {
					emitErr = err
					cancel()
					break
				}
			}
			if o.Progress != nil {
				o.Progress(st.Read, info.Items)
			}
		}
	}()

	var from time.Time
	if !o.Since.IsZero() {
		from = o.Since.Add(-dateSlack)
	}
	cur := &batch{done: make(chan struct{})}
	send := func() bool {
		if cur.n == 0 {
			return true
		}
		select {
		case ordered <- cur:
		case <-ctx.Done():
			return false
		}
		select {
		case work <- cur:
		case <-ctx.Done():
			close(cur.done)
			return false
		}
		cur = &batch{done: make(chan struct{})}
		return true
	}
	readErr := a.ReadArchive(ctx, from, func(_ uint64, data []byte) error {
		cur.data = append(cur.data, data)
		cur.n++
		if cur.n == batchSize && !send() {
			return ctx.Err()
		}
		return nil
	})
	if readErr == nil {
		send()
	}
	close(work)
	wg.Wait()
	close(ordered)
	<-collected
	switch {
	case errors.Is(emitErr, errLimit):
		return st, nil
	case emitErr != nil:
		return st, emitErr
	case readErr != nil:
		return st, fmt.Errorf("backtest: %w", readErr)
	case st.Damaged > 0:
		return st, fmt.Errorf("backtest: %w: %d of %d archived items could not be read", ErrDamaged, st.Damaged, st.Read)
	}
	return st, nil
}

// match routes one batch's items through a dry-run router: the daemon's
// routing, remembering and sending nothing.
func match(ctx context.Context, o *Options, b *batch, now time.Time) {
	if ctx.Err() != nil {
		return
	}
	r := route.NewRouter(o.Table, route.DryRun{Emit: func(_ context.Context, h hit.Hit) error {
		b.hits = append(b.hits, h)
		return nil
	}}, route.WithClock(func() time.Time { return now }))
	items := make([]item.Item, 1)
	for _, data := range b.data {
		b.stat.Read++
		// Each message's data is its own (ReadArchive): share it.
		rec, err := archive.DecodeShared(data)
		if err != nil {
			b.stat.Damaged++
			continue
		}
		if o.OnlyFeed != "" && rec.Feed.Name != o.OnlyFeed {
			continue
		}
		if !o.Since.IsZero() && rec.Date().Before(o.Since) {
			continue
		}
		b.stat.InWindow++
		feed := rec.Feed
		if o.Feed != nil {
			if f, ok := o.Feed(rec.Feed.Name); ok {
				// The config has no feed title: the document's stays.
				f.Title = rec.Feed.Title
				feed = f
			}
		}
		items[0] = rec.Item(feed)
		_ = r.Handle(ctx, feed, items) // a dry run's store never fails
	}
	b.data = nil
}

// ConfiguredFeeds is Options.Feed for cfg.
func ConfiguredFeeds(cfg *config.Config) func(string) (item.Feed, bool) {
	return func(name string) (item.Feed, bool) { return route.ConfiguredFeed(cfg, name) }
}

// QueryArchive runs a query (the query language, as in a profile's
// `query:`) over the archive's items of the last `since` (0: all), every
// feed, and returns the newest limit hits (0: all), most recently archived
// first, each with its matched words and snippet; the profile of each hit
// is "query". For the web console's query box. A query that does not
// parse gives the matcher's error (with its column); ErrNoArchive and
// ErrEmpty say there is nothing to search. A run cut short (ctx ended)
// returns the hits found so far with ctx's error.
func QueryArchive(ctx context.Context, a Archive, cfg *config.Config, query string, since time.Duration, limit int, opts ...QueryOption) ([]hit.Hit, error) {
	t, err := route.Compile([]config.Profile{{Name: "query", Query: query}})
	if err != nil {
		return nil, err
	}
	o := Options{Table: t}
	for _, opt := range opts {
		opt(&o)
	}
	if cfg != nil {
		o.Feed = ConfiguredFeeds(cfg)
	}
	if since > 0 {
		o.Since = time.Now().Add(-since)
	}
	var out []hit.Hit
	_, err = Run(ctx, a, o, func(h hit.Hit) error {
		out = append(out, h)
		if limit > 0 && len(out) >= 2*limit {
			// Keep the newest limit: drop the oldest half at once.
			out = append(out[:0], out[len(out)-limit:]...)
		}
		return nil
	})
	if limit > 0 && len(out) > limit {
		out = out[len(out)-limit:]
	}
	slices.Reverse(out)
	return out, err
}

// QueryOption tunes QueryArchive.
type QueryOption func(*Options)

// QueryWorkers matches with n goroutines (default GOMAXPROCS): a daemon
// answering a query box keeps cores for its own work.
func QueryWorkers(n int) QueryOption { return func(o *Options) { o.Workers = n } }
