package watcher

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/item"
)

// target records what reached a feed server.
type target struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
}

func newTarget(t *testing.T, body string) *target {
	tg := &target{}
	tg.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tg.mu.Lock()
		tg.reqs = append(tg.reqs, r.Clone(r.Context()))
		tg.mu.Unlock()
		fmt.Fprint(w, body)
	}))
	t.Cleanup(tg.srv.Close)
	return tg
}

func (tg *target) count() int {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return len(tg.reqs)
}

// clean fails when any request carried one of the feed's credentials.
func (tg *target) clean(t *testing.T) {
	t.Helper()
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if len(tg.reqs) == 0 {
		t.Fatal("no request reached the new origin")
	}
	for i, r := range tg.reqs {
		seen := r.URL.RawQuery + " " + fmt.Sprint(r.Header)
		if strings.Contains(seen, "secret") {
			t.Errorf("request %d to the new origin carried credentials: %s %v", i, r.URL, r.Header)
		}
		if _, _, ok := r.BasicAuth(); ok {
			t.Errorf("request %d to the new origin carried basic auth", i)
		}
	}
}

func (c *countHandler) messages(l slog.Level) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, r := range c.recs {
		if r.Level == l {
			s := r.Message
			r.Attrs(func(a slog.Attr) bool { s += " " + a.String(); return true })
			out = append(out, s)
		}
	}
	return out
}

func TestPermanentMoveToAnotherOrigin(t *testing.T) {
	body := rssDoc("1|one|https://example.org/1|" + recent(time.Hour))
	moved := newTarget(t, body) // another port: another origin
	var oldHits atomic.Int32
	old := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		oldHits.Add(1)
		http.Redirect(w, r, moved.srv.URL+"/feed?page=1", http.StatusMovedPermanently)
	}))
	defer old.Close()
	cfgURL := strings.Replace(old.URL, "://", "://alice:pw-secret@", 1) + "/old?token=q-secret"
	logs := &countHandler{}
	withCreds := func(o *Options) {
		o.Feeds[0].Headers = map[string]string{"X-Api-Key": "k-secret", "Authorization": "Bearer b-secret", "Cookie": "c=secret"}
		o.Logger = slog.New(logs)
	}
	h := newHarness(t, cfgURL, withCreds)
	h.poll()
	h.clock.Add(10 * time.Minute)
	h.poll()
	if st := h.status(); st.Result != "ok" && st.Result != "unchanged" {
		t.Fatalf("result %q: %s", st.Result, st.Error)
	}
	// Restart: the stored move is judged against the configured URL again.
	h2 := newHarness(t, cfgURL, withCreds)
	h2.w.opts.State, h2.w.opts.Seen = h.state, h.seen
	h2.clock.Add(time.Hour)
	next, _ := h2.poll() // loads state, schedules the overdue poll
	h2.clock.Add(next.Sub(h2.clock.Now()))
	h2.poll()

	if n := oldHits.Load(); n != 1 {
		t.Errorf("old url requested %d times, want 1", n)
	}
	if n := moved.count(); n != 3 {
		t.Errorf("new url requested %d times, want 3", n)
	}
	moved.clean(t)

	warns := logs.messages(slog.LevelWarn)
	if len(warns) != 1 {
		t.Fatalf("want one warning for the move, got %q", warns)
	}
	for _, o := range []string{"from=" + old.URL, "to=" + moved.srv.URL} {
		if !strings.Contains(warns[0], o) {
			t.Errorf("warning %q does not name %s", warns[0], o)
		}
	}
	if strings.Contains(warns[0], "secret") {
		t.Errorf("warning leaks a credential: %q", warns[0])
	}
	for _, w := range []*Watcher{h.w, h2.w} {
		st := w.Status()[0]
		if !strings.Contains(st.Notice, "another origin") || !strings.Contains(st.Notice, moved.srv.URL) {
			t.Errorf("status notice %q", st.Notice)
		}
		if strings.Contains(st.Notice+st.URL, "secret") {
			t.Errorf("status leaks a credential: %+v", st)
		}
	}
}

func TestPermanentMoveSameOriginKeepsCredentials(t *testing.T) {
	body := rssDoc("1|one|https://example.org/1|" + recent(time.Hour))
	var mu sync.Mutex
	var got []*http.Request
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	// An absolute Location: a relative one inherits the userinfo anyway.
	mux.HandleFunc("/old", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, srv.URL+"/new", http.StatusPermanentRedirect)
	})
	mux.HandleFunc("/new", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Clone(r.Context()))
		mu.Unlock()
		fmt.Fprint(w, body)
	})
	cfgURL := strings.Replace(srv.URL, "://", "://alice:pw@", 1) + "/old"
	h := newHarness(t, cfgURL, func(o *Options) { o.Feeds[0].Headers = map[string]string{"X-Api-Key": "k"} })
	h.poll()
	h.clock.Add(10 * time.Minute)
	h.poll()
	if st := h.w.Status()[0]; st.Notice != "" || st.URL != srv.URL+"/new" {
		t.Errorf("status %+v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("%d requests to the new url, want 2", len(got))
	}
	for i, r := range got {
		if user, _, _ := r.BasicAuth(); user != "alice" || r.Header.Get("X-Api-Key") != "k" {
			t.Errorf("request %d lost the credentials: user %q, headers %v", i, user, r.Header)
		}
	}
}

func TestPermanentMoveToHTTPRefused(t *testing.T) {
	body := rssDoc("1|one|https://example.org/1|" + recent(time.Hour))
	plain := newTarget(t, body)
	var tlsHits atomic.Int32
	tls := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tlsHits.Add(1)
		http.Redirect(w, r, plain.srv.URL+"/feed", http.StatusMovedPermanently)
	}))
	defer tls.Close()
	client := func(o *Options) { o.HTTPClient = tls.Client() }

	h := newHarness(t, tls.URL+"/feed", client)
	h.poll()
	st := h.status()
	if st.Result != "redirect" || !strings.Contains(st.Error, "https to http") || h.f.st.MovedTo != "" {
		t.Fatalf("status %+v, moved to %q", st, h.f.st.MovedTo)
	}
	if plain.count() != 0 {
		t.Errorf("the http url was fetched")
	}

	// A move stored by an older version is dropped at load.
	h2 := newHarness(t, tls.URL+"/feed", client)
	b, err := feedState{ConfigURL: tls.URL + "/feed", MovedTo: plain.srv.URL + "/feed", LastPoll: t0.Add(-time.Hour)}.encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := h2.state.Save(t.Context(), "f", b); err != nil {
		t.Fatal(err)
	}
	h2.clock.Add(time.Hour)
	next, _ := h2.poll() // loads state, schedules the overdue poll
	h2.clock.Add(next.Sub(h2.clock.Now()))
	h2.poll()
	if plain.count() != 0 || tlsHits.Load() != 2 {
		t.Errorf("after restart: %d requests to http, %d to https", plain.count(), tlsHits.Load())
	}
}

// TestPublishedFeedURL: the feed URL handed to the sink (and so to hits)
// has no userinfo and no credential values.
func TestPublishedFeedURL(t *testing.T) {
	ds := newDocServer(t, rssDoc("1|one|https://example.org/1|"+recent(time.Hour)))
	cfgURL := strings.Replace(ds.srv.URL, "://", "://alice:pw-s3cret@", 1) + "/feeds/path-s3cret/rss?token=t-s3cret&u=env-s3cret&lang=en"
	var mu sync.Mutex
	var got []string
	h := newHarness(t, cfgURL, func(o *Options) {
		o.Feeds[0].URLSecrets = []string{"path-s3cret", "t-s3cret", "env-s3cret"}
		o.Sink = SinkFunc(func(_ context.Context, f item.Feed, _ []item.Item) error {
			mu.Lock()
			got = append(got, f.URL)
			mu.Unlock()
			return nil
		})
		o.Backfill = BackfillOff
	})
	h.poll()
	mu.Lock()
	defer mu.Unlock()
	want := ds.srv.URL + "/feeds/REDACTED/rss?token=REDACTED&u=REDACTED&lang=en"
	if len(got) != 1 || got[0] != want {
		t.Fatalf("sink got feed urls %q, want [%q]", got, want)
	}
	if ds.last().URL.Path != "/feeds/path-s3cret/rss" {
		t.Errorf("the fetch itself lost the credentials: %s", ds.last().URL)
	}
}

// TestRelativeLinksCarryNoCredentials: item links resolved against the
// feed URL (published with hits) get neither its userinfo nor its query.
func TestRelativeLinksCarryNoCredentials(t *testing.T) {
	ds := newDocServer(t, rssDoc("1|a|/story/1|"+recent(time.Hour), "2|b|#frag|"+recent(time.Hour), "3|c|?page=2|"+recent(time.Hour)))
	src := strings.Replace(ds.srv.URL, "://", "://alice:pw-s3cret@", 1) + "/feeds/rss?token=t-s3cret"
	_, items, err := Fetch(context.Background(), src, testOptions(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{ds.srv.URL + "/story/1", ds.srv.URL + "/feeds/rss#frag", ds.srv.URL + "/feeds/rss?page=2"}
	for i, it := range items {
		if it.Link != want[i] {
			t.Errorf("link %d = %q, want %q", i, it.Link, want[i])
		}
	}
}
