package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/bus/natstest"
	"github.com/feedwatch/feedwatch/websub/websubtest"
)

// hubFeed serves an RSS document advertising a WebSub hub (atom:link
// rel="hub" and rel="self"), with items the test adds.
type hubFeed struct {
	mu    sync.Mutex
	hub   string
	self  string
	items []string
	polls int
	// linkOnly advertises hub and self in HTTP Link headers only.
	linkOnly bool
}

func (f *hubFeed) add(guid, title string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.items = append(f.items, fmt.Sprintf(`<item><title>%s</title><link>https://news.example.org/%s</link><guid isPermaLink="false">%s</guid><pubDate>%s</pubDate></item>`,
		title, guid, guid, time.Now().UTC().Format(time.RFC1123Z)))
}

func (f *hubFeed) doc() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	links := `<atom:link rel="hub" href="` + f.hub + `"/><atom:link rel="self" href="` + f.self + `"/>`
	if f.linkOnly {
		links = ""
	}
	return []byte(`<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>Push Desk</title><link>https://news.example.org</link>` +
		links + strings.Join(f.items, "") + `</channel></rss>`)
}

func (f *hubFeed) pollCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.polls
}

func (f *hubFeed) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	f.polls++
	if f.linkOnly {
		w.Header().Add("Link", "<"+f.hub+`>; rel="hub"`)
		w.Header().Add("Link", "<"+f.self+`>; rel="self"`)
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/rss+xml")
	_, _ = w.Write(f.doc())
}

type websubSetup struct {
	hub      *websubtest.Hub
	feed     *hubFeed
	feedURL  string
	path     string // config file
	cfg      string // config text with the feed
	httpPort int
	natsPort int
	wsPort   int // websub.listen port, 0: callbacks on http.listen
	out      *syncBuffer
	logs     *syncBuffer
}

// setupWebSub writes a config with one feed advertising the test hub, a
// profile matching "Xinjiang", and WebSub on.
func setupWebSub(t testing.TB, interval string, ownListener bool) *websubSetup {
	t.Helper()
	s := &websubSetup{hub: websubtest.Start(), feed: &hubFeed{}, out: &syncBuffer{}, logs: &syncBuffer{}}
	t.Cleanup(s.hub.Close)
	srv := httptest.NewServer(s.feed)
	t.Cleanup(srv.Close)
	s.feedURL = srv.URL + "/world.xml"
	s.feed.hub, s.feed.self = s.hub.URL, s.feedURL
	dir := t.TempDir()
	s.httpPort, s.natsPort = freePortTB(t), freePortTB(t)
	cbPort, listen := s.httpPort, ""
	if ownListener {
		s.wsPort = freePortTB(t)
		cbPort, listen = s.wsPort, fmt.Sprintf("127.0.0.1:%d", s.wsPort)
	}
	s.cfg = fmt.Sprintf(`data_dir: %s
http:
  listen: 127.0.0.1:%d
nats:
  embedded_listen: 127.0.0.1:%d
watcher:
  interval: %s
  backfill: 24h
websub:
  callback_url: http://127.0.0.1:%d/websub
  listen: "%s"
  fallback_interval: 1h
feeds:
  - url: %s
    name: world
profiles:
  - name: xinjiang
    keywords: [Xinjiang]
notifiers:
  console:
    type: console
`, filepath.Join(dir, "data"), s.httpPort, s.natsPort, interval, cbPort, listen, s.feedURL)
	s.path = filepath.Join(dir, "feedwatch.yaml")
	if err := os.WriteFile(s.path, []byte(s.cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon log:\n%s", s.logs.String())
		}
	})
	return s
}

func (s *websubSetup) get(t *testing.T, p string) string {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", s.httpPort, p))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func (s *websubSetup) pushState(t *testing.T) string {
	t.Helper()
	var st Status
	if err := json.Unmarshal([]byte(s.get(t, "/api/status")), &st); err != nil {
		t.Fatal(err)
	}
	for _, f := range st.Feeds {
		if f.Name == "world" && f.Push != nil {
			return string(f.Push.State)
		}
	}
	return ""
}

// hitTitles are the titles of the hits stored in the stream.
func hitTitles(t *testing.T, natsPort int) []string {
	t.Helper()
	return hitTitlesAt(t, fmt.Sprintf("nats://127.0.0.1:%d", natsPort))
}

func hitTitlesAt(t *testing.T, url string) []string {
	t.Helper()
	var out []string
	for _, m := range streamHits(t, url) {
		var h struct {
			Item struct {
				Title string `json:"title"`
			} `json:"item"`
		}
		if err := json.Unmarshal(m.Data, &h); err != nil {
			t.Fatal(err)
		}
		out = append(out, h.Item.Title)
	}
	return out
}

// TestWebSubPushToHit: the daemon discovers the feed's hub, subscribes,
// answers the verification, and a signed push becomes a hit in NATS
// (the feed is polled hourly, so only the push can bring it); a push with
// a bad signature is dropped and counted; a feed that leaves the config is
// unsubscribed.
func TestWebSubPushToHit(t *testing.T) {
	s := setupWebSub(t, "1h", false)
	d := startDaemon(t, s.path, s.out, s.logs)
	defer d.stop(t)
	waitFor(t, "verified subscription", 20*time.Second, func() bool { return len(s.hub.Subs()) == 1 })
	waitFor(t, "active push state", 10*time.Second, func() bool { return s.pushState(t) == "active" })
	sub := s.hub.Subs()[0]
	if !strings.HasPrefix(sub.Callback, fmt.Sprintf("http://127.0.0.1:%d/websub/", s.httpPort)) || sub.Topic != s.feedURL {
		t.Fatalf("subscription %+v", sub)
	}

	ctx := context.Background()
	s.feed.add("p1", "Xinjiang pushed story")
	pushedAt := time.Now()
	if res := s.hub.Publish(ctx, s.feedURL, s.feed.doc(), "application/rss+xml"); len(res) != 1 || res[0].Status != http.StatusAccepted {
		t.Fatalf("publish: %+v", res)
	}
	waitFor(t, "the pushed hit", 10*time.Second, func() bool { return len(hitTitles(t, s.natsPort)) == 1 })
	t.Logf("push to hit in NATS: %v", time.Since(pushedAt))
	if got := hitTitles(t, s.natsPort); got[0] != "Xinjiang pushed story" {
		t.Fatalf("hits %q", got)
	}

	// Forged: the hit must not appear, the drop is counted.
	s.feed.add("p2", "Xinjiang forged story")
	res := s.hub.PublishSigned(ctx, s.feedURL, s.feed.doc(), "application/rss+xml", func(string) string {
		return websubtest.Sign("sha256", "guessed", s.feed.doc())
	})
	if len(res) != 1 || res[0].Status != http.StatusAccepted {
		t.Fatalf("forged publish: %+v", res)
	}
	waitFor(t, "the drop counted", 5*time.Second, func() bool {
		return strings.Contains(s.get(t, "/metrics"), `feedwatch_websub_pushes_total{result="bad_signature"} 1`)
	})
	// A correct push of the same document after it: only then p2 arrives,
	// once, and p1 is not repeated.
	s.hub.Publish(ctx, s.feedURL, s.feed.doc(), "application/rss+xml")
	waitFor(t, "the second pushed hit", 10*time.Second, func() bool { return len(hitTitles(t, s.natsPort)) == 2 })
	if got := hitTitles(t, s.natsPort); got[1] != "Xinjiang forged story" {
		t.Fatalf("hits %q", got)
	}

	// The callback path skips the loopback Host rule; the rest keeps it.
	req, _ := http.NewRequest(http.MethodGet, sub.Callback+"?hub.mode=subscribe&hub.topic=x&hub.challenge=c", nil)
	req.Host = "feedwatch.example.org"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("verification with a wrong topic through a public Host: %d, want 404", resp.StatusCode)
	}

	// The feed leaves the config: unsubscribed at the hub.
	noFeed := strings.Replace(s.cfg, "feeds:\n  - url: "+s.feedURL+"\n    name: world\n", "feeds:\n  - url: "+s.feedURL+"?other\n    name: other\n", 1)
	if err := os.WriteFile(s.path, []byte(noFeed), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "unsubscribed", 20*time.Second, func() bool {
		for _, sb := range s.hub.Subs() {
			if sb.Callback == sub.Callback {
				return false
			}
		}
		return true
	})
}

// TestWebSubHubNeverVerifies: with a hub that never verifies, the feed is
// polled at its normal interval and its items still alert; the callbacks
// have their own listener (websub.listen); the hub is found in the feed's
// HTTP Link headers.
func TestWebSubHubNeverVerifies(t *testing.T) {
	s := setupWebSub(t, "1s", true)
	s.hub.NeverVerify = true
	s.feed.linkOnly = true
	d := startDaemon(t, s.path, s.out, s.logs)
	defer d.stop(t)
	waitFor(t, "a subscribe request", 20*time.Second, func() bool { return len(s.hub.Requests()) >= 1 })
	if r := s.hub.Requests()[0]; !strings.HasPrefix(r.Callback, fmt.Sprintf("http://127.0.0.1:%d/websub/", s.wsPort)) || r.Topic != s.feedURL {
		t.Fatalf("request %+v", r)
	}
	polls := s.feed.pollCount()
	s.feed.add("n1", "Xinjiang polled story")
	waitFor(t, "the polled hit", 20*time.Second, func() bool { return len(hitTitles(t, s.natsPort)) == 1 })
	if s.feed.pollCount() <= polls {
		t.Fatal("no poll brought the hit")
	}
	if st := s.pushState(t); st != "pending" {
		t.Fatalf("push state %q, want pending", st)
	}
	// An unsolicited verification on the callback listener is refused.
	code, echoed := s.hub.SendVerification(s.hub.Requests()[0].Callback, "subscribe", s.feedURL+"x")
	if code != http.StatusNotFound || echoed {
		t.Fatalf("unsolicited: %d %v", code, echoed)
	}
}

// freePortTB is freePort for benchmarks too.
func freePortTB(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestWebSubNewOwnerSubscribes: two watchers share the feed; the owner
// holds the subscription with its own callback. When it stops, the new
// owner subscribes with its callback, and a push reaches it: one hit.
func TestWebSubNewOwnerSubscribes(t *testing.T) {
	n := natstest.Start(t)
	s := setupWebSub(t, "1s", false)
	dir := t.TempDir()
	logs := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	})
	type proc struct {
		port   int
		cancel context.CancelFunc
		done   chan error
	}
	start := func(name string) *proc {
		p := &proc{port: freePort(t), done: make(chan error, 1)}
		cfg := fmt.Sprintf(`data_dir: %s
http:
  listen: 127.0.0.1:%d
nats:
  url: %s
watcher:
  interval: 1s
websub:
  callback_url: http://127.0.0.1:%d/websub
feeds:
  - url: %s
    name: world
profiles:
  - name: xinjiang
    keywords: [Xinjiang]
notifiers:
  console:
    type: console
`, filepath.Join(dir, name), p.port, n.URL(), p.port, s.feedURL)
		path := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		p.cancel = cancel
		ready := make(chan struct{})
		go func() {
			p.done <- Run(ctx, Options{ConfigPath: path, Mode: ModeWatch, Stdout: io.Discard, Getenv: func(string) string { return "" },
				Logger: slog.New(slog.NewTextHandler(logs, nil)).With("member", name), Ready: ready,
				hooks: &testHooks{renew: 300 * time.Millisecond, lease: 1500 * time.Millisecond, ttl: 2 * time.Second}})
		}()
		select {
		case <-ready:
		case err := <-p.done:
			t.Fatalf("%s exited at start: %v", name, err)
		}
		t.Cleanup(func() {
			cancel()
			<-p.done
			p.done <- nil
		})
		return p
	}
	subscribedBy := func(p *proc) bool {
		for _, sb := range s.hub.Subs() {
			if strings.HasPrefix(sb.Callback, fmt.Sprintf("http://127.0.0.1:%d/websub/", p.port)) {
				return true
			}
		}
		return false
	}
	a := start("a")
	waitFor(t, "a's subscription", 20*time.Second, func() bool { return subscribedBy(a) })
	b := start("b")
	a.cancel()
	if err := <-a.done; err != nil {
		t.Fatal(err)
	}
	a.done <- nil
	waitFor(t, "b's subscription", 30*time.Second, func() bool { return subscribedBy(b) })

	s.feed.add("c1", "Xinjiang pushed after the handover")
	res := s.hub.Publish(context.Background(), s.feedURL, s.feed.doc(), "application/rss+xml")
	accepted := 0
	for _, r := range res {
		if r.Status == http.StatusAccepted {
			accepted++
		}
	}
	if accepted != 1 {
		t.Fatalf("publish: %+v, want one callback (b's) to take it", res)
	}
	waitFor(t, "the hit", 10*time.Second, func() bool { return len(hitTitlesAt(t, n.URL())) >= 1 })
	time.Sleep(1500 * time.Millisecond) // a poll or two after the push: still one hit
	if got := hitTitlesAt(t, n.URL()); len(got) != 1 {
		t.Fatalf("hits %q, want one", got)
	}
}

// TestWebSubRestartKeepsSubscription: after a restart the stored
// subscription takes pushes at once (the feed's next poll, kept from
// before, is an hour away), without a new subscribe request.
func TestWebSubRestartKeepsSubscription(t *testing.T) {
	s := setupWebSub(t, "1h", false)
	d := startDaemon(t, s.path, s.out, s.logs)
	waitFor(t, "verified subscription", 20*time.Second, func() bool { return len(s.hub.Subs()) == 1 })
	d.stop(t)
	d = startDaemon(t, s.path, s.out, s.logs)
	defer d.stop(t)
	s.feed.add("r1", "Xinjiang after the restart")
	if res := s.hub.Publish(context.Background(), s.feedURL, s.feed.doc(), "application/rss+xml"); len(res) != 1 || res[0].Status != http.StatusAccepted {
		t.Fatalf("publish after restart: %+v", res)
	}
	waitFor(t, "the pushed hit", 10*time.Second, func() bool { return len(hitTitles(t, s.natsPort)) == 1 })
	if n := len(s.hub.Requests()); n != 1 {
		t.Fatalf("%d subscribe requests, want the first one only", n)
	}
	if st := s.pushState(t); st != "active" {
		t.Fatalf("push state %q", st)
	}
}
