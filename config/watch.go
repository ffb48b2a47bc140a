package config

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watch calls onChange, debounced by about 250ms, whenever the content of
// the file at path changes, however the editor or orchestrator writes it:
// in place (truncate then write), rename-save, delete and recreate, or a
// Kubernetes ConfigMap "..data" symlink swap. It watches the file's folder
// (and the folder of the symlink's target) rather than the file, so it keeps
// working after the file is replaced; it compares content hashes, so a save
// without changes or a touch calls nothing; while the file is missing it
// waits for it to come back. When the OS watcher cannot start or a folder
// cannot be watched it polls instead. onChange runs on Watch's goroutine,
// one call at a time. Watch returns nil when ctx ends; it never exits the
// process.
func Watch(ctx context.Context, path string, onChange func(), logger *slog.Logger) error {
	return watch(ctx, path, onChange, logger, watchOptions{debounce: 250 * time.Millisecond, poll: 2 * time.Second})
}

// WatchSince is Watch for a file whose content was read earlier with
// SHA-256 sum (Config.FileSum): a file that changed since then calls
// onChange as soon as watching starts.
func WatchSince(ctx context.Context, path string, sum [sha256.Size]byte, onChange func(), logger *slog.Logger) error {
	if sum == ([sha256.Size]byte{}) { // not read by Load
		return Watch(ctx, path, onChange, logger)
	}
	return watch(ctx, path, onChange, logger, watchOptions{debounce: 250 * time.Millisecond, poll: 2 * time.Second, since: &sum})
}

type watchOptions struct {
	debounce time.Duration
	// poll is how often to retry watching missing folders and, while any
	// is unwatched, to check the file directly.
	poll time.Duration
	// since, when set, is the content's sum as last read: a file that
	// differs from it at the start is a change.
	since *[sha256.Size]byte
	// ready and checked, for tests, run once watching has started and
	// after each check of the file.
	ready   func()
	checked func(changed bool)
}

type fileWatch struct {
	path    string
	fw      *fsnotify.Watcher
	watched map[string]bool
	want    map[string]bool
	logger  *slog.Logger
	last    [sha256.Size]byte
	present bool
	warned  bool
}

func watch(ctx context.Context, path string, onChange func(), logger *slog.Logger, o watchOptions) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("watch config %s: %w", path, err)
	}
	w := &fileWatch{path: abs, watched: map[string]bool{}, logger: logger.With("path", abs)}
	w.fw, err = fsnotify.NewWatcher()
	if err != nil {
		w.logger.Warn("config watch: no file notifications, polling instead", "err", err)
		w.fw = nil
	} else {
		defer w.fw.Close()
	}
	// Watch first, then read: an edit between the two is caught by the
	// comparison with since, one after by its event (read first, an edit
	// just before the watch began was missed).
	w.sync()
	w.last, w.present = w.fingerprint()
	startChanged := o.since != nil && w.present && w.last != *o.since

	var events <-chan fsnotify.Event
	var errs <-chan error
	if w.fw != nil {
		events, errs = w.fw.Events, w.fw.Errors
	}
	debounce := time.NewTimer(o.debounce)
	debounce.Stop()
	poll := time.NewTicker(o.poll)
	defer poll.Stop()
	if o.ready != nil {
		o.ready()
	}
	if startChanged {
		onChange()
	}
	check := func() {
		w.sync()
		changed := w.check()
		if changed {
			onChange()
		}
		if o.checked != nil {
			o.checked(changed)
		}
	}
	for {
		select {
		case <-ctx.Done():
			debounce.Stop()
			return nil
		case _, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			// Any event in a watched folder may be the one that matters
			// (..data swaps, temp files renamed over ours); the content
			// hash filters out the rest.
			debounce.Reset(o.debounce)
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			// An overflow may have swallowed our event: look anyway.
			w.logger.Warn("config watch: file notification error", "err", err)
			debounce.Reset(o.debounce)
		case <-debounce.C:
			check()
		case <-poll.C:
			if w.fw == nil || len(w.watched) < len(w.want) {
				check()
			}
		}
	}
}

// sync watches the file's folder and, when the file is a symlink, its
// target's folder, which changes with each Kubernetes swap.
func (w *fileWatch) sync() {
	want := map[string]bool{filepath.Dir(w.path): true}
	if real, err := filepath.EvalSymlinks(w.path); err == nil {
		want[filepath.Dir(real)] = true
	}
	w.want = want
	if w.fw == nil {
		return
	}
	for d := range w.watched {
		if !want[d] {
			_ = w.fw.Remove(d) // may be gone already
			delete(w.watched, d)
		}
	}
	for d := range want {
		if w.watched[d] {
			continue
		}
		if err := w.fw.Add(d); err != nil {
			w.logger.Debug("config watch: cannot watch folder yet", "dir", d, "err", err)
			continue
		}
		w.watched[d] = true
	}
	// A folder removed and recreated loses its watch silently; drop the
	// ones fsnotify no longer has so they are added again.
	list := map[string]bool{}
	for _, d := range w.fw.WatchList() {
		list[d] = true
	}
	for d := range w.watched {
		if !list[d] {
			delete(w.watched, d)
		}
	}
}

// check reports whether the content differs from the last content seen.
// A missing or unreadable file is not a change: the caller keeps its config
// until the file is back.
func (w *fileWatch) check() bool {
	sum, ok := w.fingerprint()
	if !ok {
		if !w.warned {
			w.logger.Warn("config watch: file missing or unreadable; keeping the running config until it is back")
			w.warned = true
		}
		return false
	}
	if w.warned {
		// Said it was gone, so say it is back: whatever reload follows
		// (or none, when the content is the same) then makes sense.
		w.logger.Info("config watch: file is back")
		w.warned = false
	}
	if w.present && sum == w.last {
		return false
	}
	w.last, w.present = sum, true
	return true
}

func (w *fileWatch) fingerprint() ([sha256.Size]byte, bool) {
	data, err := os.ReadFile(w.path)
	if err != nil {
		return [sha256.Size]byte{}, false
	}
	return sha256.Sum256(data), true
}
