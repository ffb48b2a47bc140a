package route

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/item"
	"github.com/feedwatch/feedwatch/matcher"
)

// memPublisher is an in-memory Store.
type memPublisher struct {
	mu      sync.Mutex
	alerted map[string]bool
	claims  map[string]string
	hits    []hit.Hit
}

func (m *memPublisher) Alerted(_ context.Context, id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.alerted[id], nil
}

func (m *memPublisher) ClaimLink(_ context.Context, key, feed string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if o, ok := m.claims[key]; ok {
		return o, nil
	}
	m.claims[key] = feed
	return feed, nil
}

func (m *memPublisher) PublishHit(_ context.Context, h hit.Hit) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.alerted[h.ID] = true
	m.hits = append(m.hits, h)
	return nil
}

func TestSinkDedup(t *testing.T) {
	world := item.Feed{Name: "world", Tags: []string{"uk"}}
	asia := item.Feed{Name: "asia"}
	it := func(key, title, link string) item.Item {
		return item.Item{Key: key, Title: title, Link: link}
	}
	type poll struct {
		feed  item.Feed
		items []item.Item
	}
	for _, tc := range []struct {
		name  string
		polls []poll
		want  int
	}{
		{"same link through two feeds alerts once", []poll{
			{world, []item.Item{it("g_1", "Xinjiang", "https://News.example.org/a?utm_source=x#top")}},
			{asia, []item.Item{it("g_9", "Xinjiang", "https://news.example.org/a")}},
		}, 1},
		{"same item offered again alerts once", []poll{
			{world, []item.Item{it("g_1", "Xinjiang", "https://news.example.org/a")}},
			{world, []item.Item{it("g_1", "Xinjiang (updated)", "https://news.example.org/a")}},
		}, 1},
		{"live blog: new items of one feed sharing a link each alert", []poll{
			{world, []item.Item{it("g_1", "Xinjiang update 1", "https://news.example.org/live"), it("g_2", "Xinjiang update 2", "https://news.example.org/live")}},
			{world, []item.Item{it("g_3", "Xinjiang update 3", "https://news.example.org/live")}},
		}, 3},
		{"home-page links make no claim", []poll{
			{world, []item.Item{it("g_1", "Xinjiang one", "https://news.example.org/")}},
			{asia, []item.Item{it("g_2", "Xinjiang two", "https://news.example.org")}},
		}, 2},
		{"no link", []poll{
			{world, []item.Item{it("h_1", "Xinjiang one", "")}},
			{asia, []item.Item{it("h_1", "Xinjiang one", "")}},
		}, 1},
		{"scope: trade-bill only on tag uk", []poll{
			{asia, []item.Item{it("g_5", "Trade Bill", "https://news.example.org/tb")}},
			{world, []item.Item{it("g_6", "Trade Bill", "https://news.example.org/tb2")}},
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &config.Config{Profiles: []config.Profile{
				{Name: "xinjiang", Keywords: []string{"Xinjiang"}},
				{Name: "trade-bill", Keywords: []string{"Trade Bill"}, Feeds: []string{"tag:uk"}},
			}}
			rt, err := Compile(cfg.Profiles)
			if err != nil {
				t.Fatal(err)
			}
			pub := &memPublisher{alerted: map[string]bool{}, claims: map[string]string{}}
			s := NewRouter(rt, pub)
			for _, p := range tc.polls {
				if err := s.Handle(context.Background(), p.feed, p.items); err != nil {
					t.Fatal(err)
				}
			}
			if len(pub.hits) != tc.want {
				t.Fatalf("%d hits, want %d: %+v", len(pub.hits), tc.want, pub.hits)
			}
		})
	}
}

// TestHitSummary: item.summary is plain text of at most SummaryLimit
// characters, cut with "…", taken from the content when there is no summary.
func TestHitSummary(t *testing.T) {
	long := strings.Repeat("ğ", SummaryLimit+1)
	exact := strings.Repeat("ğ", SummaryLimit)
	for _, tc := range []struct {
		name             string
		summary, content string
		want             string
	}{
		{"short", "<p>Uyğur camps</p>", "", "Uyğur camps"},
		{"exactly the limit", exact, "", exact},
		{"cut on a character", long, "", strings.Repeat("ğ", SummaryLimit-1) + "…"},
		{"content when no summary", "", "<b>Xinjiang</b> report", "Xinjiang report"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHit(matcher.Result{Profile: "xinjiang"}, item.Feed{Name: "world"}, &item.Item{Key: "g_1", Summary: tc.summary, Content: tc.content}, time.Now())
			if h.Item.Summary != tc.want {
				t.Errorf("summary %q, want %q", h.Item.Summary, tc.want)
			}
		})
	}
}

// TestHitItemID: item.id is the GUID, else the link, else the item's key:
// never empty.
func TestHitItemID(t *testing.T) {
	for _, tc := range []struct {
		name string
		it   item.Item
		want string
	}{
		{"guid", item.Item{ID: "urn:1", Link: "https://example.org/1", Key: "g_1"}, "urn:1"},
		{"link without guid", item.Item{Link: "https://example.org/1", Key: "l_1"}, "https://example.org/1"},
		{"neither", item.Item{Title: "Xinjiang", Key: "h_1"}, "h_1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := NewHit(matcher.Result{Profile: "xinjiang"}, item.Feed{Name: "world"}, &tc.it, time.Now()).Item.ID; got != tc.want {
				t.Errorf("item.id %q, want %q", got, tc.want)
			}
		})
	}
}

// TestTableScopes: a profile sees an item only through a feed its scope
// admits, by name or tag; MatchAnyFeed sets scopes aside.
func TestTableScopes(t *testing.T) {
	tb, err := Compile([]config.Profile{
		{Name: "uk", Keywords: []string{"bill"}, Feeds: []string{"tag:uk"}},
		{Name: "asia", Keywords: []string{"bill"}, Feeds: []string{"asia"}},
		{Name: "all", Keywords: []string{"bill"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	it := &item.Item{Key: "g_1", Title: "Trade Bill"}
	names := func(f item.Feed) []string {
		var out []string
		for _, r := range tb.Match(f, it) {
			out = append(out, r.Profile)
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		feed    item.Feed
		want    []string
		outside []string
	}{
		{"tagged uk", item.Feed{Name: "world", Tags: []string{"news", "uk"}}, []string{"uk", "all"}, []string{"asia"}},
		{"named asia", item.Feed{Name: "asia"}, []string{"asia", "all"}, []string{"uk"}},
		{"untagged", item.Feed{Name: "other"}, []string{"all"}, []string{"uk", "asia"}},
		{"tag named like a feed is not the feed", item.Feed{Name: "x", Tags: []string{"asia"}}, []string{"all"}, []string{"uk", "asia"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := names(tc.feed); !slices.Equal(got, tc.want) {
				t.Errorf("profiles %v, want %v", got, tc.want)
			}
			if got := tb.Outside(tc.feed); !slices.Equal(got, tc.outside) {
				t.Errorf("outside %v, want %v", got, tc.outside)
			}
		})
	}
	if n := len(tb.MatchAnyFeed(it)); n != 3 {
		t.Errorf("MatchAnyFeed: %d results, want 3", n)
	}
	if !tb.Scoped() {
		t.Error("Scoped() false")
	}
}

// TestDryRunNeverClaims: a dry run (backtest) routes every match to Emit,
// the same link through two feeds included, and remembers nothing.
func TestDryRunNeverClaims(t *testing.T) {
	tb, err := Compile([]config.Profile{{Name: "x", Keywords: []string{"Xinjiang"}}})
	if err != nil {
		t.Fatal(err)
	}
	var got []hit.Hit
	r := NewRouter(tb, DryRun{Emit: func(_ context.Context, h hit.Hit) error {
		got = append(got, h)
		return nil
	}})
	it := []item.Item{{Key: "g_1", Title: "Xinjiang", Link: "https://news.example.org/a"}}
	for range 2 {
		for _, f := range []string{"world", "asia"} {
			if err := r.Handle(context.Background(), item.Feed{Name: f}, it); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(got) != 4 {
		t.Fatalf("%d hits, want 4 (no claims, no memory)", len(got))
	}
}

// TestBacktestRouting: stored items of a named feed go through the same
// scopes as the daemon's, with nothing claimed or remembered.
func TestBacktestRouting(t *testing.T) {
	cfg := &config.Config{
		Feeds: []config.Feed{{Name: "world", URL: "https://u:p@news.example.org/rss", Tags: []string{"uk"}}, {Name: "asia", URL: "https://asia.example.org/rss"}},
		Profiles: []config.Profile{
			{Name: "uk", Keywords: []string{"bill"}, Feeds: []string{"tag:uk"}},
			{Name: "all", Keywords: []string{"bill"}},
		},
	}
	tb, err := Compile(cfg.Profiles)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	r := NewRouter(tb, DryRun{Emit: func(_ context.Context, h hit.Hit) error {
		got[h.Feed.Name] = append(got[h.Feed.Name], h.Profile)
		return nil
	}})
	for _, name := range []string{"world", "asia"} {
		feed, ok := ConfiguredFeed(cfg, name)
		if !ok {
			t.Fatalf("no feed %q", name)
		}
		if strings.Contains(feed.URL, "p@") {
			t.Errorf("feed URL keeps credentials: %s", feed.URL)
		}
		if err := r.Handle(context.Background(), feed, []item.Item{{Key: "g_" + name, Title: "Trade Bill", Link: "https://x.example.org/a"}}); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(got["world"], []string{"uk", "all"}) || !slices.Equal(got["asia"], []string{"all"}) {
		t.Errorf("routed %v", got)
	}
	if _, ok := ConfiguredFeed(cfg, "nope"); ok {
		t.Error("unknown feed found")
	}
}
