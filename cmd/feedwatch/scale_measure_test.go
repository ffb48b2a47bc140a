package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/bus/natstest"
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

func pctl(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(int(float64(len(s))*p), len(s)-1)].Round(10 * time.Millisecond)
}

// TestMeasureScaleOut measures, with the built binary on a three-node
// cluster (R1 streams): CPU per poll with 1, 2 and 3 watchers on one farm,
// failover after SIGKILL, handover after SIGTERM and the share moved on a
// join. A measurement, not a check: FEEDWATCH_MEASURE=1 runs it (about 3
// minutes); the figures are in the README. FEEDWATCH_MEASURE_ONE=1 stops
// after the one-watcher phase; FEEDWATCH_MEASURE_APART=1 measures two
// watchers that do not share (each on its own server with half the feeds);
// FEEDWATCH_MEASURE_HOSTS=N serves the feeds from N ports (hosts).
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
	measure := func(ps ...*proc) {
		waitShare(ps...)
		time.Sleep(10 * time.Second) // first polls and state loads over
		before := make([]int64, len(ps))
		for i, p := range ps {
			before[i], _ = cpuTicks(p.cmd.Process.Pid)
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
			each[i] = fmt.Sprintf("%s %.0f ms/s, %d polls, %.3f ms/poll", p.name, float64(after-before[i])*10/to.Sub(from).Seconds(),
				np, float64(after-before[i])*10/float64(max(np, 1)))
		}
		t.Logf("MEASURE CPU per process: %s", strings.Join(each, ", "))
		n := polls(from, to)
		t.Logf("MEASURE %d watcher(s): %d polls in %s (%.0f/s), CPU %.2f s, %.3f ms per poll",
			len(ps), n, to.Sub(from).Round(time.Millisecond), float64(n)/to.Sub(from).Seconds(), float64(ticks)/100, float64(ticks)*10/float64(max(n, 1)))
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
	measure(w1)
	if os.Getenv("FEEDWATCH_MEASURE_ONE") != "" {
		// The control: one watcher at the per-process poll rate of two
		// or three (FEEDWATCH_MEASURE_FEEDS=300 or 200).
		return
	}
	w2 := rig.start("w2", "watch")
	measure(w1, w2)
	w3 := rig.start("w3", "watch")
	measure(w1, w2, w3)
	if rig.interval == "1h" || os.Getenv("FEEDWATCH_MEASURE_SHARE_ONLY") != "" {
		return
	}

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
