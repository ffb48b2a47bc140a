package daemon

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/ownership"
)

// listRig runs daemons of different configs against the NATS server one
// of them embeds; feeds come from a farm that logs who polled each.
type listRig struct {
	t        *testing.T
	farm     *farm
	hook     *recorder
	hookURL  string
	dir      string
	natsPort int
	httpPort int // the run process's
}

func newListRig(t *testing.T, feeds int) *listRig {
	r := &listRig{t: t, farm: newFarm(t, feeds), hook: &recorder{}, dir: t.TempDir(), natsPort: freePort(t), httpPort: freePort(t)}
	hs := httptest.NewServer(r.hook)
	t.Cleanup(hs.Close)
	r.hookURL = hs.URL
	return r
}

// writeConfig writes name's config polling the farm's feeds (by index).
// The run process embeds the NATS server and serves HTTP; the others
// point nats.url at it.
func (r *listRig) writeConfig(name string, feeds []int) {
	r.t.Helper()
	natsKey := fmt.Sprintf("url: nats://127.0.0.1:%d", r.natsPort)
	listen := `""`
	if name == "run" {
		natsKey = fmt.Sprintf("embedded_listen: 127.0.0.1:%d", r.natsPort)
		listen = fmt.Sprintf("127.0.0.1:%d", r.httpPort)
	}
	var fs strings.Builder
	fs.WriteString("feeds:")
	if len(feeds) == 0 {
		fs.WriteString(" []")
	}
	fs.WriteString("\n")
	for _, i := range feeds {
		fmt.Fprintf(&fs, "  - url: %s/f/%d.xml\n    name: feed-%d\n", r.farm.srv.URL, i, i)
	}
	cfg := fmt.Sprintf(`data_dir: %s
http:
  listen: %s
nats:
  %s
watcher:
  interval: 1s
  user_agent: %s
%sprofiles:
  - name: xinjiang
    keywords: [Xinjiang]
notifiers:
  hook:
    type: webhook
    url: %s/hook
`, filepath.Join(r.dir, "data-"+name), listen, natsKey, name, fs.String(), r.hookURL)
	if err := os.WriteFile(filepath.Join(r.dir, name+".yaml"), []byte(cfg), 0o600); err != nil {
		r.t.Fatal(err)
	}
}

type listMember struct {
	name   string
	coord  *ownership.Coordinator
	logs   *syncBuffer
	reload chan struct{}
}

// start runs name's daemon with short membership timing.
func (r *listRig) start(name string, mode Mode) *listMember {
	r.t.Helper()
	m := &listMember{name: name, logs: &syncBuffer{}, reload: make(chan struct{}, 1)}
	hooks := &testHooks{renew: 300 * time.Millisecond, lease: 1500 * time.Millisecond, ttl: 2 * time.Second,
		member: func(c *ownership.Coordinator) { m.coord = c }}
	cancel, done := startRun(r.t, name, Options{ConfigPath: filepath.Join(r.dir, name+".yaml"), Mode: mode, Stdout: io.Discard, Getenv: func(string) string { return "" },
		Logger: slog.New(slog.NewTextHandler(m.logs, nil)).With("process", name), Reload: m.reload, hooks: hooks}, 30*time.Second)
	r.t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			r.t.Errorf("%s did not stop within 15 s", name)
		}
		if r.t.Failed() {
			r.t.Logf("%s logs:\n%s", name, m.logs.String())
		}
	})
	return m
}

// polledBy waits until each feed was polled by its process since from.
func (r *listRig) polledBy(what string, from time.Time, want map[int]string) {
	r.t.Helper()
	waitFor(r.t, what, 20*time.Second, func() bool {
		got := map[int]bool{}
		for _, p := range r.farm.since(from) {
			if want[p.feed] == p.by {
				got[p.feed] = true
			}
		}
		return len(got) == len(want)
	})
}

// hitsDelivered adds a matching item to each feed and waits until every
// one arrives at the webhook; none may arrive twice.
func (r *listRig) hitsDelivered(tag string) {
	r.t.Helper()
	titles := r.farm.addAll(tag)
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
}

func feedMap(by string, feeds ...int) map[int]string {
	out := map[int]string{}
	for _, f := range feeds {
		out[f] = by
	}
	return out
}

// warnings counts the warnings about other feed lists in m's log.
func (m *listMember) warnings() int {
	n := 0
	for _, l := range strings.Split(m.logs.String(), "\n") {
		if strings.Contains(l, "level=WARN") && strings.Contains(l, "another feed list") {
			n++
		}
	}
	return n
}

// TestDifferentFeedListsAllPolled is the audit's case: a run process that
// embeds the NATS server and has no feeds, and a watch process pointed at
// it with feeds of its own. Each feed used to go to either member by
// rendezvous hashing, and the run process polled none of those it got:
// now the watch process polls every one of its feeds and their hits are
// delivered once. Each process warns once, naming the other; status
// shows each member's feed list.
func TestDifferentFeedListsAllPolled(t *testing.T) {
	r := newListRig(t, 8)
	all := []int{0, 1, 2, 3, 4, 5, 6, 7}
	r.writeConfig("run", nil)
	r.writeConfig("watch", all)
	run := r.start("run", ModeAll)
	from := time.Now()
	w := r.start("watch", ModeWatch)
	r.polledBy("the watch process polls each of its feeds", from, feedMap("watch", all...))
	r.hitsDelivered("a")
	for _, m := range []*listMember{run, w} {
		if n := m.warnings(); n != 1 {
			t.Errorf("%s logged %d warnings of another feed list, want 1", m.name, n)
		}
	}
	if !strings.Contains(w.logs.String(), run.coord.ID()) || !strings.Contains(w.logs.String(), "should run the same config") {
		t.Errorf("the watch process's warning does not name %s or give the hint", run.coord.ID())
	}

	b, err := getJSON(fmt.Sprintf("http://127.0.0.1:%d/api/status", r.httpPort))
	if err != nil {
		t.Fatal(err)
	}
	var st Status
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	lists := map[string]ownership.Member{}
	for _, m := range st.Members {
		lists[m.ID] = m
	}
	rm, wm := lists[run.coord.ID()], lists[w.coord.ID()]
	if rm.FeedList == "" || wm.FeedList == "" || rm.FeedList == wm.FeedList || rm.FeedsConfigured != 0 || wm.FeedsConfigured != len(all) {
		t.Errorf("status members: run %+v, watch %+v: want each feed list, different, with 0 and %d feeds", rm, wm, len(all))
	}
}

// TestRollingFeedListEdit: two processes of the same config split its
// feeds as before; while a config edit has reached only one of them, each
// polls every feed of its own list (the new feed too); once both run the
// new config they split it again.
func TestRollingFeedListEdit(t *testing.T) {
	r := newListRig(t, 8)
	old, next := []int{0, 1, 2, 3, 4, 5, 6}, []int{0, 1, 2, 3, 4, 5, 6, 7}
	r.writeConfig("run", old)
	r.writeConfig("watch", old)
	run := r.start("run", ModeAll)
	w := r.start("watch", ModeWatch)
	split := func(feeds []int) bool {
		for _, f := range feeds {
			name := fmt.Sprintf("feed-%d", f)
			if run.coord.Owns(name) == w.coord.Owns(name) {
				return false
			}
		}
		return slices.ContainsFunc(feeds, func(f int) bool { return run.coord.Owns(fmt.Sprintf("feed-%d", f)) }) &&
			slices.ContainsFunc(feeds, func(f int) bool { return w.coord.Owns(fmt.Sprintf("feed-%d", f)) })
	}
	waitFor(t, "the same config split", 20*time.Second, func() bool { return split(old) })
	if w.warnings()+run.warnings() != 0 {
		t.Error("a warning of another feed list with the same config")
	}

	// The edit reaches the watch process first.
	r.writeConfig("watch", next)
	from := time.Now()
	w.reload <- struct{}{}
	r.polledBy("each process polls every feed of its list", from, feedMap("watch", next...))
	r.polledBy("each process polls every feed of its list", from, feedMap("run", old...))
	r.hitsDelivered("b")
	waitFor(t, "both warn", 10*time.Second, func() bool { return w.warnings() == 1 && run.warnings() == 1 })

	// Then the run process.
	r.writeConfig("run", next)
	run.reload <- struct{}{}
	waitFor(t, "the new config split", 20*time.Second, func() bool { return split(next) })
	r.hitsDelivered("c")
	for _, m := range []*listMember{run, w} {
		if !strings.Contains(m.logs.String(), "has this member's feed list again") {
			t.Errorf("%s did not log that the feed lists agree again", m.name)
		}
		if n := m.warnings(); n != 1 {
			t.Errorf("%s logged %d warnings of another feed list, want 1", m.name, n)
		}
	}
}
