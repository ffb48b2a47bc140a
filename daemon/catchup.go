package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/feedwatch/feedwatch/backtest"
	"github.com/feedwatch/feedwatch/bus"
	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/route"
)

// catchUpFingerprint names what a profile's catch-up depends on: its
// matching (query, keywords, exclude, feeds scope, order aside) and its
// window. A change of any of them runs the catch-up again; hit ids keep
// that from alerting anything twice, so only new matches alert.
func catchUpFingerprint(p config.Profile) string {
	feeds := slices.Clone(p.Feeds)
	slices.Sort(feeds)
	data, _ := json.Marshal(struct {
		V        int
		Query    string
		Keywords []string
		Exclude  []string
		Feeds    []string
		CatchUp  time.Duration
	}{1, p.Query, p.Keywords, p.Exclude, feeds, p.CatchUp.D()})
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:16])
}

// catchUps runs profiles' catch-ups, one pass at a time, for the latest
// config handed to request: at start and after each reload. In a cluster
// each (profile, fingerprint) is run by the one process that claims it in
// the catch-up bucket (bus.CatchUps.Claim); the others skip it.
type catchUps struct {
	bus   *bus.Bus
	sink  *sink
	log   *slog.Logger
	now   func() time.Time
	owner string
	req   chan *config.Config
	// passed, when set (tests), is told after each pass.
	passed func()
}

func (c *catchUps) request(cfg *config.Config) {
	for {
		select {
		case c.req <- cfg:
			return
		default:
		}
		// Replace a pending request: only the latest config counts.
		select {
		case <-c.req:
		default:
		}
	}
}

func (c *catchUps) run(ctx context.Context) {
	var cfg *config.Config
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case cfg = <-c.req:
		case <-retry.C:
		}
		if cfg == nil {
			continue
		}
		if busy := c.pass(ctx, cfg); busy {
			// Another process runs one: if it dies, take it over.
			retry.Reset(bus.CatchUpStale + time.Second)
		}
		if c.passed != nil {
			c.passed()
		}
	}
}

// pass runs the catch-ups cfg calls for, grouped by window (one read of
// the archive per window), and reports whether some were busy elsewhere.
func (c *catchUps) pass(ctx context.Context, cfg *config.Config) (busy bool) {
	if !cfg.Archive.On() {
		return false
	}
	byWindow := map[time.Duration][]config.Profile{}
	fps := map[string]string{}
	for _, p := range cfg.Profiles {
		if p.CatchUp <= 0 {
			continue
		}
		fp := catchUpFingerprint(p)
		claim, err := c.bus.CatchUps().Claim(ctx, p.Name, fp, c.owner)
		if err != nil {
			c.log.Error("catch-up not run", "profile", p.Name, "err", err)
			continue
		}
		switch claim {
		case bus.CatchUpMine:
			byWindow[p.CatchUp.D()] = append(byWindow[p.CatchUp.D()], p)
			fps[p.Name] = fp
		case bus.CatchUpBusy:
			busy = true
		}
	}
	windows := make([]time.Duration, 0, len(byWindow))
	for w := range byWindow {
		windows = append(windows, w)
	}
	slices.Sort(windows)
	for _, w := range windows {
		profiles := byWindow[w]
		if err := c.catchUp(ctx, cfg, profiles, w); err != nil {
			// Left marked running: retried once stale.
			c.log.Error("catch-up failed; it is tried again later", "profiles", names(profiles), "err", err)
			busy = true
			continue
		}
		for _, p := range profiles {
			if err := c.bus.CatchUps().Done(ctx, p.Name, fps[p.Name]); err != nil {
				c.log.Warn("catch-up ran but could not be recorded; it may run again (alerting nothing twice)", "profile", p.Name, "err", err)
			}
		}
	}
	return busy
}

// catchUp alerts the archived items of the window that profiles match:
// the backtest's matching, published as live hits are (same hit ids, the
// alerted check, link claims), so each (profile, item) alerts at most once.
func (c *catchUps) catchUp(ctx context.Context, cfg *config.Config, profiles []config.Profile, window time.Duration) error {
	t, err := route.Compile(profiles)
	if err != nil {
		return err
	}
	now := c.now()
	var published int
	st, err := backtest.Run(ctx, c.bus, backtest.Options{
		Table: t, Feed: backtest.ConfiguredFeeds(cfg), Since: now.Add(-window), Now: func() time.Time { return now },
		// One worker: polling goes on meanwhile.
		Workers: 1,
	}, func(h hit.Hit) error {
		ok, err := route.Publish(ctx, c.bus, h)
		if ok {
			published++
			c.sink.count(h)
		}
		return err
	})
	switch {
	case errors.Is(err, backtest.ErrEmpty):
		err = nil
	case errors.Is(err, backtest.ErrDamaged):
		c.log.Warn("catch-up: some archived items could not be read", "err", err)
		err = nil
	}
	if err != nil {
		return err
	}
	c.log.Info("catch-up done", "profiles", names(profiles), "window", window.String(),
		"items", st.InWindow, "matches", st.Hits, "alerted", published)
	return nil
}

func names(ps []config.Profile) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return out
}
