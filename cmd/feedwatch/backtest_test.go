package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/bus"
	"github.com/feedwatch/feedwatch/bus/natstest"
	"github.com/feedwatch/feedwatch/hit"
)

// backtestRig is a daemon (feedwatch run, in-process) watching two local
// feed files, with the archive on and its embedded server reachable.
type backtestRig struct {
	dir, cfg, cfgNoListen string
	cancel                context.CancelFunc
	done                  chan int
	stderr                *syncBuilder
}

func rssItem(guid, title, link string, pub *time.Time) string {
	date := ""
	if pub != nil {
		date = "<pubDate>" + pub.UTC().Format(time.RFC1123Z) + "</pubDate>"
	}
	return fmt.Sprintf(`<item><title>%s</title><link>%s</link><guid isPermaLink="false">%s</guid>%s<description>About %s.</description></item>`,
		title, link, guid, date, title)
}

func newBacktestRig(t *testing.T) *backtestRig {
	t.Helper()
	r := &backtestRig{dir: t.TempDir()}
	now := time.Now()
	ago := func(d time.Duration) *time.Time { p := now.Add(-d); return &p }
	shared := rssItem("w-shared", "Xinjiang camps report", "https://news.example.org/shared", ago(2*time.Hour))
	feeds := map[string][]string{
		"world.xml": {
			rssItem("w1", "Xinjiang detentions", "https://news.example.org/w1", ago(time.Hour)),
			rssItem("w2", "Trade Bill amendment", "https://news.example.org/w2", ago(3*24*time.Hour)),
			rssItem("w3", "Xinjiang last month", "https://news.example.org/w3", ago(40*24*time.Hour)),
			rssItem("w4", "Undated Xinjiang note", "https://news.example.org/w4", nil),
			shared,
		},
		"uk.xml": {
			rssItem("u1", "Trade Bill in the Lords", "https://news.example.org/u1", ago(24*time.Hour)),
			strings.Replace(shared, "w-shared", "u-shared", 1), // the same article through another feed
		},
	}
	for name, items := range feeds {
		body := `<?xml version="1.0"?><rss version="2.0"><channel><title>` + name + `</title><link>https://news.example.org/</link>` + strings.Join(items, "") + `</channel></rss>`
		if err := os.WriteFile(filepath.Join(r.dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	base := `data_dir: ./data
http: {listen: ""}
watcher: {interval: 1s, backfill: 3650d}
archive: {retention: 90d}
feeds:
  - {url: world.xml, name: world}
  - {url: uk.xml, name: uk, tags: [uk]}
profiles:
  - name: xinjiang
    keywords: [Xinjiang]
  - name: trade-bill
    query: '"trade bill"'
    feeds: [tag:uk]
notifiers:
  console: {type: console}
`
	r.cfg = filepath.Join(r.dir, "feedwatch.yaml")
	r.cfgNoListen = filepath.Join(r.dir, "nolisten.yaml")
	listen := fmt.Sprintf("nats: {embedded_listen: 127.0.0.1:%d}\n", natstest.FreePort(t))
	if err := os.WriteFile(r.cfg, []byte(base+listen), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.cfgNoListen, []byte(base), 0o600); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *backtestRig) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	r.cancel, r.done, r.stderr = cancel, make(chan int, 1), &syncBuilder{}
	go func() {
		var out bytes.Buffer
		r.done <- execute(ctx, env{args: []string{"run", "--config", r.cfg}, stdout: &out, stderr: r.stderr,
			getenv: func(string) string { return "" }, ready: ready})
	}()
	select {
	case <-ready:
	case code := <-r.done:
		t.Fatalf("daemon exited %d: %s", code, r.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("daemon not ready")
	}
}

func (r *backtestRig) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		t.Fatal("daemon did not stop")
	}
}

// jsonHits runs backtest --json and returns "profile: title" per hit, sorted.
func jsonHits(t *testing.T, args ...string) ([]string, string) {
	t.Helper()
	code, out, errOut := runCLI(t, nil, append([]string{"backtest", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("backtest %v: exit %d: %s", args, code, errOut)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var h hit.Hit
		if err := json.Unmarshal([]byte(l), &h); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if h.V != 1 || h.ID == "" || len(h.Matches) == 0 || !strings.Contains(h.Snippet, "«") {
			t.Errorf("hit not as on NATS: %s", l)
		}
		got = append(got, h.Profile+": "+h.Item.Title)
	}
	sort.Strings(got)
	return got, errOut
}

func TestBacktestCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the daemon")
	}
	r := newBacktestRig(t)
	all := []string{
		"trade-bill: Trade Bill in the Lords", // trade-bill watches tag:uk only: not w2
		"xinjiang: Undated Xinjiang note",
		"xinjiang: Xinjiang camps report", // once, though two feeds carry it
		"xinjiang: Xinjiang detentions",
		"xinjiang: Xinjiang last month",
	}
	r.start(t)
	deadline := time.Now().Add(30 * time.Second)
	// Ready comes before the first polls are archived: wait for them.
	for {
		code, _, errOut := runCLI(t, nil, "backtest", "--config", r.cfg, "--since", "0")
		if code == 0 {
			break
		}
		if !strings.Contains(errOut, "the archive is empty") || time.Now().After(deadline) {
			t.Fatalf("running daemon: backtest exit %d: %s", code, errOut)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for {
		got, _ := jsonHits(t, "--config", r.cfg, "--since", "0")
		if strings.Join(got, "|") == strings.Join(all, "|") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("running daemon: backtest gives %q, want %q", got, all)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Without embedded_listen the running daemon's archive is out of reach.
	code, _, errOut := runCLI(t, nil, "backtest", "--config", r.cfgNoListen)
	if code != 1 || !strings.Contains(errOut, "embedded_listen") {
		t.Errorf("running daemon without embedded_listen: exit %d, %q", code, errOut)
	}
	time.Sleep(2500 * time.Millisecond) // repeated polls archive nothing twice
	r.stop(t)
	// Nor does a restart: the same messages.
	msgs := archiveMsgs(t, filepath.Join(r.dir, "data"))
	r.start(t)
	time.Sleep(2500 * time.Millisecond)
	r.stop(t)
	if again := archiveMsgs(t, filepath.Join(r.dir, "data")); again != msgs {
		t.Errorf("archive messages: %d, %d after a restart and more polls", msgs, again)
	}

	// Stopped: the same, read from data_dir.
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"--since", "0"}, all},
		{nil, all[:4]}, // the default 30d window
		{[]string{"--since", "2d"}, []string{all[0], all[1], all[2], all[3]}},
		{[]string{"--since", "12h"}, all[1:4]},
		{[]string{"--feed", "uk", "--since", "0"}, []string{all[0]}},
		{[]string{"--profile", "xinjiang", "--since", "7d"}, all[1:4]},
		{[]string{"--query", `"trade bill"`, "--since", "7d"}, []string{"query: Trade Bill amendment", "query: Trade Bill in the Lords"}},
	}
	for _, tt := range tests {
		got, _ := jsonHits(t, append([]string{"--config", r.cfgNoListen}, tt.args...)...)
		if len(tt.args) > 0 && tt.args[0] == "--feed" {
			// Which feed's copy of the shared article was archived first
			// depends on which poll finished first: checked below.
			got = slices.DeleteFunc(got, func(h string) bool { return h == all[2] })
		}
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("backtest %v: %q, want %q", tt.args, got, tt.want)
		}
	}
	// The shared article is read once, as one feed's item or the other's.
	copies := 0
	for _, feed := range []string{"world", "uk"} {
		got, _ := jsonHits(t, "--config", r.cfgNoListen, "--feed", feed, "--since", "0")
		if slices.Contains(got, all[2]) {
			copies++
		}
	}
	if copies != 1 {
		t.Errorf("the article two feeds carry is in %d feeds' backtests, want 1", copies)
	}

	// Text: each match, then the count per profile per day.
	code, out, errOut := runCLI(t, nil, "backtest", "--config", r.cfgNoListen, "--profile", "trade-bill")
	if code != 0 || !strings.Contains(out, "[trade-bill] Trade Bill in the Lords") || !strings.Contains(out, "feed: uk") ||
		!strings.Contains(out, "«Trade Bill»") || !strings.Contains(out, "hits per profile per day") ||
		!strings.Contains(out, time.Now().Add(-24*time.Hour).UTC().Format(time.DateOnly)) ||
		!strings.Contains(errOut, "1 match(es)") {
		t.Errorf("text: exit %d\n%s\n%s", code, out, errOut)
	}

	// An undated item shows when it was archived, which is also its hit's
	// detected_at and its day in the counts.
	code, out, errOut = runCLI(t, nil, "backtest", "--config", r.cfgNoListen, "--query", "undated", "--since", "0")
	if _, at, _ := strings.Cut(out, "undated, archived: "); code != 0 || len(at) < 20 || time.Since(mustTime(t, at[:20])) > time.Hour {
		t.Errorf("undated item: exit %d\n%s\n%s", code, out, errOut)
	}

	// Mistakes.
	code, _, errOut = runCLI(t, nil, "backtest", "--config", r.cfgNoListen, "--profile", "nope")
	if code != 2 || !strings.Contains(errOut, `no profile "nope"`) || !strings.Contains(errOut, "known: xinjiang, trade-bill") {
		t.Errorf("unknown profile: exit %d, %q", code, errOut)
	}
	code, _, errOut = runCLI(t, nil, "backtest", "--config", r.cfgNoListen, "--query", "xinjiang AND (camps")
	if code != 2 || !strings.Contains(errOut, "column") {
		t.Errorf("bad query: exit %d, %q", code, errOut)
	}

	// A damaged store: a clear error, not "no archive".
	meta := filepath.Join(r.dir, "data", "jetstream", "jetstream", "$G", "streams", "FEEDWATCH_ITEMS", "meta.inf")
	if err := os.WriteFile(meta, []byte("{garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCLI(t, nil, "backtest", "--config", r.cfgNoListen)
	if code != 1 || !strings.Contains(errOut, "archive damaged") || !strings.Contains(errOut, "could not load") {
		t.Errorf("damaged archive: exit %d, %q", code, errOut)
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return at
}

// archiveMsgs is how many messages the archive in a stopped daemon's
// data_dir holds.
func archiveMsgs(t *testing.T, dataDir string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := bus.Open(ctx, bus.Options{DataDir: dataDir, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	info, err := b.ArchiveInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.Msgs
}

func TestBacktestNoArchive(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, "data_dir: "+filepath.Join(dir, "data")+"\nprofiles:\n  - name: x\n    keywords: [x]\n")
	code, _, errOut := runCLI(t, nil, "backtest", "--config", cfg)
	if code != 1 || !strings.Contains(errOut, "no archive") || !strings.Contains(errOut, "holds no NATS store") {
		t.Errorf("exit %d, %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); !os.IsNotExist(err) {
		t.Errorf("backtest made data_dir: %v", err)
	}
}
