package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/notifier"
	"github.com/feedwatch/feedwatch/notifier/notifiertest"
)

// hookRecorder is a webhook receiver that fails with 400 (permanent) while
// fail is set, and records the hit ids it accepted.
type hookRecorder struct {
	rc   *notifiertest.Receiver
	fail atomic.Bool
	mu   sync.Mutex
	ok   []string
}

func newHookRecorder(t *testing.T, fail bool) *hookRecorder {
	h := &hookRecorder{}
	h.fail.Store(fail)
	h.rc = notifiertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		if h.fail.Load() {
			http.Error(w, "no thanks", http.StatusBadRequest)
			return
		}
		var body struct{ ID string }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		h.mu.Lock()
		h.ok = append(h.ok, body.ID)
		h.mu.Unlock()
	})
	return h
}

func (h *hookRecorder) accepted() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.ok)
}

// deadSetup writes a config with one feed of two matching items (one
// with hostile title text) and four webhook notifiers: hook (fails until
// told), other (always works), third and fourth (always fail).
func deadSetup(t *testing.T) (cfg string, hooks map[string]*hookRecorder) {
	t.Helper()
	dir := t.TempDir()
	feed := filepath.Join(dir, "world.xml")
	pub := time.Now().Add(-time.Hour).UTC().Format(time.RFC1123Z)
	doc := fmt.Sprintf(`<?xml version="1.0"?><rss version="2.0"><channel><title>world</title>
<item><title>Xinjiang A</title><link>https://example.org/a</link><guid>A</guid><pubDate>%[1]s</pubDate></item>
<item><title>Xinjiang B &#x202E;evil&#x9;tab</title><link>https://example.org/b</link><guid>B</guid><pubDate>%[1]s</pubDate></item>
</channel></rss>`, pub)
	if err := os.WriteFile(feed, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	natsAddr := ln.Addr().String()
	ln.Close()
	hooks = map[string]*hookRecorder{
		"hook": newHookRecorder(t, true), "other": newHookRecorder(t, false),
		"third": newHookRecorder(t, true), "fourth": newHookRecorder(t, true),
	}
	var nb strings.Builder
	for _, n := range []string{"hook", "other", "third", "fourth"} {
		fmt.Fprintf(&nb, "  %s: {type: webhook, url: %s/%s, max_attempts: 1}\n", n, hooks[n].rc.Server.URL, n)
	}
	cfg = filepath.Join(dir, "feedwatch.yaml")
	body := `data_dir: ` + filepath.Join(dir, "data") + `
http: {listen: ""}
nats: {embedded_listen: "` + natsAddr + `"}
feeds:
  - {url: ` + feed + `, name: world, interval: 1h}
profiles:
  - {name: xj, keywords: [Xinjiang]}
notifiers:
` + nb.String()
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg, hooks
}

// startDaemon runs `feedwatch run` in-process until the returned stop.
func startDaemon(t *testing.T, cfg string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan int, 1)
	logs := &syncBuilder{}
	go func() {
		done <- execute(ctx, env{args: []string{"run", "--config", cfg, "--log-level", "warn"}, stdout: &syncBuilder{}, stderr: logs,
			getenv: func(string) string { return "" }, ready: ready})
	}()
	select {
	case <-ready:
	case code := <-done:
		t.Fatalf("daemon exited %d before ready:\n%s", code, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatal("daemon not ready in 30 s")
	}
	return func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("daemon exit %d:\n%s", code, logs.String())
		}
		// Dropping and replaying dead letters while it was stopped is no
		// damage to the store.
		if strings.Contains(logs.String(), "damaged") {
			t.Errorf("daemon reports damaged state:\n%s", logs.String())
		}
	}
}

// deadList runs `dead list --json` and returns notifier/item-guid pairs.
func deadList(t *testing.T, cfg string) []string {
	t.Helper()
	code, out, errOut := runCLI(t, nil, "dead", "list", "--json", "--config", cfg)
	if code != 0 {
		t.Fatalf("dead list: exit %d: %s", code, errOut)
	}
	var got []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var l notifier.DeadLetter
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("dead list --json line %q: %v", sc.Text(), err)
		}
		if l.Error == "" || l.At.IsZero() || l.Hit.V != 1 {
			t.Errorf("dead letter lacks error, time or hit: %s", sc.Text())
		}
		got = append(got, l.Notifier+"/"+l.Hit.Item.ID)
	}
	return got
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 30 s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// hitIDOf finds the hit id of a notifier's dead letter for an item.
func hitIDOf(t *testing.T, cfg, notifierName, item string) string {
	t.Helper()
	_, out, _ := runCLI(t, nil, "dead", "list", "--json", "--notifier", notifierName, "--config", cfg)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var l notifier.DeadLetter
		if json.Unmarshal([]byte(line), &l) == nil && l.Hit.Item.ID == item {
			return l.Hit.ID
		}
	}
	t.Fatalf("no dead letter of %s for item %s:\n%s", notifierName, item, out)
	return ""
}

// TestDeadLetters: list, replay and drop against a running daemon (over
// its embedded_listen) and a stopped one (its data_dir). A replayed hit
// reaches its own notifier once and leaves the dead letters; one that
// fails again is a dead letter again; other notifiers get nothing.
func TestDeadLetters(t *testing.T) {
	cfg, hooks := deadSetup(t)
	stop := startDaemon(t, cfg)
	all := []string{"fourth/A", "fourth/B", "hook/A", "hook/B", "third/A", "third/B"}
	sorted := func(s []string) []string { slices.Sort(s); return s }
	waitFor(t, "six dead letters", func() bool { return slices.Equal(sorted(deadList(t, cfg)), all) })
	if got := sorted(hooks["other"].accepted()); len(got) != 2 {
		t.Fatalf("other got %v, want both hits", got)
	}

	// The table: one row per letter, hostile feed text neutralised.
	code, out, errOut := runCLI(t, nil, "dead", "list", "--notifier", "hook", "--config", cfg)
	if code != 0 || !strings.Contains(out, "LAST ERROR") || strings.Count(out, "\n") != 3 || !strings.Contains(out, "400") {
		t.Fatalf("dead list table: exit %d\n%s%s", code, out, errOut)
	}
	if strings.ContainsAny(out, "\u202e\t") || !strings.Contains(out, "Xinjiang B evil tab") {
		t.Errorf("dead list shows raw feed text:\n%q", out)
	}

	// Errors.
	if code, _, errOut := runCLI(t, nil, "dead", "list", "--notifier", "nope", "--config", cfg); code != 2 ||
		!strings.Contains(errOut, `unknown notifier "nope"`) || !strings.Contains(errOut, "fourth, hook, other, third") {
		t.Errorf("unknown notifier: exit %d %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, nil, "dead", "replay", "--id", "0123", "--config", cfg); code != 1 || !strings.Contains(errOut, `no dead letter for hit id "0123"`) {
		t.Errorf("unknown id: exit %d %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, nil, "dead", "replay", "--notifier", "other", "--config", cfg); code != 1 || !strings.Contains(errOut, "nothing to replay") {
		t.Errorf("nothing to replay: exit %d %s", code, errOut)
	}

	// Replay hook's A with hook working again: delivered once, to hook.
	hooks["hook"].fail.Store(false)
	idA := hitIDOf(t, cfg, "hook", "A")
	if code, out, errOut := runCLI(t, nil, "dead", "replay", "--notifier", "hook", "--id", idA, "--config", cfg); code != 0 || !strings.Contains(out, "replayed hit "+idA) {
		t.Fatalf("replay: exit %d\n%s%s", code, out, errOut)
	}
	waitFor(t, "replayed hit at hook", func() bool { return len(hooks["hook"].accepted()) == 1 })
	if got := deadList(t, cfg); slices.Contains(got, "hook/A") || len(got) != 5 {
		t.Errorf("after replay, dead letters %v", got)
	}

	// Replay hook's B while hook fails: a dead letter again.
	hooks["hook"].fail.Store(true)
	// Counted before the replay: the webhook sends a hit at once, maybe
	// before the command returns.
	before := len(hooks["hook"].rc.Requests())
	if code, _, errOut := runCLI(t, nil, "dead", "replay", "--notifier", "hook", "--config", cfg); code != 0 {
		t.Fatalf("replay B: exit %d %s", code, errOut)
	}
	waitFor(t, "replayed B at hook", func() bool { return len(hooks["hook"].rc.Requests()) > before })
	waitFor(t, "B dead again", func() bool { return slices.Contains(deadList(t, cfg), "hook/B") })

	// Drop by id.
	idA3 := hitIDOf(t, cfg, "third", "A")
	if code, out, errOut := runCLI(t, nil, "dead", "drop", "--notifier", "third", "--id", idA3, "--config", cfg); code != 0 || !strings.Contains(out, "dropped hit "+idA3) {
		t.Fatalf("drop by id: exit %d\n%s%s", code, out, errOut)
	}
	if got := sorted(deadList(t, cfg)); !slices.Equal(got, []string{"fourth/A", "fourth/B", "hook/B", "third/B"}) {
		t.Fatalf("after drop by id: %v", got)
	}
	stop()

	// The daemon is stopped: the CLI opens its data_dir.
	if code, out, errOut := runCLI(t, nil, "dead", "drop", "--notifier", "third", "--config", cfg); code != 0 || !strings.Contains(out, "dropped") {
		t.Fatalf("drop by notifier (stopped): exit %d\n%s%s", code, out, errOut)
	}
	hooks["hook"].fail.Store(false)
	code, out, errOut = runCLI(t, nil, "dead", "replay", "--notifier", "hook", "--json", "--config", cfg)
	if code != 0 || !strings.Contains(out, `"action":"replayed"`) {
		t.Fatalf("replay (stopped): exit %d\n%s%s", code, out, errOut)
	}
	if got := sorted(deadList(t, cfg)); !slices.Equal(got, []string{"fourth/A", "fourth/B"}) {
		t.Fatalf("after replay (stopped): %v", got)
	}
	if code, out, errOut := runCLI(t, nil, "dead", "drop", "--config", cfg); code != 0 || strings.Count(out, "dropped") != 2 {
		t.Fatalf("drop all: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, _ := runCLI(t, nil, "dead", "list", "--config", cfg); code != 0 || !strings.Contains(out, "no dead letters") {
		t.Errorf("empty list: exit %d %q", code, out)
	}
	if code, _, errOut := runCLI(t, nil, "dead", "drop", "--config", cfg); code != 1 || !strings.Contains(errOut, "nothing to drop") {
		t.Errorf("nothing to drop: exit %d %s", code, errOut)
	}

	// Started again, the daemon delivers the replay made while stopped.
	stop = startDaemon(t, cfg)
	waitFor(t, "B delivered after restart", func() bool { return len(hooks["hook"].accepted()) == 2 })
	stop()
	if got := hooks["hook"].accepted(); len(got) != 2 || got[0] == got[1] {
		t.Errorf("hook accepted %v: want A and B once each", got)
	}
	if got := hooks["other"].accepted(); len(got) != 2 {
		t.Errorf("other got %v: replays reached it", got)
	}
	for _, n := range []string{"third", "fourth"} {
		if got := len(hooks[n].rc.Requests()); got != 2 {
			t.Errorf("%s got %d requests, want its first 2 only", n, got)
		}
	}
}

// TestDeadStoreErrors: the dead commands need no notifier secret, say
// when data_dir holds no store yet, and say how to reach a running daemon
// whose embedded server does not listen.
func TestDeadStoreErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "feedwatch.yaml")
	body := `data_dir: ` + filepath.Join(dir, "data") + `
http: {listen: ""}
profiles:
  - {name: xj, keywords: [Xinjiang]}
notifiers:
  hook: {type: webhook, url: "http://127.0.0.1:1/hook", secret: "${HOOK_SECRET}"}
`
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, nil, "dead", "list", "--config", cfg)
	if code != 1 || !strings.Contains(errOut, "holds no store") || strings.Contains(errOut, "HOOK_SECRET") {
		t.Errorf("no store yet: exit %d %s", code, errOut)
	}
	getenv := func(k string) string {
		if k == "HOOK_SECRET" {
			return "s3cret"
		}
		return ""
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan int, 1)
	go func() {
		done <- execute(ctx, env{args: []string{"run", "--config", cfg, "--log-level", "error"}, stdout: &syncBuilder{}, stderr: &syncBuilder{}, getenv: getenv, ready: ready})
	}()
	select {
	case <-ready:
	case c := <-done:
		t.Fatalf("daemon exited %d", c)
	}
	// Running with no embedded_listen: reached through data_dir's access file.
	code, out, errOut := runCLI(t, nil, "dead", "list", "--config", cfg)
	if code != 0 || !strings.Contains(out, "no dead letters") {
		t.Errorf("running daemon, no embedded_listen: exit %d %s %s", code, out, errOut)
	}
	// Without that file (a daemon of an older version) the error says what to do.
	access := filepath.Join(filepath.Dir(cfg), "data", "nats-local.json")
	if err := os.Remove(access); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCLI(t, nil, "dead", "list", "--config", cfg)
	cancel()
	<-done
	if code != 1 || !strings.Contains(errOut, "a feedwatch runs on data_dir") || !strings.Contains(errOut, "nats.embedded_listen") {
		t.Errorf("running daemon, no access file: exit %d %s", code, errOut)
	}
	// Stopped, the same config works.
	if code, out, errOut := runCLI(t, nil, "dead", "list", "--config", cfg); code != 0 || !strings.Contains(out, "no dead letters") {
		t.Errorf("stopped daemon: exit %d %s %s", code, out, errOut)
	}
}

func TestDeadUsage(t *testing.T) {
	for name, a := range map[string][]string{
		"no subcommand":  {"dead"},
		"unknown one":    {"dead", "frob"},
		"bad name":       {"dead", "list", "--notifier", "A B"},
		"id on list":     {"dead", "list", "--id", "x"},
		"extra argument": {"dead", "drop", "x"},
	} {
		t.Run(name, func(t *testing.T) {
			if code, _, errOut := runCLI(t, nil, a...); code != 2 {
				t.Errorf("exit %d, want 2: %s", code, errOut)
			}
		})
	}
}

// TestDeadUnreachableNATS: with nats.url naming a server that is down, the
// dead commands exit 1 saying so (they waited for ever on a stream request
// before).
func TestDeadUnreachableNATS(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "feedwatch.yaml")
	body := "data_dir: " + filepath.Join(dir, "data") + "\nnats: {url: \"nats://" + addr + "\"}\nhttp: {listen: \"\"}\nprofiles:\n  - {name: xj, keywords: [Xinjiang]}\nnotifiers:\n  hook: {type: webhook, url: \"http://127.0.0.1:1/hook\"}\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"dead", "drop", "--id", "x"}} { // list, replay and drop open the store alike
		code, _, errOut := runCLI(t, nil, append(args, "--config", cfg)...)
		if code != 1 || !strings.Contains(errOut, "cannot reach NATS") {
			t.Errorf("%v: exit %d %s", args, code, errOut)
		}
	}
}
