package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuilder is a strings.Builder safe for the writer goroutine of exec.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// unsolicitedFeed answers each request with a small feed and then, while
// the connection idles in the client's pool, writes a response nobody
// asked for: net/http's transport logs that through the standard log
// package.
func unsolicitedFeed(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	const body = `<?xml version="1.0"?><rss version="2.0"><channel><title>W</title><item><title>x</title><guid>g1</guid></item></channel></rss>`
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
				time.Sleep(300 * time.Millisecond)
				fmt.Fprint(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
				time.Sleep(2 * time.Second)
			}()
		}
	}()
	return "http://" + ln.Addr().String() + "/feed.xml"
}

// TestJSONLogsOnly: with --log-format json every stderr line is JSON,
// including what net/http's transport logs on its own through the standard
// log package (the server's ErrorLog: daemon.TestOpsErrorLog).
func TestJSONLogsOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := ln.Addr().String()
	ln.Close()
	cfg := fmt.Sprintf("data_dir: %s\nhttp: {listen: %q}\nfeeds:\n  - url: %s\nprofiles:\n  - {name: p, keywords: [nothing-matches-this]}\nnotifiers:\n  c: {type: console}\n",
		filepath.Join(dir, "data"), listen, unsolicitedFeed(t))
	path := filepath.Join(dir, "feedwatch.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr syncBuilder
	cmd := startBinary(t, bin, &stderr, "run", "--config", path, "--log-format", "json")
	wait := func(what, text string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(stderr.String(), text) {
			if time.Now().After(deadline) {
				t.Fatalf("no %s in the logs:\n%s", what, stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	wait("start", "feedwatch started")
	wait("unsolicited response line", "Unsolicited response")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, stderr.String())
	}
	for i, line := range strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Errorf("stderr line %d is not JSON: %q", i+1, line)
		}
	}
}
