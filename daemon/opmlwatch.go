package daemon

import (
	"context"
	"log/slog"
	"os"
	"slices"
	"sync"

	"github.com/feedwatch/feedwatch/config"
)

// opmlWatches watches the OPML files of the running config as the config
// file itself is watched (config.Watch: any way of saving, debounced,
// content compared), so that editing one reloads the config. The set
// follows the config: set after each successful load.
type opmlWatches struct {
	ctx      context.Context
	wg       *sync.WaitGroup
	onChange func()
	log      *slog.Logger

	mu      sync.Mutex
	running map[string]context.CancelFunc
}

func newOPMLWatches(ctx context.Context, wg *sync.WaitGroup, onChange func(), log *slog.Logger) *opmlWatches {
	return &opmlWatches{ctx: ctx, wg: wg, onChange: onChange, log: log, running: map[string]context.CancelFunc{}}
}

// set watches exactly paths: new ones start, ones no longer named stop.
func (w *opmlWatches) set(paths []string) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for p, cancel := range w.running {
		if !slices.Contains(paths, p) {
			cancel()
			delete(w.running, p)
		}
	}
	for _, p := range paths {
		w.startLocked(p)
	}
}

// add watches paths as well, stopping none: after a failed reload, the
// OPML files the new config names, so that one named before it exists
// reloads the config when it appears (config.Watch watches its folder).
// A file that appeared between the failed load and now asks for a reload
// at once, since its watch starts with it present and would not fire.
func (w *opmlWatches) add(paths []string) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range paths {
		if !w.startLocked(p) {
			continue
		}
		if _, err := os.Stat(p); err != nil {
			w.log.Info("OPML file not there yet: the config is reloaded when it appears", "path", p)
			continue
		}
		w.onChange()
	}
}

// startLocked starts watching p unless it is watched; it reports whether
// it started.
func (w *opmlWatches) startLocked(p string) bool {
	if _, ok := w.running[p]; ok || w.ctx.Err() != nil {
		return false
	}
	ctx, cancel := context.WithCancel(w.ctx)
	w.running[p] = cancel
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		if err := config.Watch(ctx, p, w.onChange, w.log.With("opml", p)); err != nil {
			w.log.Warn("OPML file watching stopped", "path", p, "err", err)
		}
	}()
	return true
}
