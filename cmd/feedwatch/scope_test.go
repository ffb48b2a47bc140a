package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// scopeConfig writes two feeds (world tagged uk, asia untagged) whose one
// item matches three profiles scoped three ways, and a copy of world's
// document that is no configured feed.
func scopeConfig(t *testing.T) (cfg, world, asia, stray string) {
	t.Helper()
	dir := t.TempDir()
	doc := func(name string) string {
		p := filepath.Join(dir, name+".xml")
		body := fmt.Sprintf(`<?xml version="1.0"?><rss version="2.0"><channel><title>%[1]s desk</title>
<item><title>Trade Bill genocide clause and Xinjiang</title><link>https://%[1]s.example.org/a/1</link><guid>%[1]s-1</guid><pubDate>%[2]s</pubDate></item>
</channel></rss>`, name, time.Now().Add(-time.Hour).UTC().Format(time.RFC1123Z))
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	world, asia, stray = doc("world"), doc("asia"), doc("stray")
	cfg = filepath.Join(dir, "feedwatch.yaml")
	body := `data_dir: ` + filepath.Join(dir, "data") + `
http: {listen: ""}
feeds:
  - {url: ` + world + `, name: world, tags: [uk], interval: 1h}
  - {url: ` + asia + `, name: asia, interval: 1h}
profiles:
  - {name: uk-only, keywords: [Trade Bill], feeds: ["tag:uk"]}
  - {name: asia-only, keywords: [Xinjiang], feeds: [asia]}
  - {name: everywhere, keywords: [genocide]}
notifiers:
  console: {type: console, template: "HIT {{.Feed.Name}}{{range .Profiles}} {{.}}{{end}}"}
`
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg, world, asia, stray
}

var matchProfile = regexp.MustCompile(`(?m)^\[([a-z-]+)\] `)

func matchedProfiles(t *testing.T, cfg, src string) ([]string, string) {
	t.Helper()
	code, out, errOut := runCLI(t, nil, "match", "--config", cfg, src)
	if code != 0 {
		t.Fatalf("match %s: exit %d: %s", src, code, errOut)
	}
	var ps []string
	for _, m := range matchProfile.FindAllStringSubmatch(out, -1) {
		ps = append(ps, m[1])
	}
	slices.Sort(ps)
	return ps, errOut
}

// TestMatchAgreesWithDaemonOnScopes: a profile scoped to tag:uk or to a
// feed name sees the same items in `match` as in the daemon; a source that
// is no configured feed is tried against every profile.
func TestMatchAgreesWithDaemonOnScopes(t *testing.T) {
	cfg, world, asia, stray := scopeConfig(t)
	want := map[string][]string{
		"world": {"everywhere", "uk-only"},
		"asia":  {"asia-only", "everywhere"},
	}

	// The dry run.
	got := map[string][]string{}
	var notes string
	for name, src := range map[string]string{"world": world, "asia": asia} {
		var errOut string
		got[name], errOut = matchedProfiles(t, cfg, src)
		notes += errOut
	}
	for feed, ps := range want {
		if !slices.Equal(got[feed], ps) {
			t.Errorf("match on feed %s: profiles %v, want %v", feed, got[feed], ps)
		}
	}
	if !strings.Contains(notes, `is feed "asia": not watched by profile(s) uk-only`) {
		t.Errorf("match does not say which profiles a feed's scope leaves out:\n%s", notes)
	}
	ps, errOut := matchedProfiles(t, cfg, stray)
	if !slices.Equal(ps, []string{"asia-only", "everywhere", "uk-only"}) {
		t.Errorf("match on an unconfigured source: profiles %v, want all three", ps)
	}
	if !strings.Contains(errOut, "is not a configured feed") {
		t.Errorf("match does not say scopes are set aside:\n%s", errOut)
	}

	// The daemon, on the same config.
	out := &syncBuilder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- execute(ctx, env{args: []string{"run", "--config", cfg, "--log-level", "error"}, stdout: out, stderr: &syncBuilder{},
			getenv: func(string) string { return "" }})
	}()
	deadline := time.Now().Add(30 * time.Second)
	// An item that matches several profiles is one message naming them
	// all: count profiles, not lines.
	profilesSeen := func() int {
		n := 0
		for _, l := range strings.Split(out.String(), "\n") {
			if f := strings.Fields(l); len(f) >= 3 && f[0] == "HIT" {
				n += len(f) - 2
			}
		}
		return n
	}
	for profilesSeen() < 4 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("run: exit %d", code)
	}
	daemon := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == "HIT" {
			daemon[f[1]] = append(daemon[f[1]], f[2:]...)
		}
	}
	for feed, ps := range want {
		slices.Sort(daemon[feed])
		if !slices.Equal(daemon[feed], ps) {
			t.Errorf("daemon on feed %s: profiles %v, want %v (as match)\n%s", feed, daemon[feed], ps, out.String())
		}
	}
}
