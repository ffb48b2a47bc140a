package console

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/feedwatch/feedwatch/ownership"
)

// PageSize is how many rows a page shows.
const PageSize = 50

func (c *Console) routes() {
	m := http.NewServeMux()
	static, _ := fs.Sub(assets, "static")
	m.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	m.HandleFunc("GET /{$}", c.overview)
	m.HandleFunc("GET /feeds", c.feeds)
	m.HandleFunc("GET /feeds/{name}", c.feed)
	m.HandleFunc("GET /profiles", c.profiles)
	m.HandleFunc("GET /profiles/{name}", c.profile)
	m.HandleFunc("GET /hits", c.hits)
	m.HandleFunc("GET /dead", c.deadPage)
	m.HandleFunc("GET /members", c.members)
	m.HandleFunc("GET /search", c.search)
	m.HandleFunc("POST /actions/{action}", c.action)
	c.mux = m
}

func (c *Console) write(w http.ResponseWriter, r *http.Request, name string, p page) {
	c.writeStatus(w, r, http.StatusOK, name, p)
}

func (c *Console) writeStatus(w http.ResponseWriter, r *http.Request, code int, name string, p page) {
	p.Now = c.o.Now()
	st := c.snapshot()
	if st.Admin {
		p.Admin = true
		p.CSRF = c.csrf.token(w, r)
	}
	if done := r.URL.Query().Get("done"); p.Flash == "" && done != "" && c.csrf.sign("flash\x00"+done) == r.URL.Query().Get("sig") {
		p.Flash = done
	}
	b, err := render(name, p)
	if err != nil {
		c.log.Error("console page failed", "page", name, "err", err)
		http.Error(w, "page failed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// pager is the page links of a list.
type pager struct {
	Page, Pages, Total int
	Prev, Next         string
}

func pageOf(r *http.Request) int {
	n, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || n < 1 {
		return 1
	}
	return n
}

func newPager(r *http.Request, pageNo, total int) pager {
	p := pager{Page: pageNo, Total: total, Pages: max(1, (total+PageSize-1)/PageSize)}
	link := func(n int) string {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(n))
		return r.URL.Path + "?" + q.Encode()
	}
	if pageNo > 1 {
		p.Prev = link(min(pageNo-1, p.Pages))
	}
	if pageNo < p.Pages {
		p.Next = link(pageNo + 1)
	}
	return p
}

type profileRow struct {
	Profile
	Day     int
	MutedTo time.Time
	Spark   chart // hits per day, the list's small chart
}

type overviewData struct {
	Mode      string
	Ready     bool
	Feeds     int
	States    map[string]int
	Profiles  []profileRow
	Notifiers []Notifier
	Members   []ownership.Member
	Indexed   int
	Archive   bool
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request) {
	st := c.snapshot()
	now := c.o.Now()
	day := c.o.Index.Since(now.Add(-24 * time.Hour))
	d := overviewData{Mode: st.Mode, Ready: st.Ready, Feeds: len(st.Feeds), States: st.states, Notifiers: st.Notifiers,
		Members: st.Members, Indexed: c.o.Index.Len(), Archive: c.archiveOn()}
	mutes := c.mutes()
	for _, p := range st.Profiles {
		d.Profiles = append(d.Profiles, profileRow{Profile: p, Day: day[p.Name], MutedTo: mutes[p.Name]})
	}
	// The busiest first; a thousand profiles stay readable.
	slices.SortStableFunc(d.Profiles, func(a, b profileRow) int { return b.Day - a.Day })
	if len(d.Profiles) > 20 {
		d.Profiles = d.Profiles[:20]
	}
	c.write(w, r, "overview", page{Title: "Overview", Nav: "overview", D: d})
}

func (c *Console) mutes() map[string]time.Time {
	if c.o.Mutes == nil {
		return nil
	}
	return c.o.Mutes.List()
}

type feedsData struct {
	Q, State, Sort string
	Desc           bool
	Rows           []Feed
	Pager          pager
	States         map[string]int
	SortLinks      map[string]string
}

var feedSorts = map[string]func(a, b *Feed) int{
	"name":   func(a, b *Feed) int { return strings.Compare(a.Name, b.Name) },
	"state":  func(a, b *Feed) int { return strings.Compare(a.State(), b.State()) },
	"last":   func(a, b *Feed) int { return a.LastPoll.Compare(b.LastPoll) },
	"next":   func(a, b *Feed) int { return a.NextDue.Compare(b.NextDue) },
	"items":  func(a, b *Feed) int { return cmpFloat(a.ItemsPerDay, b.ItemsPerDay) },
	"errors": func(a, b *Feed) int { return a.Failures - b.Failures },
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (c *Console) feeds(w http.ResponseWriter, r *http.Request) {
	st := c.snapshot()
	q := r.URL.Query()
	d := feedsData{Q: strings.TrimSpace(q.Get("q")), State: q.Get("state"), Sort: q.Get("sort"), Desc: q.Get("desc") == "1", States: st.states}
	if feedSorts[d.Sort] == nil {
		d.Sort = "name"
	}
	rows := st.feedView(d.Q, d.State, d.Sort, d.Desc)
	pg := pageOf(r)
	d.Pager = newPager(r, pg, len(rows))
	lo := min((pg-1)*PageSize, len(rows))
	for _, f := range rows[lo:min(lo+PageSize, len(rows))] {
		d.Rows = append(d.Rows, *f)
	}
	d.SortLinks = map[string]string{}
	for k := range feedSorts {
		v := url.Values{}
		if d.Q != "" {
			v.Set("q", d.Q)
		}
		if d.State != "" {
			v.Set("state", d.State)
		}
		v.Set("sort", k)
		if k == d.Sort && !d.Desc {
			v.Set("desc", "1")
		}
		d.SortLinks[k] = "/feeds?" + v.Encode()
	}
	c.write(w, r, "feeds", page{Title: "Feeds", Nav: "feeds", D: d})
}

// feedView filters and sorts the feeds, remembering the last result:
// paging through a view sorts it once.
func (s *snapshot) feedView(q, state, sortBy string, desc bool) []*Feed {
	key := strings.Join([]string{q, state, sortBy, strconv.FormatBool(desc)}, "\x00")
	s.viewMu.Lock()
	defer s.viewMu.Unlock()
	if s.view != nil && s.viewKey == key {
		return s.view
	}
	needle := strings.ToLower(q)
	// Pointers, not copies: 50,000 feeds are filtered and sorted.
	rows := make([]*Feed, 0, len(s.Feeds))
	for i := range s.Feeds {
		f := &s.Feeds[i]
		if state != "" && f.State() != state {
			continue
		}
		if needle != "" && !strings.Contains(strings.ToLower(f.Name), needle) && !strings.Contains(strings.ToLower(f.URL), needle) {
			continue
		}
		rows = append(rows, f)
	}
	if sortBy != "name" || desc || !s.sorted {
		cmp := feedSorts[sortBy]
		slices.SortFunc(rows, func(a, b *Feed) int {
			c := cmp(a, b)
			if c == 0 {
				c = strings.Compare(a.Name, b.Name) // a stable order across pages
			}
			if desc {
				return -c
			}
			return c
		})
	}
	s.view, s.viewKey = rows, key
	return rows
}

type itemRow struct {
	Title, Link string
	Published   time.Time
	Seen        time.Time // when this process saw it; for an item known only by its hits, when it hit
	Profiles    []string
	Err         string
	ref         *Ref // an item known only by its hits: read its text from the newest
}

type feedData struct {
	Feed  Feed
	Items []itemRow
	Pager pager
}

// maxFeedHits is how many of a feed's indexed hits its page matches its
// items against.
const maxFeedHits = 10_000

func (c *Console) feed(w http.ResponseWriter, r *http.Request) {
	st := c.snapshot()
	name := r.PathValue("name")
	f, ok := st.feed(name)
	if !ok {
		c.notFound(w, r, "no feed named "+strconv.Quote(name))
		return
	}
	d := feedData{Feed: f}
	// Each item's profiles, from the hit index, newest hit first.
	refs, _ := c.o.Index.Recent(Filter{Feed: name}, 0, maxFeedHits)
	type hits struct {
		profiles []string
		newest   Ref
	}
	byItem := map[uint64]*hits{}
	var order []uint64
	for _, ref := range refs {
		h := byItem[ref.Item]
		if h == nil {
			h = &hits{newest: ref}
			byItem[ref.Item] = h
			order = append(order, ref.Item)
		}
		if !slices.Contains(h.profiles, ref.Profile) {
			h.profiles = append(h.profiles, ref.Profile)
		}
	}
	// The items this process saw, then those known only by their hits
	// (seen before a restart, or by another member of the cluster).
	var rows []itemRow
	done := map[uint64]bool{}
	for _, it := range c.o.Items.Feed(name) {
		if done[it.Key] {
			continue // handed on again (updated): the newest is shown
		}
		done[it.Key] = true
		row := itemRow{Title: it.Title, Link: it.Link, Published: it.Published, Seen: it.Seen}
		if h := byItem[it.Key]; h != nil {
			row.Profiles = h.profiles
		}
		rows = append(rows, row)
	}
	for _, k := range order {
		if done[k] {
			continue
		}
		h := byItem[k]
		rows = append(rows, itemRow{Seen: h.newest.At, Profiles: h.profiles, ref: &h.newest})
	}
	// Newest first by when seen, then by the published date: a feed's
	// future dates cannot pin an item to the top.
	slices.SortStableFunc(rows, func(a, b itemRow) int {
		if c := b.Seen.Compare(a.Seen); c != 0 {
			return c
		}
		return b.Published.Compare(a.Published)
	})
	pg := pageOf(r)
	d.Pager = newPager(r, pg, len(rows))
	lo := min((pg-1)*PageSize, len(rows))
	d.Items = rows[lo:min(lo+PageSize, len(rows))]
	var wg sync.WaitGroup
	sem := make(chan struct{}, readers)
	for i := range d.Items {
		row := &d.Items[i]
		if row.ref == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			h, err := c.hit(r.Context(), row.ref.Seq)
			if err != nil {
				row.Title, row.Err = "(hit not readable)", err.Error()
				return
			}
			row.Title, row.Link = h.Item.Title, h.Item.Link
			if h.Item.Published != nil {
				row.Published = *h.Item.Published
			}
		}()
	}
	wg.Wait()
	c.write(w, r, "feed", page{Title: "Feed " + name, Nav: "feeds", D: d})
}

// readers is how many hits (and their ledger entries) a page reads at
// once: each is a round trip to JetStream.
const readers = 8

// views reads the hits of refs, several at once, and runs each through
// more (nil: nothing) in the same worker; the order is kept.
func (c *Console) views(ctx context.Context, refs []Ref, more func(Ref, *hitView)) []hitView {
	out := make([]hitView, len(refs))
	sem := make(chan struct{}, readers)
	var wg sync.WaitGroup
	for i, ref := range refs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[i] = c.view(ctx, ref)
			if more != nil {
				more(ref, &out[i])
			}
		}()
	}
	wg.Wait()
	return out
}

func (c *Console) view(ctx context.Context, ref Ref) hitView {
	h, err := c.hit(ctx, ref.Seq)
	if err != nil {
		return hitView{Seq: ref.Seq, Profile: ref.Profile, Feed: ref.Feed, When: ref.At, Title: []seg{{Text: "(hit not readable)"}}, Err: err.Error()}
	}
	v := viewHit(h)
	v.Seq = ref.Seq
	return v
}

func (c *Console) notFound(w http.ResponseWriter, r *http.Request, msg string) {
	c.writeStatus(w, r, http.StatusNotFound, "notfound", page{Title: "Not found", D: msg})
}

type profilesData struct {
	Rows  []profileRow
	Pager pager
	Q     string
}

func (c *Console) profiles(w http.ResponseWriter, r *http.Request) {
	st := c.snapshot()
	now := c.o.Now()
	day := c.o.Index.Since(now.Add(-24 * time.Hour))
	mutes := c.mutes()
	d := profilesData{Q: strings.TrimSpace(r.URL.Query().Get("q"))}
	var rows []profileRow
	for _, p := range st.Profiles {
		if d.Q != "" && !strings.Contains(p.Name, strings.ToLower(d.Q)) {
			continue
		}
		rows = append(rows, profileRow{Profile: p, Day: day[p.Name], MutedTo: mutes[p.Name]})
	}
	pg := pageOf(r)
	d.Pager = newPager(r, pg, len(rows))
	lo := min((pg-1)*PageSize, len(rows))
	d.Rows = rows[lo:min(lo+PageSize, len(rows))]
	for i := range d.Rows {
		d.Rows[i].Spark = sparkline(c.o.Index.PerDay(d.Rows[i].Name, now, sparkDays), now)
	}
	c.write(w, r, "profiles", page{Title: "Profiles", Nav: "profiles", D: d})
}

type profileData struct {
	Profile Profile
	MutedTo time.Time
	Chart   chart
	Days    int
	Hits    []hitView
	Pager   pager
	Mutes   []string
}

// chartDays is how many days a profile's chart shows; sparkDays, the
// profile list's.
const (
	chartDays = 30
	sparkDays = 14
)

func (c *Console) profile(w http.ResponseWriter, r *http.Request) {
	st := c.snapshot()
	name := r.PathValue("name")
	i, ok := st.profiles[name]
	if !ok {
		c.notFound(w, r, "no profile named "+strconv.Quote(name))
		return
	}
	now := c.o.Now()
	d := profileData{Profile: st.Profiles[i], MutedTo: c.mutes()[name], Days: chartDays,
		Chart: dayChart(c.o.Index.PerDay(name, now, chartDays), now), Mutes: muteChoices}
	pg := pageOf(r)
	refs, total := c.o.Index.Recent(Filter{Profile: name}, (pg-1)*PageSize, PageSize)
	d.Pager = newPager(r, pg, total)
	d.Hits = c.views(r.Context(), refs, nil)
	c.write(w, r, "profile", page{Title: "Profile " + name, Nav: "profiles", D: d})
}

// muteChoices are the mute lengths the profile page offers.
var muteChoices = []string{"1h", "8h", "24h", "7d"}

type hitsData struct {
	Profile, Feed string
	Hits          []hitView
	Pager         pager
	DeadErr       string
}

func (c *Console) hits(w http.ResponseWriter, r *http.Request) {
	st := c.snapshot()
	q := r.URL.Query()
	d := hitsData{Profile: q.Get("profile"), Feed: q.Get("feed")}
	pg := pageOf(r)
	refs, total := c.o.Index.Recent(Filter{Profile: d.Profile, Feed: d.Feed}, (pg-1)*PageSize, PageSize)
	d.Pager = newPager(r, pg, total)
	dead, err := c.deadLetters(r.Context())
	if err != nil {
		d.DeadErr = err.Error()
	}
	deadSet := map[string]bool{}
	for _, l := range dead {
		deadSet[l.Notifier+"\x00"+l.Hit.ID] = true
	}
	mutes := c.mutes()
	now := c.o.Now()
	d.Hits = c.views(r.Context(), refs, func(ref Ref, v *hitView) {
		var routed []string
		if i, ok := st.profiles[ref.Profile]; ok {
			routed = st.Profiles[i].Notifiers
		}
		for _, n := range routed {
			v.Delivery = append(v.Delivery, delivery{Notifier: n, State: c.deliveryState(r.Context(), n, v.ID, deadSet, mutes[ref.Profile].After(now))})
		}
	})
	c.write(w, r, "hits", page{Title: "Hits", Nav: "hits", D: d})
}

// deliveryState is what became of hit id for notifier n.
func (c *Console) deliveryState(ctx context.Context, n, id string, dead map[string]bool, muted bool) string {
	switch {
	case id == "":
		return "unknown"
	case dead[n+"\x00"+id]:
		return "dead"
	case c.o.Ledger == nil:
		return "unknown"
	}
	if sl, ok := c.o.Ledger.(stateLedger); ok {
		st, err := sl.State(ctx, n, id)
		switch {
		case err != nil:
			return "unknown"
		case st != "":
			return st
		case muted:
			return "muted"
		}
		return "pending"
	}
	ok, err := c.o.Ledger.Delivered(ctx, n, id)
	switch {
	case err != nil:
		return "unknown"
	case ok:
		return "delivered"
	case muted:
		return "muted"
	}
	return "pending"
}

// stateLedger is a Ledger that also knows dropped dead letters: State
// returns "delivered", "dropped" or "" (neither).
type stateLedger interface {
	State(ctx context.Context, notifierName, hitID string) (string, error)
}

type deadData struct {
	On      bool
	Letters []DeadLetter
	Pager   pager
	Err     string
}

func (c *Console) deadPage(w http.ResponseWriter, r *http.Request) {
	d := deadData{On: c.o.Dead != nil}
	// At most 2 s old; an action here empties the cache.
	all, err := c.deadLetters(r.Context())
	if err != nil {
		d.Err = err.Error()
	}
	if n := r.URL.Query().Get("notifier"); n != "" {
		var keep []DeadLetter
		for _, l := range all {
			if l.Notifier == n {
				keep = append(keep, l)
			}
		}
		all = keep
	}
	pg := pageOf(r)
	d.Pager = newPager(r, pg, len(all))
	lo := min((pg-1)*PageSize, len(all))
	d.Letters = all[lo:min(lo+PageSize, len(all))]
	c.write(w, r, "dead", page{Title: "Dead letters", Nav: "dead", D: d})
}

func (c *Console) members(w http.ResponseWriter, r *http.Request) {
	c.write(w, r, "members", page{Title: "Members", Nav: "members", D: c.snapshot().Members})
}

type searchData struct {
	On    bool
	Q     string
	Since string
	Ran   bool
	Hits  []hitView
	Err   string
	Limit int
}

// archiveOn: a Searcher is set and, when it can tell (the config may turn
// the archive off on reload), says the archive is on.
func (c *Console) archiveOn() bool {
	if c.o.Searcher == nil {
		return false
	}
	if o, ok := c.o.Searcher.(interface{ On() bool }); ok {
		return o.On()
	}
	return true
}

// searchLimit is the most matches the query box shows.
const searchLimit = 100

func (c *Console) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := searchData{On: c.archiveOn(), Q: strings.TrimSpace(q.Get("q")), Since: q.Get("since"), Limit: searchLimit}
	if d.Since == "" {
		d.Since = "7d"
	}
	if d.On && d.Q != "" {
		d.Ran = true
		since, err := time.Duration(0), error(nil) // "0": the whole archive, as backtest --since 0
		if d.Since != "0" {
			since, err = parseSince(d.Since)
		}
		if err != nil {
			d.Err = err.Error()
		} else {
			ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
			hits, err := c.o.Searcher.Search(ctx, d.Q, since, searchLimit)
			cancel()
			if err != nil {
				d.Err = err.Error()
			}
			for _, h := range hits {
				v := viewHit(h)
				// A backtest's detected_at is now: the published date
				// (what "since" counts from) says more.
				if h.Item.Published != nil {
					v.When = *h.Item.Published
				}
				d.Hits = append(d.Hits, v)
			}
		}
	}
	c.write(w, r, "search", page{Title: "Query", Nav: "search", D: d})
}

// parseSince reads a window like 90m, 12h or 30d.
func parseSince(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 1 || days > 3650 {
			return 0, fmt.Errorf("since %q: want a number of days, like 7d", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("since %q: want a duration like 12h or 7d", s)
	}
	return d, nil
}
