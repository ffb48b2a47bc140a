// Package websub subscribes to the WebSub hubs feeds advertise (W3C WebSub
// Recommendation), answers the hubs' intent verifications and hands pushed
// content, once its signature checks out, to the watcher's per-feed path,
// where it is handled exactly like a polled document. It knows neither
// NATS nor the scheduler: records go through Store, pushes through Pusher.
package websub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/feedwatch/feedwatch/feedurl"
	"github.com/feedwatch/feedwatch/watcher/fetch"
)

// Pusher takes a pushed document for a feed: the watcher, which handles it
// on the feed's own path (never beside a poll of the same feed). It must
// not block; an error means the push was not queued.
type Pusher interface {
	Push(feed string, body []byte, contentType string) error
}

// poller is implemented by a Pusher that can poll a feed at once (the
// watcher): a feed whose subscription lapsed or was denied goes back to
// its own interval without waiting out the fallback interval.
type poller interface {
	PollSoon(feed string)
}

func (m *Manager) pollSoon(feed string) {
	if p, ok := m.o.Pusher.(poller); ok {
		p.PollSoon(feed)
	}
}

// Owner says whether this process owns a feed (cluster): only the owner
// holds its subscription and accepts its pushes.
type Owner interface {
	Owns(feed string) bool
}

// Options configure a Manager. CallbackURL, Store and Pusher are required.
type Options struct {
	// CallbackURL is the public base URL; each subscription's callback is
	// CallbackURL + "/" + a random id.
	CallbackURL string
	// LeaseSeconds is the lease asked for (the hub decides).
	LeaseSeconds int
	// Fallback is the poll interval of a feed with an active subscription
	// (never shorter than the feed's own interval).
	Fallback time.Duration
	// MaxBody caps a pushed body, as watcher.max_body caps a poll.
	MaxBody int64
	// AllowPrivate lets hubs be on loopback or private addresses for
	// feeds that are not (allow_private_redirects); a feed configured on
	// such an address may always use a hub there.
	AllowPrivate bool
	Store        Store
	Pusher       Pusher
	Owner        Owner // nil: every feed is ours
	Client       *http.Client
	UserAgent    string
	Logger       *slog.Logger
	Registerer   prometheus.Registerer
	Now          func() time.Time

	// Tick is how often due requests are looked for (default 1 s).
	Tick time.Duration
	// VerifyWait is how long a request may stay unverified before it is
	// sent again (default 10 min): a hub that never verifies is asked
	// again now and then, and the feed is polled at its normal interval.
	VerifyWait time.Duration
	// RetryMin is the first wait after a refused request; it doubles up
	// to a day (default 1 min).
	RetryMin time.Duration
	// isPrivate replaces fetch.IsPrivate in tests.
	isPrivate func(netip.AddrPort) bool
}

// Times of the subscription life cycle.
const (
	// renewAt is the share of a granted lease after which it is renewed.
	renewAt = 0.8
	// deniedRetry is how long a denial is respected before asking again.
	deniedRetry = 24 * time.Hour
	maxRetry    = 24 * time.Hour
	// requestTimeout bounds one request to a hub.
	requestTimeout = 30 * time.Second
	// parallelRequests bounds requests to hubs in flight at once.
	parallelRequests = 8
	// unsubscribeTries is how often an unsubscribe is sent before it is
	// given up (the lease then runs out at the hub; pushes meanwhile are
	// answered 410 Gone).
	unsubscribeTries = 3
)

// Manager holds this process's subscriptions. Create with New, serve
// Handler under the callback URL's path, start with Run.
type Manager struct {
	o        Options
	base     string // CallbackURL without a trailing slash
	basePath string // its path: the handler serves basePath + "/{id}"
	log      *slog.Logger
	m        *metrics
	sem      chan struct{}
	wake     chan struct{}
	loaded   atomic.Bool
	// ownClient: the hub client is ours, with the private-address rule.
	ownClient bool
	// tun are the options a config reload may change (SetTunables).
	tun atomic.Pointer[Tunables]

	mu      sync.Mutex
	subs    map[string]*Record // by feed
	byID    map[string]*Record // ours, by callback id
	leaving map[string]*Record // unsubscribes in progress, by id
	feeds   map[string]bool    // configured feeds; nil until SetFeeds
}

// New checks o and builds a Manager.
func New(o Options) (*Manager, error) {
	u, err := url.Parse(o.CallbackURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("websub: callback url: want an absolute http(s) URL")
	}
	if o.Store == nil || o.Pusher == nil {
		return nil, errors.New("websub: no store or pusher")
	}
	if o.LeaseSeconds <= 0 || o.Fallback <= 0 || o.MaxBody <= 0 {
		return nil, errors.New("websub: lease, fallback interval and max body must be positive")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Tick <= 0 {
		o.Tick = time.Second
	}
	if o.VerifyWait <= 0 {
		o.VerifyWait = 10 * time.Minute
	}
	if o.RetryMin <= 0 {
		o.RetryMin = time.Minute
	}
	if o.isPrivate == nil {
		o.isPrivate = fetch.IsPrivate
	}
	m := &Manager{
		o:        o,
		base:     strings.TrimRight(o.CallbackURL, "/"),
		basePath: strings.TrimRight(u.EscapedPath(), "/"),
		log:      o.Logger,
		sem:      make(chan struct{}, parallelRequests),
		wake:     make(chan struct{}, 1),
		subs:     map[string]*Record{},
		byID:     map[string]*Record{},
		leaving:  map[string]*Record{},
	}
	m.tun.Store(&Tunables{LeaseSeconds: o.LeaseSeconds, Fallback: o.Fallback, MaxBody: o.MaxBody, UserAgent: o.UserAgent, AllowPrivate: o.AllowPrivate})
	m.ownClient = o.Client == nil
	m.o.Client = m.hubClient(o.Client)
	if m.m, err = newMetrics(o.Registerer, m); err != nil {
		return nil, fmt.Errorf("websub: metrics: %w", err)
	}
	return m, nil
}

// Tunables are the Options a config reload may change while the manager
// runs: they apply to the next request, verification, push or poll.
type Tunables struct {
	LeaseSeconds int
	Fallback     time.Duration
	MaxBody      int64
	UserAgent    string
	AllowPrivate bool
}

// SetTunables applies t (websub.lease, websub.fallback_interval and the
// watcher's max_body, user_agent and private-redirect rule on reload).
func (m *Manager) SetTunables(t Tunables) error {
	if t.LeaseSeconds <= 0 || t.Fallback <= 0 || t.MaxBody <= 0 {
		return errors.New("websub: lease, fallback interval and max body must be positive")
	}
	m.tun.Store(&t)
	return nil
}

// PathPrefix is the path the callback handler serves, ending in "/".
func (m *Manager) PathPrefix() string { return m.basePath + "/" }

// ours reports whether rec's callback is under this process's callback URL.
func (m *Manager) ours(rec *Record) bool {
	return len(rec.Callback) > len(m.base) && rec.Callback[len(m.base)] == '/' && strings.HasPrefix(rec.Callback, m.base)
}

func (m *Manager) owns(feed string) bool { return m.o.Owner == nil || m.o.Owner.Owns(feed) }

// Load reads the stored records (a restart keeps its subscriptions).
func (m *Manager) Load(ctx context.Context) error {
	list, err := m.o.Store.List(ctx)
	if err != nil {
		return fmt.Errorf("websub: load subscriptions: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range list {
		rec, err := decodeRecord(b)
		if err != nil || rec.Feed == "" || rec.ID == "" {
			m.log.Warn("websub: skipping an unreadable subscription record")
			continue
		}
		m.subs[rec.Feed] = rec
		if m.ours(rec) {
			m.byID[rec.ID] = rec
		}
	}
	m.loaded.Store(true)
	return nil
}

// Run sends subscribe, renewal and unsubscribe requests as they fall due,
// until ctx ends.
func (m *Manager) Run(ctx context.Context) error {
	if !m.loaded.Load() {
		if err := m.Load(ctx); err != nil {
			return err
		}
	}
	t := time.NewTicker(m.o.Tick)
	defer t.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		m.due(ctx, &wg)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-m.wake:
		}
	}
}

func (m *Manager) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// due starts the requests that are due, as many as the request slots allow.
func (m *Manager) due(ctx context.Context, wg *sync.WaitGroup) {
	now := m.o.Now()
	type job struct {
		rec         *Record
		unsubscribe bool
	}
	var jobs []job
	m.mu.Lock()
	for feed, rec := range m.subs {
		if rec.inFlight || !m.ours(rec) || (m.feeds != nil && !m.feeds[feed]) || !m.owns(feed) {
			continue
		}
		if rec.State == StateActive && !now.Before(rec.Expires) {
			// Not renewed in time: polled at the normal interval again
			// until a new verification.
			rec.State = StatePending
			rec.Reason = "lease expired"
			rec.NextAttempt = now
			m.persistLocked(ctx, rec)
			m.pollSoon(feed)
		}
		if now.Before(rec.NextAttempt) {
			continue
		}
		jobs = append(jobs, job{rec: rec})
	}
	for id, rec := range m.leaving {
		if rec.inFlight || now.Before(rec.NextAttempt) {
			continue
		}
		if rec.Attempts >= unsubscribeTries {
			delete(m.leaving, id)
			continue
		}
		jobs = append(jobs, job{rec: rec, unsubscribe: true})
	}
	for _, j := range jobs {
		select {
		case m.sem <- struct{}{}:
		default:
			m.mu.Unlock()
			return // all slots busy: the next tick
		}
		j.rec.inFlight = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-m.sem }()
			if j.unsubscribe {
				m.unsubscribe(ctx, j.rec)
			} else {
				m.subscribe(ctx, j.rec)
			}
		}()
	}
	m.mu.Unlock()
}

// subscribe sends (or renews) rec's subscription request.
func (m *Manager) subscribe(ctx context.Context, rec *Record) {
	m.mu.Lock()
	form := url.Values{
		"hub.mode":          {"subscribe"},
		"hub.topic":         {rec.Topic},
		"hub.callback":      {rec.Callback},
		"hub.secret":        {rec.Secret},
		"hub.lease_seconds": {strconv.Itoa(m.tun.Load().LeaseSeconds)},
	}
	hub, private := rec.Hub, m.privateHubOK(rec)
	started := m.o.Now()
	rec.Asked = started
	m.mu.Unlock()
	err := m.post(ctx, hub, form, private)
	m.mu.Lock()
	defer m.mu.Unlock()
	rec.inFlight = false
	if ctx.Err() != nil {
		return
	}
	if m.subs[rec.Feed] != rec {
		return // replaced or removed meanwhile
	}
	now := m.o.Now()
	if err != nil {
		m.m.requests.WithLabelValues("subscribe", "error").Inc()
		rec.Attempts++
		rec.NextAttempt = now.Add(retryAfter(m.o.RetryMin, rec.Attempts))
		if rec.Reason != err.Error() {
			m.log.Warn("websub: subscribe request failed", "feed", rec.Feed, "hub", feedurl.Masked(hub), "err", err, "retry_at", rec.NextAttempt)
		}
		rec.Reason = err.Error()
		m.persistLocked(ctx, rec)
		return
	}
	m.m.requests.WithLabelValues("subscribe", "ok").Inc()
	if rec.State == StateActive && rec.NextAttempt.After(started) {
		return // verified (synchronously, or a renewal) meanwhile
	}
	// Not verified yet: ask again if the hub stays silent (the feed is
	// polled at its normal interval meanwhile), less and less often up
	// to once a day; for a renewal, before the lease runs out.
	rec.Attempts++
	next := now.Add(max(m.o.VerifyWait, retryAfter(m.o.RetryMin, rec.Attempts)))
	if rec.State == StateActive && rec.Expires.Before(next) {
		next = now.Add(max(rec.Expires.Sub(now)/2, m.o.Tick))
	}
	rec.NextAttempt = next
	m.persistLocked(ctx, rec)
}

// unsubscribe sends rec's unsubscribe request.
func (m *Manager) unsubscribe(ctx context.Context, rec *Record) {
	form := url.Values{
		"hub.mode":     {"unsubscribe"},
		"hub.topic":    {rec.Topic},
		"hub.callback": {rec.Callback},
	}
	m.mu.Lock()
	private := m.privateHubOK(rec)
	m.mu.Unlock()
	err := m.post(ctx, rec.Hub, form, private)
	m.mu.Lock()
	defer m.mu.Unlock()
	rec.inFlight = false
	rec.Attempts++
	if err != nil {
		m.m.requests.WithLabelValues("unsubscribe", "error").Inc()
		m.log.Info("websub: unsubscribe request failed", "feed", rec.Feed, "hub", feedurl.Masked(rec.Hub), "err", err)
		rec.NextAttempt = m.o.Now().Add(retryAfter(m.o.RetryMin, rec.Attempts))
		return
	}
	m.m.requests.WithLabelValues("unsubscribe", "ok").Inc()
	// Asked: wait for the verification, then give it up.
	rec.Attempts = unsubscribeTries
	rec.NextAttempt = m.o.Now().Add(m.o.VerifyWait)
}

func retryAfter(base time.Duration, attempts int) time.Duration {
	d := base
	for i := 1; i < attempts && d < maxRetry; i++ {
		d *= 2
	}
	return min(d, maxRetry)
}

// privateHubOK: the hub may be on a private address when the feed's own
// configured URL is (an intranet feed's intranet hub), or when allowed.
func (m *Manager) privateHubOK(rec *Record) bool {
	return m.tun.Load().AllowPrivate || rec.PrivateFeed
}

type privateKey struct{}

// post sends a form to a hub; a 2xx answer is success.
func (m *Manager) post(ctx context.Context, hub string, form url.Values, allowPrivate bool) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hub, strings.NewReader(form.Encode()))
	if err != nil {
		return errors.New("hub url not usable")
	}
	if p, _ := http.ProxyFromEnvironment(req); p != nil && m.ownClient {
		// Through a proxy the dial goes to the proxy: check the hub's
		// own addresses here instead.
		if !allowPrivate {
			if err := m.refusePrivate(ctx, req.URL); err != nil {
				return err
			}
		}
		allowPrivate = true
	}
	req = req.WithContext(context.WithValue(ctx, privateKey{}, allowPrivate))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if ua := m.tun.Load().UserAgent; ua != "" {
		req.Header.Set("User-Agent", ua)
	}
	resp, err := m.o.Client.Do(req)
	if err != nil {
		// The error names the hub URL, which may hold a token: keep it out.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("hub request: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("hub answered %d", resp.StatusCode)
	}
	return nil
}

// errPrivateHub refuses a hub on a loopback or private address.
var errPrivateHub = errors.New("hub is on a loopback or private address: refused (allow_private_redirects allows it)")

// refusePrivate fails when u's host is, or resolves to, a private address.
func (m *Manager) refusePrivate(ctx context.Context, u *url.URL) error {
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(u.Hostname()); err == nil {
		addrs = []netip.Addr{a}
	} else {
		ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", u.Hostname())
		if err != nil {
			return fmt.Errorf("resolve hub: %w", err)
		}
		addrs = ips
	}
	for _, a := range addrs {
		if m.o.isPrivate(netip.AddrPortFrom(a.Unmap(), 0)) {
			return errPrivateHub
		}
	}
	return nil
}

// hubClient wraps the transport's dialer so that a hub on a loopback or
// private address is refused (a feed's document must not make feedwatch
// POST to the machine's or the network's internal services), unless the
// request's context allows it.
func (m *Manager) hubClient(c *http.Client) *http.Client {
	if c != nil {
		return c
	}
	d := &net.Dialer{Timeout: 10 * time.Second}
	tr := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			ok, _ := ctx.Value(privateKey{}).(bool)
			if ap, perr := netip.ParseAddrPort(conn.RemoteAddr().String()); perr == nil && !ok && m.o.isPrivate(ap) {
				conn.Close()
				return nil, errPrivateHub
			}
			return conn, nil
		},
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     time.Minute,
	}
	return &http.Client{Transport: tr, Timeout: requestTimeout,
		// A hub that redirects is followed, with the same address rule.
		CheckRedirect: func(_ *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("too many redirects")
			}
			return nil
		}}
}

// persistLocked stores rec; a failure is logged (the record stays in
// memory and is written again at its next change).
func (m *Manager) persistLocked(ctx context.Context, rec *Record) {
	b, err := rec.encode()
	if err == nil {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		err = m.o.Store.Put(pctx, rec.Feed, b)
		cancel()
	}
	if err != nil {
		m.log.Warn("websub: save subscription", "feed", rec.Feed, "err", err)
	}
}

func (m *Manager) deleteLocked(ctx context.Context, feed string) {
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := m.o.Store.Delete(pctx, feed); err != nil {
		m.log.Warn("websub: delete subscription", "feed", feed, "err", err)
	}
}

// Found is told the Link headers and body of each document polled for
// feed (fetched from src): it discovers the hub and self URLs and
// subscribes, re-subscribes (hub or topic changed, or the subscription is
// another process's) or unsubscribes (the hub is gone) as needed. It does
// not block on the network and keeps nothing of body.
func (m *Manager) Found(feed, src string, linkHeaders []string, body []byte) {
	l := Discover(src, linkHeaders, body)
	hub := ""
	if len(l.Hubs) > 0 {
		hub = l.Hubs[0]
	}
	topic := l.Self
	if topic == "" {
		topic = src
	}
	ctx := context.Background()
	m.mu.Lock()
	defer m.mu.Unlock()
	if (m.feeds != nil && !m.feeds[feed]) || !m.owns(feed) {
		return
	}
	rec := m.subs[feed]
	if rec != nil && !m.ours(rec) {
		// Another process (the feed's previous owner) subscribed: its
		// callback is not ours, so subscribe anew with ours. Its pushes
		// are refused from now on (410 Gone), which ends it at the hub.
		rec = nil
	}
	if hub == "" {
		if rec != nil {
			m.log.Info("websub: feed no longer advertises a hub; unsubscribing", "feed", feed)
			m.dropLocked(ctx, rec)
		}
		return
	}
	if rec != nil && rec.Hub == hub && rec.Topic == topic {
		return
	}
	if rec != nil {
		m.log.Info("websub: feed's hub or topic changed; subscribing again", "feed", feed, "hub", feedurl.Masked(hub))
		m.dropLocked(ctx, rec)
	}
	id := randomToken(16)
	rec = &Record{
		Feed: feed, Hub: hub, Topic: topic, ID: id, Callback: m.base + "/" + id,
		Secret: randomToken(32), State: StatePending, NextAttempt: m.o.Now(),
		PrivateFeed: privateURL(src),
	}
	m.subs[feed] = rec
	m.byID[id] = rec
	m.persistLocked(ctx, rec)
	m.log.Info("websub: subscribing", "feed", feed, "hub", feedurl.Masked(hub))
	m.poke()
}

// privateURL reports whether a feed URL names a loopback or private
// address literally (or localhost).
func privateURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if strings.EqualFold(h, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && fetch.IsPrivate(netip.AddrPortFrom(a, 0))
}

// dropLocked forgets rec and, when the hub may hold it, unsubscribes.
func (m *Manager) dropLocked(ctx context.Context, rec *Record) {
	if m.subs[rec.Feed] == rec {
		delete(m.subs, rec.Feed)
		m.deleteLocked(ctx, rec.Feed)
		if rec.State == StateActive {
			m.pollSoon(rec.Feed)
		}
	}
	delete(m.byID, rec.ID)
	if !m.ours(rec) || rec.State == StateDenied {
		return
	}
	rec.Attempts = 0
	rec.NextAttempt = m.o.Now()
	m.leaving[rec.ID] = rec
	m.poke()
}

// SetFeeds is the configured feed list (every feed, owned or not): the
// subscriptions of feeds no longer in it are ended.
func (m *Manager) SetFeeds(names []string) {
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[n] = true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.feeds = set
	for feed, rec := range m.subs {
		if !set[feed] {
			m.log.Info("websub: feed left the config; unsubscribing", "feed", feed)
			m.dropLocked(context.Background(), rec)
		}
	}
}

// Interval is the poll interval for feed: the fallback interval (or
// normal, if longer) while its subscription is active, else normal.
func (m *Manager) Interval(feed string, normal time.Duration) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec := m.subs[feed]
	if rec == nil || rec.State != StateActive || !m.o.Now().Before(rec.Expires) || !m.ours(rec) {
		return normal
	}
	return max(normal, m.tun.Load().Fallback)
}

// FeedPush is a feed's push state for status pages.
type FeedPush struct {
	State    State     `json:"state"`
	Hub      string    `json:"hub,omitempty"`
	Expires  time.Time `json:"lease_expires,omitzero"`
	LastPush time.Time `json:"last_push,omitzero"`
	Reason   string    `json:"reason,omitempty"`
}

// Status returns feed's push state.
func (m *Manager) Status(feed string) FeedPush { return m.StatusOf([]string{feed})[0] }

// StatusOf returns the push state of each of feeds, in order, under one
// lock: status pages take it once per call. Status once per feed (a lock
// and a masked hub URL each) cost as much as the rest of the status at
// 50,000 subscribed feeds.
func (m *Manager) StatusOf(feeds []string) []FeedPush {
	out := make([]FeedPush, len(feeds))
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, feed := range feeds {
		rec := m.subs[feed]
		if rec == nil || !m.ours(rec) {
			out[i].State = StateNone
			continue
		}
		out[i] = m.pushOf(rec)
	}
	return out
}

// pushOf is rec's push state; m.mu is held. A record's hub never changes,
// so it is masked once.
func (m *Manager) pushOf(rec *Record) FeedPush {
	if rec.hubMasked == "" {
		rec.hubMasked = feedurl.Masked(rec.Hub)
	}
	return FeedPush{State: rec.State, Hub: rec.hubMasked, Expires: rec.Expires, LastPush: rec.lastPush, Reason: rec.Reason}
}
