package daemon

import (
	"context"
	"log/slog"
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
		if _, ok := w.running[p]; ok || w.ctx.Err() != nil {
			continue
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
	}
}
