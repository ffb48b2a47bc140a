package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/feedwatch/feedwatch/bus"
	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/item"
	"github.com/feedwatch/feedwatch/watcher"
)

// modeBacktest names a backtest in data_dir's lock file.
const modeBacktest Mode = -1

func archiveOptions(cfg *config.Config) bus.ArchiveOptions {
	return bus.ArchiveOptions{Retention: cfg.Archive.Retention.D(), MaxBytes: int64(cfg.Archive.MaxBytes)}
}

// archivingSink archives a poll's new items while the sink routes them:
// the archive's writes go out at once, without waiting, and their acks are
// collected after routing, before the watcher marks the items seen. A poll
// costs no extra round trip; an archive write that fails fails the poll
// like a hit that could not be stored, so its items are offered again
// (the archive keeps one copy whatever the number of tries).
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

// OpenArchive opens cfg's deployment for reading its archive
// (`feedwatch backtest`), changing nothing. With nats.url, it connects
// there. With the embedded server, data_dir's lock tells whether the
// daemon runs: if not, the store is opened here (the lock held meanwhile,
// so no daemon starts on it; the server listens on no port); if it runs,
// its server is reached at nats.embedded_listen, and without one there is
// no way in, which the error says. close releases everything.
func OpenArchive(ctx context.Context, cfg *config.Config, log *slog.Logger) (b *bus.Bus, closeFn func(), err error) {
	o := bus.Options{
		URL: cfg.NATS.URL, Creds: cfg.NATS.Creds, User: cfg.NATS.User, Password: cfg.NATS.Password, Token: cfg.NATS.Token,
		TLSCA: cfg.NATS.TLSCA, TLSCert: cfg.NATS.TLSCert, TLSKey: cfg.NATS.TLSKey,
		ClientName: "feedwatch backtest", Logger: log, ReadOnly: true,
	}
	var release func()
	if o.URL == "" {
		store := filepath.Join(cfg.DataDir, "jetstream")
		if _, err := os.Stat(store); err != nil {
			return nil, nil, fmt.Errorf("%w: data_dir %s holds no NATS store (has the daemon run with it?)", bus.ErrNoArchive, cfg.DataDir)
		}
		lock, lerr := lockDataDir(cfg.DataDir, modeBacktest, time.Now())
		switch {
		case lerr == nil:
			o.DataDir = cfg.DataDir
			release = lock.release
		case cfg.NATS.EmbeddedListen != "":
			o.URL = "nats://" + reachable(cfg.NATS.EmbeddedListen)
		default:
			return nil, nil, fmt.Errorf("%w; its NATS server is in-process only: set nats.embedded_listen (e.g. 127.0.0.1:4222) and restart it, or stop it, to read its archive", lerr)
		}
	}
	if o.URL != "" {
		// Fail fast rather than retry forever: this is a one-off command.
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		ctx = cctx
	}
	b, err = bus.Open(ctx, o)
	if err != nil {
		if release != nil {
			release()
		}
		return nil, nil, err
	}
	for !b.Connected() {
		if ctx.Err() != nil {
			b.Close()
			what := "nats.url"
			if cfg.NATS.URL == "" {
				what = "the running daemon's server at nats.embedded_listen " + cfg.NATS.EmbeddedListen
			}
			return nil, nil, fmt.Errorf("cannot reach NATS (%s)", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return b, func() {
		b.Close()
		if release != nil {
			release()
		}
	}, nil
}

// reachable turns a listen address into one to dial: an unspecified host
// (all interfaces) is reached on loopback.
func reachable(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
