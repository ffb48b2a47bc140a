// Package watcher polls feeds on a schedule, politely (conditional
// requests, backoff, per-host limits), turns documents into items with
// stable identity keys, and hands the items it has not seen before to a
// Sink. It knows neither profiles nor NATS: seen-state and per-feed state go
// through the small SeenStore and StateStore interfaces.
package watcher

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/feedwatch/feedwatch/item"
	"github.com/feedwatch/feedwatch/watcher/fetch"
)

// FeedConfig is one feed to watch.
type FeedConfig struct {
	Name, URL string
	Interval  time.Duration // 0 = Options.Interval
	Tags      []string
	Headers   map[string]string
	// URLSecrets are values in URL that must not be published (those the
	// config substituted for ${VAR}); see feedurl.Public.
	URLSecrets []string
}

// Options configures a Watcher (and Fetch). Limits are explicit, with no
// defaults of this package's own (the config package owns them): Interval,
// Timeout, MaxBody, Concurrency and PerHost must be positive (Fetch needs
// Timeout and MaxBody only); an empty UserAgent sends none.
type Options struct {
	Feeds             []FeedConfig
	Interval, Timeout time.Duration
	// Backfill is the window at a feed's first poll: items published
	// longer ago, or undated, are marked seen without alerting.
	// BackfillNone (0) marks every item of a first poll seen;
	// BackfillOff alerts every one.
	Backfill                     time.Duration
	StateRetention               time.Duration // see Limits.StateRetention
	MaxBody                      int64
	Concurrency, PerHost         int
	UserAgent                    string
	AllowPrivateRedirects        bool
	BaseDir                      string // plain relative paths and file:// resolve against it
	Sink                         Sink
	Seen                         SeenStore
	State                        StateStore
	Logger                       *slog.Logger
	Owner                        Owner                 // nil: every feed is this watcher's
	Registerer                   prometheus.Registerer // may be nil
	Now                          func() time.Time      // nil = time.Now
	HTTPClient                   *http.Client          // nil = build one with the limits
	MaxItems                     int                   // items per document; 0 = 10,000
	isPrivate                    func(netip.AddrPort) bool
	startSpread, refreshInterval time.Duration

	// RecoverBefore is set after seen-state was found lost or damaged: the
	// last time the state was known good. At each feed's first parsed
	// document in this run, items not found seen that were published
	// before it (or are undated) are marked seen without alerting, like a
	// backfill with a cutoff time: they were most likely alerted before the
	// state was lost. Zero: no recovery.
	RecoverBefore time.Time

	// Hubs, when set, is shown each fetched document (WebSub discovery)
	// and may lengthen a feed's poll interval while pushes arrive.
	Hubs HubObserver

	// TakeoverSpread, when set, bounds how far apart the first visits
	// of feeds added after the first feed list (taken over from another
	// watcher, or added by a reload), and their overdue polls, are spread.
	TakeoverSpread time.Duration

	// Configured reports whether a feed name is in the configuration now,
	// whoever polls it: a feed without state adopts the state of a former
	// name of its URL only if that name is not (see rename.go). nil: the
	// names of this watcher's feed list.
	Configured func(name string) bool

	// Slack lets a poll start up to Slack before it is due when the
	// scheduler wakes for another one, never before the feed's interval
	// (backoff, server hint) since its last poll: polls then run in bursts
	// that share the process's wake-ups, which makes a poll's CPU cost
	// depend much less on how busy the process is. 0: each poll starts at
	// its due time.
	Slack time.Duration
}

// Sink receives the new (not yet seen) items of one poll. The watcher
// marks them seen only after Handle returns nil; on error they are offered
// again next poll.
type Sink interface {
	Handle(ctx context.Context, feed item.Feed, items []item.Item) error
}

// Rememberer is what a Sink may also do: take the new items a poll marks
// seen without handing them to Handle (at a feed's first poll, those older
// than Backfill or undated; after lost state, those before RecoverBefore),
// before they are marked seen; on error they are offered again. The
// archive keeps them, matched or not.
type Rememberer interface {
	Remember(ctx context.Context, feed item.Feed, items []item.Item) error
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(ctx context.Context, feed item.Feed, items []item.Item) error

// Handle calls f.
func (f SinkFunc) Handle(ctx context.Context, feed item.Feed, items []item.Item) error {
	return f(ctx, feed, items)
}

// SeenStore is item seen-state, per feed. MarkSeen on an existing key
// refreshes its retention. Calls for one feed never overlap.
type SeenStore interface {
	Seen(ctx context.Context, feed string, keys []string) (map[string]bool, error)
	MarkSeen(ctx context.Context, feed string, keys []string) error
}

// StateStore persists per-feed state as opaque bytes; Load returns nil, nil
// when absent.
type StateStore interface {
	Load(ctx context.Context, feed string) ([]byte, error)
	Save(ctx context.Context, feed string, data []byte) error
}

// Owner says whether this watcher may poll a feed and write its state now,
// when several watchers share the feeds. The watcher asks before each poll
// and before each write (sink, seen-state, feed state): a watcher that lost
// a feed, or its lease, stops short of writing what the new owner writes.
type Owner interface {
	Owns(feed string) bool
}

// ErrStateChanged, wrapped in a StateStore.Save error, means another
// watcher wrote the feed's state since this one loaded it: the state is
// loaded again before the feed's next poll.
var ErrStateChanged = errors.New("feed state changed by another writer")

// FeedStatus is a snapshot of one feed for status pages.
type FeedStatus struct {
	Name     string
	URL      string // the URL polled now (after a permanent redirect), without credentials or query: status pages are not secret
	LastPoll time.Time
	Result   string // "ok", "not_modified", "unchanged", or an error kind
	NextDue  time.Time
	Error    string
	Gone     bool
	Failures int
	// Notice says what the user should know beyond the last result: a
	// permanent move to another origin, polled without credentials.
	Notice string
}

// Options.Backfill values with a meaning of their own.
const (
	// BackfillNone is a window of nothing: at a feed's first poll every
	// item is marked seen without alerting (config "backfill: 0s").
	BackfillNone time.Duration = 0
	// BackfillOff turns backfill off: at a feed's first poll every item
	// alerts, whatever its age.
	BackfillOff time.Duration = -1
)

const (
	maxBackoff      = 6 * time.Hour
	maxHintInterval = 24 * time.Hour
)

// Watcher polls feeds. Create with New, start with Run.
type Watcher struct {
	opts Options
	seed maphash.Seed // for the per-feed known-key sets
	log  *slog.Logger
	now  func() time.Time
	m    *metrics
	// lim are the limits a reload may change while the watcher runs
	// (SetLimits): polls read them at their start, the scheduler at each
	// wake.
	lim atomic.Pointer[limits]
	// retryBytes are the bodies waiting for another delivery
	// (retryDelivery).
	retryBytes atomic.Int64

	mu      sync.Mutex
	pending []FeedConfig // set by SetFeeds, applied by the scheduler
	hasNew  bool
	status  map[string]*FeedStatus
	wake    chan struct{}
	running bool
	// bigParse bounds concurrent parses of big documents (see parse).
	bigParse chan struct{}
	// pushIn are pushed documents not yet taken by the scheduler;
	// pushBytes counts the bytes of every push not yet handled.
	pushIn    []pushReq
	pushBytes int64
	// stCache keeps Status cheap at tens of thousands of feeds.
	stCache statusCache
}

// New validates opts and builds a Watcher.
func New(opts Options) (*Watcher, error) {
	if opts.Sink == nil {
		return nil, errors.New("watcher: no sink")
	}
	if opts.Seen == nil {
		return nil, errors.New("watcher: no seen store")
	}
	if opts.State == nil {
		return nil, errors.New("watcher: no state store")
	}
	switch {
	case opts.Interval <= 0:
		return nil, fmt.Errorf("watcher: interval %v: must be positive", opts.Interval)
	case opts.Concurrency <= 0 || opts.PerHost <= 0:
		return nil, fmt.Errorf("watcher: concurrency %d, per host %d: must be positive", opts.Concurrency, opts.PerHost)
	}
	opts = withDefaults(opts)
	if err := checkFeeds(opts.Feeds); err != nil {
		return nil, err
	}
	f, err := newFetcher(opts)
	if err != nil {
		return nil, fmt.Errorf("watcher: %w", err)
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("watcher: metrics: %w", err)
	}
	w := &Watcher{
		seed:     maphash.MakeSeed(),
		opts:     opts,
		log:      opts.Logger,
		now:      opts.Now,
		m:        m,
		status:   make(map[string]*FeedStatus),
		wake:     make(chan struct{}, 1),
		bigParse: make(chan struct{}, 2),
		pending:  opts.Feeds,
		hasNew:   true,
	}
	w.lim.Store(w.newLimits(f, opts.Limits()))
	return w, nil
}

// Limits returns o's limits, those SetLimits may change.
func (o Options) Limits() Limits {
	return Limits{Timeout: o.Timeout, MaxBody: o.MaxBody, Concurrency: o.Concurrency, PerHost: o.PerHost,
		UserAgent: o.UserAgent, AllowPrivateRedirects: o.AllowPrivateRedirects, Backfill: o.Backfill, StateRetention: o.StateRetention}
}

// Limits are the watcher's options that a config reload may change while
// it runs (SetLimits); the rest of Options is fixed by New.
type Limits struct {
	Timeout               time.Duration
	MaxBody               int64
	Concurrency, PerHost  int
	UserAgent             string
	AllowPrivateRedirects bool
	Backfill              time.Duration
	// StateRetention is watcher.state_retention: keys of items still in
	// their feed are re-marked seen well within it (0: every 24 h, and a
	// full fetch of a feed answering 304 every 7 days).
	StateRetention time.Duration
}

// limits are the Limits in force, with the fetcher built from them and
// the seen-key refresh periods the retention asks for.
type limits struct {
	fetcher              *fetch.Fetcher
	backfill             time.Duration
	maxBody              int64
	concurrency, perHost int
	refresh, forceFull   time.Duration
}

func (w *Watcher) newLimits(f *fetch.Fetcher, l Limits) *limits {
	refresh, forceFull := refreshPeriods(l.StateRetention)
	if w.opts.refreshInterval > 0 { // tests
		refresh = w.opts.refreshInterval
	}
	return &limits{fetcher: f, backfill: l.Backfill, maxBody: l.MaxBody, concurrency: l.Concurrency, perHost: l.PerHost,
		refresh: refresh, forceFull: forceFull}
}

// SetLimits applies l from the next poll on; polls in flight finish on the
// old ones. A new fetcher carries the new timeout, size cap and user agent
// (the old one's idle connections are closed); the scheduler runs as many
// polls, and per host, as l allows at its next wake.
func (w *Watcher) SetLimits(l Limits) error {
	if l.Concurrency <= 0 || l.PerHost <= 0 {
		return fmt.Errorf("watcher: concurrency %d, per host %d: must be positive", l.Concurrency, l.PerHost)
	}
	w.mu.Lock() // one SetLimits at a time; w.opts itself never changes after New
	o := w.opts
	o.Timeout, o.MaxBody, o.UserAgent, o.AllowPrivateRedirects = l.Timeout, l.MaxBody, l.UserAgent, l.AllowPrivateRedirects
	o.Concurrency, o.PerHost, o.Backfill = l.Concurrency, l.PerHost, l.Backfill
	f, err := newFetcher(o)
	if err != nil {
		w.mu.Unlock()
		return fmt.Errorf("watcher: %w", err)
	}
	old := w.lim.Swap(w.newLimits(f, l))
	w.mu.Unlock()
	old.fetcher.CloseIdle()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return nil
}

// withDefaults fills what is not a limit: the logger, the clock and the
// internal timings tests shorten.
func withDefaults(o Options) Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.startSpread <= 0 {
		o.startSpread = 2 * time.Second
	}
	o.Slack = max(o.Slack, 0)
	return o
}

func checkFeeds(feeds []FeedConfig) error {
	names := make(map[string]bool, len(feeds))
	for _, f := range feeds {
		n := feedName(f)
		if n == "" {
			return errors.New("watcher: feed without name or url")
		}
		if names[n] {
			return fmt.Errorf("watcher: duplicate feed name %q", n)
		}
		names[n] = true
	}
	return nil
}

func feedName(f FeedConfig) string {
	if f.Name != "" {
		return f.Name
	}
	return f.URL
}

func newFetcher(o Options) (*fetch.Fetcher, error) {
	return fetch.New(fetchConfig(o))
}

func fetchConfig(o Options) fetch.Config {
	return fetch.Config{
		Client:                o.HTTPClient,
		Timeout:               o.Timeout,
		MaxBody:               o.MaxBody,
		UserAgent:             o.UserAgent,
		AllowPrivateRedirects: o.AllowPrivateRedirects,
		BaseDir:               o.BaseDir,
		Concurrency:           o.Concurrency,
		PerHost:               o.PerHost,
		IsPrivate:             o.isPrivate,
	}
}

// SetFeeds replaces the feed list (config reload): new feeds start, removed
// ones stop, unchanged ones keep their schedule and validators. A feed whose
// URL changed starts over (new validators, backfill again).
func (w *Watcher) SetFeeds(feeds []FeedConfig) {
	cp := append([]FeedConfig(nil), feeds...)
	w.mu.Lock()
	w.pending = cp
	w.hasNew = true
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *Watcher) setStatus(name string, fn func(s *FeedStatus)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.status[name]
	if s == nil {
		s = &FeedStatus{Name: name}
		w.status[name] = s
	}
	fn(s)
}

// hostOf returns the per-host limiting key of a source.
func hostOf(src string) string {
	u, err := url.Parse(src)
	if err != nil || u.Host == "" {
		return "" // files: no host limit
	}
	return strings.ToLower(u.Host)
}
