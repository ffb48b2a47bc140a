// Command farm serves N benchmark feeds on 127.0.0.1 (documents from
// bench/feedgen) for the daemon pipeline benchmark and bench/peers.sh.
//
//	farm -n 500 -mode static   # one document per feed, ETag/Last-Modified, 304 to conditional requests
//	farm -n 1000 -mode fresh   # a new 20-item document (new GUIDs) on every request
//	farm -n 1000 -mode slide   # a sliding window: each request adds one new item, keeps 19
//
//	farm -profiles 1000        # print 1,000 profiles for a config's "profiles:" and exit
//
// It prints its address on the first line of stdout, then serves until
// SIGINT/SIGTERM or, with -stdin, until its standard input closes. Each
// request for /stats answers the counts of 200s and 304s served and of feeds
// requested at least once.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/feedwatch/feedwatch/bench/feedgen"
)

func main() {
	n := flag.Int("n", 500, "feeds, served at /f/0 ... /f/N-1")
	mode := flag.String("mode", "static", "static: fixed document per feed with validators; fresh: 20 new items on every request; slide: one new item on every request")
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback only)")
	stdin := flag.Bool("stdin", false, "exit when standard input closes")
	seed := flag.Uint64("seed", 1, "document seed")
	profiles := flag.Int("profiles", 0, "print this many profiles (YAML list items matching the documents' vocabulary) and exit")
	flag.Parse()
	if *profiles > 0 {
		fmt.Print(feedgen.New(*seed).Profiles(*profiles, 2))
		return
	}
	if err := run(*n, *mode, *addr, *stdin, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "farm:", err)
		os.Exit(1)
	}
}

func run(n int, mode, addr string, stdin bool, seed uint64) error {
	if mode != "static" && mode != "fresh" && mode != "slide" {
		return fmt.Errorf("unknown mode %q", mode)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address: %w", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("listen address %q is not loopback", addr)
	}
	g := feedgen.New(seed)
	start := time.Now().Truncate(time.Second)
	lastMod := start.UTC().Format(http.TimeFormat)
	// Static documents are built once: the farm should cost little CPU.
	var static [][]byte
	if mode == "static" {
		static = make([][]byte, n)
		for i := range static {
			static[i] = g.Doc(i, 0, start)
		}
	}
	polls := make([]atomic.Uint32, n)
	seen := make([]atomic.Bool, n) // feeds requested at least once
	var full, notModified atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stats" {
			served := 0
			for i := range seen {
				if seen[i].Load() {
					served++
				}
			}
			fmt.Fprintf(w, "200 %d\n304 %d\nfeeds %d\n", full.Load(), notModified.Load(), served)
			return
		}
		i, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/f/"))
		if err != nil || i < 0 || i >= n {
			http.NotFound(w, r)
			return
		}
		seen[i].Store(true)
		w.Header().Set("Content-Type", "application/rss+xml; charset=utf-8")
		switch mode {
		case "fresh":
			full.Add(1)
			_, _ = w.Write(g.Doc(i, int(polls[i].Add(1)), time.Now()))
			return
		case "slide":
			full.Add(1)
			_, _ = w.Write(g.Window(i, int(polls[i].Add(1)), time.Now()))
			return
		}
		etag := `"f` + strconv.Itoa(i) + `"`
		inm, ims := r.Header.Get("If-None-Match"), r.Header.Get("If-Modified-Since")
		if inm == etag || (inm == "" && ims != "" && notAfter(ims, start)) {
			notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		full.Add(1)
		w.Header().Set("ETag", etag)
		w.Header().Set("Last-Modified", lastMod)
		_, _ = w.Write(static[i])
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr().String())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		if stdin {
			done := make(chan struct{})
			go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(done) }()
			select {
			case <-done:
			case <-ctx.Done():
			}
		} else {
			<-ctx.Done()
		}
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	fmt.Fprintf(os.Stderr, "farm: served %d full, %d not modified\n", full.Load(), notModified.Load())
	return nil
}

// notAfter reports whether the If-Modified-Since date is at or after the
// documents' modification time.
func notAfter(ims string, mod time.Time) bool {
	t, err := http.ParseTime(ims)
	return err == nil && !t.Before(mod)
}
