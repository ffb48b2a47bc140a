package daemon

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/config"
)

// TestCheckDataDir: a data_dir the embedded server cannot use is a config
// problem at data_dir (so `check` reports it and `run` stops at once).
func TestCheckDataDir(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	loop := filepath.Join(dir, "loop")
	if err := os.Symlink(loop, loop); err != nil {
		t.Fatal(err)
	}
	dangling := filepath.Join(dir, "dangling")
	if err := os.Symlink(filepath.Join(dir, "nowhere"), dangling); err != nil {
		t.Fatal(err)
	}
	readOnly := filepath.Join(dir, "ro")
	if err := os.Mkdir(readOnly, 0o500); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dataDir, nats, want string
		skip                      bool
	}{
		{name: "fresh folder is fine", dataDir: filepath.Join(dir, "new", "data")},
		{name: "existing folder is fine", dataDir: dir},
		{name: "regular file", dataDir: file, want: "is not a folder"},
		{name: "under a regular file", dataDir: filepath.Join(file, "data"), want: "not a directory"},
		{name: "symlink loop", dataDir: loop, want: "too many levels of symbolic links"},
		{name: "dangling symlink", dataDir: dangling, want: "symlink to nothing"},
		{name: "not writable", dataDir: filepath.Join(readOnly, "data"), want: "cannot write in", skip: os.Geteuid() == 0},
		{name: "external nats does not use it", dataDir: file, nats: "nats://127.0.0.1:4222"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.skip {
				t.Skip("root writes anywhere")
			}
			path := filepath.Join(t.TempDir(), "feedwatch.yaml")
			body := "data_dir: " + tt.dataDir + "\nnats: {url: \"" + tt.nats + "\"}\nfeeds:\n  - url: https://example.org/rss\nprofiles:\n  - {name: p, keywords: [x]}\nnotifiers:\n  c: {type: console}\n"
			if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := CheckConfig(path, func(string) string { return "" }, nil, "test", config.RoleCheck)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ps config.Problems
			if !errors.As(err, &ps) || len(ps) != 1 || ps[0].Path != "data_dir" || !strings.Contains(ps[0].Msg, tt.want) {
				t.Fatalf("want one data_dir problem with %q, got %v", tt.want, err)
			}
		})
	}
}

// TestStopDuringStart: a stop asked for while the daemon is still starting
// (here: a NATS server that accepts connections and never answers) ends
// Run cleanly instead of being ignored until start gives up.
func TestStopDuringStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, silent
		}
	}()
	path := filepath.Join(t.TempDir(), "feedwatch.yaml")
	body := "nats: {url: \"nats://" + ln.Addr().String() + "\"}\nhttp: {listen: \"\"}\nfeeds:\n  - url: https://example.org/rss\nprofiles:\n  - {name: p, keywords: [x]}\nnotifiers:\n  c: {type: console}\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{ConfigPath: path, Stdout: io.Discard, Getenv: func(string) string { return "" }, Logger: slog.New(slog.DiscardHandler)})
	}()
	time.Sleep(300 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after a stop during start: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Run ignored the stop")
	}
}
