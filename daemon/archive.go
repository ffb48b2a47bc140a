package daemon

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/feedwatch/feedwatch/bus"
	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/item"
	"github.com/feedwatch/feedwatch/watcher"
)

func archiveOptions(cfg *config.Config) bus.ArchiveOptions {
	return bus.ArchiveOptions{Retention: cfg.Archive.Retention.D(), MaxBytes: int64(cfg.Archive.MaxBytes)}
}

// archivingSink archives a poll's new items while the sink routes them:
// the poll's one archive message goes out at once, without waiting, and
// its ack is collected after routing, before the watcher marks the items
// seen. A poll costs no extra round trip; an archive write that fails
// fails the poll like a hit that could not be stored, so its items are
// offered again (a retry within two minutes is the same message, which
// the server drops; readers keep an item's first copy anyway).
type archivingSink struct {
	watcher.Sink
	a      *bus.Archiver
	stored prometheus.Counter
}

func newArchivingSink(s watcher.Sink, a *bus.Archiver, reg prometheus.Registerer) archivingSink {
	c := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "feedwatch_archived_items_total", Help: "New items stored in the archive (an item already there is not counted).",
	})
	if reg != nil {
		reg.MustRegister(c)
	}
	return archivingSink{Sink: s, a: a, stored: c}
}

var _ watcher.Rememberer = archivingSink{}

// Remember archives items the watcher marks seen without routing them
// (backfill): the archive holds every new item, alerted or not.
func (s archivingSink) Remember(ctx context.Context, feed item.Feed, items []item.Item) error {
	n, err := s.a.Put(feed, items).Wait(ctx)
	s.stored.Add(float64(n))
	return err
}

func (s archivingSink) Handle(ctx context.Context, feed item.Feed, items []item.Item) error {
	p := s.a.Put(feed, items)
	err := s.Sink.Handle(ctx, feed, items)
	n, werr := p.Wait(ctx)
	s.stored.Add(float64(n))
	if err == nil {
		err = werr
	}
	return err
}
