package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/bus/natstest"
	"github.com/feedwatch/feedwatch/ownership"
)

// slideFarm serves feeds /f/<i>.xml of 20 items, one of them new at every
// request, so every poll parses and writes seen-state and feed state.
type slideFarm struct {
	mu    sync.Mutex
	slide []int
	polls int
}

func (f *slideFarm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/f/"), ".xml"))
	f.mu.Lock()
	if err != nil || i < 0 || i >= len(f.slide) {
		f.mu.Unlock()
		http.NotFound(w, r)
		return
	}
	f.polls++
	f.slide[i]++
	n := f.slide[i]
	f.mu.Unlock()
	var b strings.Builder
	for k := max(n-19, 1); k <= n; k++ {
		fmt.Fprintf(&b, `<item><title>story %d of feed %d</title><link>https://news.example.org/%d/%d</link><guid>%d-%d</guid><pubDate>%s</pubDate><description>Nothing to see in story %d.</description></item>`,
			k, i, i, k, i, k, time.Now().UTC().Format(time.RFC1123Z), k)
	}
	w.Header().Set("Content-Type", "application/rss+xml")
	fmt.Fprintf(w, `<?xml version="1.0"?><rss version="2.0"><channel><title>feed %d</title>%s</channel></rss>`, i, b.String())
}

func (f *slideFarm) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.polls
}

// TestMeasureSharingProfile runs 1 and then 2 watchers (the daemon's code,
// in this process) on a three-node cluster and a farm of sliding feeds,
// and writes a CPU profile of each phase whose samples carry the label
// member=<name> for the watchers' goroutines (their NATS clients
// included), so `go tool pprof -tagfocus member=...` shows where a shared
// watcher's CPU goes. A measurement: FEEDWATCH_MEASURE=1 runs it;
// FEEDWATCH_PROFILE_DIR keeps the profiles.
func TestMeasureSharingProfile(t *testing.T) {
	if os.Getenv("FEEDWATCH_MEASURE") == "" {
		t.Skip("a measurement: set FEEDWATCH_MEASURE=1")
	}
	const feeds = 600
	outDir := os.Getenv("FEEDWATCH_PROFILE_DIR")
	if outDir == "" {
		outDir = t.TempDir()
	}
	cl := natstest.StartCluster(t, 3)
	farm := &slideFarm{slide: make([]int, feeds)}
	fs := httptest.NewServer(farm)
	defer fs.Close()
	hook := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer hook.Close()
	dir := t.TempDir()
	var feedCfg strings.Builder
	for i := range feeds {
		fmt.Fprintf(&feedCfg, "  - url: %s/f/%d.xml\n    name: feed-%d\n", fs.URL, i, i)
	}
	type proc struct {
		name  string
		coord *ownership.Coordinator
		stop  func()
	}
	start := func(name string) *proc {
		p := &proc{name: name}
		path := filepath.Join(dir, name+".yaml")
		cfg := fmt.Sprintf("data_dir: %s\nhttp: {listen: \"\"}\nnats: {url: %q}\nwatcher: {interval: 2s, user_agent: %s}\nfeeds:\n%sprofiles:\n  - name: xinjiang\n    keywords: [Xinjiang]\nnotifiers:\n  hook: {type: webhook, url: %q}\n",
			filepath.Join(dir, "data-"+name), cl.URL(), name, feedCfg.String(), hook.URL+"/hook")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		ready := make(chan struct{})
		done := make(chan error, 1)
		ctx, cancel := context.WithCancel(context.Background())
		got := make(chan *ownership.Coordinator, 1)
		go pprof.Do(ctx, pprof.Labels("member", name), func(ctx context.Context) {
			done <- Run(ctx, Options{ConfigPath: path, Mode: ModeWatch, Stdout: io.Discard, Getenv: func(string) string { return "" },
				Logger: slog.New(slog.DiscardHandler), Ready: ready,
				hooks: &testHooks{member: func(c *ownership.Coordinator) { got <- c }}})
		})
		select {
		case <-ready:
		case err := <-done:
			t.Fatalf("%s: %v", name, err)
		}
		p.coord = <-got
		p.stop = func() { cancel(); <-done }
		t.Cleanup(p.stop)
		return p
	}
	shared := func(ps ...*proc) bool {
		for i := range feeds {
			n := 0
			for _, p := range ps {
				if p.coord.Owns(fmt.Sprintf("feed-%d", i)) {
					n++
				}
			}
			if n != 1 {
				return false
			}
		}
		return true
	}
	measure := func(ps ...*proc) {
		waitFor(t, "the feeds split", 60*time.Second, func() bool { return shared(ps...) })
		time.Sleep(10 * time.Second)
		path := filepath.Join(outDir, fmt.Sprintf("cpu-%d.pb.gz", len(ps)))
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		before := farm.count()
		if err := pprof.StartCPUProfile(f); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Second)
		pprof.StopCPUProfile()
		t.Logf("MEASURE %d watcher(s): %d polls in 20 s; profile %s", len(ps), farm.count()-before, path)
	}
	w1 := start("w1")
	measure(w1)
	w2 := start("w2")
	measure(w1, w2)
}
