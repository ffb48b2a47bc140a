package daemon

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/config"
)

// consoleHash is bcrypt("open sesame") at cost 4: fast enough for tests.
const consoleHash = "$2a$04$4/bpA3aMwpdh7r2KPSy9bugf4ZGnhqdekm4RHiBoYlHIfzd.Pe.Fq"

// consoleRig is a daemon on real JetStream with a feed of 60 Xinjiang
// stories (one hostile), 3 trade bill stories, a webhook that refuses
// everything (dead letters) and the console behind http.auth.
type consoleRig struct {
	t      *testing.T
	base   string
	path   string
	cfg    string
	feed   *feedServer
	out    *syncBuffer
	logs   *syncBuffer
	client *http.Client
	// refused counts the webhook's deliveries, all refused.
	refused *atomic.Int64
}

const hostileTitle = `Xinjiang "><img src=x onerror=alert(1)> <script>alert(2)</script> javascript:alert(3)`

func newConsoleRig(t *testing.T) *consoleRig {
	t.Helper()
	feed := &feedServer{title: `World <b>Desk</b>`}
	now := time.Now()
	for i := 1; i <= 59; i++ {
		feed.add(fmt.Sprintf("x-%d", i), fmt.Sprintf("Xinjiang story %d", i), "camps in the Xinjiang region", now.Add(-time.Hour))
	}
	// Feed text as an attacker writes it: markup escaped in the XML, so
	// it reaches the item as text, and a javascript: link.
	feed.items = append(feed.items, fmt.Sprintf(`<item><title>%s</title><link>javascript:alert(4)</link><guid>hostile</guid><pubDate>%s</pubDate><description>%s</description></item>`,
		xmlEscape(hostileTitle), now.Add(-time.Hour).UTC().Format(time.RFC1123Z), xmlEscape(`<a href="javascript:alert(5)">Xinjiang</a> ' onmouseover='alert(6)`)))
	for i := 1; i <= 3; i++ {
		feed.add(fmt.Sprintf("t-%d", i), fmt.Sprintf("Trade Bill vote %d", i), "the trade bill", now.Add(-time.Hour))
	}
	// One item no profile matches: the feed page lists it all the same.
	feed.add("quiet-1", xmlEscape("Weather <b>calm</b> today"), "sunny", now.Add(-2*time.Hour))
	feedSrv := httptest.NewServer(feed)
	t.Cleanup(feedSrv.Close)
	var refused atomic.Int64
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refused.Add(1)
		http.Error(w, "no such hook", http.StatusNotFound)
	}))
	t.Cleanup(refuse.Close)
	dir := t.TempDir()
	port := freePort(t)
	r := &consoleRig{refused: &refused, t: t, base: fmt.Sprintf("http://127.0.0.1:%d", port), feed: feed, out: &syncBuffer{}, logs: &syncBuffer{}}
	r.cfg = fmt.Sprintf(`data_dir: %s
http:
  listen: 127.0.0.1:%d
  admin: true
  auth:
    username: admin
    password_hash: '%s'
watcher:
  interval: 1s
  backfill: 24h
feeds:
  - url: %s/world.xml
    name: world
profiles:
  - name: xinjiang
    keywords: [Xinjiang]
    notify: [console, hook]
  - name: trade-bill
    keywords: [Trade Bill]
    notify: [console]
notifiers:
  console:
    type: console
  hook:
    type: webhook
    url: %s/hook
`, filepath.Join(dir, "data"), port, consoleHash, feedSrv.URL, refuse.URL)
	r.path = filepath.Join(dir, "feedwatch.yaml")
	if err := os.WriteFile(r.path, []byte(r.cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	r.client = &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	d := startDaemon(t, r.path, r.out, r.logs)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon log:\n%s", r.logs.String())
		}
		d.stop(t)
	})
	// Every hit indexed, and every hook delivery dead-lettered.
	waitFor(t, "63 hits on the console", 30*time.Second, func() bool {
		_, body := r.get("/hits?page=2", true)
		return strings.Contains(body, "page 2 of 2 (63)")
	})
	waitFor(t, "60 dead letters", 30*time.Second, func() bool {
		_, body := r.get("/dead?page=2", true)
		return strings.Contains(body, "page 2 of 2 (60)")
	})
	// The status pages show the feed polled (they read a status at most a
	// second old).
	waitFor(t, "the feed polled", 30*time.Second, func() bool {
		_, body := r.get("/feeds", true)
		return strings.Contains(body, `<span class="state ok">ok</span>`)
	})
	return r
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

func (r *consoleRig) get(path string, auth bool) (int, string) {
	r.t.Helper()
	req, err := http.NewRequest(http.MethodGet, r.base+path, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	if auth {
		req.SetBasicAuth("admin", "open sesame")
	}
	resp, err := r.client.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (r *consoleRig) post(path string, form url.Values, header map[string]string) (int, string, string) {
	r.t.Helper()
	req, err := http.NewRequest(http.MethodPost, r.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		r.t.Fatal(err)
	}
	req.SetBasicAuth("admin", "open sesame")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("Location")
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// token reads the form token off a page (and the jar keeps its cookie).
func (r *consoleRig) token(path string) string {
	r.t.Helper()
	_, body := r.get(path, true)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		r.t.Fatalf("no form token on %s:\n%s", path, body)
	}
	return m[1]
}

func TestConsole(t *testing.T) {
	r := newConsoleRig(t)

	t.Run("pages", func(t *testing.T) {
		for _, tc := range []struct {
			path string
			want []string
		}{
			{"/", []string{"<b>1</b> feeds", "<b>1</b> ok", `<a href="/profiles/xinjiang">xinjiang</a></td><td class="num">60</td>`, "<td>hook</td><td>webhook</td>", "Reload config", "archive on"}},
			{"/feeds", []string{`<a href="/feeds/world">world</a>`, `<span class="state ok">ok</span>`, "64"}},
			{"/feeds?q=nomatch", []string{"no feeds match"}},
			{"/feeds?state=failing", []string{"no feeds match"}},
			{"/feeds/world", []string{"Recent items", "since it started", "Xinjiang story 59", `<a href="/profiles/trade-bill">trade-bill</a>`, "page 1 of 2 (64)"}},
			{"/feeds/world?page=2", []string{"Weather calm today</a></h3>", "no profile"}},
			{"/profiles", []string{`<a href="/profiles/trade-bill">trade-bill</a></td>`, `<svg class="spark"`, `<td class="num">3</td>`, "console, hook"}},
			{"/profiles/xinjiang", []string{"<svg", `class="bar"`, "most in a day: 60", "camps in the <mark>Xinjiang</mark> region", "any of: Xinjiang", `name="for"`}},
			{"/hits", []string{"console: delivered", "hook: dead", "page 1 of 2 (63)"}},
			{"/hits?profile=trade-bill", []string{"<mark>Trade Bill</mark> vote 3", "console: delivered"}},
			{"/dead", []string{"status 404", "Replay", "Drop", "page 1 of 2 (60)"}},
			{"/members", []string{"<td>run</td>", "feeds configured", `<td class="num">1</td><td>`}},
			{"/", []string{"<h2>Members</h2>", "<td>run</td>"}},
			{"/static/console.css", []string{"prefers-color-scheme: dark"}},
		} {
			code, body := r.get(tc.path, true)
			if code != http.StatusOK {
				t.Errorf("%s: %d", tc.path, code)
				continue
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("%s lacks %q", tc.path, w)
				}
			}
		}
		if code, _ := r.get("/feeds/nope", true); code != http.StatusNotFound {
			t.Errorf("unknown feed: %d", code)
		}
		if code, _ := r.get("/profiles/nope", true); code != http.StatusNotFound {
			t.Errorf("unknown profile: %d", code)
		}
	})

	t.Run("headers", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, r.base+"/", nil)
		req.SetBasicAuth("admin", "open sesame")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for k, v := range map[string]string{
			"Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'",
			"X-Content-Type-Options":  "nosniff",
		} {
			if got := resp.Header.Get(k); !strings.HasPrefix(got, v) {
				t.Errorf("%s = %q, want %q", k, got, v)
			}
		}
	})

	t.Run("hostile feed text is inert", func(t *testing.T) {
		for _, p := range []string{"/hits?page=1", "/hits?page=2", "/feeds/world", "/feeds/world?page=2", "/profiles/xinjiang", "/profiles/xinjiang?page=2", "/dead", "/dead?page=2"} {
			_, body := r.get(p, true)
			for _, bad := range []string{"<script", "<img", "onerror=alert", "href=\"javascript:", "onmouseover='", "<b>Desk"} {
				if strings.Contains(body, bad) {
					t.Errorf("%s holds %q", p, bad)
				}
			}
		}
		// The text is there, escaped: the test is not vacuous.
		_, all := r.get("/hits?page=1", true)
		_, more := r.get("/hits?page=2", true)
		if !strings.Contains(all+more, "alert(3)") || !strings.Contains(all+more, "&#34;&gt;") || !strings.Contains(all+more, "&#39; onmouseover=&#39;alert(6)") {
			t.Errorf("hostile item not shown escaped")
		}
	})

	t.Run("auth", func(t *testing.T) {
		for _, p := range []string{"/", "/feeds", "/hits", "/dead", "/api/status", "/metrics", "/static/console.css"} {
			if code, _ := r.get(p, false); code != http.StatusUnauthorized {
				t.Errorf("%s without credentials: %d", p, code)
			}
		}
		for _, p := range []string{"/healthz", "/readyz"} {
			if code, _ := r.get(p, false); code != http.StatusOK {
				t.Errorf("%s without credentials: %d", p, code)
			}
		}
		req, _ := http.NewRequest(http.MethodGet, r.base+"/api/status", nil)
		req.SetBasicAuth("admin", "wrong")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("wrong password: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
		req.SetBasicAuth("root", "open sesame")
		if resp, err = http.DefaultClient.Do(req); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("wrong user: %d", resp.StatusCode)
		}
		if code, _, _ := r.post("/-/reload", nil, map[string]string{"Content-Type": "application/json", "Authorization": ""}); code != http.StatusUnauthorized {
			t.Errorf("reload without credentials: %d", code)
		}
	})

	t.Run("csrf", func(t *testing.T) {
		tok := r.token("/")
		if code, _, _ := r.post("/actions/reload", url.Values{}, nil); code != http.StatusForbidden {
			t.Errorf("no token: %d", code)
		}
		if code, _, _ := r.post("/actions/reload", url.Values{"csrf": {tok + "x"}}, nil); code != http.StatusForbidden {
			t.Errorf("bad token: %d", code)
		}
		if code, _, _ := r.post("/actions/reload", url.Values{"csrf": {tok}}, map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}); code != http.StatusForbidden {
			t.Errorf("cross-site with token: %d", code)
		}
		code, _, loc := r.post("/actions/reload", url.Values{"csrf": {tok}}, nil)
		if code != http.StatusSeeOther {
			t.Fatalf("good token: %d", code)
		}
		_, body := r.get(loc, true)
		if !strings.Contains(body, "config reload requested") {
			t.Errorf("no confirmation after reload")
		}
		waitFor(t, "reload logged", 10*time.Second, func() bool {
			return strings.Contains(r.logs.String(), "console action") && strings.Contains(r.logs.String(), "config reloaded")
		})
		// A forged confirmation is not shown.
		if _, body := r.get("/?done=all+your+feeds+are+deleted", true); strings.Contains(body, "all your feeds") {
			t.Errorf("unsigned message shown")
		}
	})

	t.Run("dead letters replay and drop", func(t *testing.T) {
		tok := r.token("/dead")
		_, body := r.get("/dead", true)
		ids := regexp.MustCompile(`name="id" value="(\d+)"`).FindAllStringSubmatch(body, -1)
		if len(ids) < 4 {
			t.Fatalf("ids on the dead page: %v", ids)
		}
		code, _, loc := r.post("/actions/drop", url.Values{"csrf": {tok}, "id": {ids[0][1]}}, nil)
		if code != http.StatusSeeOther {
			t.Fatalf("drop: %d", code)
		}
		if _, body := r.get(loc, true); !strings.Contains(body, "dead letter "+ids[0][1]+" dropped") || !strings.Contains(body, "(59)") {
			t.Errorf("drop not shown")
		}
		before := r.refused.Load()
		code, _, _ = r.post("/actions/replay", url.Values{"csrf": {tok}, "id": {ids[2][1]}}, nil)
		if code != http.StatusSeeOther {
			t.Fatalf("replay: %d", code)
		}
		// The hit goes to the hook again (which refuses it again), and
		// the letter leaves the list.
		waitFor(t, "replayed hit sent to the hook", 20*time.Second, func() bool { return r.refused.Load() > before })
		if _, body := r.get("/dead", true); strings.Contains(body, `name="id" value="`+ids[2][1]+`"`) {
			t.Errorf("replayed letter still listed")
		}
		if code, _, _ := r.post("/actions/drop", url.Values{"csrf": {tok}, "id": {"nope"}}, nil); code != http.StatusBadRequest {
			t.Errorf("bad id: %d", code)
		}
	})

	t.Run("mute", func(t *testing.T) {
		tok := r.token("/profiles/trade-bill")
		code, _, loc := r.post("/actions/mute", url.Values{"csrf": {tok}, "profile": {"trade-bill"}, "for": {"1h"}}, nil)
		if code != http.StatusSeeOther {
			t.Fatalf("mute: %d", code)
		}
		if _, body := r.get(loc, true); !strings.Contains(body, "<b>muted</b> until") || !strings.Contains(body, "Unmute") {
			t.Errorf("profile page does not say muted")
		}
		r.feed.add("t-muted", "Trade Bill muted story", "x", time.Now())
		r.feed.add("x-after", "Xinjiang after the mute", "x", time.Now())
		waitFor(t, "the unmuted profile's hit delivered", 20*time.Second, func() bool {
			return strings.Contains(r.out.String(), "Xinjiang after the mute")
		})
		waitFor(t, "the muted hit settled", 20*time.Second, func() bool {
			_, m := r.get("/metrics", true)
			return strings.Contains(m, `feedwatch_deliveries_total{notifier="console",result="muted"} 1`)
		})
		if strings.Contains(r.out.String(), "Trade Bill muted story") {
			t.Errorf("a muted profile's hit was delivered")
		}
		if _, body := r.get("/hits?profile=trade-bill", true); !strings.Contains(body, "Trade Bill</mark> muted story") || !strings.Contains(body, "console: muted") {
			t.Errorf("muted hit not listed as muted")
		}
		if code, _, _ := r.post("/actions/mute", url.Values{"csrf": {tok}, "profile": {"nope"}, "for": {"1h"}}, nil); code != http.StatusBadRequest {
			t.Errorf("unknown profile: %d", code)
		}
		if code, _, _ := r.post("/actions/mute", url.Values{"csrf": {tok}, "profile": {"trade-bill"}, "for": {"30d"}}, nil); code != http.StatusBadRequest {
			t.Errorf("too long: %d", code)
		}
		code, _, _ = r.post("/actions/mute", url.Values{"csrf": {tok}, "profile": {"trade-bill"}, "for": {"0"}}, nil)
		if _, body := r.get("/profiles/trade-bill", true); code != http.StatusSeeOther || strings.Contains(body, "<b>muted</b>") {
			t.Errorf("unmute: %d", code)
		}
		// The hit dropped by the mute stays shown as muted, not pending.
		if _, body := r.get("/hits?profile=trade-bill", true); !strings.Contains(body, "console: muted") || strings.Contains(body, "console: pending") {
			t.Errorf("after unmuting, the muted hit is not shown as muted")
		}
	})

	// The query box backtests the archive (on by default) with a query no
	// profile has.
	t.Run("query box", func(t *testing.T) {
		for _, tc := range []struct {
			q, since string
			want     []string
		}{
			{"vote", "7d", []string{"3 matches", "<mark>vote</mark> 3", "<mark>vote</mark> 1", `href="/feeds/world"`}},
			{`"trade bill" AND vote`, "1d", []string{"3 matches", "<mark>Trade Bill</mark> <mark>vote</mark> 2"}},
			{"onmouseover AND NOT story", "7d", []string{"1 match.", "<mark>onmouseover</mark>=&#39;alert(6)", "&#34;&gt; javascript:alert(3)"}},
			{"vote", "1m", []string{"0 matches"}}, // published an hour ago
			{"vote", "0", []string{"3 matches"}},  // the whole archive
			{"nothing-like-this", "7d", []string{"0 matches"}},
			{`vote AND (<script>alert(1)</script>`, "7d", []string{`class="error"`, "at column", `value="vote AND (&lt;script&gt;`}},
			{"vote", "forever", []string{`class="error"`, `since &#34;forever&#34;`}},
		} {
			_, body := r.get("/search?"+url.Values{"q": {tc.q}, "since": {tc.since}}.Encode(), true)
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("query %q since %s: the page lacks %q:\n%s", tc.q, tc.since, w, body)
				}
			}
			if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src") || strings.Contains(body, "archive off") {
				t.Errorf("query %q: unescaped or off:\n%s", tc.q, body)
			}
		}
	})

	t.Run("read-only", func(t *testing.T) {
		tok := r.token("/")
		cfg := strings.Replace(r.cfg, "admin: true", "admin: false", 1)
		if err := os.WriteFile(r.path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "read-only after the edit", 20*time.Second, func() bool {
			_, body := r.get("/", true)
			return strings.Contains(body, "read-only") && !strings.Contains(body, "Reload config")
		})
		for _, a := range []string{"reload", "mute", "replay", "drop"} {
			if code, _, _ := r.post("/actions/"+a, url.Values{"csrf": {tok}, "profile": {"xinjiang"}, "for": {"1h"}, "id": {"1"}}, nil); code != http.StatusForbidden {
				t.Errorf("%s in read-only mode: %d", a, code)
			}
		}
		if _, body := r.get("/dead", true); strings.Contains(body, "Replay") || strings.Contains(body, `name="csrf"`) {
			t.Errorf("read-only dead page offers actions")
		}
	})

	// archive.retention: 0 (here by reload) turns the query box off.
	t.Run("archive off", func(t *testing.T) {
		b, err := os.ReadFile(r.path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(r.path, append(b, "archive:\n  retention: 0\n"...), 0o600); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "archive off after the edit", 20*time.Second, func() bool {
			_, body := r.get("/", true)
			return strings.Contains(body, "archive off")
		})
		_, body := r.get("/search?q=vote", true)
		if !strings.Contains(body, "<b>archive off</b>") || strings.Contains(body, "<mark>") {
			t.Errorf("query box with the archive off:\n%s", body)
		}
	})
}

// TestExposed: the warning at start is for a non-loopback bind without
// http.auth only.
func TestExposed(t *testing.T) {
	auth := config.HTTPAuth{Username: "admin", PasswordHash: consoleHash}
	for _, tc := range []struct {
		loopback bool
		auth     config.HTTPAuth
		want     bool
	}{
		{true, config.HTTPAuth{}, false},
		{true, auth, false},
		{false, config.HTTPAuth{}, true},
		{false, auth, false},
	} {
		if got := exposed(tc.loopback, tc.auth); got != tc.want {
			t.Errorf("exposed(%v, auth %v) = %v", tc.loopback, tc.auth.Username != "", got)
		}
	}
}
