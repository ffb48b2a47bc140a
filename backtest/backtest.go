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
	ReadArchive(ctx context.Context, from time.Time, fn func(bus.ArchiveMsg) error) error
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
	// Workers decode and match in parallel (0: GOMAXPROCS).
	Workers int
	// Progress, when set, is told now and then how many archive messages
	// were read of about how many (a message holds a poll's new items).
	Progress func(read, total uint64)
	// DetectedAtArchived stamps each hit's detected_at with when its item
	// was archived (when feedwatch first found it), not with Now: what a
	// backtest shows. Catch-up's hits are live ones and keep Now.
	DetectedAtArchived bool
}

// Stats sum a run up.
type Stats struct {
	// Read is how many archived items were read (each once: Dups counts
	// later copies of an item, skipped); InWindow how many of them were in
	// the window (and feed); Hits how many hits they made.
	Read, Dups, InWindow, Hits uint64
	// Msgs is how many archive messages were read; Damaged how many of them
	// could not be read (wholly or partly).
	Msgs, Damaged uint64
}

// dateSlack is how far before Since the read starts: an item counts from
// its published date, which may be later than when it was archived (a feed
// that dates items ahead). Items dated more than this after archiving are
// missed by a window that starts after they were archived.
const dateSlack = 48 * time.Hour

// A unit of work goes to a worker once it holds this many messages or
// compressed bytes (about 100-250 items either way).
const (
	unitMsgs  = 256
	unitBytes = 128 << 10
)

// unit is messages a worker decodes and matches, then the collector,
// in archive order, keeps each item's first copy of.
type unit struct {
	msgs  []bus.ArchiveMsg
	bytes int
	items []unitItem
	hits  []hit.Hit
	// damaged counts messages that could not be read; firstDamage names
	// the first.
	damaged     uint64
	firstDamage error
	done        chan struct{}
}

// unitItem is one decoded item: its identity, whether it is in the
// window, and its hits (the next n of the unit's).
type unitItem struct {
	id       archive.ID
	inWindow bool
	hits     int
}

var errLimit = errors.New("limit reached")

// Run matches the archive's items in the window and hands each hit to
// emit, in archive order (oldest archived first). An item archived more
// than once (two feeds with the same article, a poll written twice) is
// matched as its first copy. An error from emit stops the run and is
// returned.
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
	if info.Msgs == 0 {
		return st, ErrEmpty
	}
	br, err := archive.NewBatchReader()
	if err != nil {
		return st, fmt.Errorf("backtest: %w", err)
	}
	defer br.Close()
	now := o.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// The reader hands units to the workers and, in the same order, to
	// the collector, which waits for each to be matched: hits come out in
	// archive order, and the first copy of an item is the one kept.
	work := make(chan *unit, 64)
	ordered := make(chan *unit, 128)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range work {
				match(ctx, &o, br, u, now)
				close(u.done)
			}
		}()
	}
	var emitErr, damage error
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		seen := map[archive.ID]struct{}{}
		for u := range ordered {
			<-u.done
			if emitErr != nil {
				continue
			}
			st.Msgs += uint64(len(u.msgs))
			st.Damaged += u.damaged
			if damage == nil {
				damage = u.firstDamage
			}
			hits := u.hits
			for _, it := range u.items {
				h := hits[:it.hits]
				hits = hits[it.hits:]
				if _, dup := seen[it.id]; dup {
					st.Dups++
					continue
				}
				seen[it.id] = struct{}{}
				st.Read++
				if !it.inWindow {
					continue
				}
				st.InWindow++
				if emitErr = emitHits(&o, &st, h, emit); emitErr != nil {
					cancel()
					break
				}
			}
			u.msgs, u.items, u.hits = nil, nil, nil
			if o.Progress != nil {
				o.Progress(st.Msgs, info.Msgs)
			}
		}
	}()

	var from time.Time
	if !o.Since.IsZero() {
		from = o.Since.Add(-dateSlack)
	}
	cur := &unit{done: make(chan struct{})}
	send := func() bool {
		if len(cur.msgs) == 0 {
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
		cur = &unit{done: make(chan struct{})}
		return true
	}
	readErr := a.ReadArchive(ctx, from, func(m bus.ArchiveMsg) error {
		cur.msgs = append(cur.msgs, m)
		cur.bytes += len(m.Data)
		if (len(cur.msgs) >= unitMsgs || cur.bytes >= unitBytes) && !send() {
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
		return st, fmt.Errorf("backtest: %w: %d of %d archive messages could not be read (the first: %w)", ErrDamaged, st.Damaged, st.Msgs, damage)
	}
	return st, nil
}

// emitHits hands hs to emit, up to the run's limit.
func emitHits(o *Options, st *Stats, hs []hit.Hit, emit func(hit.Hit) error) error {
	for _, h := range hs {
		if o.Limit > 0 && st.Hits >= uint64(o.Limit) {
			return errLimit
		}
		st.Hits++
		if err := emit(h); err != nil {
			return err
		}
	}
	return nil
}

// match decodes one unit's messages and routes their items in the window
// through a dry-run router: the daemon's routing, remembering and sending
// nothing. Every item read is listed (one out of the window may be the
// first copy of one in it).
func match(ctx context.Context, o *Options, br *archive.BatchReader, u *unit, now time.Time) {
	if ctx.Err() != nil {
		return
	}
	r := route.NewRouter(o.Table, route.DryRun{Emit: func(_ context.Context, h hit.Hit) error {
		u.hits = append(u.hits, h)
		return nil
	}}, route.WithClock(func() time.Time { return now }))
	items := make([]item.Item, 1)
	// one decodes a record; id is its identity when the batch gave it.
	one := func(id archive.ID, haveID bool, data []byte) error {
		// Each message's data, and each batch's records, are their own:
		// share them.
		rec, err := archive.DecodeSharedLazyKey(data)
		if err != nil {
			return err
		}
		ui := unitItem{id: id} // the batch's: cheaper than from the link
		if !haveID {
			rec.DeriveKey()
			ui.id = rec.Identity()
		}
		if (o.OnlyFeed == "" || rec.Feed.Name == o.OnlyFeed) && (o.Since.IsZero() || !rec.Date().Before(o.Since)) {
			ui.inWindow = true
			feed := rec.Feed
			if o.Feed != nil {
				if f, ok := o.Feed(rec.Feed.Name); ok {
					// The config has no feed title: the document's stays.
					f.Title = rec.Feed.Title
					feed = f
				}
			}
			n := len(u.hits)
			items[0] = rec.Item(feed)
			_ = r.Handle(ctx, feed, items) // a dry run's store never fails
			ui.hits = len(u.hits) - n
			if ui.hits > 0 {
				// Only a hit's id needs the item's key: deriving it (a
				// SHA-256) for the few items that match, not for every
				// item read, is 4 % of a backtest.
				rec.DeriveKey()
				for i := n; i < len(u.hits); i++ {
					u.hits[i].ID = hit.ID(u.hits[i].Profile, rec.Key)
					if o.DetectedAtArchived && !rec.ArchivedAt.IsZero() {
						u.hits[i].DetectedAt = rec.ArchivedAt
					}
				}
			}
		}
		u.items = append(u.items, ui)
		return nil
	}
	for _, m := range u.msgs {
		var err error
		if m.Batch {
			err = br.ReadBatch(m.Data, func(id archive.ID, data []byte) error { return one(id, true, data) })
		} else {
			err = one(archive.ID{}, false, m.Data)
		}
		if err != nil {
			u.damaged++
			if u.firstDamage == nil {
				u.firstDamage = fmt.Errorf("stream sequence %d: %w", m.Seq, err)
			}
		}
	}
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
