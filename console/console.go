// Package console is the web console served on http.listen: server-rendered
// pages over the daemon's status and the hits stream, with a few admin
// actions. It knows neither NATS nor the daemon: both reach it through the
// small interfaces below.
package console

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier"
	"github.com/feedwatch/feedwatch/ownership"
)

// Status is what the daemon knows now.
type Status struct {
	Mode      string
	Ready     bool
	Feeds     []Feed // by name
	Profiles  []Profile
	Notifiers []Notifier
	Members   []ownership.Member
	Admin     bool // actions allowed (http.admin)
}

// Feed is one feed's polling state.
type Feed struct {
	Name, URL, Result, Error, Notice string
	LastPoll, NextDue                time.Time
	Gone                             bool
	Failures                         int
	// ItemsPerDay is the new items of the last 24 hours (estimated).
	ItemsPerDay float64
	// PolledBy is the member that polls the feed when it is another
	// process: the row is then that process's stored state (its last poll
	// at least as recent as shown, no next poll, no items per day).
	PolledBy string
}

// State is ok, failing, gone or new (not polled yet).
func (f Feed) State() string {
	switch {
	case f.Gone:
		return "gone"
	case f.Error != "" || f.Failures > 0:
		return "failing"
	case f.LastPoll.IsZero():
		return "new"
	}
	return "ok"
}

// Profile is one configured profile.
type Profile struct {
	Name      string
	Query     string // the query and keywords, as configured
	Hits      int64  // published by this process since it started
	LastHit   time.Time
	Notifiers []string // where its hits go
}

// Notifier is one notifier's health.
type Notifier struct {
	Name, Type                       string
	Delivered, Failed, Dead, Pending float64
}

// Searcher runs a backtest over the archive. One that also has an
// `On() bool` method is asked at each page whether the archive is on.
type Searcher interface {
	Search(ctx context.Context, query string, since time.Duration, limit int) ([]hit.Hit, error)
}

// HitReader reads one hit of the hits stream by its sequence.
type HitReader interface {
	Hit(ctx context.Context, seq uint64) (hit.Hit, error)
}

// Ledger says whether a notifier delivered a hit.
type Ledger interface {
	Delivered(ctx context.Context, notifierName, hitID string) (bool, error)
}

// DeadLetter is one dead letter, by its id (its sequence in the stream).
type DeadLetter struct {
	ID uint64
	notifier.DeadLetter
}

// DeadLetters lists, replays and drops dead letters.
type DeadLetters interface {
	List(ctx context.Context, limit int) ([]DeadLetter, error)
	Replay(ctx context.Context, id uint64) error
	Drop(ctx context.Context, id uint64) error
}

// Mutes are the muted profiles, shared by the cluster.
type Mutes interface {
	List() map[string]time.Time
	Mute(ctx context.Context, profile string, until time.Time) error
}

// Options are what the console reads and acts on. Only Status and Index
// are required; a nil part shows as "off" on its page.
type Options struct {
	Status func() Status
	Index  *Index
	// Items are the new items the watcher handed on, for the feed pages
	// (nil: they list only the items that hit).
	Items  *Items
	Hits   HitReader
	Ledger Ledger
	Dead   DeadLetters
	Mutes  Mutes
	// Searcher is nil when the daemon keeps no archive.
	Searcher Searcher
	// Reload asks the daemon to read its config again.
	Reload func()
	Logger *slog.Logger
	Now    func() time.Time
}

// Console serves the pages.
type Console struct {
	o    Options
	log  *slog.Logger
	csrf *csrf
	mux  *http.ServeMux

	// The status is asked at most once a second: with 50,000 feeds
	// building it costs more than a page.
	stMu       sync.Mutex
	st         *snapshot
	stTime     time.Time
	refreshing bool

	hitMu    sync.Mutex
	hitCache map[uint64]hit.Hit

	deadMu   sync.Mutex
	dead     []DeadLetter
	deadErr  error
	deadTime time.Time
}

// New makes a console.
func New(o Options) (*Console, error) {
	if o.Status == nil || o.Index == nil {
		return nil, errors.New("console: status and index are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c := &Console{o: o, log: o.Logger, csrf: newCSRF(), hitCache: map[uint64]hit.Hit{}}
	c.routes()
	return c, nil
}

// ServeHTTP serves the console, with the headers that keep feed text on
// the page inert.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	c.mux.ServeHTTP(w, r)
}

// snapshot is a status with what pages derive from it.
type snapshot struct {
	Status
	states   map[string]int // feeds by state
	profiles map[string]int
	sorted   bool // Feeds are by name: a feed is found by binary search

	// view is the last filtered and sorted feed list, so that paging
	// through 50,000 feeds sorts them once.
	viewMu  sync.Mutex
	viewKey string
	view    []*Feed
}

// feed finds a feed by name.
func (s *snapshot) feed(name string) (Feed, bool) {
	if s.sorted {
		i, ok := slices.BinarySearchFunc(s.Feeds, name, func(f Feed, n string) int { return strings.Compare(f.Name, n) })
		if ok {
			return s.Feeds[i], true
		}
		return Feed{}, false
	}
	for _, f := range s.Feeds {
		if f.Name == name {
			return f, true
		}
	}
	return Feed{}, false
}

// snapshot returns the status, asked of the daemon at most once a second.
// Past a second, the old one still serves while a new one is made in the
// background: no page waits for the daemon but the very first.
func (c *Console) snapshot() *snapshot {
	c.stMu.Lock()
	defer c.stMu.Unlock()
	now := c.o.Now()
	if c.st == nil {
		c.st, c.stTime = c.makeSnapshot(), now
		return c.st
	}
	if age := now.Sub(c.stTime); (age >= time.Second || age < 0) && !c.refreshing {
		c.refreshing = true
		go func() {
			s := c.makeSnapshot()
			c.stMu.Lock()
			c.st, c.stTime, c.refreshing = s, c.o.Now(), false
			c.stMu.Unlock()
		}()
	}
	return c.st
}

func (c *Console) makeSnapshot() *snapshot {
	st := c.o.Status()
	s := &snapshot{Status: st, states: map[string]int{}, profiles: make(map[string]int, len(st.Profiles)),
		sorted: slices.IsSortedFunc(st.Feeds, func(a, b Feed) int { return strings.Compare(a.Name, b.Name) })}
	for _, f := range st.Feeds {
		s.states[f.State()]++
	}
	for i, p := range st.Profiles {
		s.profiles[p.Name] = i
	}
	return s
}

// hit reads one hit, from a small cache first: pages show the newest hits
// again and again.
func (c *Console) hit(ctx context.Context, seq uint64) (hit.Hit, error) {
	c.hitMu.Lock()
	h, ok := c.hitCache[seq]
	c.hitMu.Unlock()
	if ok {
		return h, nil
	}
	if c.o.Hits == nil {
		return h, errors.New("hits stream not available")
	}
	h, err := c.o.Hits.Hit(ctx, seq)
	if err != nil {
		return h, err
	}
	c.hitMu.Lock()
	if len(c.hitCache) >= 2000 {
		clear(c.hitCache)
	}
	c.hitCache[seq] = h
	c.hitMu.Unlock()
	return h, nil
}

// deadLetters lists the dead letters, asked at most every 2 s (an action
// on them empties the cache).
func (c *Console) deadLetters(ctx context.Context) ([]DeadLetter, error) {
	if c.o.Dead == nil {
		return nil, nil
	}
	c.deadMu.Lock()
	defer c.deadMu.Unlock()
	now := c.o.Now()
	if !c.deadTime.IsZero() && now.Sub(c.deadTime) < 2*time.Second && now.After(c.deadTime) {
		return c.dead, c.deadErr
	}
	c.dead, c.deadErr = c.o.Dead.List(ctx, maxDead)
	c.deadTime = now
	return c.dead, c.deadErr
}

// maxDead is the most dead letters the console lists.
const maxDead = 1000
