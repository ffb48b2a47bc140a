package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/bus/natstest"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// cpuTicks is a process's user+system time in clock ticks (1/100 s).
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which may hold spaces): utime and
	// stime are the 12th and 13th.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	return u + s, nil
}

// gcCycles is a watcher's count of finished GC cycles, from its metrics.
func gcCycles(p *proc) float64 { return metric(p, "go_gc_duration_seconds_count") }

// metric is the value of a watcher's metric (one with no labels).
func metric(p *proc, name string) float64 {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", p.port))
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			n, _ := strconv.ParseFloat(v, 64)
			return n
		}
	}
	return 0
}

// placement names the server each watcher is connected to and each
// stream's leader.
func placement(cl *natstest.Cluster, ps []*proc) string {
	var out []string
	nc, err := nats.Connect(cl.URL())
	if err != nil {
		return err.Error()
	}
	defer nc.Close()
	for _, nd := range cl.Nodes {
		cz, err := nd.Server().Connz(&server.ConnzOptions{Limit: 1000})
		if err != nil {
			continue
		}
		var names []string
		for _, c := range cz.Conns {
			names = append(names, c.Name)
		}
		out = append(out, nd.Name+"["+strings.Join(names, ",")+"]")
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return err.Error()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l := js.ListStreams(ctx)
	for si := range l.Info() {
		if si.Cluster != nil {
			out = append(out, si.Config.Name+"@"+si.Cluster.Leader)
		}
	}
	return strings.Join(out, " ")
}

func pctl(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(int(float64(len(s))*p), len(s)-1)].Round(10 * time.Millisecond)
}

// TestMeasureScaleOut measures, with the built binary on a three-node
// cluster (R1 streams): CPU per poll with 1, 2 and 3 watchers on one farm
// (phases 1-2-3-3-2-1, see below), failover after SIGKILL, handover after
// SIGTERM and the share moved on a join. A measurement, not a check:
// FEEDWATCH_MEASURE=1 runs it (about 4 minutes); the figures are in the
// README. FEEDWATCH_MEASURE_ONE=1 stops after the one-watcher phase;
// FEEDWATCH_MEASURE_APART=1 measures two watchers that do not share (each
// on its own server with half the feeds); FEEDWATCH_MEASURE_HOSTS=N serves
// the feeds from N ports (hosts); FEEDWATCH_MEASURE_NODE=i puts every
// watcher on server i; FEEDWATCH_MEASURE_GOGC sets the watchers' GOGC.
// Each phase logs every watcher's CPU, polls, GC cycles and heap goal,
// and which server each watcher and stream leader is on.
func TestMeasureScaleOut(t *testing.T) {
	if os.Getenv("FEEDWATCH_MEASURE") == "" {
		t.Skip("a measurement: set FEEDWATCH_MEASURE=1")
	}
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	feeds, _ := strconv.Atoi(os.Getenv("FEEDWATCH_MEASURE_FEEDS"))
	if feeds <= 0 {
		feeds = 600
	}
	cl := natstest.StartCluster(t, 3)
	farm := &clusterFarm{items: make([][]string, feeds), slide: make([]int, feeds)}
	fs := httptest.NewServer(farm)
	defer fs.Close()
	hook := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer hook.Close()
	rig := &procRig{t: t, bin: bin, dir: t.TempDir(), nats: cl.URL(), farm: fs.URL, hook: hook.URL, feeds: feeds, interval: "2s"}
	if n, _ := strconv.Atoi(os.Getenv("FEEDWATCH_MEASURE_HOSTS")); n > 1 {
		// The farm on n ports, i.e. n hosts as per_host counts them
		// (real feeds are spread over many hosts): a burst of polls can
		// run wider than per_host.
		rig.farms = append(rig.farms, fs.URL)
		for range n - 1 {
			s := httptest.NewServer(farm)
			defer s.Close()
			rig.farms = append(rig.farms, s.URL)
		}
	}
	if v := os.Getenv("FEEDWATCH_MEASURE_NODE"); v != "" {
		// Every watcher on one server (0, 1 or 2) instead of a random one
		// of the three: where a client sits against the streams' leaders
		// changes its round trips.
		i, _ := strconv.Atoi(v)
		rig.nats = cl.Nodes[i].URL()
	}
	if v := os.Getenv("FEEDWATCH_MEASURE_GOGC"); v != "" {
		t.Setenv("GOGC", v) // the watchers' only, like GOMAXPROCS below
	}
	if v := os.Getenv("FEEDWATCH_MEASURE_GOMAXPROCS"); v != "" {
		// For the watcher processes only: the test's own runtime (and
		// its NATS servers) has read GOMAXPROCS already.
		t.Setenv("GOMAXPROCS", v)
	}
	if os.Getenv("FEEDWATCH_MEASURE_IDLE") != "" {
		// The fixed cost: the same watchers with an interval so long that
		// nothing is polled while CPU is measured.
		rig.interval = "1h"
	}
	share := func(ps ...*proc) map[string][]int {
		out := map[string][]int{}
		for _, p := range ps {
			st, err := rig.status(p)
			if err != nil {
				return nil
			}
			for _, f := range st.Feeds {
				if !st.Own(f) {
					continue
				}
				i, _ := strconv.Atoi(strings.TrimPrefix(f.Name, "feed-"))
				out[p.name] = append(out[p.name], i)
			}
		}
		return out
	}
	total := func(m map[string][]int) int {
		n := 0
		for _, v := range m {
			n += len(v)
		}
		return n
	}
	waitShare := func(ps ...*proc) time.Duration {
		start := time.Now()
		for time.Since(start) < 60*time.Second {
			m := share(ps...)
			if total(m) == feeds && len(m) == len(ps) {
				return time.Since(start)
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("no split over %d watchers", len(ps))
		return 0
	}
	pollsBy := func(from, to time.Time, by string) int {
		farm.mu.Lock()
		defer farm.mu.Unlock()
		n := 0
		for _, p := range farm.polls {
			if !p.at.Before(from) && p.at.Before(to) && (by == "" || strings.HasPrefix(p.by, by)) {
				n++
			}
		}
		return n
	}
	polls := func(from, to time.Time) int { return pollsBy(from, to, "") }
	warm := false
	warmUp := 50 * time.Second
	if v, err := time.ParseDuration(os.Getenv("FEEDWATCH_MEASURE_WARMUP")); err == nil {
		warmUp = v
	}
	measure := func(ps ...*proc) float64 {
		waitShare(ps...)
		time.Sleep(10 * time.Second) // first polls and state loads over
		if !warm {
			// A watcher's first half-minute of polls costs 15-25 % less
			// than later ones (seen logs still short, see
			// FEEDWATCH_MEASURE_DRIFT): the steady state starts later.
			time.Sleep(warmUp)
			warm = true
		}
		before := make([]int64, len(ps))
		gcBefore := make([]float64, len(ps))
		for i, p := range ps {
			before[i], _ = cpuTicks(p.cmd.Process.Pid)
			gcBefore[i] = gcCycles(p)
		}
		from := time.Now()
		time.Sleep(20 * time.Second)
		to := time.Now()
		var ticks int64
		each := make([]string, len(ps))
		for i, p := range ps {
			after, _ := cpuTicks(p.cmd.Process.Pid)
			ticks += after - before[i]
			np := pollsBy(from, to, p.name)
			each[i] = fmt.Sprintf("%s %.0f ms/s, %d polls, %.3f ms/poll, %.0f GC cycles, heap goal %.0f MB", p.name, float64(after-before[i])*10/to.Sub(from).Seconds(),
				np, float64(after-before[i])*10/float64(max(np, 1)), gcCycles(p)-gcBefore[i], metric(p, "go_memstats_next_gc_bytes")/1e6)
		}
		t.Logf("MEASURE CPU per process: %s", strings.Join(each, ", "))
		t.Logf("MEASURE placement: %s", placement(cl, ps))
		n := polls(from, to)
		t.Logf("MEASURE %d watcher(s): %d polls in %s (%.0f/s), CPU %.2f s, %.3f ms per poll",
			len(ps), n, to.Sub(from).Round(time.Millisecond), float64(n)/to.Sub(from).Seconds(), float64(ticks)/100, float64(ticks)*10/float64(max(n, 1)))
		return float64(ticks) * 10 / float64(max(n, 1))
	}

	if os.Getenv("FEEDWATCH_MEASURE_APART") != "" {
		// The control for sharing: two watchers, each alone on its own
		// NATS server with half the feeds (no sharing, same per-process
		// rate as two sharing watchers).
		var ps []*proc
		for i, name := range []string{"x1", "x2"} {
			n := natstest.Start(t)
			r := *rig
			r.nats, r.feeds, r.first = n.URL(), feeds/2, i*feeds/2
			ps = append(ps, r.start(name, "watch"))
		}
		time.Sleep(2 * time.Second)
		waitShare = func(...*proc) time.Duration { return 0 }
		measure(ps...)
		return
	}
	w1 := rig.start("w1", "watch")
	one := measure(w1)
	if n, _ := strconv.Atoi(os.Getenv("FEEDWATCH_MEASURE_DRIFT")); n > 0 {
		// One watcher measured n times more: how its cost moves as the
		// run goes on.
		for range n {
			measure(w1)
		}
		return
	}
	if os.Getenv("FEEDWATCH_MEASURE_ONE") != "" {
		// The control: one watcher at the per-process poll rate of two
		// or three (FEEDWATCH_MEASURE_FEEDS=300 or 200).
		return
	}
	stop := func(p *proc) {
		if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		_ = p.cmd.Wait()
	}
	// The phases run 1, 2, 3, 3, 2, 1 watchers and each count is compared
	// by the mean of its two phases: a poll costs more as a run goes on
	// (each feed's seen log grows by an item a poll), and in the order
	// 1, 2, 3 alone that drift counted as the cost of sharing (one watcher
	// measured again last cost 7 % more than first on average, -12 to
	// +24 % in five runs), as did the noise of a single lone phase.
	w2 := rig.start("w2", "watch")
	two := measure(w1, w2)
	w3 := rig.start("w3", "watch")
	three := measure(w1, w2, w3)
	three = (three + measure(w1, w2, w3)) / 2
	stop(w3)
	two = (two + measure(w1, w2)) / 2
	stop(w2)
	one = (one + measure(w1)) / 2
	t.Logf("MEASURE balanced (mean of the phases 1-2-3 and 3-2-1): one watcher %.3f ms/poll, two %.3f (%+.0f %%), three %.3f (%+.0f %%)",
		one, two, 100*(two/one-1), three, 100*(three/one-1))
	if rig.interval == "1h" || os.Getenv("FEEDWATCH_MEASURE_SHARE_ONLY") != "" {
		return
	}
	w2 = rig.start("w2", "watch")
	w3 = rig.start("w3", "watch")
	waitShare(w1, w2, w3)

	// SIGKILL w1: time to the first poll of each of its feeds by w2 or w3.
	owned := share(w1)["w1"]
	killed := time.Now()
	if err := w1.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = w1.cmd.Wait()
	took := waitShare(w2, w3)
	time.Sleep(5 * time.Second)
	first := farm.firstPolls(killed, "w2", "w3")
	var fo []time.Duration
	for _, i := range owned {
		if at, ok := first[i]; ok {
			fo = append(fo, at.Sub(killed))
		}
	}
	t.Logf("MEASURE SIGKILL of a watcher with %d feeds: survivors own them after %s; first poll by a survivor p50 %s, p99 %s, max %s (%d of %d polled)",
		len(owned), took.Round(10*time.Millisecond), pctl(fo, 0.5), pctl(fo, 0.99), pctl(fo, 1), len(fo), len(owned))

	// SIGTERM w3: ownership moves on the deleted record.
	owned = share(w3)["w3"]
	stopped := time.Now()
	if err := w3.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	took = waitShare(w2)
	_ = w3.cmd.Wait()
	time.Sleep(5 * time.Second)
	first = farm.firstPolls(stopped, "w2")
	fo = fo[:0]
	for _, i := range owned {
		if at, ok := first[i]; ok {
			fo = append(fo, at.Sub(stopped))
		}
	}
	t.Logf("MEASURE SIGTERM of a watcher with %d feeds: the survivor owns them after %s; first poll by it p50 %s, p99 %s (interval 2 s)",
		len(owned), took.Round(10*time.Millisecond), pctl(fo, 0.5), pctl(fo, 0.99))

	// Join: w4 takes about half of w2's feeds.
	w4 := rig.start("w4", "watch")
	took = waitShare(w2, w4)
	moved := len(share(w4)["w4"])
	t.Logf("MEASURE join of a second watcher: %d of %d feeds moved (%.1f%%, ideal 50%%), split after %s from the process start",
		moved, feeds, 100*float64(moved)/float64(feeds), took.Round(10*time.Millisecond))
}
