package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/bus"
	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/item"
	"github.com/feedwatch/feedwatch/ownership"
	"github.com/feedwatch/feedwatch/watcher"
	"github.com/feedwatch/feedwatch/websub"
)

// memFeedState is an in-memory watcher.StateStore.
type memFeedState map[string][]byte

func (m memFeedState) Load(_ context.Context, feed string) ([]byte, error) { return m[feed], nil }
func (m memFeedState) Save(context.Context, string, []byte) error          { return nil }

type noSeen struct{}

func (noSeen) Seen(context.Context, string, []string) (map[string]bool, error) { return nil, nil }
func (noSeen) MarkSeen(context.Context, string, []string) error                { return nil }

// memSubs is a websub.Store holding records made by the benchmark.
type memSubs [][]byte

func (memSubs) Get(context.Context, string) ([]byte, error) { return nil, nil }
func (memSubs) Put(context.Context, string, []byte) error   { return nil }
func (memSubs) Delete(context.Context, string) error        { return nil }
func (s memSubs) List(context.Context) ([][]byte, error)    { return s, nil }

// statusBenchWatcher runs a watcher over n feeds whose stored states say
// they were polled a minute ago and are due in an hour: once the states
// are loaded (at start), it polls nothing and its status is complete.
func statusBenchWatcher(b *testing.B, n int) *watcher.Watcher {
	b.Helper()
	st := memFeedState{}
	feeds := make([]watcher.FeedConfig, n)
	now := time.Now()
	for i := range feeds {
		u := fmt.Sprintf("https://site%d.example.com/news/section-%d/rss.xml", i%997, i)
		if i%4 == 1 {
			u += "?apikey=abc&x=1"
		}
		feeds[i] = watcher.FeedConfig{Name: fmt.Sprintf("feed %06d", i), URL: u}
		s, err := json.Marshal(map[string]any{"config_url": u, "last_poll": now.Add(-time.Minute),
			"next_due": now.Add(time.Hour), "last_result": "not_modified", "etag": `"x"`})
		if err != nil {
			b.Fatal(err)
		}
		st[feeds[i].Name] = s
	}
	w, err := watcher.New(watcher.Options{Feeds: feeds, Interval: time.Hour, Timeout: time.Second, MaxBody: 1 << 20,
		Concurrency: 32, PerHost: 32, State: st, Seen: noSeen{},
		Sink: watcher.SinkFunc(func(context.Context, item.Feed, []item.Item) error { return nil })})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	b.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(time.Minute)
	for {
		fs := w.Status()
		loaded := len(fs) == n
		for i := 0; loaded && i < len(fs); i++ {
			loaded = fs[i].Result != ""
		}
		if loaded {
			return w
		}
		if time.Now().After(deadline) {
			b.Fatal("feed states not loaded within a minute")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// statusBenchWebSub is a WebSub manager holding an active subscription for
// each of the first subscribed feeds of statusBenchWatcher.
func statusBenchWebSub(b *testing.B, subscribed int) *websub.Manager {
	b.Helper()
	const callback = "https://feedwatch.example.org/websub"
	var recs memSubs
	for i := range subscribed {
		hub := "https://pubsubhubbub.appspot.com/"
		if i%3 == 1 {
			hub = fmt.Sprintf("https://hub%d.example.net/subscribe?token=0123456789abcdef%d", i%50, i)
		}
		r, err := json.Marshal(websub.Record{Feed: fmt.Sprintf("feed %06d", i), Hub: hub, Topic: fmt.Sprintf("https://site%d.example.com/", i),
			ID: fmt.Sprintf("id%d", i), Callback: fmt.Sprintf("%s/id%d", callback, i), Secret: "s3cret",
			State: websub.StateActive, LeaseSeconds: 86400, Expires: time.Now().Add(24 * time.Hour)})
		if err != nil {
			b.Fatal(err)
		}
		recs = append(recs, r)
	}
	m, err := websub.New(websub.Options{CallbackURL: callback, LeaseSeconds: 86400, Fallback: time.Hour, MaxBody: 1 << 20,
		Store: recs, Pusher: &lateWatcher{}})
	if err != nil {
		b.Fatal(err)
	}
	if err := m.Load(context.Background()); err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkAPIStatus: the status behind /api/status (and its JSON, as
// the handler writes it) and behind the console's pages, at 50,000 feeds,
// without WebSub and with it (no feed subscribed; every feed subscribed).
//
//	go test -run '^$' -bench APIStatus -benchmem ./daemon
func BenchmarkAPIStatus(b *testing.B) {
	const n = 50_000
	w := statusBenchWatcher(b, n)
	cases := []struct {
		name       string
		websub     bool
		subscribed int
	}{{"websub-off", false, 0}, {"websub-none-subscribed", true, 0}, {"websub-all-subscribed", true, n}}
	for _, c := range cases {
		d := &daemon{watcher: w, opts: Options{Mode: ModeWatch}, cfg: &config.Config{}, items: newItemRates(time.Now)}
		if c.websub {
			d.websub = statusBenchWebSub(b, c.subscribed)
		}
		b.Run(c.name+"/status", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if len(d.status().Feeds) != n {
					b.Fatal("short status")
				}
			}
		})
		b.Run(c.name+"/api-json", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := writeStatusJSON(io.Discard, d.status()); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/api-json-whole", func(b *testing.B) { // as the handler wrote it before
			b.ReportAllocs()
			for b.Loop() {
				enc := json.NewEncoder(io.Discard)
				enc.SetIndent("", "  ")
				if err := enc.Encode(d.status()); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/console", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if len(d.consoleStatus().Feeds) != n {
					b.Fatal("short status")
				}
			}
		})
	}
}

// BenchmarkStartStateLoad: a watcher starting over 50,000 feeds whose
// state is in the embedded JetStream bucket (next polls an hour away),
// until every feed's status shows its stored result: the start's state
// reads, all at once (as many at a time as watcher.concurrency). Reports
// the wall time and the process CPU time of that start.
//
//	go test -run '^$' -bench StartStateLoad -benchtime 1x ./daemon
func BenchmarkStartStateLoad(b *testing.B) {
	const n = 50_000
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bs, err := bus.Open(ctx, bus.Options{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer bs.Close()
	st := bs.FeedState()
	feeds := make([]watcher.FeedConfig, n)
	now := time.Now()
	for i := range feeds {
		u := fmt.Sprintf("https://site%d.example.com/news/section-%d/rss.xml", i%997, i)
		feeds[i] = watcher.FeedConfig{Name: fmt.Sprintf("feed %06d", i), URL: u}
		s, err := json.Marshal(map[string]any{"config_url": u, "last_poll": now.Add(-time.Minute), "next_due": now.Add(time.Hour),
			"last_result": "ok", "etag": `"0123456789abcdef"`, "body_hash": "0123456789abcdef0123456789abcdef", "primed": true})
		if err != nil {
			b.Fatal(err)
		}
		if err := st.Save(ctx, feeds[i].Name, s); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		cpu0 := cpuTime()
		start := time.Now()
		w, err := watcher.New(watcher.Options{Feeds: feeds, Interval: time.Hour, Timeout: time.Second, MaxBody: 1 << 20,
			Concurrency: 32, PerHost: 2, State: bs.FeedState(), Seen: noSeen{},
			Sink: watcher.SinkFunc(func(context.Context, item.Feed, []item.Item) error { return nil })})
		if err != nil {
			b.Fatal(err)
		}
		wctx, wcancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { _ = w.Run(wctx); close(done) }()
		for loaded := 0; loaded < n; {
			time.Sleep(10 * time.Millisecond)
			loaded = 0
			for _, f := range w.Status() {
				if f.Result != "" {
					loaded++
				}
			}
		}
		b.ReportMetric(time.Since(start).Seconds(), "s-to-all-loaded")
		b.ReportMetric((cpuTime() - cpu0).Seconds(), "cpu-s")
		wcancel()
		<-done
	}
}

// cpuTime is the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkOthersFeedsRows: the rows a status adds in a cluster for the
// feeds other processes poll, 50,000 feeds over three watchers (a third
// this process's), every other feed's state stored:
//
//	go test ./daemon -run '^$' -bench OthersFeedsRows -benchmem
func BenchmarkOthersFeedsRows(b *testing.B) {
	const n = 50_000
	watchers := []string{"host-a-1", "host-b-2", "host-c-3"}
	o := newOthersFeeds(context.Background(), nil, nil)
	feeds := make([]config.Feed, n)
	local := map[string]bool{}
	now := time.Now()
	for i := range feeds {
		u := fmt.Sprintf("https://site%d.example.com/news/section-%d/rss.xml", i%997, i)
		feeds[i] = config.Feed{Name: fmt.Sprintf("feed %06d", i), URL: u}
		if ownership.Owner(feeds[i].Name, watchers) == watchers[0] {
			local[feeds[i].Name] = true
			continue
		}
		s, err := json.Marshal(map[string]any{"config_url": u, "last_poll": now.Add(-time.Minute),
			"next_due": now.Add(time.Hour), "last_result": "not_modified", "etag": `"x"`})
		if err != nil {
			b.Fatal(err)
		}
		o.put(feeds[i].Name, s)
	}
	b.ReportAllocs()
	for b.Loop() {
		if rows := o.rows(feeds, local, watchers); len(rows) != n-len(local) {
			b.Fatalf("%d rows, want %d", len(rows), n-len(local))
		}
	}
}
