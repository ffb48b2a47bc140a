package backtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/archive"
	"github.com/feedwatch/feedwatch/bus"
	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/item"
	"github.com/feedwatch/feedwatch/route"
	"github.com/feedwatch/feedwatch/watcher"
)

func openBus(t *testing.T) *bus.Bus { t.Helper(); return openBusAt(t, t.TempDir()) }

func openBusAt(t *testing.T, dir string) *bus.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := bus.Open(ctx, bus.Options{DataDir: dir, Retention: time.Hour,
		Archive: bus.ArchiveOptions{Retention: 24 * time.Hour * 365 * 10, MaxBytes: 256 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// archiveAll archives items as the daemon does (keys from the watcher).
func archiveAll(t *testing.T, b *bus.Bus, feed item.Feed, items []item.Item) {
	t.Helper()
	for i := range items {
		items[i].Key = watcher.ItemKey(feed.Name, items[i])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := b.Archiver().Put(feed, items).Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

// Random items and queries over a small vocabulary (words in several
// spellings, markup and entities between them), so that the full query
// language has something to match.
var (
	words = [][]string{
		{"trade", "Trade", "TRADE", "ｔｒａｄｅ"}, {"bill", "Bill", "BILL"}, {"billing"}, {"the", "The"},
		{"uyghur", "Uyghurs", "Uyğur"}, {"camps", "camp"}, {"re-education", "re education"},
		{"zürich", "ZÜRICH"}, {"新疆", "维吾尔"}, {"cricket"}, {"vote", "votes"}, {"a<b", "x&y", "AT&amp;T", "&lt;tag&gt;", "&amp;amp;", "&amp;lt;b&amp;gt;"},
	}
	seps       = []string{" ", " ", ", ", ". ", "\n", " <b>", "</b> ", " &amp; ", "—", " <p>", " &lt; ", " > ", "&nbsp;"}
	queryWords = []string{"trade", "bill", "billing", "the", "uyghur", "uygur", "camps", "re-education", "zurich",
		"新疆", "cricket", "vote", "absent", "a", "b", "x", "y", "at", "t", "tag"}
	regexps = []string{`/bil+/`, `/^trade/`, `/\bvot/`, `/c[a-z]+ket/`, `/新/`, `/a<b/`, `/x&y/`}
	fields  = []string{"title", "summary", "content", "author", "category", "link"}
)

func genText(r *rand.Rand) string {
	var b strings.Builder
	for range r.IntN(14) {
		forms := words[r.IntN(len(words))]
		b.WriteString(forms[r.IntN(len(forms))])
		b.WriteString(seps[r.IntN(len(seps))])
	}
	return b.String()
}

func genQuery(r *rand.Rand, depth int) string {
	if depth > 3 || r.IntN(3) == 0 {
		w := func() string { return queryWords[r.IntN(len(queryWords))] }
		switch r.IntN(8) {
		case 0, 1, 2:
			return w()
		case 3:
			return string([]rune(w())[:1]) + "*"
		case 4:
			return fmt.Sprintf("%q", w()+" "+w())
		case 5:
			return fmt.Sprintf("%q~%d", w()+" "+w(), r.IntN(4))
		case 6:
			return fields[r.IntN(len(fields))] + ":" + w()
		default:
			return regexps[r.IntN(len(regexps))]
		}
	}
	a, b := genQuery(r, depth+1), genQuery(r, depth+1)
	switch r.IntN(6) {
	case 0:
		return a + " " + b
	case 1:
		return a + " AND " + b
	case 2, 3:
		return a + " OR " + b
	case 4:
		return "NOT " + a
	default:
		return fields[r.IntN(3)] + ":(" + a + " OR " + b + ")"
	}
}

func genItem(r *rand.Rand, i int) item.Item {
	it := item.Item{ID: fmt.Sprintf("id-%d", i), Title: genText(r), Summary: genText(r), Content: genText(r)}
	if r.IntN(4) > 0 {
		it.Link = fmt.Sprintf("https://news.example.org/%d/%s", i, strings.Fields(genText(r) + " x")[0])
	}
	if r.IntN(3) == 0 {
		it.Authors = []string{genText(r)}
	}
	if r.IntN(3) == 0 {
		it.Categories = []string{genText(r), genText(r)}
	}
	if r.IntN(5) > 0 {
		p := time.Date(2026, 1, 1+r.IntN(30), r.IntN(24), 0, 0, 0, time.UTC)
		it.Published = &p
	}
	return it
}

func withoutTime(hs []hit.Hit) []hit.Hit {
	out := make([]hit.Hit, len(hs))
	for i, h := range hs {
		h.DetectedAt = time.Time{}
		out[i] = h
	}
	return out
}

// A backtest finds exactly the hits that routing the same items when they
// were new finds: the same profiles (scopes included), hit ids, matched
// words, snippets and item fields, over generated items and queries using
// the whole query language.
func TestBacktestEqualsLiveRouting(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 2026))
	b := openBus(t)
	feeds := []item.Feed{
		{Name: "world", URL: "https://example.org/world", Title: "World", Tags: []string{"news"}},
		{Name: "uk", URL: "https://example.org/uk", Title: "UK", Tags: []string{"news", "uk"}},
		{Name: "sport", URL: "https://example.org/sport", Title: "Sport"},
	}
	cfg := &config.Config{}
	for _, f := range feeds {
		cfg.Feeds = append(cfg.Feeds, config.Feed{Name: f.Name, URL: f.URL, Tags: f.Tags})
	}
	scopes := [][]string{nil, nil, {"world"}, {"tag:uk"}, {"sport", "tag:news"}}
	for i := range 60 {
		p := config.Profile{Name: fmt.Sprintf("p%d", i), Query: genQuery(r, 0), Feeds: scopes[r.IntN(len(scopes))]}
		if r.IntN(4) == 0 {
			p.Keywords = []string{queryWords[r.IntN(len(queryWords))], "trade bill"}
		}
		if r.IntN(5) == 0 {
			p.Exclude = []string{queryWords[r.IntN(len(queryWords))]}
		}
		cfg.Profiles = append(cfg.Profiles, p)
	}
	table, err := route.Compile(cfg.Profiles)
	if err != nil {
		t.Fatal(err)
	}
	var want []hit.Hit
	live := route.NewRouter(table, route.DryRun{Emit: func(_ context.Context, h hit.Hit) error {
		want = append(want, h)
		return nil
	}})
	n := 0
	for round := range 4 {
		for _, f := range feeds {
			items := make([]item.Item, 50)
			for i := range items {
				items[i] = genItem(r, n)
				items[i].Feed = f
				n++
			}
			archiveAll(t, b, f, items)
			if err := live.Handle(context.Background(), f, items); err != nil {
				t.Fatal(err)
			}
		}
		_ = round
	}
	var got []hit.Hit
	st, err := Run(context.Background(), b, Options{Table: table, Feed: ConfiguredFeeds(cfg), Workers: 3}, func(h hit.Hit) error {
		got = append(got, h)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Read != uint64(n) || st.Hits != uint64(len(want)) {
		t.Errorf("stats %+v: want %d read, %d hits", st, n, len(want))
	}
	if len(want) < 100 {
		t.Fatalf("only %d live hits: the generator matches too little to compare", len(want))
	}
	gw, ww := withoutTime(got), withoutTime(want)
	if !reflect.DeepEqual(gw, ww) {
		for i := range min(len(gw), len(ww)) {
			if !reflect.DeepEqual(gw[i], ww[i]) {
				t.Fatalf("hit %d differs:\n got %+v\nwant %+v", i, gw[i], ww[i])
			}
		}
		t.Fatalf("%d hits, want %d", len(gw), len(ww))
	}
}

func TestBacktestWindowAndFeed(t *testing.T) {
	b := openBus(t)
	now := time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC)
	day := func(d int) *time.Time { p := now.AddDate(0, 0, -d); return &p }
	world, uk := item.Feed{Name: "world"}, item.Feed{Name: "uk"}
	archiveAll(t, b, world, []item.Item{
		{ID: "1", Title: "xinjiang old", Published: day(40)},
		{ID: "2", Title: "xinjiang recent", Published: day(3)},
		{ID: "3", Title: "xinjiang undated"}, // counts from its archiving time: now, really
	})
	archiveAll(t, b, uk, []item.Item{{ID: "4", Title: "xinjiang uk", Published: day(1)}, {ID: "5", Title: "other", Published: day(1)}})
	table, err := route.Compile([]config.Profile{{Name: "x", Keywords: []string{"xinjiang"}}})
	if err != nil {
		t.Fatal(err)
	}
	run := func(o Options) string {
		t.Helper()
		o.Table = table
		var ts []string
		if _, err := Run(context.Background(), b, o, func(h hit.Hit) error {
			ts = append(ts, h.Item.Title)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return strings.Join(ts, "|")
	}
	// The undated item was archived now (real time), after every window start.
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"all", Options{}, "xinjiang old|xinjiang recent|xinjiang undated|xinjiang uk"},
		{"since 7d", Options{Since: now.AddDate(0, 0, -7)}, "xinjiang recent|xinjiang undated|xinjiang uk"},
		{"since 2d", Options{Since: now.AddDate(0, 0, -2)}, "xinjiang undated|xinjiang uk"},
		{"feed world", Options{OnlyFeed: "world", Since: now.AddDate(0, 0, -7)}, "xinjiang recent|xinjiang undated"},
		{"feed uk", Options{OnlyFeed: "uk"}, "xinjiang uk"},
		{"limit", Options{Limit: 2}, "xinjiang old|xinjiang recent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := run(tt.o); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBacktestErrors(t *testing.T) {
	table, err := route.Compile([]config.Profile{{Name: "x", Keywords: []string{"x"}}})
	if err != nil {
		t.Fatal(err)
	}
	emit := func(hit.Hit) error { return nil }
	t.Run("empty", func(t *testing.T) {
		if _, err := Run(context.Background(), openBus(t), Options{Table: table}, emit); !errors.Is(err, ErrEmpty) {
			t.Errorf("err = %v, want ErrEmpty", err)
		}
	})
	t.Run("off", func(t *testing.T) {
		ctx := context.Background()
		b, err := bus.Open(ctx, bus.Options{DataDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		if _, err := Run(ctx, b, Options{Table: table}, emit); !errors.Is(err, ErrNoArchive) {
			t.Errorf("err = %v, want ErrNoArchive", err)
		}
	})
	t.Run("bad query", func(t *testing.T) {
		_, err := QueryArchive(context.Background(), openBus(t), nil, `a AND (b`, 0, 0)
		if err == nil || !strings.Contains(err.Error(), "column 7") {
			t.Errorf("err = %v, want the column", err)
		}
	})
}

func TestQueryArchive(t *testing.T) {
	b := openBus(t)
	archiveAll(t, b, item.Feed{Name: "world"}, []item.Item{
		{ID: "1", Title: "Trade Bill vote"}, {ID: "2", Title: "cricket"}, {ID: "3", Title: "the trade bill again"},
	})
	hs, err := QueryArchive(context.Background(), b, nil, `"trade bill"`, time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 2 || hs[0].Profile != "query" || len(hs[0].Matches) == 0 || !strings.Contains(hs[0].Snippet, "«") {
		t.Errorf("hits %+v", hs)
	}
	// The newest first, at most limit.
	hs, err = QueryArchive(context.Background(), b, nil, `"trade bill"`, 0, 1)
	if err != nil || len(hs) != 1 || hs[0].Item.Title != "the trade bill again" {
		t.Errorf("limit 1: %+v, %v", hs, err)
	}
}

// fakeArchive serves messages from memory.
type fakeArchive []bus.ArchiveMsg

func (f fakeArchive) ArchiveInfo(context.Context) (bus.ArchiveInfo, error) {
	return bus.ArchiveInfo{Msgs: uint64(len(f))}, nil
}

func (f fakeArchive) ReadArchive(_ context.Context, _ time.Time, fn func(bus.ArchiveMsg) error) error {
	for i, m := range f {
		m.Seq = uint64(i + 1)
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

func record(key, title string) archive.Record {
	return archive.FromItem(item.Feed{Name: "f"}, &item.Item{Key: key, Title: title}, time.Now())
}

func batchOf(t *testing.T, recs ...archive.Record) []byte {
	t.Helper()
	w, err := archive.NewBatchWriter()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ids := make([]archive.ID, len(recs))
	for i := range recs {
		ids[i] = recs[i].Identity()
	}
	data, _, err := w.AppendBatch(nil, nil, recs, ids)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// A message that cannot be read (a record, or a batch: damaged,
// truncated, not zstd, a zip bomb) is counted and reported, naming its
// stream sequence, after the others were matched.
func TestBacktestDamagedMessage(t *testing.T) {
	table, err := route.Compile([]config.Profile{{Name: "x", Keywords: []string{"xinjiang"}}})
	if err != nil {
		t.Fatal(err)
	}
	one, two := record("k1", "xinjiang"), record("k2", "xinjiang")
	good := batchOf(t, record("k3", "xinjiang"), record("k4", "xinjiang"))
	flipped := slices.Clone(good)
	flipped[len(flipped)-6] ^= 0xff
	for name, bad := range map[string]bus.ArchiveMsg{
		"record":         {Data: []byte("junk")},
		"batch":          {Batch: true, Data: []byte("junk")},
		"batch flipped":  {Batch: true, Data: flipped},
		"batch cut":      {Batch: true, Data: good[:len(good)-3]},
		"batch too long": {Batch: true, Data: append(slices.Clone(good[:2]), 0xff, 0xff, 0xff, 0xff, 0x7f, 1)},
	} {
		t.Run(name, func(t *testing.T) {
			a := fakeArchive{{Data: one.Encode(nil)}, bad, {Data: two.Encode(nil)}, {Batch: true, Data: good}}
			n := 0
			st, err := Run(context.Background(), a, Options{Table: table}, func(hit.Hit) error { n++; return nil })
			if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "1 of 4") || !strings.Contains(err.Error(), "stream sequence 2") || st.Damaged != 1 {
				t.Errorf("err %v, stats %+v", err, st)
			}
			if n != 4 {
				t.Errorf("%d hits, want the 4 of the readable messages", n)
			}
		})
	}
}

// An item archived twice (two processes, or a restart, with two feeds
// carrying the same article) is read as its first copy: matched once, as
// that feed's item.
func TestBacktestFirstCopyWins(t *testing.T) {
	a := item.Item{ID: "1", Title: "xinjiang in world", Link: "https://example.org/a"}
	// After a restart (the write-side filter is per process), another feed
	// carries the same article: a second copy is written.
	dir := t.TempDir()
	b := openBusAt(t, dir)
	archiveAll(t, b, item.Feed{Name: "world"}, []item.Item{a, {ID: "2", Title: "xinjiang too", Link: "https://example.org/b"}})
	b.Close()
	b = openBusAt(t, dir)
	a2 := a
	a2.ID, a2.Title = "x", "xinjiang in uk"
	archiveAll(t, b, item.Feed{Name: "uk"}, []item.Item{a2})
	table, err := route.Compile([]config.Profile{{Name: "x", Keywords: []string{"xinjiang"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ feed, want string }{{"", "xinjiang in world|xinjiang too"}, {"uk", ""}} {
		var ts []string
		st, err := Run(context.Background(), b, Options{Table: table, OnlyFeed: tc.feed}, func(h hit.Hit) error {
			ts = append(ts, h.Item.Title)
			return nil
		})
		if got := strings.Join(ts, "|"); err != nil || got != tc.want || st.Read != 2 || st.Dups != 1 {
			t.Errorf("feed %q: %q, stats %+v, err %v; want %q", tc.feed, got, st, err, tc.want)
		}
	}
}
