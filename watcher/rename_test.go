package watcher

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// renameRig polls one URL under successive feed names, with the same
// seen-state and feed-state stores: a config edited between runs (or by a
// reload).
type renameRig struct {
	t     *testing.T
	ds    *docServer
	clock *fakeClock
	seen  *memSeen
	state *memState
	log   syncBuffer
	// failAlias fails reads of alias records.
	failAlias atomic.Bool
}

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

func newRenameRig(t *testing.T, doc string) *renameRig {
	return &renameRig{t: t, ds: newDocServer(t, doc), clock: &fakeClock{t: t0}, seen: newMemSeen(), state: newMemState()}
}

// run polls the feed configured as name at url (the rig's server when
// ""), with configured the names in the config now (nil: name alone), and
// returns the titles delivered. The clock first moves past any schedule.
func (r *renameRig) run(name, url string, configured []string) []string {
	r.t.Helper()
	w, f, sink := r.watcher(name, url, configured)
	// Past the schedule a previous run stored (interval 5 min + jitter),
	// then to the feed's place in the restart spread.
	r.clock.Add(10 * time.Minute)
	for range 3 {
		next, stop := w.pollFeed(context.Background(), f)
		if stop {
			r.t.Fatalf("feed %q stopped", name)
		}
		if f.st.LastPoll.Equal(r.clock.Now()) {
			return sink.titles()
		}
		r.clock.t = next
	}
	r.t.Fatalf("feed %q not polled", name)
	return nil
}

// watcher makes a watcher of the one feed name at url (see run).
func (r *renameRig) watcher(name, url string, configured []string) (*Watcher, *feed, *recSink) {
	r.t.Helper()
	if url == "" {
		url = r.ds.srv.URL
	}
	sink := &recSink{}
	o := testOptions(Options{
		Feeds: []FeedConfig{{Name: name, URL: url}},
		Sink:  sink, Seen: r.seen, State: aliasFailer{r}, Now: r.clock.Now,
		Logger: slog.New(slog.NewTextHandler(&r.log, nil)),
	})
	if configured != nil {
		o.Configured = func(n string) bool { return slices.Contains(configured, n) }
	}
	w, err := New(o)
	if err != nil {
		r.t.Fatal(err)
	}
	return w, &feed{cfg: o.Feeds[0], name: name, host: hostOf(url), index: -1}, sink
}

// aliasFailer is the rig's state store, failing reads of alias records
// while the rig says so.
type aliasFailer struct{ r *renameRig }

func (a aliasFailer) Load(ctx context.Context, feed string) ([]byte, error) {
	if IsAliasName(feed) && a.r.failAlias.Load() {
		return nil, errBoom
	}
	return a.r.state.Load(ctx, feed)
}

func (a aliasFailer) Save(ctx context.Context, feed string, b []byte) error {
	return a.r.state.Save(ctx, feed, b)
}

func (r *renameRig) stored(name string) feedState {
	r.t.Helper()
	b, _ := r.state.Load(context.Background(), name)
	st, err := decodeState(b)
	if err != nil {
		r.t.Fatal(err)
	}
	return st
}

// renameDoc has GUID-only items (no link: the cross-feed link claim of the
// daemon cannot catch them) and an item of each other kind of key (link,
// title and date, GUID with a link key beside, GUID repeated for another
// link), all published within the backfill window.
func renameDoc(extra ...string) string {
	entries := []string{
		"g1|guid one||" + recent(time.Hour),
		"g2|guid two||" + recent(2*time.Hour),
		"|link only|https://example.org/l|" + recent(3*time.Hour),
		"|hashed||" + recent(3*time.Hour),
		"g5|guid and link|https://example.org/5|" + recent(3*time.Hour),
		"g6|guid repeated a|https://example.org/6a|" + recent(3*time.Hour),
		"g6|guid repeated b|https://example.org/6b|" + recent(3*time.Hour),
	}
	return rssDoc(append(entries, extra...)...)
}

// TestRenameAdoptsState: a feed renamed in the config (same URL) adopts
// its former name's state: nothing the former name delivered is delivered
// again, new items are; the former name's state is retired, so a rename
// back adopts the newer name's state in turn.
func TestRenameAdoptsState(t *testing.T) {
	r := newRenameRig(t, renameDoc())
	if got := r.run("old", "", nil); len(got) != 7 {
		t.Fatalf("first poll delivered %v, want 7 items", got)
	}
	if got := r.run("new", "", nil); len(got) != 0 {
		t.Fatalf("renamed feed delivered %v again", got)
	}
	if !strings.Contains(r.log.String(), "feed renamed: adopting the state of old") {
		t.Errorf("no rename logged:\n%s", r.log.String())
	}
	if st := r.stored("new"); !st.Primed || !slices.Equal(st.RenamedFrom, []string{"old"}) || st.ConfigURL != r.ds.srv.URL {
		t.Errorf("new's state after adopting old's: %+v", st)
	}
	if b, _ := r.state.Load(context.Background(), "old"); string(b) != `{"renamed_to":"new"}` {
		t.Errorf("old's state not retired: %s", b)
	}
	// New items alert, a GUID repeated for another link among them; an
	// item whose GUID changed while its link stayed does not.
	doc := strings.Replace(renameDoc("g3|guid three||"+recent(time.Minute), "g6|guid repeated c|https://example.org/6c|"+recent(time.Minute)),
		">g5<", ">g5 changed<", 1)
	r.ds.set(doc)
	if got := r.run("new", "", nil); !slices.Equal(got, []string{"guid three", "guid repeated c"}) {
		t.Fatalf("renamed feed, next poll delivered %v, want [guid three, guid repeated c]", got)
	}
	if st := r.stored("new"); st.RenamedFrom != nil {
		t.Errorf("new's state after its first document: renamed_from %q", st.RenamedFrom)
	}
	// Renamed back: the keys under "old" lack guid three.
	r.ds.set(renameDoc("g3|guid three||"+recent(time.Minute), "g6|guid repeated c|https://example.org/6c|"+recent(time.Minute),
		"g4|guid four||"+recent(time.Minute)))
	if got := r.run("old", "", nil); !slices.Equal(got, []string{"guid four"}) {
		t.Fatalf("renamed back, delivered %v, want [guid four]", got)
	}
}

// TestRenameAdoptionSurvivesUnparsedPolls: the former name's seen keys
// count until the renamed feed's first delivered document, however many
// polls (304s, a restart) come before it.
func TestRenameAdoptionSurvivesUnparsedPolls(t *testing.T) {
	r := newRenameRig(t, renameDoc())
	var notModified bool
	var mu sync.Mutex
	r.ds.hook = func(w http.ResponseWriter, _ *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if notModified {
			w.WriteHeader(http.StatusNotModified)
			return true
		}
		return false
	}
	if got := r.run("old", "", nil); len(got) != 7 {
		t.Fatalf("first poll delivered %v", got)
	}
	mu.Lock()
	notModified = true
	mu.Unlock()
	r.run("new", "", nil) // adopts, polls: 304
	if st := r.stored("new"); !slices.Equal(st.RenamedFrom, []string{"old"}) {
		t.Fatalf("state saved before the first document: renamed_from %q, want old", st.RenamedFrom)
	}
	mu.Lock()
	notModified = false
	mu.Unlock()
	r.ds.set(renameDoc("g3|guid three||" + recent(time.Minute)))
	if got := r.run("new", "", nil); !slices.Equal(got, []string{"guid three"}) { // a restart: state loaded again
		t.Fatalf("delivered %v, want [guid three]", got)
	}
}

// TestRenameChainAfterLostSave: a feed renamed twice, whose state write
// after its first delivered document was lost (a crash between the seen
// write and the state write), still says it adopted from its own former
// name: the next name checks both former names' seen items.
func TestRenameChainAfterLostSave(t *testing.T) {
	r := newRenameRig(t, renameDoc())
	r.run("old", "", nil)
	r.run("new", "", nil) // adopts old's state; same body: nothing parsed
	adopted, _ := r.state.Load(context.Background(), "new")
	r.ds.set(renameDoc("g3|guid three||" + recent(time.Minute)))
	if got := r.run("new", "", nil); !slices.Equal(got, []string{"guid three"}) {
		t.Fatalf("new delivered %v, want [guid three]", got)
	}
	if err := r.state.Save(context.Background(), "new", adopted); err != nil { // the lost write
		t.Fatal(err)
	}
	if got := r.run("third", "", nil); len(got) != 0 {
		t.Fatalf("renamed again, delivered %v again", got)
	}
}

// TestRenameTwiceBeforeADocument: renamed again before its first
// delivered document, a feed's items are still found under the first name.
func TestRenameTwiceBeforeADocument(t *testing.T) {
	r := newRenameRig(t, renameDoc())
	r.run("old", "", nil)
	r.run("new", "", nil) // adopts old's state; same body: nothing parsed
	r.ds.set(renameDoc("g3|guid three||" + recent(time.Minute)))
	if got := r.run("third", "", nil); !slices.Equal(got, []string{"guid three"}) {
		t.Fatalf("renamed twice, delivered %v, want [guid three]", got)
	}
}

// TestRenameLookupFails: when the former names cannot be looked up, the
// feed is not polled (it could alert again what they showed) but tried
// again, as when its own state cannot be read.
func TestRenameLookupFails(t *testing.T) {
	r := newRenameRig(t, renameDoc())
	r.run("old", "", nil)
	r.failAlias.Store(true)
	w, f, sink := r.watcher("new", "", nil)
	r.clock.Add(10 * time.Minute)
	next, _ := w.pollFeed(context.Background(), f)
	if got := sink.titles(); len(got) != 0 || f.loaded || next.Before(r.clock.Now().Add(time.Second)) {
		t.Fatalf("lookup failed: delivered %v, loaded %v, next in %s", got, f.loaded, next.Sub(r.clock.Now()))
	}
	r.failAlias.Store(false)
	if got := r.run("new", "", nil); len(got) != 0 {
		t.Fatalf("after the failure, delivered %v again", got)
	}
}

// TestRenameNoAdoption: a new name adopts nothing when the former name is
// still configured (a second feed of the same URL is a feed of its own)
// or when it is at another URL: backfill as usual, the former state kept.
func TestRenameNoAdoption(t *testing.T) {
	for _, tc := range []struct {
		name       string
		otherURL   bool
		configured []string
	}{
		{"old name still configured", false, []string{"old", "new"}},
		{"another url", true, []string{"new"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRenameRig(t, renameDoc())
			r.run("old", "", nil)
			url := ""
			if tc.otherURL {
				url = newDocServer(t, renameDoc()).srv.URL
			}
			if got := r.run("new", url, tc.configured); len(got) != 7 {
				t.Fatalf("new feed delivered %v, want its 7 recent items", got)
			}
			if strings.Contains(r.log.String(), "feed renamed") {
				t.Errorf("rename logged:\n%s", r.log.String())
			}
			if st := r.stored("old"); st.ConfigURL != r.ds.srv.URL || !st.Primed {
				t.Errorf("old's state changed: %+v", st)
			}
		})
	}
}

// TestSchedulerHoldsRenamedWhileFormerPolls: a reload that removes a feed
// and adds another of its URL while the first one's poll runs does not
// start the new one's first visit (which may adopt the state) until that
// poll has ended and written what it saw.
func TestSchedulerHoldsRenamedWhileFormerPolls(t *testing.T) {
	s, clock := newTestScheduler(t, 4, 2, []FeedConfig{{Name: "old", URL: "http://x.example/f"}})
	clock.Add(3 * time.Second)
	s.dispatch()
	run := started(s)
	if len(run) != 1 {
		t.Fatalf("started %v", run)
	}
	s.w.SetFeeds([]FeedConfig{{Name: "new", URL: "http://x.example/f"}})
	s.applyPending()
	clock.Add(3 * time.Second)
	s.dispatch()
	if got := started(s); len(got) != 0 {
		t.Fatalf("new started while old's poll runs: %v", got[0].name)
	}
	s.finish(done{f: run[0], next: clock.Now()})
	clock.Add(time.Second)
	s.dispatch()
	if got := started(s); len(got) != 1 || got[0].name != "new" {
		t.Fatalf("new not started after old's poll ended: %v", got)
	}
}

// TestRenameToMovedURL: a feed that moved permanently (301), configured
// afterwards at the URL it moved to under another name (a feed without
// name: takes its URL's), adopts the state it had under its former name.
func TestRenameToMovedURL(t *testing.T) {
	r := newRenameRig(t, renameDoc())
	r.ds.hook = func(w http.ResponseWriter, req *http.Request) bool {
		if req.URL.Path == "/old" {
			http.Redirect(w, req, "/new", http.StatusMovedPermanently)
			return true
		}
		return false
	}
	if got := r.run("old", r.ds.srv.URL+"/old", nil); len(got) != 7 {
		t.Fatalf("first poll delivered %v, want 7 items", got)
	}
	if st := r.stored("old"); st.MovedTo != r.ds.srv.URL+"/new" || !st.MoveAliased {
		t.Fatalf("move not recorded with its alias: %+v", st)
	}
	if got := r.run("new", r.ds.srv.URL+"/new", []string{"new"}); len(got) != 0 {
		t.Fatalf("feed configured at the moved-to url delivered %v again", got)
	}
	if st := r.stored("new"); st.ConfigURL != r.ds.srv.URL+"/new" || st.MovedTo != "" || !st.Primed {
		t.Errorf("adopted state: %+v", st)
	}
}
