package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/bus/natstest"
	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/ownership"
)

// farm serves feeds /f/<i>.xml and logs every request: which feed, which
// process (its User-Agent), when.
type farm struct {
	mu    sync.Mutex
	feeds []*feedServer
	polls []poll
	srv   *httptest.Server
}

type poll struct {
	feed int
	by   string
	at   time.Time
}

func newFarm(t *testing.T, n int) *farm {
	f := &farm{}
	for i := range n {
		f.feeds = append(f.feeds, &feedServer{title: fmt.Sprintf("feed %d", i)})
	}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/f/"), ".xml"))
		if err != nil || i < 0 || i >= len(f.feeds) {
			http.NotFound(w, r)
			return
		}
		f.mu.Lock()
		f.polls = append(f.polls, poll{feed: i, by: r.Header.Get("User-Agent"), at: time.Now()})
		f.mu.Unlock()
		f.feeds[i].ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// since returns the polls from t on.
func (f *farm) since(t time.Time) []poll {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []poll
	for _, p := range f.polls {
		if !p.at.Before(t) {
			out = append(out, p)
		}
	}
	return out
}

// addAll adds one item to every feed; it returns the expected titles.
func (f *farm) addAll(tag string) []string {
	var titles []string
	for i, fs := range f.feeds {
		title := fmt.Sprintf("Xinjiang %s %d", tag, i)
		fs.add(fmt.Sprintf("%s-%d", tag, i), title, "", time.Now())
		titles = append(titles, "xinjiang: "+title)
	}
	return titles
}

// member is one in-process daemon of the cluster test.
type member struct {
	name   string
	cancel context.CancelFunc
	done   chan error
	coord  *ownership.Coordinator
}

type ownersRig struct {
	t     *testing.T
	nats  *natstest.Cluster
	farm  *farm
	hook  *recorder
	dir   string
	logs  *syncBuffer
	port  int // http.listen of member "a"
	mu    sync.Mutex
	wrote []write
	// onWrite, if set, sees each write as it is issued, before it goes
	// out.
	onWrite func(write)
	shares  []share
}

// share is one change of a member's share of the feeds.
type share struct {
	by    string
	at    time.Time
	feeds []string
}

type write struct {
	by, kind, feed string
	at             time.Time
}

const clusterFeeds = 18

func newOwnersRig(t *testing.T) *ownersRig {
	r := &ownersRig{t: t, nats: natstest.StartCluster(t, 3), farm: newFarm(t, clusterFeeds), hook: &recorder{}, dir: t.TempDir(), logs: &syncBuffer{}, port: freePort(t)}
	hs := httptest.NewServer(r.hook)
	t.Cleanup(hs.Close)
	var feeds strings.Builder
	for i := range clusterFeeds {
		fmt.Fprintf(&feeds, "  - url: %s/f/%d.xml\n    name: feed-%d\n", r.farm.srv.URL, i, i)
	}
	// One config for all; only the User-Agent (which process polled) and
	// the HTTP listener differ.
	for _, name := range []string{"a", "b", "c", "d", "n1", "n2"} {
		listen := `""`
		if name == "a" {
			listen = fmt.Sprintf("127.0.0.1:%d", r.port)
		}
		cfg := fmt.Sprintf(`data_dir: %s
http:
  listen: %s
nats:
  url: %s
watcher:
  interval: 1s
  user_agent: %s
feeds:
%sprofiles:
  - name: xinjiang
    keywords: [Xinjiang]
notifiers:
  hook:
    type: webhook
    url: %s/hook
`, filepath.Join(r.dir, "data-"+name), listen, r.nats.URL(), name, feeds.String(), hs.URL)
		if err := os.WriteFile(filepath.Join(r.dir, name+".yaml"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", r.logs.String())
		}
	})
	return r
}

// start runs a daemon with short membership timing: renewals every
// 300 ms, a 1.5 s lease, dead after 2 s.
func (r *ownersRig) start(name string, mode Mode) *member {
	r.t.Helper()
	m := &member{name: name}
	hooks := &testHooks{renew: 300 * time.Millisecond, lease: 1500 * time.Millisecond, ttl: 2 * time.Second,
		member: func(c *ownership.Coordinator) { m.coord = c },
		owned: func(feeds []string) {
			r.mu.Lock()
			r.shares = append(r.shares, share{by: name, at: time.Now(), feeds: feeds})
			r.mu.Unlock()
		},
		wrote: func(kind, feed string) {
			w := write{by: name, kind: kind, feed: feed, at: time.Now()}
			r.mu.Lock()
			r.wrote = append(r.wrote, w)
			on := r.onWrite
			r.mu.Unlock()
			if on != nil {
				on(w)
			}
		}}
	m.cancel, m.done = startRun(r.t, name, Options{ConfigPath: filepath.Join(r.dir, name+".yaml"), Mode: mode, Stdout: io.Discard, Getenv: func(string) string { return "" },
		Logger: slog.New(slog.NewTextHandler(r.logs, nil)).With("member", name), hooks: hooks}, 30*time.Second)
	r.t.Cleanup(func() { m.stop(r.t) })
	return m
}

// stop is SIGTERM: the daemon winds down and leaves.
func (m *member) stop(t *testing.T) {
	m.cancel()
	select {
	case err := <-m.done:
		if err != nil {
			t.Errorf("%s: %v", m.name, err)
		}
		m.done <- nil // stop again is a no-op
	case <-time.After(15 * time.Second):
		t.Errorf("%s did not stop within 15 s", m.name)
	}
}

// kill is kill -9 as far as the others can tell: no more renewals, the
// record stays until it expires.
func (m *member) kill(t *testing.T) {
	m.coord.Halt()
	m.stop(t)
}

// owners maps each feed to the member(s) that own it now.
func owners(ms ...*member) map[string][]string {
	out := map[string][]string{}
	for i := range clusterFeeds {
		f := fmt.Sprintf("feed-%d", i)
		for _, m := range ms {
			if m.coord.Owns(f) {
				out[f] = append(out[f], m.name)
			}
		}
	}
	return out
}

// split reports whether every feed has exactly one owner among ms and
// each of ms owns some.
func split(ms ...*member) bool {
	o := owners(ms...)
	count := map[string]int{}
	for i := range clusterFeeds {
		own := o[fmt.Sprintf("feed-%d", i)]
		if len(own) != 1 {
			return false
		}
		count[own[0]]++
	}
	return len(count) == len(ms)
}

// checkSteady watches the polls for window. Never two owners at once: a
// feed's poller changes only when the feed changed hands (a share change
// of a member in the window; on a loaded machine a late renewal can move
// feeds), so two processes polling a feed in turn fail even if each keeps
// its own pace. Together they poll each feed about once per interval:
// at least once in the window (unless its share changed lately) and never
// more than once per interval, plus one per hand-over (the new owner polls
// a feed it took soon). Not
// checked: the gap between two polls, which a loaded machine stretches
// and squeezes (a request that waits for a CPU arrives late).
func (r *ownersRig) checkSteady(what string, window time.Duration) {
	r.t.Helper()
	from := time.Now()
	time.Sleep(window)
	to := time.Now()
	byFeed := map[int][]poll{}
	for _, p := range r.farm.since(from) {
		if p.at.Before(to) {
			byFeed[p.feed] = append(byFeed[p.feed], p)
		}
	}
	moves, _ := r.moves(from, to)
	// A feed dropped or taken shortly before or in the window (a late
	// renewal on a loaded machine lapses the lease; the member takes its
	// share again after a hold, and polls it at its next check) may go
	// unpolled for a few seconds: no lower bound for it.
	_, disturbed := r.moves(from.Add(-2*time.Second), to)
	maxPolls := int(window/time.Second) + 1
	total := 0
	for i := range clusterFeeds {
		ps := byFeed[i]
		total += len(ps)
		turns := 0 // changes of poller
		per := map[string]int{}
		for j, p := range ps {
			per[p.by]++
			if j > 0 && p.by != ps[j-1].by {
				turns++
			}
		}
		if turns > moves[i] {
			r.t.Errorf("%s: feed-%d changed poller %d times but hands %d times (polls per process %v): two owners at once", what, i, turns, moves[i], per)
		}
		if len(ps) == 0 && disturbed[i] == 0 || len(ps) > maxPolls+moves[i] {
			r.t.Errorf("%s: feed-%d polled %d times in %s (%v), want 1..%d", what, i, len(ps), window, per, maxPolls+moves[i])
		}
	}
	r.t.Logf("%s: %d polls of %d feeds in %s (%.2f per feed per second), %d hand-overs, %d feeds changed share", what, total, clusterFeeds, window, float64(total)/clusterFeeds/window.Seconds(), sum(moves), len(disturbed))
}

// moves counts, per feed, the members that took it in [from, to), and
// the members whose share gained or lost it then.
func (r *ownersRig) moves(from, to time.Time) (taken, changed map[int]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	taken, changed = map[int]int{}, map[int]int{}
	index := func(f string) int {
		i, _ := strconv.Atoi(strings.TrimPrefix(f, "feed-"))
		return i
	}
	last := map[string][]string{} // member -> share before this change
	for _, s := range r.shares {
		if !s.at.Before(to) {
			continue
		}
		if !s.at.Before(from) {
			for _, f := range s.feeds {
				if !slices.Contains(last[s.by], f) {
					taken[index(f)]++
					changed[index(f)]++
				}
			}
			for _, f := range last[s.by] {
				if !slices.Contains(s.feeds, f) {
					changed[index(f)]++
				}
			}
		}
		last[s.by] = s.feeds
	}
	return taken, changed
}

func sum(m map[int]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// firstPolls waits until every feed of feeds was polled by one of by after
// from, and returns how long each took.
func (r *ownersRig) firstPolls(what string, from time.Time, feeds []int, by []string) []time.Duration {
	r.t.Helper()
	var took []time.Duration
	waitFor(r.t, what, 30*time.Second, func() bool {
		first := map[int]time.Time{}
		for _, p := range r.farm.since(from) {
			if _, ok := first[p.feed]; !ok && slices.Contains(by, p.by) {
				first[p.feed] = p.at
			}
		}
		took = took[:0]
		for _, f := range feeds {
			at, ok := first[f]
			if !ok {
				return false
			}
			took = append(took, at.Sub(from))
		}
		return true
	})
	slices.Sort(took)
	if len(took) > 0 {
		r.t.Logf("%s: %d feeds, first poll by a survivor after p50 %s, max %s", what, len(took), took[len(took)/2].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))
	}
	return took
}

func feedsOf(o map[string][]string, name string) []int {
	var out []int
	for f, own := range o {
		if slices.Contains(own, name) {
			i, _ := strconv.Atoi(strings.TrimPrefix(f, "feed-"))
			out = append(out, i)
		}
	}
	slices.Sort(out)
	return out
}

// delivered waits until every title arrived at the webhook and checks that
// none arrived or was published twice.
func (r *ownersRig) delivered(titles []string) {
	r.t.Helper()
	waitFor(r.t, fmt.Sprintf("%d hits delivered", len(titles)), 30*time.Second, func() bool {
		got := hookTitles(r.t, r.hook)
		for _, ti := range titles {
			if got[ti] == 0 {
				return false
			}
		}
		return true
	})
	time.Sleep(time.Second) // a duplicate would come now
	for k, n := range hookTitles(r.t, r.hook) {
		if n != 1 {
			r.t.Errorf("%s delivered %d times", k, n)
		}
	}
	published := map[string]int{}
	for _, m := range streamHits(r.t, r.nats.URL()) {
		var h hit.Hit
		if err := json.Unmarshal(m.Data, &h); err != nil {
			r.t.Fatal(err)
		}
		published[h.Profile+" "+h.Item.Link]++
	}
	for k, n := range published {
		if n != 1 {
			r.t.Errorf("%s published %d times", k, n)
		}
	}
}

// TestWatchersShareFeeds runs two, then three watchers and two notifiers
// (the daemon's real code) on a three-node NATS cluster: the feeds are
// polled once per interval in total; a watcher that joins takes about a
// third; one that stops hands its feeds over at once; one that dies has
// its feeds polled by the survivors after the TTL; one cut off from the
// cluster for longer than its lease writes no state until it is back, and
// then takes its share again. Every hit is delivered and published once.
func TestWatchersShareFeeds(t *testing.T) {
	if testing.Short() {
		t.Skip("a three-node cluster and several daemons: about 40 s")
	}
	r := newOwnersRig(t)
	var want []string
	r.start("n1", ModeNotify)
	r.start("n2", ModeNotify)
	a := r.start("a", ModeWatch)
	b := r.start("b", ModeWatch)
	waitFor(t, "a and b split the feeds", 10*time.Second, func() bool { return split(a, b) })
	time.Sleep(2 * time.Second) // first polls, spread over 2 s
	want = append(want, r.farm.addAll("two")...)
	r.checkSteady("two watchers", 4*time.Second)
	r.delivered(want)

	// Status shows every member.
	body, err := getJSON(fmt.Sprintf("http://127.0.0.1:%d/api/status", r.port))
	if err != nil {
		t.Fatal(err)
	}
	var st Status
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	roles := map[string]int{}
	owned := 0
	for _, m := range st.Members {
		roles[m.Role]++
		owned += m.FeedsOwned
	}
	if roles["watch"] != 2 || roles["notify"] != 2 || owned != clusterFeeds {
		t.Errorf("status members: %+v", st.Members)
	}
	// Status lists every feed, b's too, each with who polls it; b's from
	// the state b stored.
	r.checkStatusFeeds(st, map[string]*member{"a": a, "b": b})
	metrics, err := getJSON(fmt.Sprintf("http://127.0.0.1:%d/metrics", r.port))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`feedwatch_members{role="watch"} 2`, `feedwatch_members{role="notify"} 2`, "feedwatch_feeds_owned "} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// Join: c takes about a third, moved from a and b only.
	before := owners(a, b)
	joined := time.Now()
	c := r.start("c", ModeWatch)
	waitFor(t, "a, b and c split the feeds", 10*time.Second, func() bool { return split(a, b, c) })
	after := owners(a, b, c)
	moved := 0
	for f, o := range after {
		if o[0] != before[f][0] {
			moved++
			if o[0] != "c" {
				t.Errorf("%s moved from %s to %s, not to the new member", f, before[f][0], o[0])
			}
		}
	}
	t.Logf("join: %d of %d feeds moved (%.0f%%)", moved, clusterFeeds, 100*float64(moved)/clusterFeeds)
	time.Sleep(time.Second)
	want = append(want, r.farm.addAll("three")...)
	r.checkSteady("three watchers", 4*time.Second)
	// No overlap at the join: once c polled a feed it took, the previous
	// owner polled it no more.
	firstByC := map[int]time.Time{}
	for _, p := range r.farm.since(joined) {
		if _, ok := firstByC[p.feed]; !ok && p.by == "c" {
			firstByC[p.feed] = p.at
		}
	}
	for _, p := range r.farm.since(joined) {
		if first, ok := firstByC[p.feed]; ok && p.by != "c" && p.at.After(first) {
			t.Errorf("join: feed-%d polled by %s %s after c took it", p.feed, p.by, p.at.Sub(first).Round(time.Millisecond))
		}
	}

	// SIGTERM: c's feeds are polled by a or b right after.
	cFeeds := feedsOf(after, "c")
	from := time.Now()
	c.stop(t)
	r.firstPolls("handover on stop", from, cFeeds, []string{"a", "b"})

	// kill -9: b's feeds go to a after the TTL.
	bFeeds := feedsOf(owners(a, b), "b")
	from = time.Now()
	b.kill(t)
	r.firstPolls("failover on kill", from, bFeeds, []string{"a"})
	want = append(want, r.farm.addAll("after-kill")...)
	r.delivered(want)

	// Cut off: a's renewals fail. Its lease lapses, d takes every feed
	// after the TTL, new items arrive; a must not write until it is back.
	d := r.start("d", ModeWatch)
	waitFor(t, "a and d split the feeds", 10*time.Second, func() bool { return split(a, d) })
	cut := time.Now()
	a.coord.SetFault(fmt.Errorf("cut off"))
	waitFor(t, "d owns every feed", 10*time.Second, func() bool { return len(feedsOf(owners(d), "d")) == clusterFeeds })
	want = append(want, r.farm.addAll("cut-off")...)
	time.Sleep(3 * time.Second)
	healed := time.Now()
	a.coord.SetFault(nil)
	waitFor(t, "a and d split the feeds again", 10*time.Second, func() bool { return split(a, d) })
	want = append(want, r.farm.addAll("healed")...)
	r.delivered(want)
	// a's lease (1.5 s) ends before the others may count it dead (the 2 s
	// TTL after its last renewal, which was before the cut): from then on
	// until it is back, it must neither poll nor issue a write.
	fenced := cut.Add(2 * time.Second)
	r.mu.Lock()
	for _, w := range r.wrote {
		if w.by == "a" && w.at.After(fenced) && w.at.Before(healed) {
			t.Errorf("a wrote %s of %s while cut off, %s after the cut", w.kind, w.feed, w.at.Sub(cut).Round(time.Millisecond))
		}
	}
	r.mu.Unlock()
	for _, p := range r.farm.since(fenced) {
		if p.by == "a" && p.at.Before(healed) {
			t.Errorf("a polled feed-%d while cut off", p.feed)
		}
	}
	r.checkSteady("after healing", 3*time.Second)
}

func getJSON(url string) ([]byte, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

// checkStatusFeeds checks that st (member a's status) lists every feed,
// each with its owner among ms and a poll, and that a's console lists
// the feeds of the others with their owner too.
func (r *ownersRig) checkStatusFeeds(st Status, ms map[string]*member) {
	t := r.t
	t.Helper()
	if len(st.Feeds) != clusterFeeds {
		t.Fatalf("status lists %d feeds, want all %d", len(st.Feeds), clusterFeeds)
	}
	ids := map[string]string{}
	for name, m := range ms {
		ids[m.coord.ID()] = name
	}
	others, other := 0, ""
	for i, f := range st.Feeds {
		if want := fmt.Sprintf("feed-%d", i); i > 0 && f.Name <= st.Feeds[i-1].Name {
			t.Errorf("feeds out of order: %q after %q (want e.g. %q)", f.Name, st.Feeds[i-1].Name, want)
		}
		by, ok := ids[f.Owner]
		if !ok || !ms[by].coord.Owns(f.Name) {
			t.Errorf("%s: polled_by %q, not its owner", f.Name, f.Owner)
			continue
		}
		if f.LastPoll.IsZero() || f.Result == "" {
			t.Errorf("%s (polled by %s): no last poll or result: %+v", f.Name, by, f)
		}
		if by != "a" {
			others++
			other = f.Name
		}
	}
	if others == 0 {
		t.Fatal("no feed of another member in the status")
	}
	feedPage, err := getJSON(fmt.Sprintf("http://127.0.0.1:%d/feeds/%s", r.port, other))
	if err != nil || !strings.Contains(string(feedPage), "<dt>polled by</dt>") {
		t.Errorf("console page of %s (polled by another member) does not say by whom: %v", other, err)
	}
	page, err := getJSON(fmt.Sprintf("http://127.0.0.1:%d/feeds", r.port))
	if err != nil {
		t.Fatal(err)
	}
	for id, name := range ids {
		if name != "a" && !strings.Contains(string(page), "by "+id) {
			t.Errorf("console /feeds does not say which feeds %s (%s) polls", name, id)
		}
	}
}
