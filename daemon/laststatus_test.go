package daemon

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestStatusAfterRestart: after a restart, /api/status and the console's
// feeds page show each feed's last result and error from its stored state
// at once, not an empty result until the feed's next poll (an hour away
// here).
func TestStatusAfterRestart(t *testing.T) {
	feed := &feedServer{title: "World"}
	feed.add("a-1", "Xinjiang story", "camps in the Xinjiang region", time.Now().Add(-time.Hour))
	var worldReqs, brokenReqs atomic.Int64
	world := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		worldReqs.Add(1)
		feed.ServeHTTP(w, r)
	}))
	defer world.Close()
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		brokenReqs.Add(1)
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	}))
	defer broken.Close()

	dir := t.TempDir()
	port := freePort(t)
	cfg := fmt.Sprintf(`data_dir: %s
http:
  listen: 127.0.0.1:%d
watcher:
  interval: 1h
feeds:
  - url: %s/world.xml
    name: world
  - url: %s/broken.xml
    name: broken
profiles:
  - name: xinjiang
    keywords: [Xinjiang]
notifiers:
  console:
    type: console
`, filepath.Join(dir, "data"), port, world.URL, broken.URL)
	path := filepath.Join(dir, "feedwatch.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	get := func(p string) string {
		resp, err := http.Get(base + p)
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	feeds := func() map[string]FeedStatus {
		var st Status
		if err := json.Unmarshal([]byte(get("/api/status")), &st); err != nil {
			return nil
		}
		out := map[string]FeedStatus{}
		for _, f := range st.Feeds {
			out[f.Name] = f
		}
		return out
	}
	polled := func(fs map[string]FeedStatus) bool {
		return fs["world"].Result == "ok" && fs["broken"].Result == "http_status"
	}
	logs := &syncBuffer{}
	defer func() {
		if t.Failed() {
			t.Logf("daemon log:\n%s", logs.String())
		}
	}()

	d := startDaemon(t, path, io.Discard, logs)
	var before map[string]FeedStatus
	waitFor(t, "both feeds polled", 30*time.Second, func() bool {
		before = feeds()
		return polled(before)
	})
	d.stop(t)
	reqs := worldReqs.Load() + brokenReqs.Load()

	d = startDaemon(t, path, io.Discard, logs)
	defer d.stop(t)
	// The state is read at start, not at the next poll (an hour away):
	// the wait only covers the start's reads.
	var after map[string]FeedStatus
	waitFor(t, "the stored results in /api/status", 10*time.Second, func() bool {
		after = feeds()
		return polled(after)
	})
	for _, name := range []string{"world", "broken"} {
		b, a := before[name], after[name]
		if !a.LastPoll.Equal(b.LastPoll) || a.Error != b.Error || a.Failures != b.Failures || a.NextDue.IsZero() {
			t.Errorf("%s after restart: %+v\nbefore: %+v", name, a, b)
		}
	}
	if e := after["broken"].Error; !strings.Contains(e, "503") || after["broken"].Failures != 1 {
		t.Errorf("broken after restart: error %q, failures %d", e, after["broken"].Failures)
	}
	if n := worldReqs.Load() + brokenReqs.Load(); n != reqs {
		t.Errorf("%d requests after the restart, want none (next polls an hour away)", n-reqs)
	}
	// The console's feeds page reads the same status.
	waitFor(t, "the stored results on the console", 10*time.Second, func() bool {
		body := get("/feeds")
		return strings.Contains(body, `<span class="state ok">ok</span>`) && strings.Contains(body, "http_status")
	})
}
