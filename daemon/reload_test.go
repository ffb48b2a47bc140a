package daemon

import (
	"bytes"
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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/hit"
)

// hookIDs returns the hit ids a webhook recorder received, per title.
func hookTitles(t *testing.T, r *recorder) map[string]int {
	t.Helper()
	bodies, _ := r.snapshot()
	out := map[string]int{}
	for _, b := range bodies {
		var h hit.Hit
		if err := json.Unmarshal(b, &h); err != nil {
			t.Fatalf("webhook body: %v", err)
		}
		// One message names every profile the item matched.
		for _, p := range h.AllProfiles() {
			out[p+": "+h.Item.Title]++
		}
	}
	return out
}

type reloadRig struct {
	feed    *feedServer
	hook    *recorder
	dir     string
	path    string
	port    int
	reload  chan struct{}
	cancel  context.CancelFunc
	done    chan error
	logs    *syncBuffer
	feedURL string
	hookURL string
}

func (r *reloadRig) write(t *testing.T, profiles string, hookTimeout string) {
	t.Helper()
	cfg := fmt.Sprintf(`data_dir: %s
http:
  listen: 127.0.0.1:%d
  admin: true
watcher:
  interval: 1s
feeds:
  - url: %s/world.xml
    name: world
profiles:
%s
notifiers:
  hook:
    type: webhook
    url: %s/hook
    timeout: %s
`, filepath.Join(r.dir, "data"), r.port, r.feedURL, profiles, r.hookURL, hookTimeout)
	r.save(t, cfg)
}

// save writes cfg over the rig's config as most editors do: a rename-save.
func (r *reloadRig) save(t *testing.T, cfg string) {
	t.Helper()
	tmp := r.path + ".tmp"
	if err := os.WriteFile(tmp, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, r.path); err != nil {
		t.Fatal(err)
	}
}

func newReloadRig(t *testing.T) *reloadRig {
	t.Helper()
	r := &reloadRig{feed: &feedServer{title: "World"}, hook: &recorder{}, dir: t.TempDir(), reload: make(chan struct{}), logs: &syncBuffer{}}
	fs := httptest.NewServer(r.feed)
	t.Cleanup(fs.Close)
	hs := httptest.NewServer(r.hook)
	t.Cleanup(hs.Close)
	r.feedURL, r.hookURL = fs.URL, hs.URL
	r.path = filepath.Join(r.dir, "feedwatch.yaml")
	r.port = freePort(t)
	return r
}

func (r *reloadRig) start(t *testing.T) {
	t.Helper()
	r.cancel, r.done = startRun(t, "daemon", Options{ConfigPath: r.path, Stdout: io.Discard, Getenv: func(string) string { return "" },
		Logger: slog.New(slog.NewTextHandler(r.logs, nil)), Reload: r.reload}, 60*time.Second)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon log:\n%s", r.logs.String())
		}
	})
}

func (r *reloadRig) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatal(err)
		}
	// A hang, not a slow stop: generous for a loaded CI machine.
	case <-time.After(30 * time.Second):
		t.Fatal("no stop within 30 s")
	}
}

func (r *reloadRig) metric(t *testing.T, name string) string {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", r.port))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, name+" ") {
			return strings.TrimPrefix(l, name+" ")
		}
	}
	return ""
}

const (
	xinjiangOnly = "  - name: xinjiang\n    keywords: [Xinjiang]"
	bothProfiles = xinjiangOnly + "\n  - name: trade-bill\n    keywords: [Trade Bill]"
	badQuery     = "  - name: xinjiang\n    query: 'Xinjiang AND (camps'"
)

func TestReloadOnFileEdit(t *testing.T) {
	r := newReloadRig(t)
	r.write(t, xinjiangOnly, "10s")
	r.start(t)
	defer r.stop(t)

	now := time.Now()
	r.feed.add("1", "Xinjiang one", "", now)
	waitFor(t, "first hit", 15*time.Second, func() bool { return hookTitles(t, r.hook)["xinjiang: Xinjiang one"] == 1 })

	// A valid edit: a new profile takes effect without a restart.
	r.write(t, bothProfiles, "10s")
	waitFor(t, "reload", 10*time.Second, func() bool { return strings.Contains(r.logs.String(), "config reloaded") })
	r.feed.add("2", "Trade Bill passes", "", now)
	waitFor(t, "trade-bill hit", 15*time.Second, func() bool { return hookTitles(t, r.hook)["trade-bill: Trade Bill passes"] == 1 })

	// An invalid edit keeps the running config and says so in /metrics.
	r.write(t, badQuery, "10s")
	waitFor(t, "failed reload", 10*time.Second, func() bool { return r.metric(t, "feedwatch_config_last_reload_successful") == "0" })
	if !strings.Contains(r.logs.String(), "column") {
		t.Errorf("failed reload does not log the problem:\n%s", r.logs.String())
	}
	r.feed.add("3", "Trade Bill and Xinjiang", "", now)
	waitFor(t, "hits under the old config", 15*time.Second, func() bool {
		h := hookTitles(t, r.hook)
		return h["trade-bill: Trade Bill and Xinjiang"] == 1 && h["xinjiang: Trade Bill and Xinjiang"] == 1
	})
	if bodies, _ := r.hook.snapshot(); len(bodies) != 4 {
		t.Errorf("%d webhook messages, want 4: one per hit", len(bodies))
	}

	// Delete and recreate: watching goes on.
	if err := os.Remove(r.path); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	r.write(t, xinjiangOnly, "10s")
	waitFor(t, "reload after recreate", 10*time.Second, func() bool { return r.metric(t, "feedwatch_config_last_reload_successful") == "1" })

	time.Sleep(1500 * time.Millisecond)
	for k, n := range hookTitles(t, r.hook) {
		if n != 1 {
			t.Errorf("%s delivered %d times", k, n)
		}
	}
}

// TestManyReloadsWhileHitsFlow reloads 100 times (SIGHUP path), switching
// the webhook notifier's settings each time so its engine restarts, while
// new items keep arriving: every hit arrives exactly once.
func TestManyReloadsWhileHitsFlow(t *testing.T) {
	t.Parallel() // own servers on their own ports and directories
	r := newReloadRig(t)
	r.write(t, xinjiangOnly, "10s")
	r.start(t)
	defer r.stop(t)

	const items = 20
	now := time.Now()
	go func() {
		for i := 0; i < items; i++ {
			r.feed.add(fmt.Sprint("x", i), fmt.Sprintf("Xinjiang story %d", i), "", now)
			time.Sleep(100 * time.Millisecond)
		}
	}()
	for i := 0; i < 100; i++ {
		r.write(t, xinjiangOnly, fmt.Sprintf("%ds", 10+i%2))
		r.reload <- struct{}{}
		time.Sleep(20 * time.Millisecond)
	}
	waitFor(t, "all hits", 30*time.Second, func() bool { return len(hookTitles(t, r.hook)) == items })
	time.Sleep(2 * time.Second)
	got := hookTitles(t, r.hook)
	for i := 0; i < items; i++ {
		if n := got[fmt.Sprintf("xinjiang: Xinjiang story %d", i)]; n != 1 {
			t.Errorf("story %d delivered %d times", i, n)
		}
	}
}

// TestPostReload checks the HTTP reload trigger.
func TestPostReload(t *testing.T) {
	r := newReloadRig(t)
	r.write(t, xinjiangOnly, "10s")
	r.start(t)
	defer r.stop(t)
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/-/reload", r.port), "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d", resp.StatusCode)
	}
	waitFor(t, "reload", 10*time.Second, func() bool { return strings.Contains(r.logs.String(), "config reloaded") })
}

// TestReloadHostileFile: saving a file that would explode the parser (too
// deep, too large) over the running config is a failed reload, found
// before parsing; the running config stays.
func TestReloadHostileFile(t *testing.T) {
	r := newReloadRig(t)
	r.write(t, xinjiangOnly, "10s")
	r.start(t)
	defer r.stop(t)
	for i, body := range []string{
		"x: " + strings.Repeat("[", 900<<10) + "\n",
		"# " + strings.Repeat("x", 2<<20) + "\n",
	} {
		if err := os.WriteFile(r.path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		r.reload <- struct{}{}
		want := []string{"nested more than 64 levels", "larger than 1 MB"}[i]
		waitFor(t, "failed reload", 10*time.Second, func() bool { return strings.Contains(r.logs.String(), want) })
		if v := r.metric(t, "feedwatch_config_last_reload_successful"); v != "0" {
			t.Fatalf("reload successful = %q", v)
		}
	}
}

// TestReloadWatcherLimits: watcher.* keys apply on reload, without a
// restart: the next polls carry the new user agent, and a body over the
// new max_body fails its poll.
func TestReloadWatcherLimits(t *testing.T) {
	r := newReloadRig(t)
	var (
		mu     sync.Mutex
		agents []string
	)
	ua := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		agents = append(agents, req.UserAgent())
		mu.Unlock()
		r.feed.ServeHTTP(w, req)
	}))
	t.Cleanup(ua.Close)
	write := func(agent, maxBody string) {
		t.Helper()
		cfg := fmt.Sprintf(`data_dir: %s
http:
  listen: 127.0.0.1:%d
watcher:
  interval: 1s
  user_agent: %s
  max_body: %s
  state_retention: 30d
feeds:
  - url: %s/world.xml
    name: world
profiles:
%s
notifiers:
  hook: {type: webhook, url: %s/hook}
`, filepath.Join(r.dir, "data"), r.port, agent, maxBody, ua.URL, xinjiangOnly, r.hookURL)
		r.save(t, cfg)
	}
	sawAgent := func(a string) bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(agents, a)
	}
	write("first-agent", "10MB")
	r.start(t)
	defer r.stop(t)
	waitFor(t, "a poll with the first user agent", 15*time.Second, func() bool { return sawAgent("first-agent") })

	// Saved as the daemon may still be starting its file watch: the edit
	// is found all the same (config.WatchSince).
	write("second-agent", "10MB")
	waitFor(t, "a poll with the reloaded user agent", 15*time.Second, func() bool { return sawAgent("second-agent") })

	reloads := strings.Count(r.logs.String(), "config reloaded")
	write("second-agent", "1KB")
	waitFor(t, "the max_body reload", 15*time.Second, func() bool { return strings.Count(r.logs.String(), "config reloaded") > reloads })
	r.feed.add("big", "Xinjiang long read", strings.Repeat("words ", 400), time.Now())
	waitFor(t, "the reloaded max_body failing a poll", 15*time.Second, func() bool {
		return strings.Contains(r.logs.String(), "body exceeds max_body")
	})
	if hookTitles(t, r.hook)["xinjiang: Xinjiang long read"] != 0 {
		t.Error("a document over the reloaded max_body was read")
	}
	if strings.Contains(r.logs.String(), "next restart") {
		t.Errorf("a watcher key was left for the next restart:\n%s", r.logs.String())
	}
}

// TestReloadDigestWithNewFeed: one edit turns a Slack digest on and adds a
// feed whose items match: the new feed's first hits are already batched
// (notifiers change before the feeds do), in one window (the restarted
// engine takes over its predecessor's open pull: no hit handed back and
// delayed).
func TestReloadDigestWithNewFeed(t *testing.T) {
	r := newReloadRig(t)
	second := &feedServer{title: "Second"}
	ss := httptest.NewServer(second)
	t.Cleanup(ss.Close)
	slackRec := &recorder{}
	slackSrv := httptest.NewServer(slackRec)
	t.Cleanup(slackSrv.Close)
	write := func(digest, extraFeed string) {
		t.Helper()
		cfg := fmt.Sprintf(`data_dir: %s
http:
  listen: 127.0.0.1:%d
watcher:
  interval: 1s
feeds:
  - url: %s/world.xml
    name: world
%s
profiles:
%s
notifiers:
  slack: {type: slack, webhook_url: %s/services/T0/B0/X, digest: %s}
`, filepath.Join(r.dir, "data"), r.port, r.feedURL, extraFeed, xinjiangOnly, slackSrv.URL, digest)
		r.save(t, cfg)
	}
	write("0s", "")
	r.start(t)
	defer r.stop(t)
	waitFor(t, "the first poll", 15*time.Second, func() bool { return r.metric(t, "feedwatch_feeds") == "1" })

	now := time.Now()
	second.add("1", "Xinjiang first", "", now)
	second.add("2", "Xinjiang second", "", now)
	write("2s", fmt.Sprintf("  - url: %s/second.xml\n    name: second", ss.URL))
	r.reload <- struct{}{}
	waitFor(t, "a Slack message", 20*time.Second, func() bool { b, _ := slackRec.snapshot(); return len(b) > 0 })
	time.Sleep(3 * time.Second) // room for a second message
	bodies, _ := slackRec.snapshot()
	if len(bodies) != 1 || !bytes.Contains(bodies[0], []byte("Xinjiang first")) || !bytes.Contains(bodies[0], []byte("Xinjiang second")) {
		t.Errorf("%d Slack messages, want one digest of both hits:\n%s", len(bodies), bytes.Join(bodies, []byte("\n---\n")))
	}
}
