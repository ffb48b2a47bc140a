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
	"slices"
	"strings"
	"sync"
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
}

// Options configures a Watcher (and Fetch).
type Options struct {
	Feeds                        []FeedConfig
	Interval, Timeout, Backfill  time.Duration
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

	// TakeoverSpread, when set, bounds how far apart the first visits
	// of feeds added after the first feed list (taken over from another
	// watcher, or added by a reload), and their overdue polls, are spread.
	TakeoverSpread time.Duration
}

// Sink receives the new (not yet seen) items of one poll. The watcher
// marks them seen only after Handle returns nil; on error they are offered
// again next poll.
type Sink interface {
	Handle(ctx context.Context, feed item.Feed, items []item.Item) error
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
}

// Defaults used when an option is zero.
const (
	DefaultInterval    = 5 * time.Minute
	DefaultTimeout     = 30 * time.Second
	DefaultMaxBody     = 10 << 20
	DefaultConcurrency = 32
	DefaultPerHost     = 2
	DefaultBackfill    = 24 * time.Hour
	maxBackoff         = 6 * time.Hour
	maxHintInterval    = 24 * time.Hour
)

// Watcher polls feeds. Create with New, start with Run.
type Watcher struct {
	opts    Options
	seed    maphash.Seed // for the per-feed known-key sets
	log     *slog.Logger
	now     func() time.Time
	fetcher *fetch.Fetcher
	m       *metrics

	mu      sync.Mutex
	pending []FeedConfig // set by SetFeeds, applied by the scheduler
	hasNew  bool
	status  map[string]*FeedStatus
	wake    chan struct{}
	running bool
	// bigParse bounds concurrent parses of big documents (see parse).
	bigParse chan struct{}
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
	opts = withDefaults(opts)
	if err := checkFeeds(opts.Feeds); err != nil {
		return nil, err
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
		fetcher:  newFetcher(opts),
		m:        m,
		status:   make(map[string]*FeedStatus),
		wake:     make(chan struct{}, 1),
		bigParse: make(chan struct{}, 2),
		pending:  opts.Feeds,
		hasNew:   true,
	}
	return w, nil
}

func withDefaults(o Options) Options {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.Backfill == 0 {
		o.Backfill = DefaultBackfill // negative: no backfill
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.PerHost <= 0 {
		o.PerHost = DefaultPerHost
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.UserAgent == "" {
		o.UserAgent = "feedwatch (+https://github.com/feedwatch/feedwatch)"
	}
	if o.startSpread <= 0 {
		o.startSpread = 2 * time.Second
	}
	if o.refreshInterval <= 0 {
		o.refreshInterval = 24 * time.Hour
	}
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

func newFetcher(o Options) *fetch.Fetcher {
	return fetch.New(fetch.Config{
		Client:                o.HTTPClient,
		Timeout:               o.Timeout,
		MaxBody:               o.MaxBody,
		UserAgent:             o.UserAgent,
		AllowPrivateRedirects: o.AllowPrivateRedirects,
		BaseDir:               o.BaseDir,
		Concurrency:           o.Concurrency,
		PerHost:               o.PerHost,
		IsPrivate:             o.isPrivate,
	})
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

// Status returns a snapshot of every feed, sorted by name.
func (w *Watcher) Status() []FeedStatus {
	w.mu.Lock()
	out := make([]FeedStatus, 0, len(w.status))
	for _, s := range w.status {
		out = append(out, *s)
	}
	w.mu.Unlock()
	for i := range out {
		out[i].URL = redact(out[i].URL)
	}
	slices.SortFunc(out, func(a, b FeedStatus) int { return strings.Compare(a.Name, b.Name) })
	return out
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
