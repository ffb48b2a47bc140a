package watcher

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/feedwatch/feedwatch/feedurl"
	"github.com/feedwatch/feedwatch/item"
	"github.com/feedwatch/feedwatch/watcher/fetch"
	"github.com/feedwatch/feedwatch/watcher/parse"
)

// Seen-key refresh policy. SPEC: an item stays remembered until
// state_retention has passed since it was last seen in its feed, so keys of
// items still present must be re-marked now and then. Re-marking them on
// every poll would cost a seen-state write per poll even when nothing is
// new (50,000 feeds every 5 minutes); instead, whenever a poll parses the document and
// the feed's keys were last refreshed more than refreshInterval (24 h) ago,
// every key present is re-marked in one MarkSeen call: at most one extra
// write per feed per day. A feed that answers 304 or an identical body for longer than
// forceFullAfter (7 days) gets one unconditional GET that is parsed, so its
// keys are refreshed too. A state_retention shorter than four times these
// shortens both to a quarter of it (refreshPeriods); the config makes the
// retention at least twice the longest poll interval.
const forceFullAfter = 7 * 24 * time.Hour

// refreshPeriods are the seen-key refresh interval and the forced full
// fetch's for a state retention (0: unknown, the defaults).
func refreshPeriods(retention time.Duration) (refresh, forceFull time.Duration) {
	refresh, forceFull = 24*time.Hour, forceFullAfter
	if retention > 0 {
		refresh, forceFull = min(refresh, retention/4), min(forceFull, retention/4)
	}
	return refresh, forceFull
}

// stateSaveEvery bounds how long an unchanged state goes unsaved (each
// 304 would otherwise cost a KV write); the schedule after a restart is
// recomputed from it.
const stateSaveEvery = 6 * time.Hour

// errSink marks a failure of the sink or the seen store: not the feed's
// fault, so no backoff.
var errSink = errors.New("sink")

var errAlreadyRunning = errors.New("watcher: already running")

// errNotOwner stops a poll whose feed this watcher no longer owns.
var errNotOwner = errors.New("feed no longer owned")

// ownerRecheck is how soon a feed that is not ours (yet) is looked at
// again, when the feed list has not dropped it meanwhile.
const ownerRecheck = time.Second

// owns reports whether this watcher may poll and write feed now.
func (w *Watcher) owns(feed string) bool {
	return w.opts.Owner == nil || w.opts.Owner.Owns(feed)
}

// pollFeed polls f once and returns when it is next due, or stop when the
// feed is gone (410). Only the worker running f touches f.st.
func (w *Watcher) pollFeed(ctx context.Context, f *feed) (time.Time, bool) {
	started := time.Now()
	now := w.now()
	lag := now.Sub(f.due)
	interval := w.intervalOf(f.name, f.cfg)
	if !w.owns(f.name) {
		// Another watcher has it, or our lease lapsed: state is read
		// again if the feed comes back to us.
		f.loaded = false
		return now.Add(ownerRecheck), false
	}
	if !f.loaded {
		next, poll, stop := w.loadState(ctx, f, now, interval)
		if !poll {
			return next, stop
		}
	}
	out := w.poll(ctx, f, now, interval)
	result, n, next := out.result, out.newItems, out.next
	if result == "canceled" {
		// Shutdown: state left as it was; the poll repeats after restart.
		return now, false
	}
	if result == "not_owner" {
		f.loaded = false
		return now.Add(ownerRecheck), false
	}
	took := time.Since(started)
	w.m.polls.WithLabelValues(result).Inc()
	w.m.lag.Observe(max(lag, 0).Seconds())
	w.m.duration.Observe(took.Seconds())
	// One line per poll at debug; the check keeps the hot path free of
	// attribute building when debug is off (the default).
	if w.log.Enabled(ctx, slog.LevelDebug) {
		w.log.LogAttrs(ctx, slog.LevelDebug, "poll", slog.String("feed", f.name), slog.String("result", result),
			slog.Int("new_items", n), slog.Duration("duration", took), slog.Time("next", next))
	}
	if n > 0 {
		w.m.newItems.Add(float64(n))
	}
	src := f.cfg.URL
	if f.st.MovedTo != "" {
		src = f.st.MovedTo
	}
	notice := moveOf(f.cfg.URL, f.st.MovedTo).notice()
	w.setStatus(f.name, func(s *FeedStatus) {
		s.URL = src
		s.Notice = notice
		s.LastPoll = now
		s.Result = result
		s.NextDue = next
		s.Error = f.st.LastError
		s.Gone = f.st.Gone
		s.Failures = f.st.Failures
	})
	return next, out.stop
}

// intervalOf is the poll interval of feed name configured as c: its own
// or the default, or WebSub's fallback while pushes arrive.
func (w *Watcher) intervalOf(name string, c FeedConfig) time.Duration {
	interval := c.Interval
	if interval <= 0 {
		interval = w.opts.Interval
	}
	if w.opts.Hubs != nil {
		interval = w.opts.Hubs.Interval(name, interval)
	}
	return interval
}

// waitAfter is the wait after st's last poll under interval: the interval,
// or its backoff after failures.
func waitAfter(st *feedState, interval time.Duration) time.Duration {
	if st.Failures > 0 {
		return backoff(interval, st.Failures)
	}
	return interval
}

// reschedule is when a feed last polled at st.LastPoll is due under
// interval (a reload changed it), and its floor: the wait after the last
// poll, jittered, never before what the server asked (HintUntil).
func reschedule(st *feedState, interval time.Duration) (due, floor time.Time) {
	d := waitAfter(st, interval)
	due, floor = st.LastPoll.Add(jitter(d)), st.LastPoll.Add(d)
	if st.HintUntil.After(floor) {
		floor = st.HintUntil
	}
	if st.HintUntil.After(due) {
		due = st.HintUntil
	}
	return due, floor
}

// latestDue is the latest due time a poll at st.LastPoll could have set
// under interval (jitter adds at most a fifth): a stored due time past it
// was set under a longer interval.
func latestDue(st *feedState, interval time.Duration) time.Time {
	d := waitAfter(st, interval)
	t := st.LastPoll.Add(d + d/5)
	if st.HintUntil.After(t) {
		return st.HintUntil
	}
	return t
}

// loadState reads f's stored state once, at its first poll. It returns
// poll=false with the time to come back when the stored schedule says the
// feed is not due yet (restart), or when the state store failed.
func (w *Watcher) loadState(ctx context.Context, f *feed, now time.Time, interval time.Duration) (next time.Time, poll, stop bool) {
	b, err := w.opts.State.Load(ctx, f.name)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("load feed state", "feed", f.name, "err", err)
		}
		// Without state we cannot tell a first poll from a later one
		// (backfill): try again shortly rather than guess.
		return now.Add(30 * time.Second), false, false
	}
	f.loaded = true
	st, err := decodeState(b)
	if err != nil || st.ConfigURL != f.cfg.URL {
		if err != nil {
			w.log.Warn("discard unreadable feed state", "feed", f.name, "err", err)
		}
		st = feedState{ConfigURL: f.cfg.URL}
		prev, old, ok, err := w.adopt(ctx, f)
		if err != nil {
			if ctx.Err() == nil {
				w.log.Warn("look for the state of a former name of the feed", "feed", f.name, "err", err)
			}
			f.loaded = false // as when the state itself cannot be read
			return now.Add(30 * time.Second), false, false
		}
		if ok {
			w.log.Info("feed renamed: adopting the state of "+old, "feed", f.name, "former", old)
			st = prev
			f.st = st
			// Saved under the new name before the former one is retired:
			// a crash in between leaves both, never neither.
			if w.saveState(ctx, f, feedState{}, now) {
				w.retire(ctx, old, f.name)
			}
			if !f.loaded { // no longer ours: the new owner adopts again
				return now.Add(ownerRecheck), false, false
			}
			st = f.st
		}
	}
	if m := moveOf(f.cfg.URL, st.MovedTo); m.downgrade {
		// Stored by a version that followed such moves: go back to the
		// configured https URL.
		w.log.Warn("feed had moved permanently from https to http; polling the configured url again", "feed", f.name)
		st.MovedTo = ""
	}
	f.st = st
	if st.Gone {
		w.log.Error("feed is gone (410), not polling; change its url or remove it", "feed", f.name)
		w.showState(f, time.Time{})
		return time.Time{}, false, true
	}
	if st.LastError != "" {
		f.errKind = "restored"
	}
	if !st.LastPoll.IsZero() && st.Interval > interval && st.NextDue.After(latestDue(&st, interval)) {
		// Scheduled under a longer interval: the config changed since.
		st.NextDue, _ = reschedule(&st, interval)
		f.st.NextDue = st.NextDue
	}
	if st.NextDue.After(now) {
		f.floor = st.NextDue // the previous run's schedule, kept to the dot
		w.showState(f, st.NextDue)
		return st.NextDue, false, false
	}
	// Not before the feed's place in the start (or takeover) spread: the
	// state is loaded at once, the polls keep their pace.
	base := now
	if f.first.After(now) {
		base = f.first
	}
	if !st.LastPoll.IsZero() {
		// Overdue after a restart: spread these polls over up to 30 s so a
		// restart of a large instance does not fire them all at once. A
		// feed never polled before is polled right away.
		spread := min(interval, 30*time.Second)
		if f.late && w.opts.TakeoverSpread > 0 {
			spread = min(spread, w.opts.TakeoverSpread)
		}
		next := base.Add(time.Duration(rand.Int64N(int64(spread) + 1)))
		w.showState(f, next)
		return next, false, false
	}
	if base.After(now) {
		w.showState(f, base)
		return base, false, false
	}
	return now, true, false // the poll sets the status
}

// showState puts what f's loaded state knows (last poll, its result and
// error, failures, a move, gone) into its status, so that status pages
// show the last run's results from the start, not empty ones until the
// feed's next poll.
func (w *Watcher) showState(f *feed, next time.Time) {
	fs := statusOfState(f.name, f.cfg.URL, f.st)
	w.setStatus(f.name, func(s *FeedStatus) {
		s.URL = fs.URL
		s.Notice = fs.Notice
		s.LastPoll = fs.LastPoll
		s.Result = fs.Result
		s.NextDue = next
		s.Error = fs.Error
		s.Gone = fs.Gone
		s.Failures = fs.Failures
	})
}

// statusOfState is what a feed's stored state tells of it, its URL as
// polled (unmasked).
func statusOfState(name, cfgURL string, st feedState) FeedStatus {
	src := cfgURL
	if st.MovedTo != "" {
		src = st.MovedTo
	}
	result := st.LastResult
	if st.Gone {
		result = string(fetch.KindGone)
	}
	return FeedStatus{Name: name, URL: src, Notice: moveOf(cfgURL, st.MovedTo).notice(),
		LastPoll: st.LastPoll, Result: result, NextDue: st.NextDue, Error: st.LastError,
		Gone: st.Gone, Failures: st.Failures}
}

// StoredStatus is the status of a feed polled by another process, from
// the state it stored (at most one state-save interval old): what status
// pages show of the feeds of a whole cluster. The URL is masked like
// Status's. cfgURL is the configured URL the state belongs to: a state
// of another URL (the config changed) says nothing of the feed now.
func StoredStatus(name string, state []byte) (fs FeedStatus, cfgURL string, err error) {
	st, err := decodeState(state)
	if err != nil {
		return FeedStatus{Name: name}, "", fmt.Errorf("state of feed %q: %w", name, err)
	}
	fs = statusOfState(name, st.ConfigURL, st)
	fs.URL = feedurl.Masked(fs.URL)
	return fs, st.ConfigURL, nil
}

// outcome is what one poll came to.
type outcome struct {
	result   string    // "ok", "not_modified", "unchanged", "canceled" or an error kind
	newItems int       // items handed to the sink
	next     time.Time // when the feed is due again
	stop     bool      // gone (410): poll no more
}

// canceled: shutdown in the middle of a poll; nothing is recorded.
func canceled(now time.Time) outcome { return outcome{result: "canceled", next: now} }

// pollRun is one poll of one feed, as its ending (succeed or fail) needs it.
type pollRun struct {
	w        *Watcher
	ctx      context.Context
	f        *feed
	before   feedState // f.st when the poll started: save only on change
	now      time.Time
	interval time.Duration // the feed's own or the default
}

// poll fetches, parses and delivers.
func (w *Watcher) poll(ctx context.Context, f *feed, now time.Time, interval time.Duration) outcome {
	st := &f.st
	run := &pollRun{w: w, ctx: ctx, f: f, before: *st, now: now, interval: interval}
	src, headers := pollTarget(f.cfg, st.MovedTo)
	forceFull := st.Primed && now.Sub(st.Refreshed) > w.lim.Load().forceFull
	req := fetch.Request{URL: src, Headers: headers}
	if !forceFull {
		req.ETag, req.LastModified = st.ETag, st.LastModified
	}
	resp, err := w.lim.Load().fetcher.Fetch(ctx, req)
	if err != nil && ctx.Err() != nil {
		return canceled(now)
	}
	if err != nil {
		return run.fail(err)
	}
	// The body's buffer is reused once this poll is done with it (parsed
	// items hold copies, not slices of it).
	defer resp.Release()
	if resp.MovedTo != "" && resp.MovedTo != st.MovedTo {
		m := moveOf(f.cfg.URL, resp.MovedTo)
		switch {
		case m.downgrade:
			// fetch refuses https to http hops; this is a chain that
			// started on an http move of an https feed: keep the old URL.
			err := &fetch.Error{Kind: fetch.KindRedirect, Err: errors.New("permanent redirect from https to http refused")}
			return run.fail(err)
		case m.cross:
			// Once, when the move is recorded; status keeps saying it.
			w.log.Warn("feed moved permanently to another origin; polling the new url without the configured headers and credentials",
				"feed", f.name, "from", m.from, "to", m.to, "url", feedurl.Public(feedurl.Masked(resp.MovedTo)))
		default:
			w.log.Info("feed moved permanently, polling the new url from now on", "feed", f.name, "url", feedurl.Public(feedurl.Masked(resp.MovedTo), f.cfg.URLSecrets...))
		}
		st.MovedTo, st.MoveAliased = resp.MovedTo, false
	}
	if resp.NotModified {
		if resp.ETag != "" {
			st.ETag = resp.ETag
		}
		return run.succeed("not_modified", 0, resp.MaxAge)
	}
	if w.opts.Hubs != nil && hostOf(src) != "" {
		w.opts.Hubs.Found(f.name, src, resp.Links, resp.Body)
	}
	hash := bodyHash(resp.Body)
	if hash == st.BodyHash && st.Primed && !forceFull {
		// Many servers ignore conditional requests: same bytes, same items.
		st.ETag, st.LastModified = resp.ETag, resp.LastModified
		return run.succeed("unchanged", 0, resp.MaxAge)
	}
	doc, err := w.parse(ctx, resp.Body, resp.ContentType)
	if err != nil && ctx.Err() != nil {
		return canceled(now)
	}
	if err != nil {
		return run.fail(err)
	}
	// Items leave the watcher for the stream, webhooks and templates: the
	// feed's URL goes with them without its credentials.
	fi := item.Feed{Name: f.name, URL: feedurl.Public(f.cfg.URL, f.cfg.URLSecrets...), Title: doc.Title, Tags: f.cfg.Tags}
	absLinks(doc.Items, src)
	n, err := w.deliver(ctx, f, fi, assignKeys(fi, doc.Link, doc.Items), now)
	if err != nil && ctx.Err() != nil {
		return canceled(now)
	}
	if errors.Is(err, errNotOwner) {
		return outcome{result: "not_owner", next: now}
	}
	if err != nil {
		// Keep the old validators and hash: the items must come back.
		if errors.Is(err, errSink) {
			w.retryDelivery(f, interval, resp.Body, resp.ContentType)
		}
		return run.fail(err)
	}
	f.sinkFails = 0
	st.ETag, st.LastModified, st.BodyHash = resp.ETag, resp.LastModified, hash
	return run.succeed("ok", n, max(resp.MaxAge, doc.TTL))
}

// parse parses body. Heavy documents (1 MB and more, or a big structure
// in fewer bytes) take one of a few slots, so 32 such feeds polled at once
// cannot take gigabytes of heap. The structure check (linear, little
// memory) runs before a document queues, so hostile documents are refused
// without waiting for or holding a slot, and a slot is held for a bounded
// time: the checked limits (nesting, elements, extension elements,
// fragmented text, items) keep gofeed's work about linear in the body
// (0.1-3 s for 10 MB on a loaded 2-core VM), which matters since it cannot
// be interrupted.
func (w *Watcher) parse(ctx context.Context, body []byte, contentType string) (*parse.Doc, error) {
	p, err := parse.Prepare(body, contentType, w.opts.MaxItems)
	if err != nil {
		return nil, err
	}
	big := p.Heavy() // by size alone, before Check
	if !big {
		// Plain RSS under 1 MB: the fast path is bounded by itself.
		if d, ok := p.Fast(); ok {
			return d, nil
		}
	}
	if err := p.Check(); err != nil {
		return nil, err
	}
	if p.Heavy() {
		select {
		case w.bigParse <- struct{}{}:
			defer func() { <-w.bigParse }()
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if big {
		if d, ok := p.Fast(); ok {
			return d, nil
		}
	}
	return p.Parse()
}

// deliver hands the unseen items to the sink and marks them seen after it
// accepted them. At the feed's first poll, items older than Backfill (or
// undated) are marked seen without being delivered; so are, at its first
// poll in a run that recovers from lost state, items older than
// RecoverBefore.
func (w *Watcher) deliver(ctx context.Context, f *feed, fi item.Feed, ks []keyed, now time.Time) (int, error) {
	st := &f.st
	// Keys this feed's previous document already had are known seen: only
	// the others are looked up, with the link keys of their items (a GUID
	// that changed while the link stayed). On real feeds (one or two new
	// items per change) most polls need no lookup at all.
	keys := make([]string, 0, len(ks))
	seen := make(map[string]bool, len(ks))
	for _, k := range ks {
		if f.known.has(w.seed, k.it.Key) {
			seen[k.it.Key] = true
			continue
		}
		keys = append(keys, k.it.Key)
		if k.alt != "" {
			keys = append(keys, k.alt)
		}
	}
	if len(keys) > 0 {
		got, err := w.opts.Seen.Seen(ctx, f.name, keys)
		if err != nil {
			return 0, fmt.Errorf("%w: seen lookup: %v", errSink, err)
		}
		for k, v := range got {
			if v {
				seen[k] = true
			}
		}
	}
	// A renamed feed's items seen under its former name are seen; they
	// are marked under the new name below.
	var before map[int]bool
	if len(st.RenamedFrom) > 0 {
		var err error
		if before, err = w.seenBefore(ctx, st.RenamedFrom, ks, seen); err != nil {
			return 0, fmt.Errorf("%w: %v", errSink, err)
		}
	}
	refresh := now.Sub(st.Refreshed) >= w.lim.Load().refresh
	// Items published before cutoff (or undated) are remembered without
	// alerting: at a feed's first poll (backfill), and at its first poll
	// after seen-state was lost (recovery).
	var cutoff time.Time
	if backfill := w.lim.Load().backfill; !st.Primed && backfill >= 0 {
		cutoff = now.Add(-backfill) // BackfillNone: everything until now
	}
	if !f.delivered && w.opts.RecoverBefore.After(cutoff) {
		cutoff = w.opts.RecoverBefore
	}
	var fresh, quiet []item.Item
	var mark []string
	for i, k := range ks {
		old := seen[k.it.Key] || (k.alt != "" && seen[k.alt])
		if old || before[i] {
			if refresh || !old {
				mark = append(mark, k.it.Key)
				if k.alt != "" {
					mark = append(mark, k.alt)
				}
			}
			continue
		}
		mark = append(mark, k.it.Key)
		if k.alt != "" {
			mark = append(mark, k.alt)
		}
		if !cutoff.IsZero() && (k.it.Published == nil || k.it.Published.Before(cutoff)) {
			quiet = append(quiet, k.it)
			continue // backfill or recovery: remembered, not alerted
		}
		fresh = append(fresh, k.it)
	}
	if len(fresh) > 0 {
		if !w.owns(f.name) {
			return 0, errNotOwner
		}
		if err := w.opts.Sink.Handle(ctx, fi, fresh); err != nil {
			return 0, fmt.Errorf("%w: %v", errSink, err)
		}
	}
	if r, ok := w.opts.Sink.(Rememberer); ok && len(quiet) > 0 {
		if !w.owns(f.name) {
			return 0, errNotOwner
		}
		if err := r.Remember(ctx, fi, quiet); err != nil {
			return 0, fmt.Errorf("%w: %v", errSink, err)
		}
	}
	if len(mark) > 0 {
		if !w.owns(f.name) {
			return 0, errNotOwner
		}
		if err := w.opts.Seen.MarkSeen(ctx, f.name, mark); err != nil {
			if errors.Is(err, ErrStateChanged) {
				// Another watcher wrote the feed's seen log since this one
				// read it: it has the feed now. Stop here, as when the
				// lease goes mid-poll; the state is read again.
				w.log.Info("seen-state was written by another watcher; reading the feed's state again", "feed", f.name)
				return 0, errNotOwner
			}
			// Delivered but not marked: they will be offered again (the
			// sink's downstream dedups by hit ID); never dropped.
			return 0, fmt.Errorf("%w: mark seen: %v", errSink, err)
		}
	}
	if refresh || !st.Primed {
		st.Refreshed = now
	}
	st.Primed = true
	st.RenamedFrom = nil // every item the former names saw here is marked under this one
	f.delivered = true
	// Every item of this document is now seen: the old ones were, the new
	// ones were just marked.
	f.known = f.known.reset(w.seed, ks)
	return len(fresh), nil
}

// succeed ends a poll that worked: result with n new items, and the
// server's hint (Cache-Control max-age, Expires, RSS ttl) of when to come
// back.
func (p *pollRun) succeed(result string, n int, hint time.Duration) outcome {
	w, f, now, interval := p.w, p.f, p.now, p.interval
	st := &f.st
	if f.errKind != "" {
		w.log.Info("feed recovered", "feed", f.name, "after_failures", st.Failures)
		f.errKind = ""
	}
	st.Failures = 0
	st.LastError = ""
	st.Interval = interval
	d := interval
	st.HintUntil = time.Time{}
	// Server hints may lengthen the interval, never shorten it, and not
	// beyond a day (a far Expires must not silence a feed).
	if hint > d {
		d = min(hint, max(interval, maxHintInterval))
		st.HintUntil = now.Add(d)
	}
	next := now.Add(jitter(d))
	f.floor = now.Add(d)
	st.LastPoll = now
	st.NextDue = next
	st.LastResult = result
	w.saveState(p.ctx, f, p.before, now)
	return outcome{result: result, newItems: n, next: next}
}

// fail ends a poll that failed with err: backoff (none for the sink's
// failures), or stop for a gone feed.
func (p *pollRun) fail(err error) outcome {
	w, f, now, interval := p.w, p.f, p.now, p.interval
	st := &f.st
	kind := errKind(err)
	msg := fmt.Sprintf("poll feed %q: %v", f.name, err)
	st.LastPoll = now
	st.LastError = msg
	st.LastResult = kind
	st.Interval = interval
	if kind == string(fetch.KindGone) {
		st.Gone = true
		st.NextDue = time.Time{}
		w.log.Error("feed is gone (410), polling stopped; change its url or remove it", "feed", f.name)
		f.errKind = kind
		w.saveState(p.ctx, f, p.before, now)
		return outcome{result: kind, stop: true}
	}
	var d time.Duration
	st.HintUntil = time.Time{}
	if kind == "sink" {
		// Downstream trouble: retry at the normal pace, no backoff.
		d = interval
	} else {
		st.Failures++
		d = backoff(interval, st.Failures)
		var fe *fetch.Error
		if errors.As(err, &fe) && fe.RetryAfter > d {
			d = min(fe.RetryAfter, max(interval, maxHintInterval))
			st.HintUntil = now.Add(d)
		}
	}
	if f.errKind != kind {
		w.log.Warn("poll failed", "feed", f.name, "kind", kind, "err", msg, "retry_in", d.Round(time.Second))
		f.errKind = kind
	}
	next := now.Add(jitter(d))
	f.floor = now.Add(d)
	st.NextDue = next
	w.saveState(p.ctx, f, p.before, now)
	return outcome{result: kind, next: next}
}

// backoff doubles the wait per consecutive failure, from interval up to 6 h
// (or interval, if that is longer).
func backoff(interval time.Duration, failures int) time.Duration {
	d := interval
	for i := 1; i < failures && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, max(maxBackoff, interval))
}

// saveState writes f's state when it changed (or every stateSaveEvery);
// it reports whether it wrote it.
func (w *Watcher) saveState(ctx context.Context, f *feed, before feedState, now time.Time) bool {
	st := &f.st
	st.ConfigURL = f.cfg.URL
	// LastResult is left out on purpose: a feed alternating between 200
	// ("ok"/"unchanged") and 304 would cost a write per poll. An error
	// changes Failures and LastError, so errors and recoveries are
	// written at once anyway.
	changed := st.MovedTo != before.MovedTo || st.ETag != before.ETag || st.LastModified != before.LastModified ||
		st.BodyHash != before.BodyHash || st.Failures != before.Failures || st.Gone != before.Gone ||
		st.Primed != before.Primed || !st.Refreshed.Equal(before.Refreshed) || st.ConfigURL != before.ConfigURL ||
		st.LastError != before.LastError || st.Interval != before.Interval ||
		!slices.Equal(st.RenamedFrom, before.RenamedFrom) || !st.Aliased || (st.MovedTo != "" && !st.MoveAliased)
	if !changed && now.Sub(st.Saved) < stateSaveEvery {
		return false
	}
	if !w.owns(f.name) {
		// The feed moved while this poll ran: its new owner writes.
		f.loaded = false
		return false
	}
	if !st.Aliased {
		// Once per feed and URL (states of older versions get theirs at
		// their first save): what a rename of the feed is found by.
		if err := w.writeAlias(ctx, f.name, st.ConfigURL); err != nil {
			if ctx.Err() == nil {
				w.log.Warn("record the feed's name for its url", "feed", f.name, "err", err)
			}
		} else {
			st.Aliased = true
		}
	}
	if st.MovedTo != "" && !st.MoveAliased {
		if err := w.writeAlias(ctx, f.name, st.MovedTo); err != nil {
			if ctx.Err() == nil {
				w.log.Warn("record the feed's name for the url it moved to", "feed", f.name, "err", err)
			}
		} else {
			st.MoveAliased = true
		}
	}
	prevSaved := st.Saved
	st.Saved = now
	b, err := st.encode()
	if err == nil {
		err = w.opts.State.Save(ctx, f.name, b)
	}
	if errors.Is(err, ErrStateChanged) {
		w.log.Info("feed state was written by another watcher; reading it again", "feed", f.name)
		f.loaded = false
		return false
	}
	if err != nil {
		st.Saved = prevSaved
		if ctx.Err() == nil {
			w.log.Warn("save feed state", "feed", f.name, "err", err)
		}
		return false
	}
	return true
}

// Retrying a delivery that failed on our side (NATS unreachable, a stream
// electing a new leader): the document is handed back to the feed's own
// path as a push after sinkRetryMin, doubling per failure up to the feed's
// interval, so its items reach the stream seconds after NATS is back rather
// than a whole interval later, without fetching the feed again. The bodies
// waiting take at most retryBudget bytes; past it, the next poll does.
const (
	sinkRetryMin = 2 * time.Second
	retryBudget  = 64 << 20
)

// retryDelivery schedules body of feed f (copied) for another delivery.
// Only f's worker calls it.
func (w *Watcher) retryDelivery(f *feed, interval time.Duration, body []byte, contentType string) {
	f.sinkFails++
	if w.retryBytes.Add(int64(len(body))) > retryBudget {
		w.retryBytes.Add(-int64(len(body)))
		return
	}
	delay := min(sinkRetryMin<<min(f.sinkFails-1, 16), interval)
	b := append([]byte(nil), body...)
	name := f.name
	time.AfterFunc(delay, func() {
		w.retryBytes.Add(-int64(len(b)))
		_ = w.push(pushReq{feed: name, body: b, contentType: contentType, retry: true}) // not running, or busy: the next poll offers the items
	})
}

// stale reports whether f's stored state is older than its last poll
// (polls that change nothing write it only every stateSaveEvery).
func stale(f *feed) bool {
	return f.loaded && !f.st.LastPoll.IsZero() && f.st.Saved.Before(f.st.LastPoll)
}

// flushBudget bounds how long a flush of stale states (a stop, feeds
// handed to another watcher) may take; and flushWorkers how many writes
// it has in flight.
const (
	flushBudget  = 2 * time.Second
	flushWorkers = 16
)

// flushStates writes the states of feeds leaving this watcher whose stored
// state is older than their last poll: the watcher that takes them over
// then sees when they were last polled and keeps their schedule, instead
// of polling them at once (SPEC: each feed once per interval, however many
// watchers). The store's revision check keeps a write from overwriting a
// newer owner's state; a feed not written in time is only polled early.
func (w *Watcher) flushStates(states map[string]feedState) {
	if len(states) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), flushBudget)
	defer cancel()
	type job struct {
		name string
		st   feedState
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range min(flushWorkers, len(states)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				j.st.Saved = w.now()
				b, err := j.st.encode()
				if err == nil {
					err = w.opts.State.Save(ctx, j.name, b)
				}
				if err != nil && !errors.Is(err, ErrStateChanged) && ctx.Err() == nil {
					w.log.Debug("flush feed state", "feed", j.name, "err", err)
				}
			}
		}()
	}
	for name, st := range states {
		select {
		case jobs <- job{name, st}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(jobs)
	wg.Wait()
}

// errKind maps an error to its result label.
func errKind(err error) string {
	var fe *fetch.Error
	if errors.As(err, &fe) {
		return string(fe.Kind)
	}
	var pe *parse.Error
	if errors.As(err, &pe) {
		return string(pe.Kind)
	}
	if errors.Is(err, errSink) {
		return "sink"
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return "canceled"
	}
	return "error"
}

func bodyHash(b []byte) string {
	s := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(s[:16])
}
