package watcher

import (
	"container/heap"
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// feed is the scheduler's record of one feed. The scheduler goroutine owns
// due/index/queued/running/removed; a worker owns st while running.
type feed struct {
	cfg  FeedConfig
	name string
	host string
	due  time.Time
	// floor is the earliest a poll may start with Options.Slack: the
	// un-jittered interval (or backoff, or server hint) after the last
	// poll. Written by the worker running f, read by the scheduler after
	// the job ends.
	floor   time.Time
	index   int // in the heap, -1 when not
	running bool
	removed bool
	waiting bool // parked in a per-host queue
	// pendingCfg is a reloaded config that arrived while running.
	pendingCfg *FeedConfig
	// late: added after the first feed list (see TakeoverSpread).
	late bool
	// first is the feed's place in the spread of the first polls of the
	// feeds added with it. Its state is loaded before (at once), so status
	// shows its last result; its first poll waits for this.
	first time.Time

	loaded  bool
	st      feedState
	errKind string    // last poll's error kind, "" when ok (for logging on change)
	known   knownKeys // primary keys of the last document delivered, all seen
	// delivered: a document of this feed went through deliver in this run
	// (Options.RecoverBefore applies until then).
	delivered bool
	// pushes wait for the feed's current job to end; pushHeld: the feed
	// left the heap while a push runs (it goes back at its due time).
	pushes   []pushReq
	pushHeld bool
	// sinkFails counts deliveries in a row that failed on our side (see
	// retryDelivery); only the worker running f touches it.
	sinkFails int
}

// dueHeap orders feeds by due time: one heap and one timer serve every
// feed, instead of a goroutine and timer per feed (which cost ~4-8 KB of
// stack each at 50,000 feeds and wake the runtime scheduler constantly).
type dueHeap []*feed

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *dueHeap) Push(x any) {
	f := x.(*feed)
	f.index = len(*h)
	*h = append(*h, f)
}
func (h *dueHeap) Pop() any {
	old := *h
	n := len(old)
	f := old[n-1]
	old[n-1] = nil
	f.index = -1
	*h = old[:n-1]
	return f
}

type done struct {
	f    *feed
	next time.Time
	stop bool // 410 Gone: poll no more
	push bool // a push job ended; next, when set, is the stored schedule
}

// job is one poll of f, or one pushed document of f when push is set.
type job struct {
	f    *feed
	push *pushReq
}

// scheduler is Run's state; only Run's goroutine touches it.
type scheduler struct {
	w        *Watcher
	feeds    map[string]*feed
	h        dueHeap
	inFlight int
	perHost  map[string]int
	parked   map[string][]*feed // due but waiting for a per-host slot
	// lim are the limits in force (Watcher.SetLimits), conc and hostCap
	// their polls in flight, in all and per host.
	lim           *limits
	conc, hostCap int
	// spawn starts n workers on jobs (nil in tests that take jobs
	// themselves).
	spawn func(jobs <-chan job, n int)
	// recheckParked: a parked feed's host may have room that no poll of
	// that host will hand over (the limits changed).
	recheckParked bool
	// leaving holds removed feeds whose poll still runs: added back
	// meanwhile, the feed continues rather than a second copy being
	// polled beside it.
	leaving map[string]*feed
	jobs    chan job
	results chan done
	// pushReady are feeds with a push waiting for a free worker.
	pushReady []*feed
	// started: the first feed list is applied.
	started bool
}

// Run polls until ctx ends, then waits for in-flight polls (which see the
// cancelled context and return quickly) and returns nil.
func (w *Watcher) Run(ctx context.Context) error {
	w.mu.Lock()
	if w.running {
		w.mu.Unlock()
		return errAlreadyRunning
	}
	w.running = true
	w.hasNew = true // a second Run starts from the latest feed list
	w.mu.Unlock()

	s := newScheduler(w)
	var wg sync.WaitGroup
	s.spawn = func(jobs <-chan job, n int) {
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range jobs {
					if j.push != nil {
						next := w.pushFeed(ctx, j.f, *j.push)
						s.results <- done{f: j.f, next: next, push: true}
						continue
					}
					next, stop := w.pollFeed(ctx, j.f)
					s.results <- done{f: j.f, next: next, stop: stop}
				}
			}()
		}
	}
	s.spawn(s.jobs, s.conc)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.applyLimits()
		s.applyPending()
		s.applyPushes()
		s.dispatch()
		timer.Reset(s.wait())
		select {
		case <-ctx.Done():
			close(s.jobs)
			// Drain results so workers never block, then wait for them.
			go func() {
				wg.Wait()
				close(s.results)
			}()
			for range s.results {
			}
			// Before the others take these feeds (the daemon leaves the
			// cluster after Run returns): their last polls on record.
			w.flushStates(s.staleStates(s.feeds))
			w.mu.Lock()
			w.running = false
			w.mu.Unlock()
			return nil
		case r := <-s.results:
			s.finish(r)
		case <-w.wake:
		case <-timer.C:
		}
	}
}

// wait is how long the scheduler may sleep before a poll can start.
func (s *scheduler) wait() time.Duration {
	wait := time.Hour
	// With every worker busy only a finished poll can start another:
	// no timer then (a due heap top would make the loop spin). The wake
	// is at the first due time, not Slack before it: dispatch then takes
	// every poll due in the Slack after it, one wake for them all.
	if len(s.h) > 0 && s.inFlight < s.conc {
		wait = s.h[0].due.Sub(s.w.now())
	}
	// Re-check at least every minute: the injected clock may jump.
	return min(max(wait, 0), time.Minute)
}

func newScheduler(w *Watcher) *scheduler {
	l := w.lim.Load()
	return &scheduler{
		w:       w,
		lim:     l,
		conc:    l.concurrency,
		hostCap: l.perHost,
		jobs:    make(chan job, l.concurrency),
		feeds:   make(map[string]*feed),
		perHost: make(map[string]int),
		parked:  make(map[string][]*feed),
		leaving: make(map[string]*feed),
		results: make(chan done, w.opts.Concurrency),
	}
}

// dispatch starts every due feed that the global and per-host limits allow.
func (s *scheduler) dispatch() {
	if s.recheckParked && s.inFlight < s.conc {
		s.startParked()
	}
	// Pushes first: they are what someone is waiting for.
	for len(s.pushReady) > 0 && s.inFlight < s.conc {
		f := s.pushReady[0]
		s.pushReady[0] = nil
		s.pushReady = s.pushReady[1:]
		s.startPush(f)
	}
	now := s.w.now()
	// With Slack, every poll due within it starts now too: polls run in
	// bursts that share the process's wake-ups (timer, network reads, NATS
	// flushes and acks) instead of each paying its own.
	limit := now.Add(s.w.opts.Slack)
	var held []*feed
	for s.inFlight < s.conc && len(s.h) > 0 && !s.h[0].due.After(limit) {
		f := heap.Pop(&s.h).(*feed)
		if early(f, now) {
			held = append(held, f)
			if len(held) >= maxHeld {
				// Bounded work per wake (short intervals, many feeds):
				// the rest start at their due times.
				break
			}
			continue
		}
		if !f.loaded && len(s.leaving) > 0 && s.urlLeaving(f.cfg.URL) {
			// A feed removed with this URL (renamed, by the same reload)
			// is still polling: this one's first visit may adopt its
			// state (rename.go), so it waits for the last poll's writes.
			f.due = now.Add(leavingRecheck)
			held = append(held, f)
			continue
		}
		if f.host != "" && s.perHost[f.host] >= s.hostCap {
			f.waiting = true
			s.parked[f.host] = append(s.parked[f.host], f)
			continue
		}
		s.start(f)
	}
	for _, f := range held {
		heap.Push(&s.h, f)
	}
}

// leavingRecheck is how soon a feed waiting for a removed feed of its URL
// to end its poll is looked at again.
const leavingRecheck = 100 * time.Millisecond

// urlLeaving reports whether a removed feed whose poll still runs has url.
func (s *scheduler) urlLeaving(url string) bool {
	for _, l := range s.leaving {
		if l.cfg.URL == url {
			return true
		}
	}
	return false
}

// maxHeld bounds how many feeds due within the slack but not yet past
// their floor one dispatch looks at.
const maxHeld = 64

// early reports whether f, due within the slack, must wait: its interval
// since the last poll is not over (the interval is a floor, SPEC). A due
// time set before the floor (a poll asked for now, a changed URL) is kept.
func early(f *feed, now time.Time) bool {
	return f.floor.After(now) && f.due.After(now)
}

func (s *scheduler) start(f *feed) {
	f.running = true
	s.inFlight++
	if f.host != "" {
		s.perHost[f.host]++
	}
	s.jobs <- job{f: f} // never blocks: a job starts only below s.conc, the buffer of a pool made after every job in flight
}

// unpark starts the oldest parked feed of host, if any; it reports
// whether one started.
func (s *scheduler) unpark(host string) bool {
	for q := s.parked[host]; len(q) > 0; q = s.parked[host] {
		next := q[0]
		q[0] = nil
		if len(q) == 1 {
			delete(s.parked, host)
		} else {
			s.parked[host] = q[1:]
		}
		next.waiting = false
		if !next.removed {
			s.start(next)
			return true
		}
	}
	return false
}

// applyLimits takes the watcher's latest limits. Another concurrency
// gets a new pool of workers: the old pool's job channel is closed, its
// workers finish what they hold and end, so a job is never sent to a
// channel with less room than the polls in flight. A larger per-host cap
// starts parked feeds at once.
func (s *scheduler) applyLimits() {
	l := s.w.lim.Load()
	if l == s.lim {
		return
	}
	s.lim, s.hostCap = l, l.perHost
	if l.concurrency != s.conc {
		s.conc = l.concurrency
		close(s.jobs)
		s.jobs = make(chan job, s.conc)
		if s.spawn != nil {
			s.spawn(s.jobs, s.conc)
		}
	}
	s.recheckParked = true
}

// startParked starts parked feeds whose host has room again.
func (s *scheduler) startParked() {
	for host := range s.parked {
		for s.inFlight < s.conc && s.perHost[host] < s.hostCap && s.unpark(host) {
		}
	}
	s.recheckParked = s.inFlight >= s.conc
}

func (s *scheduler) finish(r done) {
	f := r.f
	f.running = false
	s.inFlight--
	if r.push {
		s.finishPush(r)
		return
	}
	if f.host != "" {
		s.perHost[f.host]--
		if s.perHost[f.host] <= 0 {
			delete(s.perHost, f.host)
		}
		// Hand the freed host slot to the oldest parked feed of that host;
		// past a lowered concurrency (SetLimits), dispatch does when a
		// slot frees.
		if s.inFlight < s.conc {
			s.unpark(f.host)
		} else if len(s.parked[f.host]) > 0 {
			s.recheckParked = true
		}
	}
	if f.removed {
		delete(s.leaving, f.name)
		// Its worker recorded a status after the removal.
		s.w.mu.Lock()
		delete(s.w.status, f.name)
		s.w.mu.Unlock()
		return
	}
	if !r.stop {
		f.due = r.next
		heap.Push(&s.h, f)
	}
	if c := f.pendingCfg; c != nil {
		f.pendingCfg = nil
		s.applyCfg(f, *c, s.w.now())
	}
	s.queuePush(f)
}

// applyCfg updates a feed that is not running to a reloaded config. A new
// URL is a new feed as far as state goes (validators, move, backfill); the
// name, and so the seen keys, stay.
func (s *scheduler) applyCfg(f *feed, c FeedConfig, now time.Time) {
	if c.URL != f.cfg.URL {
		f.loaded = true
		f.st = feedState{ConfigURL: c.URL}
		f.errKind = ""
		if f.index >= 0 {
			heap.Remove(&s.h, f.index)
		}
		f.host = hostOf(c.URL)
		if !f.waiting {
			f.due = now
			heap.Push(&s.h, f)
		}
		s.w.setStatus(f.name, func(st *FeedStatus) { *st = FeedStatus{Name: f.name, URL: c.URL, NextDue: now} })
	} else if c.Interval != f.cfg.Interval && f.loaded && !f.st.LastPoll.IsZero() && !f.st.Gone && f.index >= 0 {
		// Another interval applies from the last poll (SPEC: a valid edit
		// takes effect without a restart), not after the poll the old one
		// scheduled; what the server asked for still holds. Overdue
		// feeds are spread over up to 30 s, as after a restart.
		interval := s.w.intervalOf(f.name, c)
		due, floor := reschedule(&f.st, interval)
		if due.Before(now) {
			due = now.Add(time.Duration(rand.Int64N(int64(min(interval, 30*time.Second)) + 1)))
		}
		f.due, f.floor, f.st.NextDue = due, floor, due
		heap.Fix(&s.h, f.index)
		s.w.setStatus(f.name, func(st *FeedStatus) { st.NextDue = due })
	}
	f.cfg = c
}

// applyPending applies the latest SetFeeds list.
func (s *scheduler) applyPending() {
	w := s.w
	w.mu.Lock()
	if !w.hasNew {
		w.mu.Unlock()
		return
	}
	cfgs := w.pending
	w.hasNew = false
	w.mu.Unlock()

	now := w.now()
	keep := make(map[string]bool, len(cfgs))
	added := 0
	for _, c := range cfgs {
		name := feedName(c)
		if f, ok := s.leaving[name]; ok {
			// Still running: stays, the config applies when it is done.
			delete(s.leaving, name)
			f.removed = false
			s.feeds[name] = f
		}
		if _, ok := s.feeds[name]; !ok {
			added++
		}
	}
	spread := min(max(time.Duration(added)*10*time.Millisecond, w.opts.startSpread), max(w.opts.Interval, w.opts.startSpread))
	late := s.started && w.opts.TakeoverSpread > 0
	if late {
		// Feeds of a watcher that stopped or died: their polls are
		// due now, not at a leisurely restart pace (1 ms apart, 3,000
		// feeds within the default 3 s).
		spread = min(time.Duration(added)*time.Millisecond, w.opts.TakeoverSpread)
	}
	s.started = true
	spreadN := 0
	for _, c := range cfgs {
		name := feedName(c)
		keep[name] = true
		if f, ok := s.feeds[name]; ok {
			if f.running {
				// The worker reads f.cfg and f.st: apply when it is done.
				cc := c
				f.pendingCfg = &cc
			} else {
				s.applyCfg(f, c, now)
			}
			continue
		}
		f := &feed{cfg: c, name: name, host: hostOf(c.URL), index: -1, late: late}
		// First polls of added feeds are spread evenly over
		// clamp(added x 10 ms, 2 s, interval): a handful of feeds (the
		// offline example, a reload adding one feed) is polled within 2 s;
		// 50,000 feeds start at 100 polls/s, never spread beyond the
		// interval. A feed's stored state may then push its poll later, to
		// the schedule of the previous run.
		// The first visit, at once, only loads the state (one KV read;
		// concurrency bounds them): status shows every feed's last result
		// from the start.
		f.first = now.Add(time.Duration(int64(spread) * int64(spreadN) / int64(added)))
		f.due = now.Add(time.Duration(spreadN)) // 1 ns apart: in list order
		spreadN++
		s.feeds[name] = f
		heap.Push(&s.h, f)
		w.setStatus(name, func(st *FeedStatus) { st.URL = c.URL; st.NextDue = f.first })
	}
	var gone map[string]*feed
	for name, f := range s.feeds {
		if keep[name] {
			continue
		}
		// Only a feed still configured moves to another watcher; one
		// removed (or renamed: its new name adopts the state) is not
		// written again.
		if !f.running && stale(f) && w.opts.Configured != nil && w.opts.Configured(name) {
			if gone == nil {
				gone = map[string]*feed{}
			}
			gone[name] = f
		}
		f.removed = true
		if f.index >= 0 {
			heap.Remove(&s.h, f.index)
		}
		if f.running {
			s.leaving[name] = f
		}
		delete(s.feeds, name)
		w.mu.Lock()
		delete(w.status, name)
		for _, p := range f.pushes {
			w.pushBytes -= int64(len(p.body))
		}
		w.mu.Unlock()
		f.pushes = nil
	}
	w.m.feeds.Set(float64(len(s.feeds)))
	if len(gone) > 0 {
		// Taken by another watcher: its new owner should see when each
		// was last polled.
		go w.flushStates(s.staleStates(gone))
	}
}

// staleStates copies the states of feeds whose stored state is older than
// their last poll, with their next due time (for flushStates).
func (s *scheduler) staleStates(feeds map[string]*feed) map[string]feedState {
	out := map[string]feedState{}
	for name, f := range feeds {
		if f.running || !stale(f) {
			continue
		}
		st := f.st
		if !f.due.IsZero() {
			st.NextDue = f.due
		}
		out[name] = st
	}
	return out
}

// jitter lengthens d by 0-20% (mean +10%): polls of feeds that share an
// interval drift apart, and the interval is never shortened below d.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration(rand.Float64()*0.2*float64(d))
}
