// Command farm benchmarks the watcher against a local feed farm: a child
// process serving N feeds on 127.0.0.1, and the watcher polling them.
//
//	go run ./watcher/farm -n 1000 -answer 304 -duration 20s
//	go run ./watcher/farm -n 1000 -answer 200 -duration 20s
//	go run ./watcher/farm -n 50000 -answer 304 -interval 5m -duration 6m   # schedule lag
//
// With -interval 0 every feed is always due, which measures throughput
// (polls/s); with a real interval it measures schedule lag. Seen and state
// stores are no-op fakes (production keeps them in NATS KV), so the memory
// figure is the watcher's own, "seen-state aside".
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/feedwatch/feedwatch/item"
	"github.com/feedwatch/feedwatch/watcher"
)

func main() {
	var (
		serve       = flag.Bool("serve", false, "run as the farm (child process)")
		n           = flag.Int("n", 1000, "feeds")
		answer      = flag.String("answer", "304", "304: conditional requests answered 304; 200: a changed ~30 KB 20-item document every time")
		duration    = flag.Duration("duration", 20*time.Second, "measurement time after warm-up")
		interval    = flag.Duration("interval", 0, "poll interval; 0 = always due (throughput)")
		concurrency = flag.Int("concurrency", 64, "watcher concurrency")
		variants    = flag.Int("variants", 16, "document variants rotated by the farm (200 mode)")
		memprofile  = flag.String("memprofile", "", "write a heap profile after warm-up")
		cpuprofile  = flag.String("cpuprofile", "", "write a CPU profile of the measurement window")
	)
	flag.Parse()
	if *serve {
		if err := runFarm(*n, *answer, *variants); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	memProfile, cpuProfile = *memprofile, *cpuprofile
	if err := runBench(*n, *answer, *duration, *interval, *concurrency, *variants); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

var memProfile, cpuProfile string

// ---- farm (child) ----

func doc(feed, variant int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Feed %d</title><link>https://news.example/%d/</link><description>farm</description>`, feed, feed)
	para := strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor. ", 16)
	for i := 0; i < 20; i++ {
		id := variant + i // a sliding window: each variant adds one item
		fmt.Fprintf(&b, `<item><title>Story %d about the trade bill</title><link>https://news.example/%d/story/%d</link><guid isPermaLink="false">urn:%d:%d</guid><pubDate>%s</pubDate><description><![CDATA[<p>%s</p>]]></description></item>`,
			id, feed, id, feed, id, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(id)*time.Minute).Format(time.RFC1123Z), para)
	}
	b.WriteString(`</channel></rss>`)
	return []byte(b.String())
}

func runFarm(n int, answer string, variants int) error {
	// Documents differ per feed only in the channel header; share bodies
	// across feeds by variant to keep the farm's memory small.
	bodies := make([][]byte, variants)
	for v := range bodies {
		bodies[v] = doc(0, v)
	}
	counters := make([]atomic.Uint32, n)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr().String())
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/f/"))
		if err != nil || i < 0 || i >= n {
			http.NotFound(w, r)
			return
		}
		if answer == "304" {
			etag := `"f` + strconv.Itoa(i) + `"`
			if r.Header.Get("If-None-Match") == etag {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			w.Header().Set("ETag", etag)
			w.Header().Set("Content-Type", "application/rss+xml")
			_, _ = w.Write(bodies[0])
			return
		}
		v := int(counters[i].Add(1)) % variants
		w.Header().Set("Content-Type", "application/rss+xml")
		_, _ = w.Write(bodies[v])
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		// The parent closes our stdin when it is done.
		_, _ = io.Copy(io.Discard, os.Stdin)
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// ---- benchmark (parent) ----

type allSeen struct{}

func (allSeen) Seen(_ context.Context, _ string, keys []string) (map[string]bool, error) {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m, nil
}
func (allSeen) MarkSeen(context.Context, string, []string) error { return nil }

type noState struct{}

func (noState) Load(context.Context, string) ([]byte, error)         { return nil, nil }
func (noState) Save(context.Context, string, []byte) error           { return nil }
func (noState) Handle(context.Context, item.Feed, []item.Item) error { return nil }

func runBench(n int, answer string, duration, interval time.Duration, concurrency, variants int) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	child := exec.Command(exe, "-serve", "-n", strconv.Itoa(n), "-answer", answer, "-variants", strconv.Itoa(variants))
	stdin, _ := child.StdinPipe()
	stdout, _ := child.StdoutPipe()
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		return err
	}
	defer func() { _ = stdin.Close(); _ = child.Wait() }()
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		return fmt.Errorf("farm address: %w", err)
	}
	addr = strings.TrimSpace(addr)

	runtime.GC()
	rss0 := rssBytes()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)

	feeds := make([]watcher.FeedConfig, n)
	for i := range feeds {
		feeds[i] = watcher.FeedConfig{Name: "f" + strconv.Itoa(i), URL: "http://" + addr + "/f/" + strconv.Itoa(i)}
	}
	reg := prometheus.NewRegistry()
	iv := interval
	if iv == 0 {
		iv = time.Nanosecond
	}
	w, err := watcher.New(watcher.Options{
		Feeds: feeds, Interval: iv, Timeout: 30 * time.Second, MaxBody: 10 << 20, Backfill: 24 * time.Hour,
		Concurrency: concurrency, PerHost: concurrency,
		Sink: noState{}, Seen: allSeen{}, State: noState{},
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), Registerer: reg,
	})
	if err != nil {
		return err
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = w.Run(ctx) }()

	// Warm-up: every feed polled once (validators stored, connections up).
	// With a real interval the first polls are spread over it: measure
	// from the start instead, memory at the end.
	warmStart := time.Now()
	for interval == 0 && total(reg, "feedwatch_polls_total") < float64(n) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(50 * time.Millisecond)
	}
	warm := time.Since(warmStart)
	runtime.GC()
	debug.FreeOSMemory()
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	rss1 := rssBytes()
	if memProfile != "" {
		if f, err := os.Create(memProfile); err == nil {
			_ = pprof.WriteHeapProfile(f)
			_ = f.Close()
		}
	}

	if cpuProfile != "" {
		if f, err := os.Create(cpuProfile); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer pprof.StopCPUProfile()
			}
		}
	}
	p0, c0, t0 := total(reg, "feedwatch_polls_total"), cpuSelf(), time.Now()
	cc0 := cpuOf(child.Process.Pid)
	lag0 := histogram(reg, "feedwatch_schedule_lag_seconds")
	select {
	case <-ctx.Done():
	case <-time.After(duration):
	}
	p1, c1, el := total(reg, "feedwatch_polls_total"), cpuSelf(), time.Since(t0)
	cc1 := cpuOf(child.Process.Pid)
	lag1 := histogram(reg, "feedwatch_schedule_lag_seconds")
	if interval > 0 {
		runtime.GC()
		debug.FreeOSMemory()
		runtime.ReadMemStats(&ms1)
		rss1 = rssBytes()
	}
	cancel()
	wg.Wait()

	polls := p1 - p0
	fmt.Printf("feeds=%d answer=%s interval=%v concurrency=%d cpus=%d\n", n, answer, interval, concurrency, runtime.NumCPU())
	fmt.Printf("warm-up (first poll of every feed): %v\n", warm.Round(time.Millisecond))
	fmt.Printf("polls: %.0f in %v = %.0f polls/s\n", polls, el.Round(time.Millisecond), polls/el.Seconds())
	if polls > 0 {
		fmt.Printf("cpu per poll: watcher %.3f ms, farm %.3f ms\n", (c1-c0).Seconds()*1000/polls, (cc1-cc0).Seconds()*1000/polls)
	}
	fmt.Printf("memory per feed: heap %.0f B, rss %.0f B (seen/state stores are no-ops)\n",
		float64(int64(ms1.HeapAlloc)-int64(ms0.HeapAlloc))/float64(n), float64(rss1-rss0)/float64(n))
	fmt.Printf("schedule lag: p50 %s p99 %s (over the measurement window)\n", quantile(lag0, lag1, 0.5), quantile(lag0, lag1, 0.99))
	results := byResult(reg)
	fmt.Printf("results: %v\n", results)
	return nil
}

func total(reg *prometheus.Registry, name string) float64 {
	mfs, _ := reg.Gather()
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

func byResult(reg *prometheus.Registry) map[string]float64 {
	out := map[string]float64{}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "feedwatch_polls_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				out[l.GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	return out
}

type hist struct {
	bounds []float64
	counts []uint64 // cumulative
	total  uint64
}

func histogram(reg *prometheus.Registry, name string) hist {
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) == 0 {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		var out hist
		for _, b := range h.GetBucket() {
			out.bounds = append(out.bounds, b.GetUpperBound())
			out.counts = append(out.counts, b.GetCumulativeCount())
		}
		out.total = h.GetSampleCount()
		return out
	}
	return hist{}
}

// quantile estimates a quantile of the observations between two snapshots
// by linear interpolation inside the bucket.
func quantile(a, b hist, q float64) string {
	if len(b.bounds) == 0 {
		return "n/a"
	}
	tot := b.total - a.total
	if tot == 0 {
		return "n/a"
	}
	rank := q * float64(tot)
	prevC, prevB := 0.0, 0.0
	for i := range b.bounds {
		var ca uint64
		if i < len(a.counts) {
			ca = a.counts[i]
		}
		c := float64(b.counts[i] - ca)
		if c >= rank {
			frac := 0.0
			if c > prevC {
				frac = (rank - prevC) / (c - prevC)
			}
			return fmtSec(prevB + frac*(b.bounds[i]-prevB))
		}
		prevC, prevB = c, b.bounds[i]
	}
	return "> " + fmtSec(b.bounds[len(b.bounds)-1])
}

func fmtSec(s float64) string {
	if math.IsInf(s, 0) {
		return "inf"
	}
	return (time.Duration(s * float64(time.Second))).Round(time.Millisecond).String()
}

func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

func cpuSelf() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuOf reads utime+stime of pid from /proc (clock ticks, 100 Hz).
func cpuOf(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}
