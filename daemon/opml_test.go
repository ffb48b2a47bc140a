package daemon

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReloadOnOPMLEdit: the feeds of an OPML file are polled, and editing
// the file reloads the config as editing the config does: a feed added to
// it is polled, a broken file keeps the running config (and says so), a
// fixed one applies.
func TestReloadOnOPMLEdit(t *testing.T) {
	r := newReloadRig(t)
	other := &feedServer{title: "Other"}
	os2 := httptest.NewServer(other)
	t.Cleanup(os2.Close)
	opmlPath := filepath.Join(r.dir, "subs.opml")
	writeOPML := func(body string) {
		t.Helper()
		tmp := opmlPath + ".tmp"
		if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, opmlPath); err != nil {
			t.Fatal(err)
		}
	}
	outline := func(title, url string) string {
		return fmt.Sprintf(`<outline type="rss" text=%q xmlUrl=%q/>`, title, url)
	}
	doc := func(outlines ...string) string {
		return `<?xml version="1.0"?><opml version="2.0"><head><title>t</title></head><body><outline text="asia">` +
			strings.Join(outlines, "\n") + `</outline></body></opml>`
	}
	writeOPML(doc(outline("World", r.feedURL+"/world.xml")))
	cfg := fmt.Sprintf(`data_dir: %s
http:
  listen: 127.0.0.1:%d
watcher:
  interval: 1s
opml: [subs.opml]
profiles:
  - name: xinjiang
    keywords: [Xinjiang]
    feeds: [tag:asia]
notifiers:
  hook:
    type: webhook
    url: %s/hook
`, filepath.Join(r.dir, "data"), r.port, r.hookURL)
	if err := os.WriteFile(r.path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	r.start(t)
	defer r.stop(t)

	now := time.Now()
	r.feed.add("1", "Xinjiang one", "", now)
	waitFor(t, "hit from the OPML feed", 15*time.Second, func() bool { return hookTitles(t, r.hook)["xinjiang: Xinjiang one"] == 1 })

	other.add("2", "Xinjiang two", "", now)
	writeOPML(doc(outline("World", r.feedURL+"/world.xml"), outline("Other", os2.URL+"/other.xml")))
	waitFor(t, "hit from the feed added to the OPML file", 15*time.Second, func() bool { return hookTitles(t, r.hook)["xinjiang: Xinjiang two"] == 1 })

	writeOPML(doc(outline("World", r.feedURL+"/world.xml"), `<outline text="broken" xmlUrl="gopher://x/"/>`))
	waitFor(t, "failed reload", 10*time.Second, func() bool { return r.metric(t, "feedwatch_config_last_reload_successful") == "0" })
	if !strings.Contains(r.logs.String(), "subs.opml:2: opml[0]: invalid OPML") {
		t.Errorf("the failed reload does not name the OPML file and line:\n%s", r.logs.String())
	}
	// The running config stays: both feeds are still polled.
	other.add("3", "Xinjiang three", "", now)
	waitFor(t, "hit under the running config", 15*time.Second, func() bool { return hookTitles(t, r.hook)["xinjiang: Xinjiang three"] == 1 })

	writeOPML(doc(outline("World", r.feedURL+"/world.xml")))
	waitFor(t, "reload after the fix", 10*time.Second, func() bool { return r.metric(t, "feedwatch_config_last_reload_successful") == "1" })
	for k, n := range hookTitles(t, r.hook) {
		if n != 1 {
			t.Errorf("%s delivered %d times", k, n)
		}
	}
}

// TestOPMLNamedBeforeItExists: a config reloaded to name an OPML file that
// is not there yet fails that reload, saying which file; creating the file
// afterwards reloads the config without a SIGHUP, and its feeds are
// polled.
func TestOPMLNamedBeforeItExists(t *testing.T) {
	r := newReloadRig(t)
	other := &feedServer{title: "Other"}
	os2 := httptest.NewServer(other)
	t.Cleanup(os2.Close)
	cfg := func(extra string) string {
		return fmt.Sprintf(`data_dir: %s
http:
  listen: 127.0.0.1:%d
watcher:
  interval: 1s
feeds:
  - name: world
    url: %s/world.xml
    tags: [asia]
%sprofiles:
  - name: xinjiang
    keywords: [Xinjiang]
    feeds: [tag:asia]
notifiers:
  hook:
    type: webhook
    url: %s/hook
`, filepath.Join(r.dir, "data"), r.port, r.feedURL, extra, r.hookURL)
	}
	if err := os.WriteFile(r.path, []byte(cfg("")), 0o600); err != nil {
		t.Fatal(err)
	}
	r.start(t)
	defer r.stop(t)
	waitFor(t, "first successful load", 15*time.Second, func() bool { return r.metric(t, "feedwatch_config_last_reload_successful") == "1" })

	opmlPath := filepath.Join(r.dir, "later", "subs.opml")
	if err := os.Mkdir(filepath.Dir(opmlPath), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.path, []byte(cfg("opml: [later/subs.opml]\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "failed reload", 15*time.Second, func() bool { return r.metric(t, "feedwatch_config_last_reload_successful") == "0" })
	waitFor(t, "a log naming the missing file", 10*time.Second, func() bool {
		l := r.logs.String()
		return strings.Contains(l, `cannot read OPML file \"`+opmlPath)
	})

	other.add("1", "Xinjiang later", "", time.Now())
	doc := fmt.Sprintf(`<?xml version="1.0"?><opml version="2.0"><head><title>t</title></head><body><outline text="asia"><outline type="rss" text="Other" xmlUrl="%s/other.xml"/></outline></body></opml>`, os2.URL)
	if err := os.WriteFile(opmlPath, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "reload once the file exists", 15*time.Second, func() bool { return r.metric(t, "feedwatch_config_last_reload_successful") == "1" })
	waitFor(t, "hit from the OPML feed", 15*time.Second, func() bool { return hookTitles(t, r.hook)["xinjiang: Xinjiang later"] == 1 })
	if !strings.Contains(r.logs.String(), "OPML file not there yet") {
		t.Error("no log saying the missing OPML file is waited for")
	}
}
