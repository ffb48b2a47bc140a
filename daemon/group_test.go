package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/bus"
	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier"
	"github.com/feedwatch/feedwatch/notifier/webhook"
)

// TestEndToEndOneMessagePerItem: an item that matches two profiles is two
// hits on NATS and one email (its subject naming both profiles) and one
// Slack message; another item is a message of its own. The webhook, whose
// body is the hit JSON, gets each hit on its own, as the stream holds it.
func TestEndToEndOneMessagePerItem(t *testing.T) {
	feed := &feedServer{title: "World Desk"}
	feedSrv := httptest.NewServer(feed)
	defer feedSrv.Close()
	slackRec := &recorder{}
	slackSrv := httptest.NewServer(slackRec)
	defer slackSrv.Close()
	hookRec := &recorder{}
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
feeds:
  - url: %s/world.xml
    name: world
profiles:
  - name: xinjiang
    keywords: [Xinjiang]
  - name: trade-bill
    keywords: [Trade Bill]
notifiers:
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
  console: {type: console}
`, filepath.Join(dir, "data"), httpPort, natsPort, feedSrv.URL, slackSrv.URL, smtpPort, hookSrv.URL)
	path := filepath.Join(dir, "feedwatch.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logs, stdout := &syncBuffer{}, &syncBuffer{}
	d := startDaemon(t, path, stdout, logs)
	defer func() {
		if t.Failed() {
			t.Logf("daemon log:\n%s", logs.String())
		}
	}()
	now := time.Now()
	feed.add("a", "Trade Bill amendment on Xinjiang", "Both.", now)
	feed.add("b", "Xinjiang cotton report", "One.", now)
	waitFor(t, "deliveries", 30*time.Second, func() bool {
		s, _ := slackRec.snapshot()
		h, _ := hookRec.snapshot()
		return len(s) >= 2 && len(box.snapshot()) >= 2 && len(h) >= 3
	})
	time.Sleep(time.Second) // room for a wrong third message
	stored := streamHits(t, fmt.Sprintf("nats://127.0.0.1:%d", natsPort))
	if n := len(stored); n != 3 {
		t.Errorf("stream holds %d hits, want 3 (one per profile and item)", n)
	}
	d.stop(t)

	// The console prints a block per hit.
	for _, want := range []string{"== hit xinjiang ==\nTrade Bill amendment on Xinjiang", "== hit trade-bill ==\nTrade Bill amendment on Xinjiang", "== hit xinjiang ==\nXinjiang cotton report"} {
		if strings.Count(stdout.String(), want) != 1 {
			t.Errorf("console output has %q %d times, want once:\n%s", want, strings.Count(stdout.String(), want), stdout.String())
		}
	}
	hooked, heads := hookRec.snapshot()
	if len(hooked) != len(stored) {
		t.Errorf("webhook got %d bodies, want one per hit (%d)", len(hooked), len(stored))
	}
	for _, m := range stored {
		found := false
		for i, b := range hooked {
			if bytes.Equal(b, m.Data) && heads[i].Get("X-Feedwatch-Hit-Id") == m.Header.Get("Nats-Msg-Id") {
				found = true
			}
		}
		if !found {
			t.Errorf("no webhook body is hit %s as the stream holds it:\n%s", m.Header.Get("Nats-Msg-Id"), m.Data)
		}
	}

	var subjects []string
	for _, raw := range box.snapshot() {
		m, err := mail.ReadMessage(strings.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		s, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
		if err != nil {
			t.Fatal(err)
		}
		subjects = append(subjects, s)
	}
	if !hasAll(subjects, "Trade Bill amendment on Xinjiang [xinjiang, trade-bill]", "Xinjiang cotton report [xinjiang]") || len(subjects) != 2 {
		t.Errorf("email subjects %q", subjects)
	}
	bodies, _ := slackRec.snapshot()
	var texts []string
	for _, b := range bodies {
		var p struct{ Text string }
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		texts = append(texts, p.Text)
	}
	if !hasAll(texts, "xinjiang, trade-bill: Trade Bill amendment on Xinjiang", "xinjiang: Xinjiang cotton report") || len(texts) != 2 {
		t.Errorf("slack texts %q", texts)
	}
}

func hasAll(got []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			return false
		}
	}
	return true
}

// groupHits are the two hits of one item, as the watcher publishes them.
func groupHits() []hit.Hit {
	var out []hit.Hit
	for _, p := range []string{"xinjiang", "trade-bill"} {
		out = append(out, hit.Hit{V: 1, ID: hit.ID(p, "world:g1"), Profile: p, DetectedAt: time.Now().UTC().Truncate(time.Second),
			Feed: hit.Feed{Name: "world"}, Item: hit.Item{ID: "g1", Title: "Trade Bill amendment on Xinjiang", Authors: []string{}, Categories: []string{}},
			Matches: []hit.Match{{Field: "title", Text: p, Term: p}}})
	}
	return out
}

// groupEngine runs a webhook engine over real JetStream until stop.
func groupEngine(t *testing.T, b *bus.Bus, src notifier.Source, url string, ackWait time.Duration) (stop func()) {
	t.Helper()
	wh, err := webhook.New(webhook.Config{URL: url, Timeout: 5 * time.Second}, http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	e, err := notifier.NewEngine(notifier.EngineOptions{Name: "hook", Notifier: wh, Source: src, Ledger: b.Ledger(), Dead: b.DeadLetters(),
		AckWait: ackWait, BaseBackoff: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.Run(ctx); close(done) }()
	return func() { cancel(); <-done }
}

// TestGroupRetriedOverJetStream: a group that fails with a retryable error
// comes back together after the backoff and is delivered once, as a group.
func TestGroupRetriedOverJetStream(t *testing.T) {
	ctx := context.Background()
	b, err := bus.Open(ctx, bus.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var calls atomic.Int32
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		rec.ServeHTTP(w, r)
	}))
	defer srv.Close()
	src, err := b.EnsureConsumer(ctx, "hook", bus.ConsumerOptions{AckWait: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	stop := groupEngine(t, b, src, srv.URL, 30*time.Second)
	hits := groupHits()
	for _, h := range hits {
		if err := b.PublishHit(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "delivery", 20*time.Second, func() bool { bs, _ := rec.snapshot(); return len(bs) == 1 })
	time.Sleep(time.Second) // room for a wrong second delivery
	stop()
	if c := calls.Load(); c != 2 {
		t.Errorf("%d requests, want the failed one and one retry", c)
	}
	bodies, heads := rec.snapshot()
	if len(bodies) != 1 {
		t.Fatalf("%d deliveries, want 1", len(bodies))
	}
	if !bytes.Contains(bodies[0], []byte(`"profile":"xinjiang"`)) || !bytes.Contains(bodies[0], []byte(`"profiles":["xinjiang","trade-bill"]`)) {
		t.Errorf("body %s", bodies[0])
	}
	if got := heads[0].Get(webhook.HeaderHitID); got != hits[0].ID {
		t.Errorf("hit id header %q, want the first hit's %q", got, hits[0].ID)
	}
	if msgs, err := src.Fetch(ctx, 10, 300*time.Millisecond); err != nil || len(msgs) != 0 {
		t.Errorf("%d hits still pending (%v)", len(msgs), err)
	}
}

// TestGroupCrashBetweenSendAndAck: with real JetStream, a group sent but
// never acked comes back after AckWait, and the ledger keeps every hit of
// it from being sent again.
func TestGroupCrashBetweenSendAndAck(t *testing.T) {
	ctx := context.Background()
	b, err := bus.Open(ctx, bus.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	const ackWait = time.Second
	src, err := b.EnsureConsumer(ctx, "hook", bus.ConsumerOptions{AckWait: ackWait})
	if err != nil {
		t.Fatal(err)
	}
	stop := groupEngine(t, b, lostAcks{src}, srv.URL, ackWait)
	for _, h := range groupHits() {
		if err := b.PublishHit(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "first send", 10*time.Second, func() bool { bs, _ := rec.snapshot(); return len(bs) == 1 })
	stop()

	stop = groupEngine(t, b, src, srv.URL, ackWait)
	defer stop()
	time.Sleep(3 * ackWait)
	if bs, _ := rec.snapshot(); len(bs) != 1 {
		t.Fatalf("group sent %d times, want 1", len(bs))
	}
	msgs, err := src.Fetch(ctx, 10, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 0 {
		t.Fatalf("%d hits still pending after the restarted notifier saw them", len(msgs))
	}
}
