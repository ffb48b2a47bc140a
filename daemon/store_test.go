package daemon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/bus/natstest"
	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/notifier"
)

// TestOpenStore: with nats.url the store is reached there whether or not a
// daemon runs (dead letters written by one process are seen by the next);
// with the embedded server and no store yet, the error says so and
// nothing is created.
func TestOpenStore(t *testing.T) {
	dir := t.TempDir()
	srv := startNATS(t, filepath.Join(dir, "nats"), natstest.FreePort(t))
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	load := func(natsURL string) *config.Config {
		t.Helper()
		path := filepath.Join(dir, "feedwatch.yaml")
		body := "data_dir: " + filepath.Join(dir, "data") + "\nhttp: {listen: \"\"}\nnats: {url: \"" + natsURL + "\"}\n" +
			"profiles:\n  - {name: xj, keywords: [Xinjiang]}\nnotifiers:\n  hook: {type: webhook, url: \"https://example.org/${HOOK_TOKEN}\"}\n"
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := LoadConfig(path, func(string) string { return "" }, "test", config.WithRole(config.RoleDead))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	cfg := load(srv.ClientURL())
	s, err := OpenStore(ctx, cfg, "dead list", nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Offline {
		t.Error("a store reached over nats.url counted as a stopped daemon's")
	}
	if err := s.Bus.DeadLetters().Dead(ctx, "hook", notifier.DeadLetter{Notifier: "hook", Error: "status 400"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = OpenStore(ctx, cfg, "dead list", nil)
	if err != nil {
		t.Fatal(err)
	}
	counts, err := s.Bus.DeadCounts(ctx)
	s.Close()
	if err != nil || counts["hook"] != 1 {
		t.Errorf("dead letters over nats.url: %v, %v", counts, err)
	}

	_, err = OpenStore(ctx, load(""), "dead list", nil)
	if err == nil || !strings.Contains(err.Error(), "holds no store") {
		t.Errorf("embedded, no store yet: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); !os.IsNotExist(err) {
		t.Errorf("OpenStore created data_dir: %v", err)
	}
}

// TestOpenStoreReadOnly: a stopped daemon's store opened read-only (the
// backtest) gets no stream or bucket made; opened for the dead-letter
// commands it gets the daemon's. Both hold data_dir meanwhile, and a
// data_dir without a store is a *NoStoreError.
func TestOpenStoreReadOnly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	cfg := &config.Config{DataDir: filepath.Join(dir, "data")}
	_, err := OpenStore(ctx, cfg, "backtest", nil, ReadOnly())
	var noStore *NoStoreError
	if !errors.As(err, &noStore) || noStore.DataDir != cfg.DataDir {
		t.Fatalf("no store yet: %v", err)
	}
	// An empty store, as a daemon that stopped before making anything.
	if err := os.MkdirAll(filepath.Join(cfg.DataDir, "jetstream"), 0o750); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		opts    []StoreOption
		streams int
	}{
		{[]StoreOption{ReadOnly()}, 0},
		{nil, 6}, // hits, dead letters and the four state buckets
	} {
		s, err := OpenStore(ctx, cfg, "backtest", nil, tc.opts...)
		if err != nil {
			t.Fatal(err)
		}
		if !s.Offline {
			t.Error("a stopped daemon's store not opened offline")
		}
		if _, err := lockDataDir(cfg.DataDir, command("test"), time.Now()); err == nil || !strings.Contains(err.Error(), "feedwatch backtest") {
			t.Errorf("data_dir not held while open: %v", err)
		}
		got, err := s.Bus.Streams(ctx)
		s.Close()
		if err != nil || len(got) != tc.streams {
			t.Errorf("read-only %v: %d streams made (%v), want %d", len(tc.opts) > 0, len(got), err, tc.streams)
		}
	}
}
