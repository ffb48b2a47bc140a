package config

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// watchHarness runs watch on a path and reports its calls.
type watchHarness struct {
	t       *testing.T
	changes chan struct{}
	checks  chan bool
}

// deadline bounds every wait so a broken watcher fails instead of hanging;
// it is never a measurement.
const deadline = 10 * time.Second

func startWatch(t *testing.T, path string) *watchHarness {
	t.Helper()
	return startWatchLog(t, path, slog.New(slog.DiscardHandler))
}

func startWatchLog(t *testing.T, path string, logger *slog.Logger) *watchHarness {
	t.Helper()
	h := &watchHarness{t: t, changes: make(chan struct{}, 100), checks: make(chan bool, 100)}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- watch(ctx, path, func() { h.changes <- struct{}{} }, logger, watchOptions{
			debounce: 20 * time.Millisecond,
			poll:     50 * time.Millisecond,
			ready:    func() { close(ready) },
			checked: func(changed bool) {
				select {
				case h.checks <- changed:
				default:
				}
			},
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("watch returned %v", err)
			}
		case <-time.After(deadline):
			t.Error("watch did not return after cancel")
		}
	})
	select {
	case <-ready:
	case <-time.After(deadline):
		t.Fatal("watch did not start")
	}
	return h
}

func (h *watchHarness) waitChange() {
	h.t.Helper()
	select {
	case <-h.changes:
	case <-time.After(deadline):
		h.t.Fatal("no change reported")
	}
	// Consume the check that reported it, so later waits see only newer ones.
	for {
		select {
		case changed := <-h.checks:
			if changed {
				return
			}
		case <-time.After(deadline):
			h.t.Fatal("no check after the change")
		}
	}
}

// waitQuietCheck waits for a check that found no change, then asserts no
// change was reported before it.
func (h *watchHarness) waitQuietCheck() {
	h.t.Helper()
	for {
		select {
		case changed := <-h.checks:
			if changed {
				h.t.Fatal("a change was reported")
			}
			if len(h.changes) > 0 {
				h.t.Fatal("onChange was called")
			}
			return
		case <-time.After(deadline):
			h.t.Fatal("no check ran")
		}
	}
}

func write(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestWatchEdits(t *testing.T) {
	tests := []struct {
		name string
		edit func(t *testing.T, path string)
	}{
		{"truncate then write", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteString("a: "); err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteString("2\n"); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		}},
		{"rename save", func(t *testing.T, path string) {
			tmp := path + ".swp"
			write(t, tmp, "a: 2\n")
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
		}},
		{"delete and recreate at once", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			write(t, path, "a: 2\n")
		}},
		{"backup rename then new file", func(t *testing.T, path string) {
			// vim with backupcopy=no: move the old file away, write anew.
			if err := os.Rename(path, path+"~"); err != nil {
				t.Fatal(err)
			}
			write(t, path, "a: 2\n")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "feedwatch.yaml")
			write(t, path, "a: 1\n")
			h := startWatch(t, path)
			tt.edit(t, path)
			h.waitChange()
			// It keeps working after the edit.
			write(t, path, "a: 3\n")
			h.waitChange()
		})
	}
}

func TestWatchUnchangedContent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "feedwatch.yaml")
	write(t, path, "a: 1\n")
	h := startWatch(t, path)
	write(t, path, "a: 1\n")
	h.waitQuietCheck()
	now := time.Now()
	if err := os.Chtimes(path, now, now); err != nil {
		t.Fatal(err)
	}
	h.waitQuietCheck()
}

func TestWatchDeletedThenRecreated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "feedwatch.yaml")
	write(t, path, "a: 1\n")
	h := startWatch(t, path)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	h.waitQuietCheck() // a missing file is no change: keep the running config
	write(t, path, "a: 2\n")
	h.waitChange()
	// Recreated with the content it had: nothing to reload.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	h.waitQuietCheck()
	write(t, path, "a: 2\n")
	h.waitQuietCheck()
}

// lockedBuffer is a log destination the watch goroutine and the test share.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestWatchLogsFileBack checks that a file said to be missing is said to be
// back, also when it returns unchanged and so triggers no reload.
func TestWatchLogsFileBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "feedwatch.yaml")
	write(t, path, "a: 1\n")
	var logs lockedBuffer
	h := startWatchLog(t, path, slog.New(slog.NewTextHandler(&logs, nil)))
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	h.waitQuietCheck()
	if !strings.Contains(logs.String(), "file missing") {
		t.Fatalf("no warning for the missing file:\n%s", logs.String())
	}
	write(t, path, "a: 1\n")
	h.waitQuietCheck()
	if got := strings.Count(logs.String(), "file is back"); got != 1 {
		t.Fatalf("%d lines say the file is back, want 1:\n%s", got, logs.String())
	}
}

func TestWatchMissingAtStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "feedwatch.yaml")
	h := startWatch(t, path)
	write(t, path, "a: 1\n")
	h.waitChange()
}

// TestWatchKubernetesSwap mimics a ConfigMap volume: feedwatch.yaml ->
// ..data/feedwatch.yaml, ..data -> ..<timestamp>, and an update swaps
// ..data atomically to a new timestamped folder, then removes the old one.
func TestWatchKubernetesSwap(t *testing.T) {
	dir := t.TempDir()
	version := func(name, body string) {
		t.Helper()
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, name, "feedwatch.yaml"), body)
	}
	swap := func(name string) {
		t.Helper()
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(name, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	version("..2026_01", "a: 1\n")
	swap("..2026_01")
	path := filepath.Join(dir, "feedwatch.yaml")
	if err := os.Symlink(filepath.Join("..data", "feedwatch.yaml"), path); err != nil {
		t.Fatal(err)
	}
	h := startWatch(t, path)

	version("..2026_02", "a: 2\n")
	swap("..2026_02")
	if err := os.RemoveAll(filepath.Join(dir, "..2026_01")); err != nil {
		t.Fatal(err)
	}
	h.waitChange()

	version("..2026_03", "a: 3\n")
	swap("..2026_03")
	if err := os.RemoveAll(filepath.Join(dir, "..2026_02")); err != nil {
		t.Fatal(err)
	}
	h.waitChange()
}

// TestWatchSymlinkTarget edits the file a symlink points to, in another folder.
func TestWatchSymlinkTarget(t *testing.T) {
	real := filepath.Join(t.TempDir(), "real.yaml")
	write(t, real, "a: 1\n")
	path := filepath.Join(t.TempDir(), "feedwatch.yaml")
	if err := os.Symlink(real, path); err != nil {
		t.Fatal(err)
	}
	h := startWatch(t, path)
	write(t, real, "a: 2\n")
	h.waitChange()
}

// TestWatchFolderRecreated removes the whole folder and makes it again; the
// watch on it is gone, so the watcher polls until it can watch again.
func TestWatchFolderRecreated(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "etc")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "feedwatch.yaml")
	write(t, path, "a: 1\n")
	h := startWatch(t, path)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	h.waitQuietCheck()
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, path, "a: 2\n")
	h.waitChange()
	write(t, path, "a: 3\n")
	h.waitChange()
}

func TestWatchReturnsOnCancel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "feedwatch.yaml")
	write(t, path, "a: 1\n")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Watch(ctx, path, func() {}, nil) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(deadline):
		t.Fatal("Watch did not return")
	}
}

// TestWatchSince: an edit saved between reading the config and the start
// of watching (a daemon waiting for NATS) is a change; a file as read is
// not.
func TestWatchSince(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edited bool
	}{{"edited before watching", true}, {"as read", false}} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "feedwatch.yaml")
			write(t, path, "a: 1\n")
			sum := sha256.Sum256([]byte("a: 1\n"))
			if tc.edited {
				write(t, path, "a: 2\n")
			}
			changes := make(chan struct{}, 4)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- WatchSince(ctx, path, sum, func() { changes <- struct{}{} }, nil) }()
			select {
			case <-changes:
				if !tc.edited {
					t.Error("a file as read was reported changed")
				}
			case <-time.After(time.Second):
				if tc.edited {
					t.Error("an edit made before watching was not reported")
				}
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestLoadFileSum: a loaded config carries the SHA-256 of the file's bytes.
func TestLoadFileSum(t *testing.T) {
	path := filepath.Join(t.TempDir(), "feedwatch.yaml")
	body := "feeds:\n  - url: https://example.org/rss\nprofiles:\n  - name: x\n    keywords: [Xinjiang]\nnotifiers:\n  c: {type: console}\n"
	write(t, path, body)
	c, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.FileSum != sha256.Sum256([]byte(body)) {
		t.Error("FileSum is not the file's SHA-256")
	}
}
