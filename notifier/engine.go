package notifier

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/feedwatch/feedwatch/hit"
)

const (
	defaultMaxAttempts = 10
	defaultBaseBackoff = time.Second
	defaultMaxBackoff  = 10 * time.Minute
	defaultAckWait     = 30 * time.Second // JetStream's default

	// fetchWait bounds one Fetch so the loop notices shutdown and digest
	// windows promptly.
	fetchWait = time.Second
	// shutdownGrace is how long in-flight sends may run on after Run's
	// context ends before they are cut and handed back.
	shutdownGrace = 5 * time.Second
	// MaxDigest is the most hits one digest message carries; a larger
	// window goes out as several messages (Slack allows 50 blocks).
	MaxDigest = 40
	// maxDigestHeld bounds the hits one digest window holds in memory.
	maxDigestHeld = 1000
	// pendingEvery is how often a PendingCounter source is asked.
	pendingEvery = 5 * time.Second
	// defaultStallAfter is how long hits may wait with none arriving
	// before the notifier is reported stalled.
	defaultStallAfter = 30 * time.Second
	// defaultLeaseEvery is how often a digest lease is renewed or tried.
	defaultLeaseEvery = 5 * time.Second
)

// PendingCounter may be implemented by a Source that knows how many
// messages wait unfetched; the engine adds them to feedwatch_notify_pending.
type PendingCounter interface {
	Pending(ctx context.Context) (int, error)
}

// EngineOptions configure one notifier's delivery loop.
type EngineOptions struct {
	Name     string
	Notifier Notifier
	Source   Source
	Ledger   Ledger
	Dead     DeadLetters
	// MaxAttempts is how many deliveries a hit gets before it is
	// dead-lettered; 0 means 10.
	MaxAttempts int
	// Digest > 0 gathers hits for that long and sends them as one message.
	Digest time.Duration
	// DigestLease, when set, coordinates digests across processes: only
	// the holder fetches and sends; the others wait. Nil: this process
	// alone runs the notifier.
	DigestLease Lease
	// LeaseEvery is how often the lease is renewed or tried; 0 means 5 s.
	// It must be well under the lease's time to live.
	LeaseEvery time.Duration
	// RateLimit is the most messages per second; 0 is unlimited.
	RateLimit float64
	// MaxInFlight is how many sends run at once; 0 means 1.
	MaxInFlight int
	// GatherQuiet is how long, after a hit arrives, the engine waits for
	// more before sending, so that an item's hits for several profiles go
	// out as one message; 0 means 100 ms. GatherMax caps the wait from the
	// first hit held; 0 means 400 ms (at least GatherQuiet).
	GatherQuiet, GatherMax time.Duration
	// PerHit sends each hit as a message of its own, never grouped with
	// the item's hits for other profiles, without waiting for them: for
	// receivers that are programs (the webhook), which want each hit as
	// the stream holds it.
	PerHit bool
	// AckWait is the consumer's AckWait; slow sends call InProgress well
	// before it runs out. 0 means JetStream's default, 30 s.
	AckWait time.Duration
	// BaseBackoff and MaxBackoff shape the retry delay
	// base*2^(attempt-1), capped; defaults 1 s and 10 min.
	BaseBackoff, MaxBackoff time.Duration
	// StallAfter is how long the source may hold hits (its pending count
	// above zero, or every fetch failing) while none arrive here before
	// the notifier is reported stalled (a warning and
	// feedwatch_notify_stalled); 0 means 30 s.
	StallAfter time.Duration
	// Mutes, when set, says which profiles are muted: their hits are
	// acked without being sent (counted as "muted").
	Mutes   Muter
	Logger  *slog.Logger
	Metrics *Metrics // may be nil
	// Now stamps dead letters; waits use the real clock.
	Now func() time.Time
}

// Muter reports whether a profile is muted now (from the web console).
type Muter interface {
	Muted(profile string) bool
}

// Engine reads hits routed to one notifier and delivers each once: Ack on
// success, NakWithDelay on a retryable failure, dead letter and Term when
// the channel refuses for good or attempts run out.
type Engine struct {
	o       EngineOptions
	log     *slog.Logger
	limiter *rate.Limiter

	// leases are the messages fetched and not yet settled; one goroutine
	// extends them all (InProgress) every third of AckWait.
	leaseMu sync.Mutex
	leases  map[uint64]Message
	nextID  uint64

	srcPending atomic.Int64
	// Only the fetch loop touches these.
	lastAsked    time.Time
	pendingEvery time.Duration
	// waitingSince is when hits were first seen waiting (or fetches
	// failing) with none arriving since; zero while hits flow or none wait.
	waitingSince time.Time
	stalled      bool
	fetchErrs    int // fetch failures in a row

	grace time.Duration // shutdownGrace; shorter in tests

	// blockedUntil (unix ns) holds every send back after a server's
	// Retry-After: the limit is the destination's, so other hits would
	// only burn their attempts on it too.
	blockedUntil atomic.Int64
}

// NewEngine checks the options and fills in defaults.
func NewEngine(o EngineOptions) (*Engine, error) {
	switch {
	case o.Name == "":
		return nil, errors.New("new engine: name is required")
	case o.Notifier == nil:
		return nil, fmt.Errorf("new engine %q: notifier is required", o.Name)
	case o.Source == nil:
		return nil, fmt.Errorf("new engine %q: source is required", o.Name)
	case o.Ledger == nil:
		return nil, fmt.Errorf("new engine %q: ledger is required", o.Name)
	case o.Dead == nil:
		return nil, fmt.Errorf("new engine %q: dead letters are required", o.Name)
	case o.MaxAttempts < 0, o.MaxInFlight < 0, o.RateLimit < 0, o.Digest < 0,
		o.AckWait < 0, o.BaseBackoff < 0, o.MaxBackoff < 0, o.StallAfter < 0, o.LeaseEvery < 0,
		o.GatherQuiet < 0, o.GatherMax < 0:
		return nil, fmt.Errorf("new engine %q: negative option", o.Name)
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = defaultMaxAttempts
	}
	if o.MaxInFlight == 0 {
		o.MaxInFlight = 1
	}
	if o.AckWait == 0 {
		o.AckWait = defaultAckWait
	}
	if o.GatherQuiet == 0 {
		o.GatherQuiet = defaultGatherQuiet
	}
	if o.GatherMax == 0 {
		o.GatherMax = defaultGatherMax
	}
	o.GatherMax = max(o.GatherMax, o.GatherQuiet)
	if o.BaseBackoff == 0 {
		o.BaseBackoff = defaultBaseBackoff
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = defaultMaxBackoff
	}
	if o.MaxBackoff < o.BaseBackoff {
		o.MaxBackoff = o.BaseBackoff
	}
	if o.LeaseEvery == 0 {
		o.LeaseEvery = defaultLeaseEvery
	}
	if o.StallAfter == 0 {
		o.StallAfter = defaultStallAfter
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	e := &Engine{o: o, log: o.Logger.With("notifier", o.Name), grace: shutdownGrace, leases: map[uint64]Message{},
		pendingEvery: min(pendingEvery, o.StallAfter/2)}
	if o.RateLimit > 0 {
		// A burst of one: the limit is a steady pace, as Slack asks.
		e.limiter = rate.NewLimiter(rate.Limit(o.RateLimit), 1)
	}
	return e, nil
}

// Run fetches and delivers until ctx ends. Then it stops fetching, lets
// sends in flight finish for up to 5 s, hands back (NakWithDelay) what is
// left, and returns nil.
func (e *Engine) Run(ctx context.Context) error {
	sendCtx, stop := graceContext(ctx, e.grace)
	defer stop()
	defer e.o.Metrics.setPending(e.o.Name, 0)
	defer e.o.Metrics.setStalled(e.o.Name, false)
	e.o.Metrics.setStalled(e.o.Name, false)
	stopLeases := e.keepLeases()
	defer stopLeases()
	if e.o.Digest > 0 {
		return e.runDigest(ctx, sendCtx)
	}
	return e.runEach(ctx, sendCtx)
}

// graceContext is a context that ends grace after parent does (or when
// stop is called): sends outlive a shutdown request, briefly.
func graceContext(parent context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	go func() {
		select {
		case <-parent.Done():
		case <-ctx.Done():
			return
		}
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-t.C:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// entry is one fetched message and its decoded hit.
type entry struct {
	id  uint64 // lease key: Message values need not be comparable
	msg Message
	hit hit.Hit
	at  time.Time // when it was fetched
}

// runEach delivers hits one group (an item's hits for this notifier) at a
// time, up to MaxInFlight at once: it takes a send slot, gathers hits,
// dispatches the groups that are ready, and pauses after a fetch error.
func (e *Engine) runEach(ctx, sendCtx context.Context) error {
	s := e.startSender(ctx, sendCtx)
	defer s.stop()
	limit := max(minGatherBatch, 4*e.o.MaxInFlight)
	var held []entry // decoded, leased, waiting for their item's other hits
	defer func() { e.requeue(held) }()
	haveSlot := false
	for ctx.Err() == nil {
		// A free slot first: hits are fetched only when one can be sent.
		if !haveSlot {
			if !s.take(ctx) {
				return nil
			}
			haveSlot = true
		}
		var err error
		held, err = e.gather(ctx, sendCtx, held, limit)
		var ready []group
		ready, held = e.readyGroups(held, len(held) >= limit)
		// Groups go out first, even with an error: they are leased now.
		if !e.dispatch(ctx, s, ready, haveSlot) {
			return nil
		}
		haveSlot = haveSlot && len(ready) == 0
		if err != nil && ctx.Err() == nil {
			e.pause(ctx, err)
		}
	}
	if haveSlot {
		<-s.slots
	}
	return nil
}

// sender runs groups: with one send at a time, on the fetch loop itself;
// with more, on long-lived workers. A slot of slots is taken (take) before
// each group and given back when its send ends.
type sender struct {
	slots chan struct{}
	work  chan group // nil with one send at a time
	wg    sync.WaitGroup
	run   func(g group)
}

func (e *Engine) startSender(ctx, sendCtx context.Context) *sender {
	s := &sender{slots: make(chan struct{}, e.o.MaxInFlight)}
	s.run = func(g group) {
		e.handle(ctx, sendCtx, g)
		<-s.slots
	}
	if e.o.MaxInFlight > 1 {
		s.work = make(chan group)
		for range e.o.MaxInFlight {
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				for g := range s.work {
					s.run(g)
				}
			}()
		}
	}
	return s
}

// take waits for a free send slot; false when ctx ends first.
func (s *sender) take(ctx context.Context) bool {
	select {
	case s.slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// send runs g in the slot the caller took for it.
func (s *sender) send(g group) {
	if s.work == nil {
		s.run(g)
	} else {
		s.work <- g
	}
}

// stop waits for the workers' sends to end.
func (s *sender) stop() {
	if s.work != nil {
		close(s.work)
	}
	s.wg.Wait()
}

// gather fetches and decodes more hits onto held, up to limit, waiting no
// longer than until the first held group is due.
func (e *Engine) gather(ctx, sendCtx context.Context, held []entry, limit int) ([]entry, error) {
	if len(held) >= limit {
		return held, nil
	}
	wait := fetchWait
	if len(held) > 0 {
		wait = max(time.Until(e.nextReady(held)), time.Millisecond)
	}
	ens, err := e.fetch(ctx, limit-len(held), wait)
	held = append(held, e.decodeAll(sendCtx, ens)...)
	if err == nil {
		e.fetched()
	}
	return held, err
}

// dispatch sends each ready group in a slot of its own (haveSlot: the
// caller holds one for the first). When ctx ends while it waits for a slot,
// it hands the groups not sent back and returns false.
func (e *Engine) dispatch(ctx context.Context, s *sender, ready []group, haveSlot bool) bool {
	for i, g := range ready {
		if !haveSlot && !s.take(ctx) {
			e.requeue(entries(ready[i:]))
			return false
		}
		haveSlot = false
		s.send(g)
	}
	return true
}

// readyGroups splits held hits (in arrival order) into the groups to send
// now and the hits to hold on for. An item's hits are published one after
// the other, so its group is complete once a hit of another item has come
// after it: at once when that hit came in the same fetch, else after a
// moment (hits of several watchers may interleave). Failing that, a group
// goes when no hit has come for GatherQuiet, or GatherMax after its first
// hit. When full, every group but the last goes.
func (e *Engine) readyGroups(held []entry, full bool) (ready []group, keep []entry) {
	groups := e.groupEntries(held)
	now := time.Now()
	for i, g := range groups {
		last := i == len(groups)-1
		if (full && (!last || len(groups) == 1)) || !now.Before(e.readyAt(g, held)) {
			ready = append(ready, g)
			continue
		}
		keep = append(keep, g...)
	}
	// Back in arrival order, which readyAt and the next grouping rely on.
	slices.SortFunc(keep, func(a, b entry) int { return cmp.Compare(a.id, b.id) })
	return ready, keep
}

// readyAt is when a group of held goes out.
func (e *Engine) readyAt(g group, held []entry) time.Time {
	if e.o.PerHit {
		return g[0].at // no other hit to wait for
	}
	first, latest, lastID := g[0].at, g[0].at, g[0].id
	for _, en := range g[1:] {
		first, latest, lastID = minTime(first, en.at), maxTime(latest, en.at), max(lastID, en.id)
	}
	at := minTime(first.Add(e.o.GatherMax), latest.Add(e.o.GatherQuiet))
	// Lease ids grow in arrival order: the hit after the group's last.
	for _, en := range held {
		if en.id > lastID {
			if en.at.Equal(latest) {
				return latest // fetched together: the stream had moved on
			}
			return minTime(at, latest.Add(gatherSettle))
		}
	}
	return at
}

// nextReady is when the first of the held groups goes out.
func (e *Engine) nextReady(held []entry) time.Time {
	var next time.Time
	for i, g := range e.groupEntries(held) {
		at := e.readyAt(g, held)
		if i == 0 || at.Before(next) {
			next = at
		}
	}
	return next
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// fetch asks the source, takes a lease on what it returns and keeps the
// pending gauge current.
func (e *Engine) fetch(ctx context.Context, n int, wait time.Duration) ([]entry, error) {
	msgs, err := e.o.Source.Fetch(ctx, n, wait)
	ens := make([]entry, len(msgs))
	e.leaseMu.Lock()
	now := time.Now()
	for i, m := range msgs {
		e.nextID++
		ens[i] = entry{id: e.nextID, msg: m, at: now}
		e.leases[e.nextID] = m
	}
	e.leaseMu.Unlock()
	pendingKnown := false
	if pc, ok := e.o.Source.(PendingCounter); ok && time.Since(e.lastAsked) >= e.pendingEvery && ctx.Err() == nil {
		e.lastAsked = time.Now()
		if p, perr := pc.Pending(ctx); perr == nil {
			e.srcPending.Store(int64(p))
			pendingKnown = true
		}
	}
	e.updatePending()
	if ctx.Err() == nil {
		e.watchStall(len(msgs) > 0, pendingKnown, err)
	}
	return ens, err
}

// watchStall tracks whether hits flow. The notifier is stalled when, for
// StallAfter, hits waited at the source (or every fetch failed) and none
// arrived: warned once, and shown by feedwatch_notify_stalled until hits
// flow again.
func (e *Engine) watchStall(got, pendingKnown bool, err error) {
	now := time.Now()
	switch {
	case got:
		e.waitingSince = time.Time{}
		if e.stalled {
			e.stalled = false
			e.o.Metrics.setStalled(e.o.Name, false)
			e.log.Info("notifier no longer stalled", "reason", "hits arrive")
		}
		return
	case err == nil && pendingKnown && e.srcPending.Load() == 0:
		// Nothing waits: idle, not stalled.
		e.waitingSince = time.Time{}
		if e.stalled {
			e.stalled = false
			e.o.Metrics.setStalled(e.o.Name, false)
			e.log.Info("notifier no longer stalled", "reason", "no hits wait")
		}
		return
	case err != nil || e.srcPending.Load() > 0:
		if e.waitingSince.IsZero() {
			e.waitingSince = now
		}
	}
	if !e.stalled && !e.waitingSince.IsZero() && now.Sub(e.waitingSince) >= e.o.StallAfter {
		e.stalled = true
		e.o.Metrics.setStalled(e.o.Name, true)
		attrs := []any{"pending", e.srcPending.Load(), "since", e.waitingSince.UTC().Format(time.RFC3339)}
		if err != nil {
			attrs = append(attrs, "error", err)
		}
		e.log.Warn("notifier stalled: hits wait but none arrive", attrs...)
	}
}

func (e *Engine) updatePending() {
	if e.o.Metrics == nil {
		return
	}
	e.leaseMu.Lock()
	held := len(e.leases)
	e.leaseMu.Unlock()
	e.o.Metrics.setPending(e.o.Name, float64(int64(held)+e.srcPending.Load()))
}

// settled drops the leases of messages acked, nakked or terminated.
func (e *Engine) settled(ens ...entry) {
	e.leaseMu.Lock()
	for _, en := range ens {
		delete(e.leases, en.id)
	}
	e.leaseMu.Unlock()
	e.updatePending()
}

// keepLeases calls InProgress on every held message each third of
// AckWait, so hits waiting for a slow send, the rate limit or a digest
// window are not redelivered meanwhile.
func (e *Engine) keepLeases() (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(max(e.o.AckWait/3, time.Millisecond))
		defer t.Stop()
		var msgs []Message
		for {
			select {
			case <-t.C:
			case <-done:
				return
			}
			msgs = msgs[:0]
			e.leaseMu.Lock()
			for _, m := range e.leases {
				msgs = append(msgs, m)
			}
			e.leaseMu.Unlock()
			for _, m := range msgs {
				// An error here is usually a message settled meanwhile.
				if err := m.InProgress(); err != nil {
					e.log.Debug("extend hit lease failed", "error", err)
				}
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// pause logs a fetch failure and waits a moment before the next try. A
// run of failures (a NATS server or the stream away) warns at its start and
// then once a minute, not at every try.
func (e *Engine) pause(ctx context.Context, err error) {
	e.fetchErrs++
	if e.fetchErrs == 1 || e.fetchErrs%60 == 0 {
		e.log.Warn("fetch hits failed", "error", err, "failures", e.fetchErrs)
	} else {
		e.log.Debug("fetch hits failed", "error", err, "failures", e.fetchErrs)
	}
	sleep(ctx, e.o.BaseBackoff)
}

// fetched notes a fetch that worked, ending a run of failures.
func (e *Engine) fetched() {
	if e.fetchErrs > 0 {
		e.log.Info("fetch hits works again", "failures", e.fetchErrs)
		e.fetchErrs = 0
	}
}

// handle delivers one group in per-hit mode: its hits not yet delivered
// to this notifier go out as one message.
func (e *Engine) handle(ctx, sendCtx context.Context, g group) {
	g = e.unsent(sendCtx, g)
	if len(g) == 0 {
		return
	}
	e.deliver(ctx, sendCtx, []group{g})
}

// decodeAll decodes fetched messages; one that does not decode is
// dead-lettered and left out.
func (e *Engine) decodeAll(ctx context.Context, ens []entry) []entry {
	out := ens[:0:0]
	for _, en := range ens {
		h, err := decode(en.msg.Data())
		if err != nil {
			e.deadLetter(ctx, en, err)
			continue
		}
		en.hit = h
		out = append(out, en)
	}
	return out
}

// unsent checks the ledger for each decoded entry: it acks (as a
// duplicate) those already delivered and returns the rest.
func (e *Engine) unsent(ctx context.Context, ens []entry) []entry {
	out := ens[:0:0]
	for _, en := range ens {
		sent, err := e.o.Ledger.Delivered(ctx, e.o.Name, en.hit.ID)
		if err != nil {
			// Without the ledger, send anyway: a possible repeat is better than
			// a late or missed alert, and the hit id lets receivers drop it.
			e.log.Warn("read delivery ledger failed; sending anyway", "hit", en.hit.ID, "error", err)
		}
		if sent {
			e.ack(ctx, en.msg, en.hit.ID)
			e.o.Metrics.delivery(e.o.Name, ResultDuplicate)
			e.settled(en)
			continue
		}
		// A muted profile's hits are not sent: a mute is for a profile
		// that is too noisy now, so what it matched meanwhile is not held
		// back for later either (the console still lists it).
		if e.o.Mutes != nil && e.o.Mutes.Muted(en.hit.Profile) {
			if mm, ok := e.o.Ledger.(MuteMarker); ok {
				if err := mm.MarkMuted(ctx, e.o.Name, en.hit.ID); err != nil {
					e.log.Warn("record a muted hit in the ledger failed", "hit", en.hit.ID, "error", err)
				}
			}
			e.ack(ctx, en.msg, en.hit.ID)
			e.o.Metrics.delivery(e.o.Name, ResultMuted)
			e.settled(en)
			continue
		}
		out = append(out, en)
	}
	return out
}

// decode reads one hit message body.
func decode(data []byte) (hit.Hit, error) {
	var h hit.Hit
	if err := json.Unmarshal(data, &h); err != nil {
		return h, fmt.Errorf("decode hit: %w; body starts %q", err, prefix(data, 120))
	}
	if h.V > hit.Version {
		return h, fmt.Errorf("decode hit: unsupported version %d", h.V)
	}
	if h.ID == "" {
		return h, errors.New("decode hit: no id")
	}
	return h, nil
}

func prefix(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// deliver sends groups as one message, each group as one hit, and settles
// every hit of them by the result: a group is retried, and marked in the
// ledger, as a whole; dead letters go one per hit, each under its own id.
func (e *Engine) deliver(ctx, sendCtx context.Context, groups []group) {
	ens := entries(groups)
	for {
		d := time.Until(time.Unix(0, e.blockedUntil.Load()))
		if d <= 0 || ctx.Err() != nil {
			break
		}
		sleep(ctx, d)
	}
	if e.limiter != nil {
		if err := e.limiter.Wait(ctx); err != nil {
			e.requeue(ens)
			return
		}
	}
	if ctx.Err() != nil {
		e.requeue(ens)
		return
	}
	hits := make([]hit.Hit, len(groups))
	for i, g := range groups {
		hits[i] = merge(g)
	}
	start := time.Now()
	retry, err := e.notify(sendCtx, hits)
	took := time.Since(start)
	e.o.Metrics.observe(e.o.Name, took.Seconds())
	if e.log.Enabled(ctx, slog.LevelDebug) {
		e.debugDelivery(ctx, ens, took, retry, err, sendCtx.Err() != nil)
	}
	switch {
	case err == nil:
		// Every hit in the ledger before any ack: a crash in between sends
		// none of them again.
		for _, en := range ens {
			if merr := e.o.Ledger.MarkDelivered(sendCtx, e.o.Name, en.hit.ID); merr != nil {
				e.log.Warn("record delivery in ledger failed", "hit", en.hit.ID, "error", merr)
			}
		}
		for _, en := range ens {
			e.ack(sendCtx, en.msg, en.hit.ID)
			e.o.Metrics.delivery(e.o.Name, ResultDelivered)
		}
		e.settled(ens...)
	case sendCtx.Err() != nil:
		// Shutdown cut the send: hand the hits back untouched.
		e.requeue(ens)
	default:
		e.failed(sendCtx, ens, retry, err)
	}
}

// debugDelivery logs one delivery attempt: hit id(s), result, duration.
// Channels' errors are redacted at the source, so they may be logged.
func (e *Engine) debugDelivery(ctx context.Context, hits []entry, took time.Duration, retry bool, err error, canceled bool) {
	result := "delivered"
	switch {
	case err == nil:
	case canceled:
		result = "canceled"
	case retry:
		result = "retry"
	default:
		result = "failed"
	}
	attrs := make([]slog.Attr, 0, 4)
	if len(hits) == 1 {
		attrs = append(attrs, slog.String("hit", hits[0].hit.ID))
	} else {
		ids := make([]string, len(hits))
		for i, h := range hits {
			ids[i] = h.hit.ID
		}
		attrs = append(attrs, slog.Any("hits", ids))
	}
	attrs = append(attrs, slog.String("result", result), slog.Duration("duration", took))
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	e.log.LogAttrs(ctx, slog.LevelDebug, "delivery", attrs...)
}

// notify calls the channel, turning a panic into a retryable error: one
// bad hit must not take the daemon down.
func (e *Engine) notify(ctx context.Context, hits []hit.Hit) (retry bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			retry, err = true, fmt.Errorf("notifier panicked: %v", r)
		}
	}()
	return e.o.Notifier.Notify(ctx, hits)
}

func (e *Engine) ack(ctx context.Context, m Message, id string) {
	if err := m.Ack(ctx); err != nil {
		// The ledger stops the redelivery from sending again.
		e.log.Warn("ack hit failed", "hit", id, "error", err)
	}
}

// failed settles a failed send: retry later, or dead-letter.
func (e *Engine) failed(ctx context.Context, ens []entry, retry bool, err error) {
	var ra RetryAfter
	if retry && errors.As(err, &ra) && ra.RetryAfter() > 0 {
		// Capped so a server asking for hours cannot stall the notifier.
		until := time.Now().Add(min(ra.RetryAfter(), e.o.MaxBackoff)).UnixNano()
		for {
			cur := e.blockedUntil.Load()
			if cur >= until || e.blockedUntil.CompareAndSwap(cur, until) {
				break
			}
		}
	}
	var delay time.Duration
	retried := 0
	for _, en := range ens {
		attempts := en.msg.Delivered()
		if !retry || attempts >= e.o.MaxAttempts {
			e.deadLetter(ctx, en, err)
			continue
		}
		delay = e.backoff(attempts, err)
		if nerr := en.msg.NakWithDelay(delay); nerr != nil {
			e.log.Warn("nak hit failed", "hit", en.hit.ID, "error", nerr)
		}
		e.o.Metrics.delivery(e.o.Name, ResultRetry)
		e.settled(en)
		retried++
	}
	if retried > 0 {
		e.log.Warn("delivery failed; will retry", "hits", retried, "hit", ens[0].hit.ID,
			"attempt", ens[0].msg.Delivered(), "retry_in", delay, "error", err)
	}
}

// deadLetter publishes the hit with the last error and terminates the
// message. When the dead-letter publish fails the message is retried later
// instead: it must not vanish.
func (e *Engine) deadLetter(ctx context.Context, en entry, cause error) {
	attempts := en.msg.Delivered()
	letter := DeadLetter{
		Notifier: e.o.Name,
		Hit:      en.hit,
		Error:    cause.Error(),
		Attempts: attempts,
		At:       e.o.Now().UTC(),
	}
	if s, ok := en.msg.(interface{ StreamSeq() uint64 }); ok {
		letter.Seq = s.StreamSeq()
	}
	defer e.settled(en)
	if err := e.o.Dead.Dead(ctx, e.o.Name, letter); err != nil {
		e.log.Error("publish dead letter failed; will retry", "hit", en.hit.ID, "error", err, "cause", cause)
		if nerr := en.msg.NakWithDelay(e.backoff(attempts, nil)); nerr != nil {
			e.log.Warn("nak hit failed", "hit", en.hit.ID, "error", nerr)
		}
		e.o.Metrics.delivery(e.o.Name, ResultRetry)
		return
	}
	if err := en.msg.Term(); err != nil {
		e.log.Warn("terminate dead hit failed", "hit", en.hit.ID, "error", err)
	}
	e.o.Metrics.delivery(e.o.Name, ResultDead)
	e.o.Metrics.deadLetter(e.o.Name)
	e.log.Error("hit dead-lettered", "hit", en.hit.ID, "profile", en.hit.Profile,
		"attempts", attempts, "error", cause)
}

// handBackDelay is how long a hit handed back at shutdown waits before it
// is handed out again. Not 0: this process's own pull request may still
// be open at the server for a moment, and an immediate redelivery would
// go straight back into it, to wait out the 30 s AckWait once the
// process has gone. A little longer than a pull lives at the bus.
const handBackDelay = 3 * time.Second

// requeue hands messages back for redelivery (shutdown): to whichever
// process asks next, this one restarted or another notify process.
func (e *Engine) requeue(ens []entry) {
	for _, en := range ens {
		if err := en.msg.NakWithDelay(handBackDelay); err != nil {
			e.log.Warn("hand back hit failed", "hit", en.hit.ID, "error", err)
		}
		e.o.Metrics.delivery(e.o.Name, ResultRequeued)
	}
	e.settled(ens...)
}

// backoff is base*2^(attempt-1) capped at MaxBackoff, or the server's
// Retry-After when that is longer.
func (e *Engine) backoff(attempt int, err error) time.Duration {
	d := e.o.BaseBackoff
	for i := 1; i < attempt && d < e.o.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, e.o.MaxBackoff)
	var ra RetryAfter
	if errors.As(err, &ra) {
		if r := ra.RetryAfter(); r > d {
			d = r
		}
	}
	return d
}

// runDigest gathers hits for one window, then sends them together. They
// stay un-acked (their leases kept) until the digest is delivered. With a
// DigestLease only the process holding it fetches: one digest per window
// however many processes run the notifier.
func (e *Engine) runDigest(ctx, sendCtx context.Context) error {
	var batch []entry
	var windowEnd time.Time
	dl := &digestLease{lease: e.o.DigestLease, every: e.o.LeaseEvery, log: e.log}
	defer dl.release()
	for {
		if ctx.Err() != nil {
			e.requeue(batch)
			return nil
		}
		if was := dl.holding; !dl.held(ctx) {
			// Another process gathers this notifier's digests. Hits held
			// here (a lease lost mid-window) go back to the stream for it,
			// after the source's open pull ends: one left open would catch
			// them, and new hits, again.
			if c, ok := e.o.Source.(interface{ Close() }); ok && was {
				c.Close()
			}
			e.requeue(batch)
			batch = nil
			sleep(ctx, dl.wait())
			continue
		}
		if len(batch) > 0 && !time.Now().Before(windowEnd) {
			e.flush(ctx, sendCtx, batch)
			batch = nil
			continue
		}
		wait := fetchWait
		if len(batch) > 0 {
			wait = max(min(wait, time.Until(windowEnd)), time.Millisecond)
		}
		room := maxDigestHeld - len(batch)
		if room <= 0 {
			sleep(ctx, wait) // the loop top flushes, or hands back on shutdown
			continue
		}
		fetched, err := e.fetch(ctx, min(room, 256), wait)
		if err != nil && ctx.Err() == nil {
			e.pause(ctx, err)
		} else if err == nil {
			e.fetched()
		}
		for _, en := range e.unsent(sendCtx, e.decodeAll(sendCtx, fetched)) {
			if len(batch) == 0 {
				windowEnd = time.Now().Add(e.o.Digest)
			}
			batch = append(batch, en)
		}
	}
}

// flush sends a window's hits, each item once with all its profiles,
// MaxDigest items per message.
func (e *Engine) flush(ctx, sendCtx context.Context, batch []entry) {
	groups := e.groupEntries(batch)
	for len(groups) > 0 {
		n := min(len(groups), MaxDigest)
		e.deliver(ctx, sendCtx, groups[:n])
		groups = groups[n:]
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(max(d, 0))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// digestLease tracks a notifier's digest lease from the digest loop.
type digestLease struct {
	lease   Lease // nil: no coordination, always held
	every   time.Duration
	log     *slog.Logger
	holding bool
	checked time.Time
}

// held renews or tries the lease when due and reports whether this process
// holds it.
func (d *digestLease) held(ctx context.Context) bool {
	if d.lease == nil {
		return true
	}
	if !d.checked.IsZero() && time.Since(d.checked) < d.every {
		return d.holding
	}
	d.checked = time.Now()
	ok, err := d.lease.Hold(ctx)
	if err != nil && ctx.Err() == nil {
		d.log.Warn("digest lease check failed", "error", err)
	}
	switch {
	case ok && !d.holding:
		d.log.Info("digest lease taken: this process sends the notifier's digests")
	case !ok && d.holding:
		d.log.Warn("digest lease lost: another process sends the notifier's digests")
	}
	d.holding = ok
	return ok
}

// wait is how long a process without the lease waits before trying again.
func (d *digestLease) wait() time.Duration {
	return max(d.every-time.Since(d.checked), time.Millisecond)
}

// release gives the lease up at shutdown, so another process takes over at
// once rather than when it expires.
func (d *digestLease) release() {
	if d.lease == nil || !d.holding {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := d.lease.Release(ctx); err != nil {
		d.log.Warn("release digest lease failed; it expires by itself", "error", err)
	}
	d.holding = false
}
