package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/config"
)

// catchUpRig is the reload rig with the archive, a backfill wide enough
// to archive old items, and a count of catch-up passes.
type catchUpRig struct {
	*reloadRig
	passes atomic.Int32
}

func (r *catchUpRig) write(t *testing.T, profiles string) {
	t.Helper()
	cfg := fmt.Sprintf(`data_dir: %s
http:
  listen: 127.0.0.1:%d
watcher:
  interval: 1s
  backfill: 3650d
archive:
  retention: 30d
feeds:
  - url: %s/world.xml
    name: world
profiles:
%s
notifiers:
  hook:
    type: webhook
    url: %s/hook
`, filepath.Join(r.dir, "data"), r.port, r.feedURL, profiles, r.hookURL)
	r.save(t, cfg)
}

func (r *catchUpRig) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	r.cancel, r.done = cancel, make(chan error, 1)
	go func() {
		r.done <- Run(ctx, Options{ConfigPath: r.path, Stdout: io.Discard, Getenv: func(string) string { return "" },
			Logger: slog.New(slog.NewTextHandler(r.logs, nil)), Reload: r.reload, Ready: ready,
			hooks: &testHooks{catchUpPassed: func() { r.passes.Add(1) }}})
	}()
	select {
	case <-ready:
	case err := <-r.done:
		t.Fatalf("daemon exited: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon log:\n%s", r.logs.String())
		}
	})
}

// reloadAndPass reloads and waits for the catch-up pass that follows.
func (r *catchUpRig) reloadAndPass(t *testing.T) {
	t.Helper()
	n := r.passes.Load()
	r.reload <- struct{}{}
	waitFor(t, "catch-up pass", 15*time.Second, func() bool { return r.passes.Load() > n })
}

// quiet checks that the hits delivered stay as they are for a while, then
// that each was delivered once.
func (r *catchUpRig) quiet(t *testing.T, want map[string]int) {
	t.Helper()
	time.Sleep(1500 * time.Millisecond)
	got := hookTitles(t, r.hook)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("delivered %v, want %v", got, want)
	}
}

func TestCatchUp(t *testing.T) {
	r := &catchUpRig{reloadRig: newReloadRig(t)}
	now := time.Now()
	r.feed.add("1", "Xinjiang camps", "", now.Add(-time.Hour))
	r.feed.add("2", "Trade Bill genocide amendment", "", now.Add(-48*time.Hour))
	r.feed.add("3", "Trade Bill from last month", "", now.Add(-20*24*time.Hour)) // outside a 7d window
	r.write(t, xinjiangOnly)
	r.start(t)
	defer func() { r.stop(t) }()
	waitFor(t, "live hit", 15*time.Second, func() bool { return hookTitles(t, r.hook)["xinjiang: Xinjiang camps"] == 1 })
	waitFor(t, "items archived", 15*time.Second, func() bool { return r.metric(t, "feedwatch_archived_items_total") == "3" })

	// A profile added with catch_up alerts the archived items of its window.
	tradeBill := "\n  - name: trade-bill\n    query: '\"trade bill\"'\n    catch_up: 7d"
	r.write(t, xinjiangOnly+tradeBill)
	r.reloadAndPass(t)
	want := map[string]int{"xinjiang: Xinjiang camps": 1, "trade-bill: Trade Bill genocide amendment": 1}
	waitFor(t, "catch-up hit", 15*time.Second, func() bool { return hookTitles(t, r.hook)["trade-bill: Trade Bill genocide amendment"] == 1 })
	r.quiet(t, want)

	// Reloading again (and restarting) sends nothing.
	r.reloadAndPass(t)
	r.stop(t)
	n := r.passes.Load()
	r.start(t)
	waitFor(t, "catch-up pass after restart", 15*time.Second, func() bool { return r.passes.Load() > n })
	r.reloadAndPass(t)
	r.quiet(t, want)

	// A changed query alerts its new matches only.
	r.write(t, xinjiangOnly+"\n  - name: trade-bill\n    query: '\"trade bill\" OR camps'\n    catch_up: 7d")
	r.reloadAndPass(t)
	want["trade-bill: Xinjiang camps"] = 1
	waitFor(t, "new match", 15*time.Second, func() bool { return hookTitles(t, r.hook)["trade-bill: Xinjiang camps"] == 1 })
	r.quiet(t, want)
}

func TestCatchUpFingerprint(t *testing.T) {
	base := config.Profile{Name: "a", Query: "x", Keywords: []string{"k"}, Feeds: []string{"w", "tag:uk"}, CatchUp: config.Duration(time.Hour)}
	same := base
	same.Feeds = []string{"tag:uk", "w"}
	same.Notify = []string{"hook"}
	if catchUpFingerprint(base) != catchUpFingerprint(same) {
		t.Error("feed order or notifiers change the fingerprint")
	}
	for name, change := range map[string]func(*config.Profile){
		"query":    func(p *config.Profile) { p.Query = "y" },
		"keywords": func(p *config.Profile) { p.Keywords = nil },
		"exclude":  func(p *config.Profile) { p.Exclude = []string{"k"} },
		"feeds":    func(p *config.Profile) { p.Feeds = []string{"w"} },
		"catch_up": func(p *config.Profile) { p.CatchUp = config.Duration(2 * time.Hour) },
	} {
		p := base
		change(&p)
		if catchUpFingerprint(p) == catchUpFingerprint(base) {
			t.Errorf("changing %s keeps the fingerprint", name)
		}
	}
}

// TestArchiveOversizeItem: an item whose text alone is past a message's
// size (3 MB of letters, within max_body) alerts, is archived with its
// text cut and a warning naming the feed, and the feed's next items go on
// alerting: before, the archive write failed the poll on every retry.
func TestArchiveOversizeItem(t *testing.T) {
	r := &catchUpRig{reloadRig: newReloadRig(t)}
	rnd := rand.New(rand.NewPCG(1, 2))
	huge := make([]byte, 3<<20)
	for i := range huge {
		huge[i] = 'a' + byte(rnd.IntN(26))
	}
	now := time.Now()
	r.feed.add("big", "Xinjiang camps in full", "Xinjiang "+string(huge), now.Add(-time.Hour))
	r.write(t, xinjiangOnly)
	r.start(t)
	defer func() { r.stop(t) }()
	waitFor(t, "hit of the huge item", 30*time.Second, func() bool { return hookTitles(t, r.hook)["xinjiang: Xinjiang camps in full"] == 1 })
	waitFor(t, "huge item archived", 15*time.Second, func() bool { return r.metric(t, "feedwatch_archived_items_total") == "1" })
	r.feed.add("next", "Xinjiang again", "short", now)
	waitFor(t, "the next item's hit", 30*time.Second, func() bool { return hookTitles(t, r.hook)["xinjiang: Xinjiang again"] == 1 })
	if log := r.logs.String(); !strings.Contains(log, "too large for one message") || !strings.Contains(log, "feed=world") {
		t.Errorf("no warning naming the feed in the log:\n%.2000s", log)
	}
}
