package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/feedwatch/feedwatch/backtest"
	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/console"
	"github.com/feedwatch/feedwatch/hit"
)

// Bounds of one query box search: the archive may hold millions of items,
// and the page is served by the daemon that also polls and delivers.
const (
	searchTimeout = 10 * time.Second
	searchMaxHits = 200
	// searchSlots is how many searches run at once; one more is told the
	// box is busy rather than queued behind them.
	searchSlots = 1
	// searchWorkers match a search's items: one core, the rest are the
	// daemon's.
	searchWorkers = 1
)

// errSearchBusy is what a search beyond searchSlots gets.
var errSearchBusy = errors.New("busy: another query is running; try again in a moment")

// archiveSearch is the console's query box: a backtest of one query over
// the archive, with the config of the moment (reloads apply).
type archiveSearch struct {
	a       backtest.Archive
	cfg     func() *config.Config
	slots   chan struct{}
	timeout time.Duration
}

var _ console.Searcher = (*archiveSearch)(nil)

// searcher is the console's query box over this daemon's bus.
func (d *daemon) searcher() console.Searcher {
	return newArchiveSearch(d.bus, func() *config.Config {
		d.cfgMu.Lock()
		defer d.cfgMu.Unlock()
		return d.cfg
	})
}

func newArchiveSearch(a backtest.Archive, cfg func() *config.Config) *archiveSearch {
	return &archiveSearch{a: a, cfg: cfg, slots: make(chan struct{}, searchSlots), timeout: searchTimeout}
}

// On reports whether the archive is on in the current config: the console
// shows "archive off" otherwise.
func (s *archiveSearch) On() bool { return s.cfg().Archive.On() }

// Search runs query over the archived items of the last since, newest hits
// first, at most min(limit, searchMaxHits). A search cut short by its time
// bound returns what it found so far with an error that says so.
func (s *archiveSearch) Search(ctx context.Context, query string, since time.Duration, limit int) ([]hit.Hit, error) {
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	default:
		return nil, errSearchBusy
	}
	cfg := s.cfg()
	if !cfg.Archive.On() {
		return nil, errors.New("archive off: archive.retention is 0")
	}
	if limit <= 0 || limit > searchMaxHits {
		limit = searchMaxHits
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	hits, err := backtest.QueryArchive(ctx, s.a, cfg, query, since, limit, backtest.QueryWorkers(searchWorkers))
	switch {
	case err == nil:
	case errors.Is(err, context.DeadlineExceeded):
		err = fmt.Errorf("the query ran out of time (%s) and read only part of the archive; the matches found so far are shown: try a shorter window (since)", s.timeout)
	case errors.Is(err, backtest.ErrEmpty):
		err = errors.New("no item archived yet: items are archived as the daemon finds them new")
	case errors.Is(err, backtest.ErrNoArchive):
		err = errors.New("no archive yet: it is made when the daemon starts with archive.retention set")
	}
	return hits, err
}
