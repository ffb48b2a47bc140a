package daemon

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/feedurl"
	"github.com/feedwatch/feedwatch/ownership"
	"github.com/feedwatch/feedwatch/watcher"
)

// testHooks are knobs for in-process tests of several daemons sharing a
// NATS cluster: shorter membership timing, the coordinator (to halt or cut
// off a member), and a report of each seen-state and feed state write.
type testHooks struct {
	renew, lease, ttl time.Duration
	member            func(*ownership.Coordinator)
	wrote             func(kind, feed string) // as each write is issued
	catchUpPassed     func()                  // after each catch-up pass
	owned             func(feeds []string)    // each change of this process's share
}

// membership is this process's place among the processes sharing the
// deployment: every process registers; watching ones poll only the feeds
// they own.
type membership struct {
	c    *ownership.Coordinator
	stop context.CancelFunc
	done chan struct{}
	once sync.Once
	// seenForget drops cached seen-log positions of feeds that change
	// hands (another process may write their logs meanwhile).
	seenForget func(feed string)

	mu    sync.Mutex
	feeds []watcher.FeedConfig // every configured feed
	names map[string]bool      // their names
	owned map[string]bool
	w     *watcher.Watcher // set once the watcher exists
	// onOwned, if set, sees each change of the share (a test hook).
	onOwned func(feeds []string)
}

// memberRole is how this process shows in the members bucket.
func (m Mode) memberRole() string {
	switch m {
	case ModeWatch:
		return ownership.RoleWatch
	case ModeNotify:
		return ownership.RoleNotify
	default:
		return ownership.RoleRun
	}
}

// startMembers registers this process and takes its first share of the
// feeds; renewals run until leave. Registering takes ctx (a stop during
// start ends it); the renewals run on runCtx.
func (d *daemon) startMembers(ctx, runCtx context.Context, cfg *config.Config) error {
	h := d.opts.hooks
	if h == nil {
		h = &testHooks{}
	}
	ttl := cmp(h.ttl, ownership.DefaultTTL)
	store, err := d.bus.Members(ctx, ttl)
	if err != nil {
		return err
	}
	ms := &membership{done: make(chan struct{}), seenForget: d.bus.Seen().Forget, owned: map[string]bool{}, onOwned: h.owned}
	c, err := ownership.New(ownership.Options{
		Store: store, Role: d.opts.Mode.memberRole(),
		Renew: cmp(h.renew, ownership.DefaultRenew), Lease: cmp(h.lease, ownership.DefaultLease), TTL: ttl,
		OnChange: ms.ownedChanged, Logger: d.log, Registerer: d.reg,
	})
	if err != nil {
		return fmt.Errorf("membership: %w", err)
	}
	ms.c = c
	ms.feeds = feedConfigs(cfg)
	ms.names = nameSet(ms.feeds)
	if d.opts.Mode.watches() {
		c.SetFeedList(feedNames(ms.feeds), feedListFingerprint(ms.feeds))
	}
	if err := c.Start(ctx); err != nil {
		return fmt.Errorf("membership: %w", err)
	}
	rctx, stop := context.WithCancel(runCtx)
	ms.stop = stop
	go func() {
		defer close(ms.done)
		if err := c.Run(rctx); err != nil {
			d.log.Error("membership stopped", "err", err)
		}
	}()
	if h.member != nil {
		h.member(c)
	}
	d.members = ms
	return nil
}

func cmp(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}

func feedNames(fs []watcher.FeedConfig) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Name
		if out[i] == "" {
			out[i] = f.URL
		}
	}
	return out
}

// feedListFingerprint identifies the feed list among the members: each
// feed's name and URL (secrets in it masked, as everywhere it is shown),
// so that processes share feeds only with those that know the same ones.
func feedListFingerprint(fs []watcher.FeedConfig) string {
	names := feedNames(fs)
	keys := make([]string, len(fs))
	for i, f := range fs {
		keys[i] = names[i] + "\x00" + feedurl.Public(f.URL, f.URLSecrets...)
	}
	return ownership.Fingerprint(keys)
}

// leave removes this process's record once its watcher has stopped, so
// the others take its feeds at once and never while it still polls.
func (ms *membership) leave() {
	if ms == nil {
		return
	}
	ms.once.Do(func() {
		ms.stop()
		<-ms.done
		ms.c.Leave(context.Background())
	})
}

// ownedChanged is the coordinator's OnChange.
func (ms *membership) ownedChanged(owned []string) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	next := make(map[string]bool, len(owned))
	for _, f := range owned {
		next[f] = true
		if !ms.owned[f] {
			ms.seenForget(f)
		}
	}
	for f := range ms.owned {
		if !next[f] {
			ms.seenForget(f)
		}
	}
	ms.owned = next
	if ms.onOwned != nil {
		ms.onOwned(owned)
	}
	if ms.w != nil {
		ms.w.SetFeeds(ms.ownedLocked())
	}
}

// setFeeds applies a (re)loaded feed list: the watcher gets the owned part
// now, the coordinator recomputes the share for added and removed feeds.
func (ms *membership) setFeeds(feeds []watcher.FeedConfig) {
	ms.mu.Lock()
	ms.feeds = feeds
	ms.names = nameSet(feeds)
	if ms.w != nil {
		ms.w.SetFeeds(ms.ownedLocked())
	}
	ms.mu.Unlock()
	ms.c.SetFeedList(feedNames(feeds), feedListFingerprint(feeds))
}

func nameSet(fs []watcher.FeedConfig) map[string]bool {
	out := make(map[string]bool, len(fs))
	for _, n := range feedNames(fs) {
		out[n] = true
	}
	return out
}

// configured reports whether a feed of that name is configured now,
// whichever process polls it (watcher.Options.Configured: a renamed feed
// adopts only the state of a name no longer configured).
func (ms *membership) configured(name string) bool {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return ms.names[name]
}

// ownedFeeds returns the configured feeds this process owns.
func (ms *membership) ownedFeeds() []watcher.FeedConfig {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return ms.ownedLocked()
}

func (ms *membership) ownedLocked() []watcher.FeedConfig {
	names := feedNames(ms.feeds)
	var out []watcher.FeedConfig
	for i, f := range ms.feeds {
		if ms.owned[names[i]] {
			out = append(out, f)
		}
	}
	return out
}

// attach hands owned-set changes to w from now on.
func (ms *membership) attach(w *watcher.Watcher) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	ms.w = w
	w.SetFeeds(ms.ownedLocked())
}

// list is the members for status pages.
func (ms *membership) list() []ownership.Member {
	if ms == nil {
		return []ownership.Member{}
	}
	out := ms.c.Members()
	if out == nil {
		out = []ownership.Member{}
	}
	return slices.Clip(out)
}

// hookedSeen and hookedState report each write to a test as it is issued.
type hookedSeen struct {
	watcher.SeenStore
	wrote func(kind, feed string)
}

func (s hookedSeen) MarkSeen(ctx context.Context, feed string, keys []string) error {
	s.wrote("seen", feed)
	return s.SeenStore.MarkSeen(ctx, feed, keys)
}

type hookedState struct {
	watcher.StateStore
	wrote func(kind, feed string)
}

func (s hookedState) Save(ctx context.Context, feed string, b []byte) error {
	s.wrote("state", feed)
	return s.StateStore.Save(ctx, feed, b)
}
