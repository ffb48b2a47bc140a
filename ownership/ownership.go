// Package ownership shares the feed set among the watching processes of one
// deployment. Each process is a member: it writes a record under its id in a
// replicated key-value store (JetStream KV, through the small Store
// interface) and renews it every few seconds. A member whose record has not
// changed for TTL is dead. Feeds go to the live watching members by
// rendezvous hashing, so a join or leave moves about 1/N of them, and every
// member computes the same assignment without asking the others.
//
// Fencing: a member trusts its own ownership only while its lease holds,
// that is for Lease (shorter than TTL) after the last renewal it sent and
// that the store accepted, measured on the monotonic clock. The others wait
// TTL after they last saw that record change before they take its feeds, so
// a member that is paused or cut off stops writing before anyone else
// starts. Owns is checked by the watcher before every poll and write.
//
// Feed lists: each process knows only the feeds of its own config, so a
// member shares its feeds only with the live watchers whose record carries
// the same feed-list fingerprint (see SameFeedList). Processes with
// different configs (one reloaded before the others, or set up apart)
// form groups that each cover all of their own feeds.
package ownership

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Roles of members. Only watch and run members take feeds.
const (
	RoleRun    = "run"
	RoleWatch  = "watch"
	RoleNotify = "notify"
)

// Defaults for the timing options: a killed member's feeds move within
// TTL plus one check (about 16 s), well inside the 30 s promise.
const (
	DefaultRenew = 3 * time.Second
	DefaultLease = 10 * time.Second
	DefaultTTL   = 15 * time.Second
)

// Member is one process, as stored and as shown by status.
type Member struct {
	ID         string    `json:"id"`
	Role       string    `json:"role"`
	Host       string    `json:"host"`
	PID        int       `json:"pid"`
	Started    time.Time `json:"started"`
	LastSeen   time.Time `json:"last_seen"`
	FeedsOwned int       `json:"feeds_owned"`
	// FeedList fingerprints the feed list the member shares (Fingerprint),
	// FeedsConfigured counts it; notify members have none. A record of an
	// older version has no fingerprint and matches every list.
	FeedList        string `json:"feed_list,omitempty"`
	FeedsConfigured int    `json:"feeds_configured"`
}

// Entry is one record of the store.
type Entry struct {
	Key      string
	Value    []byte
	Revision uint64
	// Created is when the store wrote this revision (its clock).
	Created time.Time
	Deleted bool
}

// Store keeps member records: a JetStream KV bucket in production.
type Store interface {
	Put(ctx context.Context, key string, value []byte) error
	Delete(ctx context.Context, key string) error
	List(ctx context.Context) ([]Entry, error)
	// Watch sends every change until ctx ends, then closes the channel
	// (it may also close earlier, when the watch breaks).
	Watch(ctx context.Context) (<-chan Entry, error)
}

// Options configure a Coordinator.
type Options struct {
	Store Store
	Role  string
	// Host and PID default to this process's.
	Host string
	PID  int
	// Renew is how often the record is rewritten, Lease how long after a
	// renewal this member trusts its ownership, TTL how long the others
	// wait for a renewal before they count this member dead. Lease < TTL.
	Renew, Lease, TTL time.Duration
	// OnChange receives the sorted names of the feeds this member owns,
	// each time they change (from Start and Run, never concurrently). It
	// must not block.
	OnChange   func(owned []string)
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// alive reports whether a process of this host runs (stale records of
	// a crashed process on this host are dropped at once).
	alive func(pid int) bool
}

// Coordinator is this process's membership and share of the feeds.
type Coordinator struct {
	opts Options
	log  *slog.Logger
	self Member
	kick chan struct{}

	mu        sync.Mutex
	feeds     []string
	peers     map[string]*peer
	owned     map[string]bool
	ownedList []string
	renewedAt time.Time // when the last accepted renewal was sent
	holdUntil time.Time
	halted    bool
	fault     error
	// feedsGen counts SetFeeds calls; lastGen and lastWatchers are what
	// the current share was computed from (compute runs every tick, and
	// hashing 50,000 feeds each time would be waste).
	feedsGen, lastGen int
	lastWatchers      []string
	// feedList and feedCount are what SetFeedList gave; self.FeedList is
	// what the store last accepted. The share follows the published one,
	// so the others can see this member in the group it shares with.
	feedList  string
	feedCount int
	// othersKey names the live watchers with another feed list, as last
	// logged: the warning goes out once per change.
	othersKey string

	members *prometheus.GaugeVec
	ownedG  prometheus.Gauge
}

type peer struct {
	m   Member
	rev uint64
	at  time.Time // local time the record last changed
}

// New builds a Coordinator; Start registers it.
func New(o Options) (*Coordinator, error) {
	if o.Store == nil {
		return nil, errors.New("ownership: no store")
	}
	if o.Renew <= 0 {
		o.Renew = DefaultRenew
	}
	if o.Lease <= 0 {
		o.Lease = DefaultLease
	}
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.Lease >= o.TTL || o.Renew >= o.Lease {
		return nil, fmt.Errorf("ownership: need renew %s < lease %s < ttl %s", o.Renew, o.Lease, o.TTL)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Host == "" {
		o.Host, _ = os.Hostname()
	}
	if o.PID == 0 {
		o.PID = os.Getpid()
	}
	if o.alive == nil {
		o.alive = processAlive
	}
	c := &Coordinator{
		opts:  o,
		log:   o.Logger,
		kick:  make(chan struct{}, 1),
		peers: map[string]*peer{},
		owned: map[string]bool{},
		self: Member{
			// Host and pid say where it runs; the random part keeps a
			// restarted process (same pid in a container) apart from its
			// previous life.
			ID:      fmt.Sprintf("%s-%d-%06x", kvSafe(o.Host), o.PID, rand.Uint32()&0xffffff),
			Role:    o.Role,
			Host:    o.Host,
			PID:     o.PID,
			Started: time.Now().UTC().Truncate(time.Second),
		},
		members: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "feedwatch_members", Help: "Live feedwatch processes sharing this NATS deployment, by role."}, []string{"role"}),
		ownedG:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "feedwatch_feeds_owned", Help: "Feeds this process owns and polls."}),
	}
	if o.Registerer != nil {
		for _, col := range []prometheus.Collector{c.members, c.ownedG, newMemberCollector(c)} {
			if err := o.Registerer.Register(col); err != nil {
				return nil, fmt.Errorf("ownership: metrics: %w", err)
			}
		}
	}
	return c, nil
}

// kvSafe keeps the KV key alphabet.
func kvSafe(s string) string {
	b := []byte(s)
	for i, ch := range b {
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_') {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "host"
	}
	return string(b)
}

// ID is this member's id.
func (c *Coordinator) ID() string { return c.self.ID }

func (c *Coordinator) watches() bool {
	return c.opts.Role == RoleWatch || c.opts.Role == RoleRun
}

// SetFeeds replaces the feed set (config load and reload), fingerprinted
// by the names.
func (c *Coordinator) SetFeeds(names []string) {
	c.SetFeedList(names, Fingerprint(names))
}

// SetFeedList replaces the feed set with its fingerprint given (the
// daemon's also covers each feed's URL). A changed fingerprint is
// published at once; this member shares with its new group from then on.
func (c *Coordinator) SetFeedList(names []string, fingerprint string) {
	c.mu.Lock()
	c.feeds = slices.Clone(names)
	c.feedsGen++
	c.feedList, c.feedCount = fingerprint, len(names)
	c.mu.Unlock()
	c.poke()
}

// listPending reports whether the feed list changed since the last
// accepted renewal.
func (c *Coordinator) listPending() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.feedList != c.self.FeedList || c.feedCount != c.self.FeedsConfigured
}

func (c *Coordinator) poke() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Owns reports whether this member may poll feed and write its state now:
// the feed is assigned to it and its lease holds.
func (c *Coordinator) Owns(feed string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leaseValid(time.Now()) && c.owned[feed]
}

// Watchers returns the live members that poll feeds with this member's
// feed list, sorted, as the share was last computed from: with Owner, who
// polls a feed.
func (c *Coordinator) Watchers() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.lastWatchers)
}

// startTries is how long Start keeps trying to register.
const startTries = 30 * time.Second

func (c *Coordinator) leaseValid(now time.Time) bool {
	return !c.halted && !c.renewedAt.IsZero() && now.Sub(c.renewedAt) < c.opts.Lease && !now.Before(c.holdUntil)
}

// Start registers this member, reads the others and makes the first
// assignment (OnChange is called before it returns). While other watchers
// run, a watching member's first share comes from Run after handoverHold.
func (c *Coordinator) Start(ctx context.Context) error {
	// Right after a replicas change or a server loss the members bucket
	// may be electing a leader for a few seconds: keep trying for a while
	// rather than fail the start.
	deadline := time.Now().Add(startTries)
	for {
		err := c.renew(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil || time.Now().After(deadline) || c.isHalted() {
			return fmt.Errorf("register member %s: %w", c.self.ID, err)
		}
		c.log.Warn("register member: retrying", "member", c.self.ID, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("register member %s: %w", c.self.ID, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
	if err := c.resync(ctx, true); err != nil {
		return fmt.Errorf("read members: %w", err)
	}
	c.mu.Lock()
	if c.watches() && c.groupWatchersLocked(time.Now()) > 0 {
		// The others poll every feed until they see our record: take no
		// share before they can have (see handoverHold).
		c.holdUntil = c.renewedAt.Add(c.handoverHold())
	}
	c.mu.Unlock()
	c.compute()
	c.log.Info("member registered", "member", c.self.ID, "role", c.opts.Role, "feeds_owned", c.ownedCount())
	return nil
}

// Run renews the record, follows the others and reassigns feeds until ctx
// ends. It leaves the record in place: Leave removes it.
func (c *Coordinator) Run(ctx context.Context) error {
	tick := time.NewTicker(max(c.opts.Renew/3, 50*time.Millisecond))
	defer tick.Stop()
	var (
		updates   <-chan Entry
		stopWatch context.CancelFunc = func() {}
	)
	defer func() { stopWatch() }()
	nextRenew := time.Now().Add(c.opts.Renew)
	nextSync := time.Now().Add(2 * c.opts.Renew)
	for {
		if updates == nil {
			wctx, cancel := context.WithCancel(ctx)
			ch, err := c.opts.Store.Watch(wctx)
			if err != nil {
				cancel()
				if ctx.Err() == nil {
					c.log.Debug("watch members", "err", err)
				}
			} else {
				updates, stopWatch = ch, cancel
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-updates:
			if !ok {
				stopWatch()
				updates = nil
				continue
			}
			if c.observe(e, time.Now()) {
				c.compute()
			}
		case <-c.kick:
			// A new feed list is published before the share follows it.
			if c.listPending() && !c.isHalted() {
				nextRenew = c.renewAt(ctx, time.Now())
				if ctx.Err() != nil {
					return nil
				}
			}
			c.compute()
		case now := <-tick.C:
			if c.isHalted() {
				return nil
			}
			if !now.Before(nextRenew) || c.listPending() {
				nextRenew = c.renewAt(ctx, now)
				if ctx.Err() != nil {
					return nil
				}
			}
			if !now.Before(nextSync) {
				if err := c.resync(ctx, false); err != nil && ctx.Err() == nil {
					c.log.Debug("resync members", "err", err)
				}
				nextSync = now.Add(2 * c.opts.Renew)
			}
			c.compute()
		}
	}
}

// renewAt renews the record and returns when to renew next.
func (c *Coordinator) renewAt(ctx context.Context, now time.Time) time.Time {
	if err := c.renew(ctx); err != nil {
		if ctx.Err() == nil {
			c.log.Warn("renew member record", "member", c.self.ID, "err", err)
		}
		return now.Add(c.opts.Renew / 3)
	}
	return now.Add(c.opts.Renew)
}

// Leave removes this member's record, so the others take its feeds at
// once, and gives up every feed.
func (c *Coordinator) Leave(ctx context.Context) {
	c.mu.Lock()
	halted := c.halted
	c.halted = true
	c.mu.Unlock()
	c.compute()
	if halted {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := c.opts.Store.Delete(ctx, c.self.ID); err != nil {
		c.log.Warn("leave: others take this member's feeds after its record expires", "member", c.self.ID, "err", err)
		return
	}
	c.log.Info("member left", "member", c.self.ID)
}

// Halt stops this member as if its process had died: no more renewals, no
// ownership, and Leave will not remove the record. For tests of failover.
func (c *Coordinator) Halt() {
	c.mu.Lock()
	c.halted = true
	c.mu.Unlock()
	c.poke()
}

// SetFault makes renewals fail with err until it is called with nil, as if
// the member were cut off from the store. For tests of fencing.
func (c *Coordinator) SetFault(err error) {
	c.mu.Lock()
	c.fault = err
	c.mu.Unlock()
}

func (c *Coordinator) isHalted() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.halted
}

func (c *Coordinator) renew(ctx context.Context) error {
	c.mu.Lock()
	if c.halted {
		c.mu.Unlock()
		return errors.New("halted")
	}
	fault := c.fault
	m := c.self
	m.FeedsOwned = len(c.ownedList)
	m.FeedList, m.FeedsConfigured = c.feedList, c.feedCount
	c.mu.Unlock()
	m.LastSeen = time.Now().UTC().Truncate(time.Second)
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	sent := time.Now()
	if fault != nil {
		return fault
	}
	rctx, cancel := context.WithTimeout(ctx, c.opts.Renew)
	defer cancel()
	if err := c.opts.Store.Put(rctx, c.self.ID, b); err != nil {
		return err
	}
	c.mu.Lock()
	if !c.renewedAt.IsZero() && sent.Sub(c.renewedAt) >= c.opts.Lease {
		// The lease lapsed: the others may have taken our feeds and
		// written their state. Stay out until they can have seen us
		// back, so the watcher drops what it held and no feed has two
		// owners at once.
		c.holdUntil = sent.Add(c.handoverHold())
		c.log.Warn("member lease regained after a lapse; rejoining", "member", c.self.ID, "lapse", sent.Sub(c.renewedAt).Round(time.Millisecond))
	}
	if prev := c.self.FeedList; prev != "" && prev != m.FeedList {
		c.self.FeedList = m.FeedList
		if c.watches() && c.groupWatchersLocked(sent) > 0 {
			// A new feed list joins a group whose members poll every
			// feed of it until they see this record: hold off as a
			// joining member does.
			if until := sent.Add(c.handoverHold()); until.After(c.holdUntil) {
				c.holdUntil = until
			}
		}
	}
	c.self.FeedList, c.self.FeedsConfigured = m.FeedList, m.FeedsConfigured
	c.renewedAt = sent
	c.mu.Unlock()
	return nil
}

// handoverHold is how long a member that joins, or comes back after its
// lease lapsed, waits before it takes a share while other watchers run:
// they keep polling every feed they own until they see its record, through
// their watch at once or, if the watch is broken, at their next re-read
// (every 2 Renew, checked every Renew/3). Without it a joining member and
// the previous owner both polled the moved feeds for a moment.
func (c *Coordinator) handoverHold() time.Duration {
	return 3 * c.opts.Renew
}

// groupWatchersLocked counts the other watching members not yet counted
// dead that share this member's feed list. c.mu is held.
func (c *Coordinator) groupWatchersLocked(now time.Time) int {
	n := 0
	for _, p := range c.peers {
		if now.Sub(p.at) <= c.opts.TTL && isWatcher(p.m.Role) && SameFeedList(p.m.FeedList, c.self.FeedList) {
			n++
		}
	}
	return n
}

func isWatcher(role string) bool { return role == RoleWatch || role == RoleRun }

// resync reads every record. At start, a record's age is taken from the
// store's clock, so a member dead for longer than TTL is not waited for;
// later, only a change of revision counts as a sign of life.
func (c *Coordinator) resync(ctx context.Context, initial bool) error {
	lctx, cancel := context.WithTimeout(ctx, max(c.opts.Renew, time.Second))
	defer cancel()
	es, err := c.opts.Store.List(lctx)
	if err != nil {
		return err
	}
	now := time.Now()
	present := make(map[string]bool, len(es))
	changed := false
	for _, e := range es {
		present[e.Key] = true
		if initial {
			var m Member
			if json.Unmarshal(e.Value, &m) == nil && c.stale(m) {
				dctx, dcancel := context.WithTimeout(ctx, time.Second)
				_ = c.opts.Store.Delete(dctx, e.Key)
				dcancel()
				c.log.Info("dropped the record of a previous process on this host", "member", e.Key)
				continue
			}
		}
		if c.observe(e, now) {
			changed = true
		}
		if initial && !e.Created.IsZero() {
			c.mu.Lock()
			if p := c.peers[e.Key]; p != nil {
				age := min(max(time.Since(e.Created), 0), c.opts.TTL)
				p.at = now.Add(-age)
			}
			c.mu.Unlock()
		}
	}
	c.mu.Lock()
	for id := range c.peers {
		if !present[id] {
			delete(c.peers, id) // expired from the bucket
			changed = true
		}
	}
	c.mu.Unlock()
	if changed {
		c.poke()
	}
	return nil
}

// stale reports whether a record belongs to a process of this host that no
// longer runs. (A restarted container has the same host name and pid 1 as
// its previous life: its record is waited out like any other.)
func (c *Coordinator) stale(m Member) bool {
	if m.ID == c.self.ID || m.Host != c.self.Host || m.PID <= 0 || m.PID == c.self.PID {
		return false
	}
	return !c.opts.alive(m.PID)
}

// observe records an entry; it reports whether the member set may have
// changed.
func (c *Coordinator) observe(e Entry, now time.Time) bool {
	if e.Key == c.self.ID {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.Deleted {
		if _, ok := c.peers[e.Key]; ok {
			delete(c.peers, e.Key)
			return true
		}
		return false
	}
	p := c.peers[e.Key]
	if p != nil && p.rev == e.Revision {
		return false
	}
	var m Member
	if err := json.Unmarshal(e.Value, &m); err != nil || m.ID != e.Key {
		return false
	}
	if p == nil {
		c.peers[e.Key] = &peer{m: m, rev: e.Revision, at: now}
		return true
	}
	// A new feed list moves the member to another group.
	moved := p.m.FeedList != m.FeedList
	p.m, p.rev, p.at = m, e.Revision, now
	return moved
}

// compute assigns the feeds over the live watching members with this
// member's feed list and reports a change of this member's share.
func (c *Coordinator) compute() {
	now := time.Now()
	c.mu.Lock()
	var watchers []string
	var others []Member // live watchers with another feed list
	counts := map[string]int{}
	if c.leaseValid(now) {
		counts[c.opts.Role]++
		if c.watches() {
			watchers = append(watchers, c.self.ID)
		}
	}
	for id, p := range c.peers {
		if now.Sub(p.at) > c.opts.TTL {
			continue
		}
		counts[p.m.Role]++
		if !isWatcher(p.m.Role) {
			continue
		}
		if SameFeedList(p.m.FeedList, c.self.FeedList) {
			watchers = append(watchers, id)
		} else {
			others = append(others, p.m)
		}
	}
	slices.Sort(watchers)
	othersLog, othersChanged := c.othersChangedLocked(others)
	owned := c.ownedList
	if c.feedsGen != c.lastGen || !slices.Equal(watchers, c.lastWatchers) {
		c.lastGen, c.lastWatchers = c.feedsGen, watchers
		owned = nil
		if slices.Contains(watchers, c.self.ID) {
			for _, f := range c.feeds {
				if Owner(f, watchers) == c.self.ID {
					owned = append(owned, f)
				}
			}
		}
		slices.Sort(owned)
	}
	same := slices.Equal(owned, c.ownedList)
	if !same {
		c.ownedList = owned
		c.owned = make(map[string]bool, len(owned))
		for _, f := range owned {
			c.owned[f] = true
		}
	}
	c.mu.Unlock()
	// No Reset: a scrape in between would see no members at all.
	for _, role := range []string{RoleRun, RoleWatch, RoleNotify} {
		c.members.WithLabelValues(role).Set(float64(counts[role]))
	}
	c.ownedG.Set(float64(len(owned)))
	if othersChanged {
		c.logOthers(othersLog)
	}
	if !same && c.opts.OnChange != nil {
		c.log.Info("feed share changed", "member", c.self.ID, "feeds_owned", len(owned), "watchers", len(watchers))
		c.opts.OnChange(slices.Clone(owned))
	}
}

func (c *Coordinator) ownedCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ownedList)
}

// Members returns the live members, this one included, sorted by id.
func (c *Coordinator) Members() []Member {
	now := time.Now()
	c.mu.Lock()
	var out []Member
	if c.leaseValid(now) {
		m := c.self
		m.FeedsOwned = len(c.ownedList)
		m.LastSeen = time.Now().UTC().Truncate(time.Second)
		out = append(out, m)
	}
	for _, p := range c.peers {
		if now.Sub(p.at) <= c.opts.TTL {
			out = append(out, p.m)
		}
	}
	c.mu.Unlock()
	slices.SortFunc(out, func(a, b Member) int {
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	return out
}

// processAlive reports whether pid runs on this machine (signal 0 checks
// without sending anything).
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}

// othersChangedLocked reports whether the set of live watchers with
// another feed list (and their lists) changed since it was last logged,
// with the text naming them. Only watching members with a published list
// compare. c.mu is held.
func (c *Coordinator) othersChangedLocked(others []Member) (string, bool) {
	if !c.watches() || c.self.FeedList == "" {
		others = nil
	}
	slices.SortFunc(others, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })
	var b strings.Builder
	for i, m := range others {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s (%s, %d feeds, list %s)", m.ID, m.Host, m.FeedsConfigured, m.FeedList)
	}
	key := b.String()
	if key == c.othersKey {
		return "", false
	}
	c.othersKey = key
	return key, true
}

// othersHint is what the warning about other feed lists advises.
const othersHint = "feedwatch processes sharing a NATS should run the same config; each group of identical feed lists polls its own feeds meanwhile"

func (c *Coordinator) logOthers(others string) {
	c.mu.Lock()
	list, n := c.self.FeedList, c.self.FeedsConfigured
	c.mu.Unlock()
	if others == "" {
		c.log.Info("every live watcher has this member's feed list again", "member", c.self.ID, "feed_list", list)
		return
	}
	c.log.Warn("members with another feed list do not share this member's feeds", "member", c.self.ID,
		"feed_list", list, "feeds", n, "others", others, "hint", othersHint)
}

// SameFeedList reports whether members with these feed-list fingerprints
// share their feeds: the lists are the same, or one is unknown (a record
// written by an older version, which shares with everyone as it did).
func SameFeedList(a, b string) bool {
	return a == "" || b == "" || a == b
}

// Fingerprint identifies a feed list by its keys in any order: 16 hex
// digits of SHA-256 over the sorted keys, each length-prefixed so that
// no two lists run together. 50,000 feeds take a few milliseconds.
func Fingerprint(keys []string) string {
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	for _, k := range sorted {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(k)))])
		io.WriteString(h, k)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}
