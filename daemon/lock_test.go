package daemon

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSecondDaemonOnDataDirRefused: two daemons on one data_dir would
// share (and corrupt) one embedded store; the second is refused with a
// message naming the first, and starts once the first has stopped.
func TestSecondDaemonOnDataDirRefused(t *testing.T) {
	dir := t.TempDir()
	feed := filepath.Join(dir, "world.xml")
	if err := os.WriteFile(feed, []byte(`<rss version="2.0"><channel><title>t</title></channel></rss>`), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "feedwatch.yaml")
	cfg := "data_dir: " + filepath.Join(dir, "data") + "\nhttp: {listen: \"\"}\nfeeds:\n  - url: " + feed +
		"\nprofiles:\n  - {name: p, keywords: [x]}\nnotifiers:\n  c: {type: console}\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	first := startDaemon(t, path, io.Discard, io.Discard)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := Run(ctx, Options{ConfigPath: path, Stdout: io.Discard, Getenv: func(string) string { return "" },
		Logger: slog.New(slog.DiscardHandler), Version: "test"})
	if err == nil || !strings.Contains(err.Error(), "is in use by another feedwatch") ||
		!strings.Contains(err.Error(), "pid ") || !strings.Contains(err.Error(), "feedwatch run") {
		t.Fatalf("second daemon on the same data_dir: %v", err)
	}

	first.stop(t)
	second := startDaemon(t, path, io.Discard, io.Discard)
	second.stop(t)
}

func TestDescribeHolder(t *testing.T) {
	tests := []struct{ in, want string }{
		{"pid 7, feedwatch run, host h, since 2026-01-01T00:00:00Z\n", "pid 7, feedwatch run, host h, since 2026-01-01T00:00:00Z"},
		{"", "it did not say which"},
		{"\x1b[2Jpid 1\nmore", `\x1b[2Jpid 1`},
	}
	for _, tt := range tests {
		if got := describeHolder([]byte(tt.in)); got != tt.want {
			t.Errorf("describeHolder(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
