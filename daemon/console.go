package daemon

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/feedwatch/feedwatch/bus"
	"github.com/feedwatch/feedwatch/console"
	"github.com/feedwatch/feedwatch/item"
	"github.com/feedwatch/feedwatch/plaintext"
	"github.com/feedwatch/feedwatch/watcher"
)

// startConsole makes the web console and starts feeding its hit index from
// the hits stream; both stop with ctx.
func (d *daemon) startConsole(ctx context.Context) error {
	idx := console.NewIndex(console.DefaultIndexSize)
	// Made before the watcher starts: its sink fills it.
	d.seen = console.NewItems(0, 0)
	c, err := console.New(console.Options{
		Status:   d.consoleStatus,
		Index:    idx,
		Items:    d.seen,
		Hits:     d.bus,
		Ledger:   d.bus.Ledger(),
		Dead:     deadBox{d.bus.DeadBox()},
		Mutes:    d.mutes,
		Searcher: d.searcher(),
		Reload:   d.requestReload,
		Logger:   d.log,
		Now:      d.opts.Now,
	})
	if err != nil {
		return err
	}
	d.console = c
	go func() {
		// TailHits returns only when it cannot start (NATS away at that
		// moment): try again; hits read twice are indexed once.
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			err := d.bus.TailHits(ctx, console.DefaultIndexSize, idx.AddMessage)
			if ctx.Err() != nil {
				return
			}
			d.log.Warn("web console: reading the hits stream failed; trying again in 5 s", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return nil
}

// consoleStatus is the status as the console shows it, with what only the
// config knows: each profile's query and notifiers, each notifier's type.
func (d *daemon) consoleStatus() console.Status {
	s := d.statusWith(false)
	out := console.Status{Mode: s.Mode, Ready: s.Ready, Members: s.Members}
	out.Feeds = make([]console.Feed, len(s.Feeds))
	for i, f := range s.Feeds {
		out.Feeds[i] = console.Feed{Name: f.Name, URL: f.URL, Result: f.Result, Error: f.Error, Notice: f.Notice,
			LastPoll: f.LastPoll, NextDue: f.NextDue, Gone: f.Gone, Failures: f.Failures}
		switch {
		case d.watcher != nil && s.Own(f):
			out.Feeds[i].ItemsPerDay = d.items.perDay(f.Name)
		case f.Owner == "":
			out.Feeds[i].PolledBy = "no process" // no watcher is live
		default:
			out.Feeds[i].PolledBy = f.Owner
		}
	}
	d.cfgMu.Lock()
	cfg := d.cfg
	d.cfgMu.Unlock()
	out.Admin = cfg.HTTP.Admin
	all := make([]string, 0, len(cfg.Notifiers))
	for n := range cfg.Notifiers {
		all = append(all, n)
	}
	slices.Sort(all)
	for _, p := range cfg.Profiles {
		cp := console.Profile{Name: p.Name, Notifiers: p.Notify, Hits: s.Profiles[p.Name].Hits, LastHit: s.Profiles[p.Name].LastHit}
		if len(cp.Notifiers) == 0 {
			cp.Notifiers = all
		}
		var q []string
		if p.Query != "" {
			q = append(q, p.Query)
		}
		if len(p.Keywords) > 0 {
			q = append(q, "any of: "+strings.Join(p.Keywords, ", "))
		}
		if len(p.Exclude) > 0 {
			q = append(q, "none of: "+strings.Join(p.Exclude, ", "))
		}
		if len(p.Feeds) > 0 {
			q = append(q, "feeds: "+strings.Join(p.Feeds, ", "))
		}
		cp.Query = strings.Join(q, "; ")
		out.Profiles = append(out.Profiles, cp)
	}
	for _, n := range all {
		st := s.Notifiers[n]
		out.Notifiers = append(out.Notifiers, console.Notifier{Name: n, Type: cfg.Notifiers[n].Type,
			Delivered: st.Delivered, Failed: st.Failed, Dead: st.Dead, Pending: st.Pending})
	}
	return out
}

// deadBox turns the bus's dead letters into the console's.
type deadBox struct{ b *bus.DeadBox }

func (x deadBox) List(ctx context.Context, limit int) ([]console.DeadLetter, error) {
	es, err := x.b.List(ctx, limit)
	out := make([]console.DeadLetter, len(es))
	for i, e := range es {
		out[i] = console.DeadLetter{ID: e.Seq, DeadLetter: e.Letter}
	}
	return out, err
}

func (x deadBox) Replay(ctx context.Context, id uint64) error { return x.b.Replay(ctx, id) }
func (x deadBox) Drop(ctx context.Context, id uint64) error   { return x.b.Drop(ctx, id) }

// itemRates counts each feed's new items per UTC day, today's and
// yesterday's, for the console's items per day.
type itemRates struct {
	mu  sync.Mutex
	m   map[string]dayCount
	now func() time.Time
}

type dayCount struct {
	day       int64
	cur, prev uint32
}

func newItemRates(now func() time.Time) *itemRates {
	return &itemRates{m: map[string]dayCount{}, now: now}
}

func (r *itemRates) add(feed string, n int) {
	if r == nil || n <= 0 {
		return
	}
	day := r.now().Unix() / 86400
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.m[feed].roll(day)
	c.cur += uint32(n)
	r.m[feed] = c
}

func (c dayCount) roll(day int64) dayCount {
	switch {
	case c.day == day:
	case c.day == day-1:
		c = dayCount{day: day, prev: c.cur}
	default:
		c = dayCount{day: day}
	}
	return c
}

// perDay estimates the items of the last 24 hours: today's, plus the part
// of yesterday's that falls in the window.
func (r *itemRates) perDay(feed string) float64 {
	if r == nil {
		return 0
	}
	now := r.now().Unix()
	day := now / 86400
	r.mu.Lock()
	c, ok := r.m[feed]
	r.mu.Unlock()
	if !ok {
		return 0
	}
	c = c.roll(day)
	frac := float64(now%86400) / 86400
	return float64(c.cur) + float64(c.prev)*(1-frac)
}

// countingSink counts the new items it hands on, and remembers them for
// the console's feed pages.
type countingSink struct {
	watcher.Sink
	rates *itemRates
	seen  *console.Items // nil: the console is off
	now   func() time.Time
}

func (s countingSink) Handle(ctx context.Context, feed item.Feed, items []item.Item) error {
	err := s.Sink.Handle(ctx, feed, items)
	if err == nil {
		s.rates.add(feed.Name, len(items))
		if s.seen != nil {
			now := s.now()
			for _, it := range items {
				// Plain text, as in the item's hits.
				s.seen.Add(feed.Name, it.ID, plaintext.FromHTML(it.Title), it.Link, it.Published, now)
			}
		}
	}
	return err
}

// authExempt are the paths served without http.auth: health checks for
// orchestrators.
func authExempt(r *http.Request) bool {
	return r.URL.Path == "/healthz" || r.URL.Path == "/readyz"
}
