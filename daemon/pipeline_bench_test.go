package daemon

// The whole-pipeline benchmark: the real daemon (ModeWatch, embedded
// JetStream on a temp dir, 1,000 profiles) polling a farm of N feeds served
// by a child process (bench/farm) on 127.0.0.1, compared in the same run
// with parse-only baselines over the same documents.
//
//	go test -run '^$' -bench Pipeline -benchtime 1x ./daemon
//	go test -run '^$' -bench 'Pipeline/cluster' -benchtime 1x ./daemon   (R1 against R3 only)
//	FEEDWATCH_BENCH_FEEDS=1000 FEEDWATCH_BENCH_DURATION=20s FEEDWATCH_BENCH_CONCURRENCY=64 (defaults)
//
// Phases: gofeed-200 (a bare net/http + gofeed loop), watcher-200 (the
// watcher with no-op sink and stores), daemon-200 (20 new items per poll),
// daemon-200-slide (one new item per poll), daemon-304. Every phase runs
// for a fixed time whatever b.N is; the figures are reported as custom
// metrics and printed as a summary with the ratios. bench/README.md has
// the results.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/feedwatch/feedwatch/bench/feedgen"
	"github.com/feedwatch/feedwatch/bus/natstest"
	"github.com/feedwatch/feedwatch/item"
	"github.com/feedwatch/feedwatch/watcher"
)

type pipeSettings struct {
	feeds, concurrency, profiles int
	dur                          time.Duration
	farmBin                      string
}

type pipeResult struct {
	polls, hits, items float64
	elapsed            time.Duration
	cpu, farmCPU       time.Duration
	results            map[string]float64
	// heapMB is the live heap after a GC at the end of a daemon phase
	// (daemon and embedded server: the server's per-subject index is
	// where per-item seen-state used to cost memory); seenMB the seen
	// bucket's bytes on disk.
	heapMB, seenMB float64
	// archived is how many items the archive holds at the end, archiveMB
	// its files on disk.
	archived, archiveMB float64
}

func (r pipeResult) pollsPerSec() float64 { return r.polls / r.elapsed.Seconds() }
func (r pipeResult) cpuMS() float64       { return float64(r.cpu.Microseconds()) / 1000 / max(r.polls, 1) }
func (r pipeResult) farmCPUMS() float64 {
	return float64(r.farmCPU.Microseconds()) / 1000 / max(r.polls, 1)
}

// capacity is the polls/s that the machine's cores could sustain at the
// measured CPU cost of daemon and farm together: the throughput figure that
// does not depend on what else the shared machine was running.
func (r pipeResult) capacity() float64 {
	return float64(runtime.NumCPU()) * 1000 / max(r.cpuMS()+r.farmCPUMS(), 1e-9)
}

func (r pipeResult) report(b *testing.B) {
	b.ReportMetric(r.pollsPerSec(), "polls/s")
	b.ReportMetric(r.hits/r.elapsed.Seconds(), "hits/s")
	if r.polls > 0 {
		b.ReportMetric(float64(r.cpu.Microseconds())/1000/r.polls, "cpu-ms/poll")
		b.ReportMetric(float64(r.farmCPU.Microseconds())/1000/r.polls, "farm-cpu-ms/poll")
		b.ReportMetric(r.capacity(), "capacity-polls/s")
	}
	b.ReportMetric(0, "ns/op") // the phase is timed, not b.N
}

func BenchmarkPipeline(b *testing.B) {
	s := pipeSettings{
		feeds:       envInt("FEEDWATCH_BENCH_FEEDS", 1000),
		concurrency: envInt("FEEDWATCH_BENCH_CONCURRENCY", 64),
		profiles:    envInt("FEEDWATCH_BENCH_PROFILES", 1000),
		dur:         envDuration("FEEDWATCH_BENCH_DURATION", 20*time.Second),
	}
	s.farmBin = buildFarm(b)
	res := map[string]pipeResult{}
	var mu sync.Mutex
	phase := func(name string, f func(*testing.B, pipeSettings) pipeResult) {
		b.Run(name, func(b *testing.B) {
			r := f(b, s)
			r.report(b)
			mu.Lock()
			res[name] = r
			mu.Unlock()
		})
	}
	phase("gofeed-200", benchGofeedLoop)
	phase("watcher-200", benchWatcherAlone)
	phase("daemon-200", func(b *testing.B, s pipeSettings) pipeResult { return benchDaemon(b, s, "fresh") })
	phase("daemon-200-slide", func(b *testing.B, s pipeSettings) pipeResult { return benchDaemon(b, s, "slide") })
	phase("daemon-304", func(b *testing.B, s pipeSettings) pipeResult { return benchDaemon(b, s, "static") })
	// The archive (on by default above) against none: what archiving every
	// new item costs a poll.
	noArchive := "archive:\n  retention: 0s\n"
	phase("daemon-200-noarchive", func(b *testing.B, s pipeSettings) pipeResult { return benchDaemonOn(b, s, "fresh", noArchive) })
	phase("daemon-200-slide-noarchive", func(b *testing.B, s pipeSettings) pipeResult { return benchDaemonOn(b, s, "slide", noArchive) })
	// On a three-server cluster (in this process, so its CPU counts too),
	// single-replica streams against three replicas.
	for _, r := range []int{1, 3} {
		phase(fmt.Sprintf("cluster-r%d-200", r), func(b *testing.B, s pipeSettings) pipeResult {
			c := natstest.StartCluster(b, 3)
			return benchDaemonOn(b, s, "fresh", fmt.Sprintf("nats:\n  url: %s\n  replicas: %d\n", c.URL(), r))
		})
	}

	names := make([]string, 0, len(res))
	for n := range res {
		names = append(names, n)
	}
	sort.Strings(names)
	var sum strings.Builder
	fmt.Fprintf(&sum, "feeds=%d concurrency=%d profiles=%d duration=%v cpus=%d GOMAXPROCS=%d GOGC=%q\n",
		s.feeds, s.concurrency, s.profiles, s.dur, runtime.NumCPU(), runtime.GOMAXPROCS(0), os.Getenv("GOGC"))
	for _, n := range names {
		r := res[n]
		fmt.Fprintf(&sum, "%-16s %7.0f polls/s %6.0f hits/s %7.0f new items/s  cpu %.3f ms/poll (farm %.3f) => %5.0f polls/s on %d idle cores  results %v\n",
			n, r.pollsPerSec(), r.hits/r.elapsed.Seconds(), r.items/r.elapsed.Seconds(),
			r.cpuMS(), r.farmCPUMS(), r.capacity(), runtime.NumCPU(), r.results)
		if r.heapMB > 0 {
			fmt.Fprintf(&sum, "%-16s heap in use %.0f MB, seen bucket on disk %.1f MB\n", "", r.heapMB, r.seenMB)
		}
	}
	if r1, ok := res["cluster-r1-200"]; ok {
		if r3, ok := res["cluster-r3-200"]; ok && r1.polls > 0 && r3.polls > 0 {
			fmt.Fprintf(&sum, "cluster R3 / R1 = %.2f (cpu per poll), %.2f (polls/s)\n", r3.cpuMS()/r1.cpuMS(), r3.pollsPerSec()/r1.pollsPerSec())
		}
	}
	for _, m := range []string{"daemon-200", "daemon-200-slide"} {
		on, ok1 := res[m]
		off, ok2 := res[m+"-noarchive"]
		if ok1 && ok2 && off.polls > 0 && on.polls > 0 {
			fmt.Fprintf(&sum, "%s archive on / off = %.3f (cpu per poll: %.3f / %.3f ms), %.2f (polls/s)\n", m,
				on.cpuMS()/off.cpuMS(), on.cpuMS(), off.cpuMS(), on.pollsPerSec()/off.pollsPerSec())
		}
		if ok1 && on.archived > 0 {
			fmt.Fprintf(&sum, "%s archive: %.0f items, %.0f bytes on disk per item\n", m, on.archived, on.archiveMB*1e6/on.archived)
		}
	}
	if d, ok := res["daemon-200"]; ok {
		for _, base := range []string{"watcher-200", "gofeed-200"} {
			if r, ok := res[base]; ok && r.polls > 0 {
				fmt.Fprintf(&sum, "daemon-200 / %s = %.2f (polls/s), %.2f (capacity), %.2f (cpu per poll)\n", base,
					d.pollsPerSec()/r.pollsPerSec(), d.capacity()/r.capacity(), d.cpuMS()/r.cpuMS())
			}
		}
	}
	// Printed, not logged: a parent benchmark's log is dropped without -v.
	fmt.Print(sum.String())
}

// ---- the daemon ----

func benchDaemon(b *testing.B, s pipeSettings, mode string) pipeResult {
	return benchDaemonOn(b, s, mode, "")
}

// benchDaemonOn runs the daemon phase with natsYAML (a nats: section) in
// its config; "" is the embedded server.
func benchDaemonOn(b *testing.B, s pipeSettings, mode, natsYAML string) pipeResult {
	addr, farmPID := startFarm(b, s.farmBin, s.feeds, mode)
	dir := b.TempDir()
	port := freePortB(b)
	var cfg strings.Builder
	fmt.Fprintf(&cfg, `data_dir: %s
http:
  listen: 127.0.0.1:%d
%swatcher:
  interval: 1ms
  concurrency: %d
  per_host: %d
  timeout: 30s
  backfill: 24h
feeds:
`, filepath.Join(dir, "data"), port, natsYAML, s.concurrency, s.concurrency)
	for i := range s.feeds {
		fmt.Fprintf(&cfg, "  - {url: \"http://%s/f/%d\", name: f%d}\n", addr, i, i)
	}
	cfg.WriteString("profiles:\n")
	cfg.WriteString(feedgen.New(1).Profiles(s.profiles, 2))
	cfg.WriteString("notifiers:\n  console: {type: console}\n")
	path := filepath.Join(dir, "feedwatch.yaml")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o600); err != nil {
		b.Fatal(err)
	}

	cancel, done := startRun(b, "daemon", Options{
		ConfigPath: path, Mode: ModeWatch, Stdout: io.Discard, Getenv: func(string) string { return "" },
		Logger:  slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
		Version: "bench",
	}, 60*time.Second)
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			b.Error("daemon did not stop within 30 s")
		}
	}()
	metrics := "http://127.0.0.1:" + strconv.Itoa(port) + "/metrics"
	// Warm-up: every feed polled at least once (first polls backfill; in
	// static mode later ones are 304s).
	// First polls are spread over at least 2 s; wait past that so every
	// feed is in its steady state (static mode: answering 304).
	time.Sleep(3 * time.Second)
	deadline := time.Now().Add(2 * time.Minute)
	for scrape(b, metrics).sum("feedwatch_polls_total") < float64(2*s.feeds) {
		if time.Now().After(deadline) {
			b.Fatal("warm-up: feeds not polled twice within 2 minutes")
		}
		time.Sleep(100 * time.Millisecond)
	}
	m0, c0, f0, t0 := scrape(b, metrics), cpuSelfB(), cpuOfPID(farmPID), time.Now()
	s0 := farmStats(b, addr)
	time.Sleep(s.dur)
	m1, c1, f1, el := scrape(b, metrics), cpuSelfB(), cpuOfPID(farmPID), time.Since(t0)
	s1 := farmStats(b, addr)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r := pipeResult{
		heapMB: float64(ms.HeapInuse) / 1e6, seenMB: dirMB(filepath.Join(dir, "data"), "KV_feedwatch_seen"),
		archived: m1.sum("feedwatch_archived_items_total"), archiveMB: dirMB(filepath.Join(dir, "data"), "FEEDWATCH_ITEMS"),
		polls:   m1.sum("feedwatch_polls_total") - m0.sum("feedwatch_polls_total"),
		hits:    m1.sum("feedwatch_hits_total") - m0.sum("feedwatch_hits_total"),
		items:   m1.sum("feedwatch_new_items_total") - m0.sum("feedwatch_new_items_total"),
		elapsed: el, cpu: c1 - c0, farmCPU: f1 - f0, results: map[string]float64{},
	}
	for k, v := range m1.series {
		if strings.HasPrefix(k, "feedwatch_polls_total{") {
			r.results[strings.TrimSuffix(strings.TrimPrefix(k, `feedwatch_polls_total{result="`), `"}`)] = v - m0.series[k]
		}
	}
	for k, v := range s1 {
		r.results["farm-"+k] = v - s0[k]
	}
	return r
}

// dirMB is the size of the files under root whose path contains part.
func dirMB(root, part string) float64 {
	var n int64
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(p, part) {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return float64(n) / 1e6
}

// ---- baselines over the same farm ----

// benchWatcherAlone runs the watcher with a no-op sink and stores that
// have seen nothing: fetch, parse and item keys, no matching, no NATS.
func benchWatcherAlone(b *testing.B, s pipeSettings) pipeResult {
	addr, farmPID := startFarm(b, s.farmBin, s.feeds, "fresh")
	feeds := make([]watcher.FeedConfig, s.feeds)
	for i := range feeds {
		feeds[i] = watcher.FeedConfig{Name: "f" + strconv.Itoa(i), URL: "http://" + addr + "/f/" + strconv.Itoa(i)}
	}
	reg := prometheus.NewRegistry()
	var items atomic.Int64
	w, err := watcher.New(watcher.Options{
		Feeds: feeds, Interval: time.Millisecond, Timeout: 30 * time.Second, MaxBody: 10 << 20, Backfill: 24 * time.Hour,
		Concurrency: s.concurrency, PerHost: s.concurrency,
		Sink: watcher.SinkFunc(func(_ context.Context, _ item.Feed, its []item.Item) error {
			items.Add(int64(len(its)))
			return nil
		}),
		Seen: nothingSeen{}, State: noFeedState{},
		Logger: slog.New(slog.DiscardHandler), Registerer: reg,
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = w.Run(ctx) }()
	defer func() { cancel(); wg.Wait() }()
	polls := func() float64 { return gatherSum(reg, "feedwatch_polls_total") }
	time.Sleep(3 * time.Second) // first polls are spread over at least 2 s
	deadline := time.Now().Add(2 * time.Minute)
	for polls() < float64(2*s.feeds) {
		if time.Now().After(deadline) {
			b.Fatal("warm-up: feeds not polled twice within 2 minutes")
		}
		time.Sleep(100 * time.Millisecond)
	}
	p0, i0, c0, f0, t0 := polls(), items.Load(), cpuSelfB(), cpuOfPID(farmPID), time.Now()
	time.Sleep(s.dur)
	p1, i1, c1, f1, el := polls(), items.Load(), cpuSelfB(), cpuOfPID(farmPID), time.Since(t0)
	return pipeResult{polls: p1 - p0, items: float64(i1 - i0), elapsed: el, cpu: c1 - c0, farmCPU: f1 - f0}
}

// benchGofeedLoop is the bare loop the issue names: 16 workers doing
// net/http GET and gofeed Parse, round robin over the feeds.
func benchGofeedLoop(b *testing.B, s pipeSettings) pipeResult {
	addr, farmPID := startFarm(b, s.farmBin, s.feeds, "fresh")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 30 * time.Second}
	var next, polls, items, fails atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := gofeed.NewParser()
			for ctx.Err() == nil {
				i := next.Add(1) % int64(s.feeds)
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/f/"+strconv.FormatInt(i, 10), nil)
				resp, err := client.Do(req)
				if err != nil {
					fails.Add(1)
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					fails.Add(1)
					continue
				}
				f, err := p.Parse(bytes.NewReader(body))
				if err != nil {
					fails.Add(1)
					continue
				}
				items.Add(int64(len(f.Items)))
				polls.Add(1)
			}
		}()
	}
	defer func() { cancel(); wg.Wait() }()
	time.Sleep(2 * time.Second) // warm-up: connections and heap
	p0, i0, c0, f0, t0 := polls.Load(), items.Load(), cpuSelfB(), cpuOfPID(farmPID), time.Now()
	time.Sleep(s.dur)
	p1, i1, c1, f1, el := polls.Load(), items.Load(), cpuSelfB(), cpuOfPID(farmPID), time.Since(t0)
	return pipeResult{polls: float64(p1 - p0), items: float64(i1 - i0), elapsed: el, cpu: c1 - c0, farmCPU: f1 - f0,
		results: map[string]float64{"failed": float64(fails.Load())}}
}

type nothingSeen struct{}

func (nothingSeen) Seen(context.Context, string, []string) (map[string]bool, error) { return nil, nil }
func (nothingSeen) MarkSeen(context.Context, string, []string) error                { return nil }

type noFeedState struct{}

func (noFeedState) Load(context.Context, string) ([]byte, error) { return nil, nil }
func (noFeedState) Save(context.Context, string, []byte) error   { return nil }

// ---- helpers ----

// buildFarm compiles bench/farm once per benchmark run.
func buildFarm(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "farm")
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, "github.com/feedwatch/feedwatch/bench/farm")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("build farm: %v", err)
	}
	return bin
}

// startFarm runs the farm as a child process (its CPU is counted apart) and
// returns its address and pid; it stops when the benchmark ends.
func startFarm(b *testing.B, bin string, n int, mode string) (string, int) {
	b.Helper()
	cmd := exec.Command(bin, "-n", strconv.Itoa(n), "-mode", mode, "-stdin")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = stdin.Close(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("farm address: %v", err)
	}
	return strings.TrimSpace(line), cmd.Process.Pid
}

// farmStats reads the farm's counts of 200 and 304 answers.
func farmStats(b *testing.B, addr string) map[string]float64 {
	b.Helper()
	resp, err := boundedGet("http://" + addr + "/stats")
	if err != nil {
		b.Fatalf("farm stats: %v", err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] != "feeds" {
			out[f[0]], _ = strconv.ParseFloat(f[1], 64)
		}
	}
	return out
}

// boundedGet is a GET with a timeout, so a stuck daemon or farm fails the
// benchmark instead of hanging it.
func boundedGet(url string) (*http.Response, error) {
	return (&http.Client{Timeout: 10 * time.Second}).Get(url)
}

type scraped struct{ series map[string]float64 }

func (s scraped) sum(name string) float64 {
	var t float64
	for k, v := range s.series {
		if k == name || strings.HasPrefix(k, name+"{") {
			t += v
		}
	}
	return t
}

// scrape reads the daemon's /metrics in the text format.
func scrape(b *testing.B, url string) scraped {
	b.Helper()
	resp, err := boundedGet(url)
	if err != nil {
		b.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	out := scraped{series: map[string]float64{}}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || !strings.HasPrefix(line, "feedwatch_") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out.series[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		b.Fatalf("scrape: %v", err)
	}
	return out
}

func gatherSum(reg *prometheus.Registry, name string) float64 {
	mfs, _ := reg.Gather()
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func cpuSelfB() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuOfPID reads utime+stime of a child from /proc (clock ticks, 100 Hz).
func cpuOfPID(pid int) time.Duration {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(raw)
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

func freePortB(b *testing.B) int {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func envInt(k string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil && v > 0 {
		return v
	}
	return def
}

func envDuration(k string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(k)); err == nil && v > 0 {
		return v
	}
	return def
}
