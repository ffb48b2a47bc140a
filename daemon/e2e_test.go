package daemon

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
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

	"github.com/emersion/go-smtp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedwatch/feedwatch/hit"
)

// syncBuffer is a bytes.Buffer safe for the console notifier and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// feedServer serves one RSS document whose items the test changes.
type feedServer struct {
	mu    sync.Mutex
	items []string
	title string
}

func (f *feedServer) add(guid, title, desc string, pub time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.items = append(f.items, fmt.Sprintf(`<item><title>%s</title><link>https://news.example.org/%s</link><guid isPermaLink="false">%s</guid><pubDate>%s</pubDate><description>%s</description></item>`,
		title, guid, guid, pub.UTC().Format(time.RFC1123Z), desc))
}

func (f *feedServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	body := `<?xml version="1.0"?><rss version="2.0"><channel><title>` + f.title + `</title><link>https://news.example.org</link>` + strings.Join(f.items, "") + `</channel></rss>`
	f.mu.Unlock()
	sum := sha256.Sum256([]byte(body))
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("ETag", etag)
	w.Header().Set("Content-Type", "application/rss+xml")
	io.WriteString(w, body)
}

// recorder collects request bodies sent to a Slack or webhook receiver.
type recorder struct {
	mu     sync.Mutex
	bodies [][]byte
	heads  []http.Header
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.bodies = append(r.bodies, b)
	r.heads = append(r.heads, req.Header.Clone())
	r.mu.Unlock()
	io.WriteString(w, "ok")
}

func (r *recorder) snapshot() ([][]byte, []http.Header) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.bodies...), append([]http.Header(nil), r.heads...)
}

// mailbox is a real SMTP server (go-smtp) that records what arrives.
type mailbox struct {
	mu   sync.Mutex
	msgs []string
}

func (m *mailbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &mailSession{box: m}, nil }

type mailSession struct{ box *mailbox }

func (s *mailSession) Reset()                               {}
func (s *mailSession) Logout() error                        { return nil }
func (s *mailSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *mailSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.box.mu.Lock()
	s.box.msgs = append(s.box.msgs, string(b))
	s.box.mu.Unlock()
	return nil
}

func (m *mailbox) snapshot() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.msgs...)
}

func startSMTP(t *testing.T) (*mailbox, int) {
	t.Helper()
	box := &mailbox{}
	srv := smtp.NewServer(box)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return box, ln.Addr().(*net.TCPAddr).Port
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type running struct {
	cancel context.CancelFunc
	done   chan error
}

// startRun runs Run(ctx, o) in the background, with o.Ready set here, and
// waits until it serves; the test fails (naming it name) if it exits first
// or is not ready within wait. The daemon's result comes on done.
func startRun(t testing.TB, name string, o Options, wait time.Duration) (cancel context.CancelFunc, done chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	o.Ready = ready
	done = make(chan error, 1)
	go func() { done <- Run(ctx, o) }()
	select {
	case <-ready:
		return cancel, done
	case err := <-done:
		cancel()
		t.Fatalf("%s exited at start: %v", name, err)
	case <-time.After(wait):
		cancel()
		t.Fatalf("%s not ready after %v", name, wait)
	}
	return nil, nil
}

func startDaemon(t *testing.T, path string, out io.Writer, logs io.Writer) *running {
	t.Helper()
	cancel, done := startRun(t, "daemon", Options{
		ConfigPath: path, Stdout: out, Getenv: func(k string) string {
			if k == "HOOK_SECRET" {
				return "s3cret"
			}
			return ""
		},
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Version: "test",
	}, 30*time.Second)
	return &running{cancel: cancel, done: done}
}

func (r *running) stop(t *testing.T) {
	t.Helper()
	start := time.Now()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("daemon returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("daemon did not stop within 10 s")
	}
	t.Logf("stopped in %v", time.Since(start))
}

// streamHits reads every hit stored in the stream through the embedded
// server's listener, as another process would.
func streamHits(t *testing.T, url string) []*nats.Msg {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, "FEEDWATCH_HITS")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*nats.Msg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, &nats.Msg{Subject: m.Subject, Header: m.Header, Data: m.Data})
	}
	return out
}

func TestEndToEnd(t *testing.T) {
	feed := &feedServer{title: "World Desk"}
	now := time.Now()
	feed.add("old-1", "Old Xinjiang story", "from last week", now.Add(-72*time.Hour))
	feedSrv := httptest.NewServer(feed)
	defer feedSrv.Close()
	slackRec, hookRec := &recorder{}, &recorder{}
	slackSrv := httptest.NewServer(slackRec)
	defer slackSrv.Close()
	hookSrv := httptest.NewServer(hookRec)
	defer hookSrv.Close()
	box, smtpPort := startSMTP(t)

	dir := t.TempDir()
	natsPort, httpPort := freePort(t), freePort(t)
	cfg := fmt.Sprintf(`data_dir: %s
http:
  listen: 127.0.0.1:%d
nats:
  embedded_listen: 127.0.0.1:%d
watcher:
  interval: 1s
  backfill: 24h
feeds:
  - url: %s/world.xml
    name: world
    tags: [uk]
profiles:
  - name: xinjiang
    keywords: [Xinjiang, "Uyghur*"]
  - name: trade-bill
    keywords: [Trade Bill]
    feeds: [tag:uk]
    notify: [console, slack, hook]
notifiers:
  console:
    type: console
  slack:
    type: slack
    webhook_url: %s/services/T000/B000/XXXX
  mail:
    type: email
    host: 127.0.0.1
    port: %d
    tls: none
    from: feedwatch <alerts@example.org>
    to: [me@example.org]
  hook:
    type: webhook
    url: %s/hook
    secret: ${HOOK_SECRET}
`, filepath.Join(dir, "data"), httpPort, natsPort, feedSrv.URL, slackSrv.URL, smtpPort, hookSrv.URL)
	path := filepath.Join(dir, "feedwatch.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	out, logs := &syncBuffer{}, &syncBuffer{}
	d := startDaemon(t, path, out, logs)
	defer func() {
		if t.Failed() {
			t.Logf("daemon log:\n%s\nstdout:\n%s", logs.String(), out.String())
		}
	}()

	get := func(p string) (int, string) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", httpPort, p))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("/readyz = %d", code)
	}

	// Let the first poll mark the old item seen, then publish new stories.
	waitFor(t, "first poll", 15*time.Second, func() bool {
		_, m := get("/metrics")
		return strings.Contains(m, "feedwatch_polls_total")
	})
	feed.add("a", "US declares genocide in Xinjiang", "The determination covers <b>Uyghurs</b> &amp; others.", now)
	feed.add("b", "MPs vote on Trade Bill amendment", "On trade with states that commit genocide.", now)
	feed.add("c", "Rain delays the test match", "Nothing to see.", now)

	waitFor(t, "deliveries", 30*time.Second, func() bool {
		s, _ := slackRec.snapshot()
		h, _ := hookRec.snapshot()
		return len(s) >= 2 && len(h) >= 2 && len(box.snapshot()) >= 1 && strings.Count(out.String(), "US declares genocide") >= 1 && strings.Count(out.String(), "Trade Bill amendment") >= 1
	})
	// Give duplicates a chance to show up before counting.
	time.Sleep(2 * time.Second)

	natsURL := fmt.Sprintf("nats://127.0.0.1:%d", natsPort)
	msgs := streamHits(t, natsURL)
	if len(msgs) != 2 {
		t.Fatalf("stream holds %d hits, want 2", len(msgs))
	}
	byProfile := map[string]hit.Hit{}
	for _, m := range msgs {
		var h hit.Hit
		if err := json.Unmarshal(m.Data, &h); err != nil {
			t.Fatal(err)
		}
		if m.Subject != "feedwatch.hits."+h.Profile {
			t.Errorf("subject %s for profile %s", m.Subject, h.Profile)
		}
		if m.Header.Get("Nats-Msg-Id") != h.ID || h.ID == "" {
			t.Errorf("Nats-Msg-Id %q, hit id %q", m.Header.Get("Nats-Msg-Id"), h.ID)
		}
		checkHitJSON(t, m.Data)
		byProfile[h.Profile] = h
	}
	x := byProfile["xinjiang"]
	if x.Item.Title != "US declares genocide in Xinjiang" || x.Feed.Name != "world" || x.Feed.Title != "World Desk" || x.Item.Link != "https://news.example.org/a" {
		t.Errorf("xinjiang hit = %+v", x)
	}
	if x.Item.Summary != "The determination covers Uyghurs & others." {
		t.Errorf("summary %q", x.Item.Summary)
	}
	if len(x.Matches) == 0 || !strings.Contains(x.Snippet, "«") {
		t.Errorf("matches %+v snippet %q", x.Matches, x.Snippet)
	}
	if byProfile["trade-bill"].Item.Title != "MPs vote on Trade Bill amendment" {
		t.Errorf("trade-bill hit = %+v", byProfile["trade-bill"])
	}

	slackBodies, _ := slackRec.snapshot()
	hookBodies, hookHeads := hookRec.snapshot()
	mails := box.snapshot()
	if len(slackBodies) != 2 || len(hookBodies) != 2 || len(mails) != 1 {
		t.Fatalf("slack %d, webhook %d, email %d deliveries; want 2, 2, 1", len(slackBodies), len(hookBodies), len(mails))
	}
	for _, b := range slackBodies {
		if !json.Valid(b) || !bytes.Contains(b, []byte(`"blocks"`)) {
			t.Errorf("slack payload without blocks: %s", b)
		}
	}
	for i, b := range hookBodies {
		mac := hmac.New(sha256.New, []byte("s3cret"))
		mac.Write(b)
		if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); hookHeads[i].Get("X-Feedwatch-Signature") != want {
			t.Errorf("webhook signature %q, want %q", hookHeads[i].Get("X-Feedwatch-Signature"), want)
		}
		checkHitJSON(t, b)
	}
	if !strings.Contains(mails[0], "US declares genocide in Xinjiang") || !strings.Contains(mails[0], "multipart/alternative") {
		t.Errorf("email:\n%s", mails[0])
	}
	if c := strings.Count(out.String(), "US declares genocide in Xinjiang"); c != 1 {
		t.Errorf("console shows the Xinjiang hit %d times:\n%s", c, out.String())
	}
	if strings.Contains(out.String(), "Rain delays") || strings.Contains(out.String(), "Old Xinjiang story") {
		t.Errorf("console shows a non-matching or backfilled item:\n%s", out.String())
	}
	if code, m := get("/metrics"); code != 200 || !strings.Contains(m, `feedwatch_hits_total{profile="xinjiang"} 1`) {
		t.Errorf("/metrics lacks the hit count:\n%s", m)
	}
	if code, body := get("/api/status"); code != 200 || !strings.Contains(body, `"delivered": 2`) || !strings.Contains(body, `"name": "world"`) {
		t.Errorf("/api/status:\n%s", body)
	}
	d.stop(t)

	// A restart on the same data_dir sends nothing again.
	out2 := &syncBuffer{}
	d = startDaemon(t, path, out2, logs)
	time.Sleep(4 * time.Second)
	if n := len(streamHits(t, natsURL)); n != 2 {
		t.Errorf("after restart the stream holds %d hits, want 2", n)
	}
	d.stop(t)
	s2, _ := slackRec.snapshot()
	h2, _ := hookRec.snapshot()
	if len(s2) != 2 || len(h2) != 2 || len(box.snapshot()) != 1 || out2.String() != "" {
		t.Errorf("after restart: slack %d, webhook %d, email %d, console %q", len(s2), len(h2), len(box.snapshot()), out2.String())
	}
}

// checkHitJSON checks a hit body against the SPEC's shape, key by key.
func checkHitJSON(t *testing.T, data []byte) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("hit is not JSON: %v", err)
	}
	if m["v"] != float64(1) {
		t.Errorf("v = %v", m["v"])
	}
	for _, k := range []string{"id", "profile", "detected_at", "feed", "item", "matches", "snippet"} {
		if _, ok := m[k]; !ok {
			t.Errorf("hit lacks %q: %s", k, data)
		}
	}
	if _, err := time.Parse(time.RFC3339, fmt.Sprint(m["detected_at"])); err != nil {
		t.Errorf("detected_at: %v", err)
	}
	it, _ := m["item"].(map[string]any)
	for _, k := range []string{"id", "title", "link", "published", "authors", "categories", "summary"} {
		if _, ok := it[k]; !ok {
			t.Errorf("hit.item lacks %q", k)
		}
	}
	if _, ok := it["authors"].([]any); !ok {
		t.Errorf("item.authors is not a list: %v", it["authors"])
	}
	f, _ := m["feed"].(map[string]any)
	for _, k := range []string{"name", "url", "title"} {
		if _, ok := f[k]; !ok {
			t.Errorf("hit.feed lacks %q", k)
		}
	}
	ms, _ := m["matches"].([]any)
	for _, x := range ms {
		mm, _ := x.(map[string]any)
		for _, k := range []string{"field", "text", "term"} {
			if _, ok := mm[k]; !ok {
				t.Errorf("match lacks %q", k)
			}
		}
	}
}
