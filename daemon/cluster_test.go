package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedwatch/feedwatch/bus"
	"github.com/feedwatch/feedwatch/bus/natstest"
	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier"
	"github.com/feedwatch/feedwatch/notifier/webhook"
)

// clusterRig runs feedwatch processes (in-process daemon.Run) against a
// three-node NATS cluster, with one feed and a webhook receiver that counts
// deliveries per hit id.
type clusterRig struct {
	c    *natstest.Cluster
	feed *feedServer
	hook *countingHook
	dir  string
	path string
	logs *syncBuffer

	feedURL, hookURL string
}

// countingHook is a webhook receiver that counts each hit id it is sent
// and can hold requests until released.
type countingHook struct {
	mu      sync.Mutex
	counts  map[string]int
	bodies  int
	gone    int           // held requests whose sender went away
	hold    chan struct{} // non-nil: requests wait for it to close
	arrived chan string   // receives the hit ids of each held request
}

func (h *countingHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.ReadAll(r.Body)
	ids := r.Header.Get(webhook.HeaderHitID)
	h.mu.Lock()
	hold, arrived := h.hold, h.arrived
	h.mu.Unlock()
	if hold != nil {
		select {
		case arrived <- ids:
		default:
		}
		select {
		case <-hold:
		case <-r.Context().Done():
		}
		if r.Context().Err() != nil {
			// The sender went away: nothing was delivered.
			h.mu.Lock()
			h.gone++
			h.mu.Unlock()
			return
		}
	}
	h.mu.Lock()
	h.bodies++
	for _, id := range strings.Split(ids, ",") {
		h.counts[id]++
	}
	h.mu.Unlock()
	io.WriteString(w, "ok")
}

func (h *countingHook) snapshot() (map[string]int, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]int, len(h.counts))
	for k, v := range h.counts {
		out[k] = v
	}
	return out, h.bodies
}

// holdNext makes requests wait until the returned release is called.
func (h *countingHook) holdNext() (arrived <-chan string, release func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hold, h.arrived = make(chan struct{}), make(chan string, 16)
	hold := h.hold
	var once sync.Once
	return h.arrived, func() {
		once.Do(func() {
			h.mu.Lock()
			h.hold = nil
			h.mu.Unlock()
			close(hold)
		})
	}
}

// newClusterRig starts a three-node cluster and writes a config for it.
// extraNATS is added under nats: (e.g. "  replicas: 3\n"); notifier is
// added to the hook notifier's settings.
func newClusterRig(t *testing.T, extraNATS, hookExtra string) *clusterRig {
	t.Helper()
	r := &clusterRig{c: natstest.StartCluster(t, 3), feed: &feedServer{title: "World"},
		hook: &countingHook{counts: map[string]int{}}, dir: t.TempDir(), logs: &syncBuffer{}}
	fs := httptest.NewServer(r.feed)
	t.Cleanup(fs.Close)
	hs := httptest.NewServer(r.hook)
	t.Cleanup(hs.Close)
	r.path = filepath.Join(r.dir, "feedwatch.yaml")
	r.feedURL, r.hookURL = fs.URL, hs.URL
	r.writeConfig(t, extraNATS, hookExtra)
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("FW_LOGS") != "" {
			t.Logf("logs:\n%s", r.logs.String())
		}
	})
	return r
}

func (r *clusterRig) writeConfig(t *testing.T, extraNATS, hookExtra string) {
	t.Helper()
	cfg := externalNATSConfig(filepath.Join(r.dir, "data"), `""`, r.c.URL(), extraNATS, r.feedURL, r.hookURL, hookExtra)
	if err := os.WriteFile(r.path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// proc is one in-process feedwatch daemon.
type proc struct {
	name   string
	cancel context.CancelFunc
	done   chan error
}

// start runs a daemon in mode and waits until it serves.
func (r *clusterRig) start(t *testing.T, mode Mode, name string) *proc {
	t.Helper()
	cancel, done := startRun(t, name, Options{ConfigPath: r.path, Mode: mode, Stdout: io.Discard, Getenv: func(string) string { return "" },
		Logger: slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("proc", name)}, 60*time.Second)
	p := &proc{name: name, cancel: cancel, done: done}
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop cancels the daemon and waits for it (again: a no-op).
func (p *proc) stop(t *testing.T) {
	t.Helper()
	p.cancel()
	select {
	case err, ok := <-p.done:
		if ok && err != nil {
			t.Errorf("%s: %v", p.name, err)
		}
		if ok {
			close(p.done)
		}
	case <-time.After(20 * time.Second):
		// Where it hangs, for the log.
		var stacks bytes.Buffer
		_ = pprof.Lookup("goroutine").WriteTo(&stacks, 1)
		t.Errorf("%s: no stop within 20 s; goroutines:\n%s", p.name, stacks.String())
	}
}

// js is a client of the cluster for the test's own inspections.
func (r *clusterRig) js(t *testing.T) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(r.c.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// node returns the cluster node named name.
func (r *clusterRig) node(t *testing.T, name string) *natstest.Node {
	t.Helper()
	for _, nd := range r.c.Nodes {
		if nd.Name == name {
			return nd
		}
	}
	t.Fatalf("no node %q", name)
	return nil
}

// leaders names the servers leading the hits stream and the notifier's
// consumer, retrying while the cluster elects them.
func (r *clusterRig) leaders(t *testing.T, js jetstream.JetStream, consumer string) (stream, cons string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		si, err1 := js.Stream(ctx, bus.HitsStream)
		var ci *jetstream.ConsumerInfo
		var err2 error
		if err1 == nil {
			var c jetstream.Consumer
			if c, err2 = si.Consumer(ctx, consumer); err2 == nil {
				ci, err2 = c.Info(ctx)
			}
		}
		cancel()
		if err1 == nil && err2 == nil && si.CachedInfo().Cluster != nil && ci.Cluster != nil &&
			si.CachedInfo().Cluster.Leader != "" && ci.Cluster.Leader != "" {
			return si.CachedInfo().Cluster.Leader, ci.Cluster.Leader
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("no stream or consumer leader after 30 s")
	return "", ""
}

// waitDelivered waits until the hook has had want distinct hits.
func (r *clusterRig) waitDelivered(t *testing.T, what string, want int, d time.Duration) {
	t.Helper()
	waitFor(t, what, d, func() bool {
		c, _ := r.hook.snapshot()
		return len(c) >= want
	})
}

// assertOnce fails for every hit delivered more than once.
func (r *clusterRig) assertOnce(t *testing.T, want int) {
	t.Helper()
	c, _ := r.hook.snapshot()
	if len(c) != want {
		t.Errorf("%d distinct hits delivered, want %d", len(c), want)
	}
	for id, n := range c {
		if n != 1 {
			t.Errorf("hit %s delivered %d times", id, n)
		}
	}
}

// TestNotifyResumesAfterHitsServerRestart: three servers, one watch and two
// notify processes, single-replica streams. The server holding the hits
// stream and its consumer goes away for 12 s; while it is gone the stream
// is unavailable, but once it is back delivery resumes by itself and every
// hit is delivered once.
func TestNotifyResumesAfterHitsServerRestart(t *testing.T) {
	t.Parallel() // own servers on their own ports and directories
	if testing.Short() {
		t.Skip("cluster test")
	}
	r := newClusterRig(t, "", "")
	r.start(t, ModeWatch, "watch")
	r.start(t, ModeNotify, "notify1")
	r.start(t, ModeNotify, "notify2")
	js := r.js(t)

	now := time.Now()
	r.feed.add("1", "Xinjiang before", "", now)
	r.waitDelivered(t, "first hit", 1, 20*time.Second)

	leader, _ := r.leaders(t, js, bus.ConsumerName("hook"))
	nd := r.node(t, leader)
	nd.Shutdown()
	r.feed.add("2", "Xinjiang during the outage", "", now)
	time.Sleep(12 * time.Second)
	nd.Restart(t)
	r.feed.add("3", "Xinjiang after", "", now)

	r.waitDelivered(t, "every hit after the restart", 3, 30*time.Second)
	time.Sleep(2 * time.Second) // room for a repeat to show
	r.assertOnce(t, 3)
}

// feedwatchStreams are the streams of every stream and bucket feedwatch
// creates.
var feedwatchStreams = []string{bus.HitsStream, bus.DeadStream, "KV_" + bus.SeenBucket, "KV_" + bus.FeedsBucket,
	"KV_" + bus.AlertedBucket, "KV_" + bus.LedgerBucket}

// waitReplicas waits until every feedwatch stream has want replicas, all
// current, and the notifier's consumer too.
func waitReplicas(t *testing.T, js jetstream.JetStream, want int) {
	t.Helper()
	var last string
	ok := func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		names := js.StreamNames(ctx)
		var all []string
		for n := range names.Name() {
			all = append(all, n)
		}
		for _, name := range feedwatchStreams {
			if !slices.Contains(all, name) {
				last = name + " missing"
				return false
			}
		}
		for _, name := range all {
			s, err := js.Stream(ctx, name)
			if err != nil {
				last = fmt.Sprintf("%s: %v", name, err)
				return false
			}
			info := s.CachedInfo()
			if info.Config.Replicas != want || info.Cluster == nil || len(info.Cluster.Replicas) != want-1 {
				last = fmt.Sprintf("%s: %d replicas configured, cluster %+v", name, info.Config.Replicas, info.Cluster)
				return false
			}
			for _, p := range info.Cluster.Replicas {
				if !p.Current {
					last = fmt.Sprintf("%s: replica %s not current", name, p.Name)
					return false
				}
			}
		}
		c, err := js.Consumer(ctx, bus.HitsStream, bus.ConsumerName("hook"))
		if err != nil {
			last = err.Error()
			return false
		}
		ci := c.CachedInfo()
		if ci.Cluster == nil || len(ci.Cluster.Replicas) != want-1 {
			last = fmt.Sprintf("consumer: cluster %+v", ci.Cluster)
			return false
		}
		return true
	}
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("streams not at %d replicas after 60 s: %s", want, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestReplicasChangeUpdatesStreams: a deployment started with one replica
// and restarted with nats.replicas 3 has every stream and bucket at three
// replicas; then losing the hits stream's leader, and later the consumer's,
// loses no hit and no state, and delivery goes on within seconds.
func TestReplicasChangeUpdatesStreams(t *testing.T) {
	t.Parallel() // own servers on their own ports and directories
	if testing.Short() {
		t.Skip("cluster test")
	}
	r := newClusterRig(t, "", "")
	js := r.js(t)
	p := r.start(t, ModeAll, "run-r1")
	now := time.Now()
	r.feed.add("1", "Xinjiang one", "", now)
	r.waitDelivered(t, "first hit", 1, 20*time.Second)
	waitReplicas(t, js, 1)
	p.stop(t)

	r.writeConfig(t, "  replicas: 3\n", "")
	r.start(t, ModeAll, "run-r3")
	waitReplicas(t, js, 3)

	r.feed.add("2", "Xinjiang two", "", now)
	r.waitDelivered(t, "second hit", 2, 20*time.Second)

	streamLeader, _ := r.leaders(t, js, bus.ConsumerName("hook"))
	nd := r.node(t, streamLeader)
	nd.Shutdown()
	r.feed.add("3", "Xinjiang three", "", now)
	r.waitDelivered(t, "a hit with the stream leader down", 3, 30*time.Second)
	nd.Restart(t)
	waitReplicas(t, js, 3)

	_, consumerLeader := r.leaders(t, js, bus.ConsumerName("hook"))
	nd = r.node(t, consumerLeader)
	nd.Shutdown()
	r.feed.add("4", "Xinjiang four", "", now)
	r.waitDelivered(t, "a hit with the consumer leader down", 4, 30*time.Second)

	// No state lost: the hits stream holds the four hits, the alerted
	// bucket their ids, and the feed's state is there.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hs, err := js.Stream(ctx, bus.HitsStream)
	if err != nil {
		t.Fatal(err)
	}
	if n := hs.CachedInfo().State.Msgs; n != 4 {
		t.Errorf("hits stream holds %d hits, want 4", n)
	}
	alerted, err := js.KeyValue(ctx, bus.AlertedBucket)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := r.hook.snapshot()
	for id := range got {
		if _, err := alerted.Get(ctx, id); err != nil {
			t.Errorf("alerted %s: %v", id, err)
		}
	}
	nd.Restart(t)
	time.Sleep(2 * time.Second) // polls go on: room for a repeat to show
	r.assertOnce(t, 4)
}

// TestNotifyProcessesShareNotifier: two notify processes share the
// notifier's consumer; each hit is delivered once. One of them is stopped
// while the receiver holds its request: the cut send is handed back and the
// other process delivers it, and everything after.
func TestNotifyProcessesShareNotifier(t *testing.T) {
	t.Parallel() // own servers on their own ports and directories
	if testing.Short() {
		t.Skip("cluster test")
	}
	r := newClusterRig(t, "  replicas: 3\n", "")
	r.start(t, ModeWatch, "watch")
	n1 := r.start(t, ModeNotify, "notify1")
	now := time.Now()
	r.feed.add("1", "Xinjiang one", "", now)
	r.waitDelivered(t, "first hit", 1, 20*time.Second)

	// Only notify1 runs: the next request is surely its own.
	arrived, release := r.hook.holdNext()
	defer release()
	r.feed.add("2", "Xinjiang two", "", now)
	select {
	case <-arrived:
	case <-time.After(20 * time.Second):
		t.Fatal("second hit never sent")
	}
	r.start(t, ModeNotify, "notify2")
	n1.stop(t) // cuts the held send after the engine's grace
	waitFor(t, "the cut request to end", 10*time.Second, func() bool {
		r.hook.mu.Lock()
		defer r.hook.mu.Unlock()
		return r.hook.gone >= 1
	})
	release()
	r.waitDelivered(t, "the cut hit, by notify2", 2, 20*time.Second)

	n3 := r.start(t, ModeNotify, "notify3")
	for i := 3; i <= 8; i++ {
		r.feed.add(fmt.Sprint(i), fmt.Sprintf("Xinjiang %d", i), "", now)
		time.Sleep(150 * time.Millisecond)
	}
	r.waitDelivered(t, "every hit", 8, 20*time.Second)
	n3.stop(t)
	time.Sleep(2 * time.Second) // room for a repeat to show
	r.assertOnce(t, 8)
}

// TestDigestOncePerWindowAcrossProcesses: two notify processes run a digest
// notifier; a window's hits go out as one message, not one per process.
// When the process sending the digests stops, the other takes over.
func TestDigestOncePerWindowAcrossProcesses(t *testing.T) {
	t.Parallel() // own servers on their own ports and directories
	if testing.Short() {
		t.Skip("cluster test")
	}
	r := newClusterRig(t, "  replicas: 3\n", "    digest: 3s\n")
	r.start(t, ModeWatch, "watch")
	procs := map[string]*proc{}
	for _, name := range []string{"notify1", "notify2"} {
		procs[name] = r.start(t, ModeNotify, name)
	}
	now := time.Now()
	for i := 1; i <= 4; i++ {
		r.feed.add(fmt.Sprint(i), fmt.Sprintf("Xinjiang %d", i), "", now)
	}
	r.waitDelivered(t, "the first window", 4, 30*time.Second)
	time.Sleep(4 * time.Second) // a second digest would show by now
	if _, bodies := r.hook.snapshot(); bodies != 1 {
		t.Fatalf("first window sent as %d messages, want 1", bodies)
	}

	holder := ""
	for name := range procs {
		if strings.Contains(r.logs.String(), "proc="+name+" notifier=hook") &&
			strings.Contains(r.logs.String(), `msg="digest lease taken: this process sends the notifier's digests" proc=`+name) {
			holder = name
		}
	}
	if holder == "" {
		t.Fatal("no process logged taking the digest lease")
	}
	procs[holder].stop(t)
	for i := 5; i <= 6; i++ {
		r.feed.add(fmt.Sprint(i), fmt.Sprintf("Xinjiang %d", i), "", now)
	}
	r.waitDelivered(t, "the window after the holder stopped", 6, 30*time.Second)
	time.Sleep(4 * time.Second)
	if _, bodies := r.hook.snapshot(); bodies != 2 {
		t.Errorf("two windows sent as %d messages, want 2", bodies)
	}
	r.assertOnce(t, 6)
}

// TestPipelineSurvivesEachNodeLoss: one watch and one notify process on a
// three-server cluster with three replicas while items keep arriving; each
// server in turn (the hits stream's leader first, then the consumer's) is
// shut down for a few seconds and brought back. Every hit is delivered
// once, none is published twice, and no state is lost.
func TestPipelineSurvivesEachNodeLoss(t *testing.T) {
	t.Parallel() // own servers on their own ports and directories
	if testing.Short() {
		t.Skip("cluster test")
	}
	r := newClusterRig(t, "  replicas: 3\n", "")
	r.start(t, ModeWatch, "watch")
	r.start(t, ModeNotify, "notify")
	js := r.js(t)
	waitReplicas(t, js, 3)

	var added atomic.Int32
	stop := make(chan struct{})
	feeding := make(chan struct{})
	go func() {
		defer close(feeding)
		tick := time.NewTicker(300 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			n := added.Add(1)
			r.feed.add(fmt.Sprint(n), fmt.Sprintf("Xinjiang %d", n), "", time.Now())
		}
	}()
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		<-feeding
	}()

	down := map[string]bool{}
	for round := range 3 {
		streamLeader, consumerLeader := r.leaders(t, js, bus.ConsumerName("hook"))
		victim := ""
		switch {
		case round == 0:
			victim = streamLeader
		case !down[consumerLeader]:
			victim = consumerLeader
		default:
			for _, nd := range r.c.Nodes {
				if !down[nd.Name] {
					victim = nd.Name
				}
			}
		}
		down[victim] = true
		before := added.Load()
		nd := r.node(t, victim)
		nd.Shutdown()
		// Hits published while the node is away are delivered while it is.
		r.waitDelivered(t, fmt.Sprintf("hits with %s down", victim), int(before)+3, 30*time.Second)
		nd.Restart(t)
		waitReplicas(t, js, 3)
	}
	close(stop)
	<-feeding
	total := int(added.Load())
	r.waitDelivered(t, "every hit", total, 30*time.Second)
	time.Sleep(2 * time.Second) // polls go on: room for a repeat to show
	r.assertOnce(t, total)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hs, err := js.Stream(ctx, bus.HitsStream)
	if err != nil {
		t.Fatal(err)
	}
	if n := hs.CachedInfo().State.Msgs; n != uint64(total) {
		t.Errorf("hits stream holds %d hits, want %d (one per item)", n, total)
	}
	alerted, err := js.KeyValue(ctx, bus.AlertedBucket)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := r.hook.snapshot()
	for id := range got {
		if _, err := alerted.Get(ctx, id); err != nil {
			t.Errorf("alerted %s: %v", id, err)
		}
	}
	if strings.Contains(r.logs.String(), "notifier stalled") {
		t.Error("the notifier stalled")
	}
}

// crashable wraps a process's source and ledger: once crashed, nothing it
// does reaches NATS any more (no ack, nak, lease extension or ledger
// entry), as when the process is killed.
type crashable struct {
	notifier.Source
	crashed *atomic.Bool
}

func (c crashable) Fetch(ctx context.Context, n int, wait time.Duration) ([]notifier.Message, error) {
	if c.crashed.Load() {
		<-ctx.Done()
		return nil, nil
	}
	ms, err := c.Source.Fetch(ctx, n, wait)
	for i, m := range ms {
		ms[i] = crashMsg{m, c.crashed}
	}
	return ms, err
}

type crashMsg struct {
	notifier.Message
	crashed *atomic.Bool
}

func (m crashMsg) Ack(ctx context.Context) error {
	if m.crashed.Load() {
		return nil
	}
	return m.Message.Ack(ctx)
}

func (m crashMsg) NakWithDelay(d time.Duration) error {
	if m.crashed.Load() {
		return nil
	}
	return m.Message.NakWithDelay(d)
}

func (m crashMsg) InProgress() error {
	if m.crashed.Load() {
		return nil
	}
	return m.Message.InProgress()
}

type crashLedger struct {
	notifier.Ledger
	crashed *atomic.Bool
}

func (l crashLedger) MarkDelivered(ctx context.Context, n, id string) error {
	if l.crashed.Load() {
		return errors.New("crashed")
	}
	return l.Ledger.MarkDelivered(ctx, n, id)
}

// TestNotifyCrashMidSend: two processes share a notifier on a three-server
// cluster. One is killed while its send is at the receiver, which takes
// the hit: the hit comes back after AckWait and the other process sends it
// again (at least once: the one repeat is that hit, with the same id);
// every other hit is sent once.
func TestNotifyCrashMidSend(t *testing.T) {
	t.Parallel() // own servers on their own ports and directories
	if testing.Short() {
		t.Skip("cluster test")
	}
	c := natstest.StartCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	hook := &countingHook{counts: map[string]int{}}
	hs := httptest.NewServer(hook)
	defer hs.Close()
	const ackWait = 3 * time.Second

	type process struct {
		b       *bus.Bus
		crashed atomic.Bool
		cancel  context.CancelFunc
		done    chan struct{}
	}
	startProc := func() *process {
		b, err := bus.Open(ctx, bus.Options{URL: c.URL(), Replicas: 3})
		if err != nil {
			t.Fatal(err)
		}
		p := &process{b: b, done: make(chan struct{})}
		src, err := b.EnsureConsumer(ctx, "hook", bus.ConsumerOptions{AckWait: ackWait})
		if err != nil {
			t.Fatal(err)
		}
		wh, err := webhook.New(webhook.Config{URL: hs.URL + "/hook", Timeout: time.Minute}, hs.Client())
		if err != nil {
			t.Fatal(err)
		}
		eng, err := notifier.NewEngine(notifier.EngineOptions{Name: "hook", Notifier: wh,
			Source: crashable{src, &p.crashed}, Ledger: crashLedger{b.Ledger(), &p.crashed}, Dead: b.DeadLetters(),
			AckWait: ackWait})
		if err != nil {
			t.Fatal(err)
		}
		ectx, ecancel := context.WithCancel(ctx)
		p.cancel = ecancel
		go func() {
			defer close(p.done)
			_ = eng.Run(ectx)
			if !p.crashed.Load() {
				src.Close()
			}
		}()
		t.Cleanup(func() { p.cancel(); <-p.done; p.b.Close() })
		return p
	}
	pub := startProc()
	publish := func(id string) {
		t.Helper()
		if err := pub.b.PublishHit(ctx, hit.Hit{V: hit.Version, ID: id, Profile: "xinjiang", Item: hit.Item{Title: id}}); err != nil {
			t.Fatal(err)
		}
	}
	a := startProc()
	pub.cancel() // pub only publishes
	<-pub.done

	arrived, release := hook.holdNext()
	defer release()
	publish("h1")
	select {
	case <-arrived:
	case <-time.After(20 * time.Second):
		t.Fatal("h1 never sent")
	}
	startProc() // the survivor
	// a is killed after the receiver took h1 and before it could record or
	// ack it.
	a.crashed.Store(true)
	release()
	waitFor(t, "h1 taken by the receiver", 10*time.Second, func() bool {
		got, _ := hook.snapshot()
		return got["h1"] == 1
	})
	a.cancel()
	for i := 2; i <= 6; i++ {
		publish(fmt.Sprint("h", i))
	}
	waitFor(t, "h1 redelivered and every hit sent", 30*time.Second, func() bool {
		got, _ := hook.snapshot()
		return got["h1"] == 2 && len(got) == 6
	})
	time.Sleep(ackWait + time.Second) // room for another repeat to show
	got, _ := hook.snapshot()
	for id, n := range got {
		want := 1
		if id == "h1" {
			want = 2 // at least once: the hit in flight at the crash
		}
		if n != want {
			t.Errorf("%s sent %d times, want %d", id, n, want)
		}
	}
}
