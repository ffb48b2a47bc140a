package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/bus"
	"github.com/feedwatch/feedwatch/watcher"
)

// guidFeed serves an RSS document of GUID-only items (no link): the
// cross-feed link claim cannot recognise them, only their keys can.
type guidFeed struct {
	mu    sync.Mutex
	items []string
}

func (f *guidFeed) add(guid, title string, pub time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.items = append(f.items, fmt.Sprintf(`<item><title>%s</title><guid isPermaLink="false">%s</guid><pubDate>%s</pubDate></item>`,
		title, guid, pub.UTC().Format(time.RFC1123Z)))
}

func (f *guidFeed) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	body := `<?xml version="1.0"?><rss version="2.0"><channel><title>World</title><link>https://news.example.org</link>` + strings.Join(f.items, "") + `</channel></rss>`
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/rss+xml")
	io.WriteString(w, body)
}

// writeRenameConfig writes the rig's config with the one feed named name.
func writeRenameConfig(t *testing.T, r *reloadRig, name string) {
	t.Helper()
	cfg := fmt.Sprintf(`data_dir: %s
http:
  listen: 127.0.0.1:%d
watcher:
  interval: 1s
feeds:
  - url: %s/world.xml
    name: %s
profiles:
%s
notifiers:
  hook:
    type: webhook
    url: %s/hook
`, filepath.Join(r.dir, "data"), r.port, r.feedURL, name, xinjiangOnly, r.hookURL)
	r.save(t, cfg)
}

// okPolls is the daemon's count of polls that parsed a changed document.
// A poll is counted after its state is written: a test that stops the
// daemon after a hit waits for it, or the stop could cut the write.
func okPolls(t *testing.T, r *reloadRig) int {
	t.Helper()
	n, _ := strconv.Atoi(r.metric(t, `feedwatch_polls_total{result="ok"}`))
	return n
}

// TestRenamedFeedKeepsState: a feed renamed in the config (same URL), by a
// live reload and across a restart, adopts its former name's state: the
// items it already alerted (recent, GUID-only) do not alert again under
// the new name; new items do.
func TestRenamedFeedKeepsState(t *testing.T) {
	r := newReloadRig(t)
	gf := &guidFeed{}
	srv := httptest.NewServer(gf)
	t.Cleanup(srv.Close)
	r.feedURL = srv.URL
	writeRenameConfig(t, r, "world")
	r.start(t)

	now := time.Now()
	gf.add("g1", "Xinjiang one", now.Add(-time.Hour))
	waitFor(t, "first hit", 15*time.Second, func() bool { return hookTitles(t, r.hook)["xinjiang: Xinjiang one"] == 1 })

	// Live: the reload removes "world" and adds "world-news", same URL.
	writeRenameConfig(t, r, "world-news")
	r.reload <- struct{}{}
	waitFor(t, "reload", 15*time.Second, func() bool { return strings.Contains(r.logs.String(), "config reloaded") })
	ok := okPolls(t, r)
	gf.add("g2", "Xinjiang two", now)
	waitFor(t, "hit after the live rename", 15*time.Second, func() bool { return hookTitles(t, r.hook)["xinjiang: Xinjiang two"] == 1 })
	waitFor(t, "its poll's end", 15*time.Second, func() bool { return okPolls(t, r) > ok })
	r.stop(t)

	// Across a restart.
	writeRenameConfig(t, r, "asia")
	r.start(t)
	gf.add("g3", "Xinjiang three", now)
	waitFor(t, "hit after the restart", 15*time.Second, func() bool { return hookTitles(t, r.hook)["xinjiang: Xinjiang three"] == 1 })
	// A few more polls (1 s interval) for any repeat to show.
	time.Sleep(2500 * time.Millisecond)
	r.stop(t)
	got := hookTitles(t, r.hook)
	for _, title := range []string{"Xinjiang one", "Xinjiang two", "Xinjiang three"} {
		if n := got["xinjiang: "+title]; n != 1 {
			t.Errorf("%s delivered %d times, want 1", title, n)
		}
	}
	for _, old := range []string{"world", "world-news"} {
		if !strings.Contains(r.logs.String(), `msg="feed renamed: adopting the state of `+old+`"`) {
			t.Errorf("adoption of %s not logged", old)
		}
	}
}

// TestRenameInUpgradeRestart: states written by a version before alias
// records (no record, no "aliased" mark) get them once at start, so a
// feed renamed in the same restart as the upgrade keeps its state too.
func TestRenameInUpgradeRestart(t *testing.T) {
	r := newReloadRig(t)
	gf := &guidFeed{}
	srv := httptest.NewServer(gf)
	t.Cleanup(srv.Close)
	r.feedURL = srv.URL
	writeRenameConfig(t, r, "world")
	r.start(t)
	now := time.Now()
	gf.add("g1", "Xinjiang one", now.Add(-time.Hour))
	waitFor(t, "first hit", 15*time.Second, func() bool { return hookTitles(t, r.hook)["xinjiang: Xinjiang one"] == 1 })
	waitFor(t, "its poll's end", 15*time.Second, func() bool { return okPolls(t, r) > 0 })
	r.stop(t)

	// What an earlier version leaves: states without the mark, no alias
	// records (emptied: the store has no delete) and no record of them
	// having been made.
	ctx := context.Background()
	b, err := bus.Open(ctx, bus.Options{DataDir: filepath.Join(r.dir, "data"), Retention: 90 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	states := map[string][]byte{}
	wctx, stop := context.WithCancel(ctx)
	err = b.WatchFeedStates(wctx, func(feed string, state []byte) { states[feed] = state }, stop)
	stop()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("list the stored states: %v", err)
	}
	st := b.FeedState()
	for name, state := range states {
		var m map[string]any
		switch {
		case name == watcher.AliasesRecorded:
			state = nil
		case watcher.IsAliasName(name):
			state = []byte(`{"feeds":[]}`)
		case json.Unmarshal(state, &m) == nil:
			delete(m, "aliased")
			delete(m, "move_aliased")
			if state, err = json.Marshal(m); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.Save(ctx, name, state); err != nil {
			t.Fatal(err)
		}
	}
	b.Close()
	if len(states) < 2 {
		t.Fatalf("stored: %v, want world's state and its alias record", slices.Collect(maps.Keys(states)))
	}

	writeRenameConfig(t, r, "asia")
	r.start(t)
	gf.add("g2", "Xinjiang two", now)
	waitFor(t, "hit after the restart", 15*time.Second, func() bool { return hookTitles(t, r.hook)["xinjiang: Xinjiang two"] == 1 })
	time.Sleep(2500 * time.Millisecond)
	r.stop(t)
	if n := hookTitles(t, r.hook)["xinjiang: Xinjiang one"]; n != 1 {
		t.Errorf("Xinjiang one delivered %d times, want 1", n)
	}
	for _, want := range []string{"recorded the names of the stored feeds by url", `msg="feed renamed: adopting the state of world"`} {
		if !strings.Contains(r.logs.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
}
