package daemon

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// cutProxy forwards TCP connections to target and can cut them the way a
// network partition does: nothing passes either way, but no connection is
// closed, so the client notices only by its requests timing out. What was
// sent meanwhile is delivered when the cut heals, late, as a network that
// comes back delivers what it held.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cond   *sync.Cond
	cut    bool
	// refused counts JetStream "wrong last sequence" answers sent to the
	// client: revision-checked writes the server turned down.
	refused atomic.Int64
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	p.cond = sync.NewCond(&p.mu)
	var conns sync.WaitGroup
	var open []net.Conn
	var openMu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			openMu.Lock()
			open = append(open, c, s)
			openMu.Unlock()
			conns.Add(2)
			go func() { defer conns.Done(); p.pipe(s, c, nil) }()
			go func() { defer conns.Done(); p.pipe(c, s, &p.refused) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.heal()
		openMu.Lock()
		for _, c := range open {
			c.Close()
		}
		openMu.Unlock()
		conns.Wait()
	})
	return p
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }

// pipe copies src to dst, holding each chunk while the proxy is cut.
func (p *cutProxy) pipe(dst, src net.Conn, refused *atomic.Int64) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.cut {
				p.cond.Wait()
			}
			p.mu.Unlock()
			if refused != nil {
				// 10071 standalone, 10164 on a replicated stream.
				refused.Add(int64(bytes.Count(buf[:n], []byte(`"err_code":10071`)) + bytes.Count(buf[:n], []byte(`"err_code":10164`))))
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				src.Close()
				return
			}
		}
		if err != nil {
			dst.Close()
			return
		}
	}
}

func (p *cutProxy) setCut(cut bool) {
	p.mu.Lock()
	p.cut = cut
	p.mu.Unlock()
	p.cond.Broadcast()
}

func (p *cutProxy) heal() { p.setCut(false) }

// TestWatcherPartitioned cuts a watcher's network to NATS (a real cut: its
// TCP connection goes silent, nothing is closed) on a three-node cluster
// with R3 streams, for longer than its lease, at the worst moment: as it
// issues a seen-log write. It must stop polling and writing once its lease
// lapses; the other watcher must poll its feeds within 30 s; the write it
// had in flight lands late, when the network heals, after the new owner
// wrote the same log, and must be refused (revision check); after the heal
// the feeds are shared again, and every hit is delivered and published
// once.
func TestWatcherPartitioned(t *testing.T) {
	if testing.Short() {
		t.Skip("a three-node cluster, a cut and a heal: about 30 s")
	}
	r := newOwnersRig(t)
	proxy := newCutProxy(t, strings.TrimPrefix(r.nats.Nodes[0].URL(), "nats://"))
	// Every process on R3 streams; a reaches NATS only through the proxy.
	for _, name := range []string{"a", "d", "n1"} {
		path := filepath.Join(r.dir, name+".yaml")
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		url := r.nats.URL()
		if name == "a" {
			url = "nats://" + proxy.addr()
		}
		cfg := strings.Replace(string(b), "nats:\n  url: "+r.nats.URL()+"\n", "nats:\n  url: "+url+"\n  replicas: 3\n", 1)
		if cfg == string(b) {
			t.Fatal("nats section not found in the rig's config")
		}
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r.start("n1", ModeNotify)
	a := r.start("a", ModeWatch)
	d := r.start("d", ModeWatch)
	waitFor(t, "a and d split the feeds", 15*time.Second, func() bool { return split(a, d) })
	time.Sleep(2 * time.Second) // first polls, spread over 2 s
	want := r.farm.addAll("before")
	r.delivered(want)
	aFeeds := feedsOf(owners(a, d), "a")

	// Cut a off as it issues the seen-log write for a new item of one of
	// its feeds: the write waits in the cut.
	victim := aFeeds[0]
	cutc := make(chan time.Time, 1)
	var once sync.Once
	r.mu.Lock()
	r.onWrite = func(w write) {
		if w.by == "a" && w.kind == "seen" && w.feed == fmt.Sprintf("feed-%d", victim) {
			once.Do(func() {
				proxy.setCut(true)
				cutc <- time.Now()
			})
		}
	}
	r.mu.Unlock()
	title := "Xinjiang at the cut"
	r.farm.feeds[victim].add("at-the-cut", title, "", time.Now())
	want = append(want, "xinjiang: "+title)
	var cut time.Time
	select {
	case cut = <-cutc:
	case <-time.After(20 * time.Second):
		t.Fatal("a wrote no seen-state for the new item")
	}
	took := r.firstPolls("failover on a cut", cut, aFeeds, []string{"d"})
	if last := took[len(took)-1]; last > 30*time.Second {
		t.Errorf("a's feeds polled by d %s after the cut, want within 30 s", last)
	}
	waitFor(t, "d owns every feed", 15*time.Second, func() bool { return len(feedsOf(owners(d), "d")) == clusterFeeds })
	want = append(want, r.farm.addAll("cut-off")...)
	time.Sleep(3 * time.Second) // d polls and writes every feed; a's writes wait in the cut
	healed := time.Now()
	proxy.heal()
	waitFor(t, "a and d split the feeds again", 30*time.Second, func() bool { return split(a, d) })
	want = append(want, r.farm.addAll("healed")...)
	r.delivered(want)

	// a's lease (1.5 s) ends before d may count it dead (2 s after a's
	// last renewal, which was before the cut): from then until the heal
	// it must neither poll nor issue a write.
	fenced := cut.Add(2 * time.Second)
	r.mu.Lock()
	for _, w := range r.wrote {
		if w.by == "a" && w.at.After(fenced) && w.at.Before(healed) {
			t.Errorf("a issued a %s write of %s while cut off, %s after the cut", w.kind, w.feed, w.at.Sub(cut).Round(time.Millisecond))
		}
	}
	r.mu.Unlock()
	for _, p := range r.farm.since(fenced) {
		if p.by == "a" && p.at.Before(healed) {
			t.Errorf("a polled feed-%d while cut off", p.feed)
		}
	}
	// The seen-log write a issued at the cut reached NATS after d had
	// written that feed's log: refused, not appended.
	if n := proxy.refused.Load(); n == 0 {
		t.Error("no write of a was refused after the heal: its late seen-log write went through")
	} else {
		t.Logf("writes of a refused by revision checks after the heal: %d", n)
	}
	r.checkSteady("after healing", 3*time.Second)
}
