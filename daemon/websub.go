package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/watcher"
	"github.com/feedwatch/feedwatch/websub"
)

// lateWatcher hands pushes to the watcher once it exists: the callback
// handler is served before the watcher starts.
type lateWatcher struct {
	mu sync.Mutex
	w  *watcher.Watcher
}

func (l *lateWatcher) set(w *watcher.Watcher) {
	l.mu.Lock()
	l.w = w
	l.mu.Unlock()
}

func (l *lateWatcher) Push(feed string, body []byte, contentType string) error {
	l.mu.Lock()
	w := l.w
	l.mu.Unlock()
	if w == nil {
		return watcher.ErrNotRunning
	}
	return w.Push(feed, body, contentType)
}

// PollSoon asks the watcher to poll feed now.
func (l *lateWatcher) PollSoon(feed string) {
	l.mu.Lock()
	w := l.w
	l.mu.Unlock()
	if w != nil {
		w.PollSoon(feed)
	}
}

// newWebSub builds the subscription manager when websub.callback_url is
// set and this process watches; nil otherwise (WebSub off: nothing
// changes).
func (d *daemon) newWebSub(ctx context.Context, cfg *config.Config) error {
	ws := cfg.WebSub
	if ws.CallbackURL == "" || !d.opts.Mode.watches() {
		return nil
	}
	store, err := d.bus.WebSub(ctx)
	if err != nil {
		return fmt.Errorf("websub: %w", err)
	}
	t := websubTunables(cfg)
	d.pushTo = &lateWatcher{}
	m, err := websub.New(websub.Options{
		CallbackURL: ws.CallbackURL, LeaseSeconds: t.LeaseSeconds, Fallback: t.Fallback,
		MaxBody: t.MaxBody, AllowPrivate: t.AllowPrivate,
		Store: store, Pusher: d.pushTo, Owner: d.members.c, UserAgent: t.UserAgent,
		Logger: d.log, Registerer: d.reg, Now: d.opts.Now,
	})
	if err != nil {
		return err
	}
	if err := m.Load(ctx); err != nil {
		return err
	}
	m.SetFeeds(feedNames(feedConfigs(cfg)))
	d.websub = m
	return nil
}

// websubTunables are the manager's options that a reload applies.
func websubTunables(cfg *config.Config) websub.Tunables {
	ws := cfg.WebSub
	fallback := ws.FallbackInterval.D()
	if fallback <= 0 {
		fallback = config.DefaultWebSubFallback.D()
	}
	lease := ws.Lease.D()
	if lease <= 0 {
		lease = config.DefaultWebSubLease.D()
	}
	return websub.Tunables{LeaseSeconds: int(lease / time.Second), Fallback: fallback,
		MaxBody: int64(cfg.Watcher.MaxBody), UserAgent: cfg.Watcher.UserAgent, AllowPrivate: cfg.Watcher.AllowPrivate}
}

// serveWebSub starts the callback listener of websub.listen.
func (d *daemon) serveWebSub(addr string) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("websub.listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle(d.websub.PathPrefix(), d.websub.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(d.log.Handler(), slog.LevelWarn)}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("websub callback listener stopped", "err", err)
		}
	}()
	d.log.Info("serving websub callbacks", "addr", ln.Addr().String(), "path", d.websub.PathPrefix())
	return srv, nil
}

// websubOwnListener reports whether callbacks have their own listener.
func (d *daemon) websubOwnListener() bool {
	d.cfgMu.Lock()
	defer d.cfgMu.Unlock()
	return d.cfg.WebSub.Listen != ""
}
