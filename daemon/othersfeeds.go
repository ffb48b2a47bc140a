package daemon

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/feedwatch/feedwatch/bus"
	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/feedurl"
	"github.com/feedwatch/feedwatch/ownership"
	"github.com/feedwatch/feedwatch/watcher"
)

// othersFeeds is what this process knows of the feeds other processes
// of the deployment poll, so that its console shows every feed, not only
// its own share: each feed's stored state (as the owner last saved it,
// at most one state-save interval old), followed through a watch of the
// feed-state bucket. The watch starts the first time a status is built
// while another process polls feeds (or this one polls none), and runs
// until ctx ends, started again after a failure.
type othersFeeds struct {
	ctx  context.Context
	bus  *bus.Bus
	log  *slog.Logger
	once sync.Once

	// loaded is closed once the states stored when the watch began are
	// all in.
	loaded     chan struct{}
	loadedOnce sync.Once

	mu     sync.Mutex
	states map[string]remoteFeed // by feed name
	// byName is the configured feeds sorted by name, made again when
	// the config's feed list is another slice (a reload).
	byName   []config.Feed
	byNameOf *config.Feed
}

// firstLoadWait bounds how long the first status waits for the stored
// states: a status asked for right after start shows them, a slow NATS
// does not hold it up for long.
const firstLoadWait = 3 * time.Second

type remoteFeed struct {
	st     watcher.FeedStatus
	cfgURL string // the configured URL the state belongs to
}

func newOthersFeeds(ctx context.Context, b *bus.Bus, log *slog.Logger) *othersFeeds {
	return &othersFeeds{ctx: ctx, bus: b, log: log, states: map[string]remoteFeed{}, loaded: make(chan struct{})}
}

// start begins following the stored states, once; the first call waits
// (up to firstLoadWait) for the states stored so far.
func (c *othersFeeds) start() {
	first := false
	c.once.Do(func() {
		first = true
		go c.run()
	})
	if first {
		select {
		case <-c.loaded:
		case <-time.After(firstLoadWait):
		case <-c.ctx.Done():
		}
	}
}

func (c *othersFeeds) run() {
	for {
		err := c.bus.WatchFeedStates(c.ctx, c.put, func() { c.loadedOnce.Do(func() { close(c.loaded) }) })
		if c.ctx.Err() != nil {
			return
		}
		if c.bus.Connected() { // else NATS is away or the bus closing: said elsewhere
			c.log.Warn("status: following the other processes' feed states failed; trying again in 5 s", "err", err)
		}
		select {
		case <-c.ctx.Done():
			return
		case <-time.After(5 * time.Second):
		}
	}
}

func (c *othersFeeds) put(feed string, state []byte) {
	if watcher.IsAliasName(feed) {
		return // not a feed: a url's former names (watcher/rename.go)
	}
	var rf remoteFeed
	ok := state != nil
	if ok {
		var err error
		rf.st, rf.cfgURL, err = watcher.StoredStatus(feed, state)
		ok = err == nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ok {
		c.states[feed] = rf
	} else {
		delete(c.states, feed)
	}
}

// rows returns a status row for each configured feed not in local (the
// feeds this process polls), with who polls it: its stored state when
// that is of its configured URL, else only its name and URL.
func (c *othersFeeds) rows(feeds []config.Feed, local map[string]bool, watchers []string) []FeedStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(feeds) == 0 {
		return nil
	}
	if c.byNameOf != &feeds[0] || len(c.byName) != len(feeds) {
		c.byName = slices.Clone(feeds)
		for i := range c.byName {
			if c.byName[i].Name == "" {
				c.byName[i].Name = c.byName[i].URL
			}
		}
		slices.SortFunc(c.byName, func(a, b config.Feed) int { return strings.Compare(a.Name, b.Name) })
		c.byNameOf = &feeds[0]
	}
	out := make([]FeedStatus, 0, max(len(feeds)-len(local), 0))
	for _, f := range c.byName {
		if local[f.Name] {
			continue
		}
		row := FeedStatus{Name: f.Name, Owner: ownership.Owner(f.Name, watchers)}
		if rf, ok := c.states[f.Name]; ok && rf.cfgURL == f.URL {
			s := rf.st
			// No next poll: the owner stores its state when a poll changes
			// something (and every stateSaveEvery), so the next poll it
			// stored may long be past.
			row.URL, row.LastPoll, row.Result = s.URL, s.LastPoll, s.Result
			row.Error, row.Gone, row.Failures, row.Notice = s.Error, s.Gone, s.Failures, s.Notice
		} else {
			row.URL = feedurl.Masked(f.URL)
		}
		out = append(out, row)
	}
	return out
}

// withOthersFeeds adds to feeds (this process's, sorted by name) a row for
// every configured feed another process polls, each row saying who polls
// it, when this process is not the only one polling: the status of the
// whole deployment, whichever process is asked.
func (d *daemon) withOthersFeeds(feeds []FeedStatus) []FeedStatus {
	if d.remote == nil || d.members == nil {
		return feeds
	}
	self, watchers := d.members.c.ID(), d.members.c.Watchers()
	if d.opts.Mode.watches() && !slices.ContainsFunc(watchers, func(w string) bool { return w != self }) {
		return feeds // alone: every feed is this process's
	}
	d.remote.start()
	local := make(map[string]bool, len(feeds))
	for i := range feeds {
		feeds[i].Owner = self
		local[feeds[i].Name] = true
	}
	d.cfgMu.Lock()
	cfgFeeds := d.cfg.Feeds
	d.cfgMu.Unlock()
	others := d.remote.rows(cfgFeeds, local, watchers)
	// Both sorted by name: merge.
	out := make([]FeedStatus, 0, len(feeds)+len(others))
	i, j := 0, 0
	for i < len(feeds) || j < len(others) {
		if j == len(others) || i < len(feeds) && feeds[i].Name <= others[j].Name {
			out = append(out, feeds[i])
			i++
		} else {
			out = append(out, others[j])
			j++
		}
	}
	return out
}
