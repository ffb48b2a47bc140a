package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/feedwatch/feedwatch/bus"
	"github.com/feedwatch/feedwatch/checkpoint"
	"github.com/feedwatch/feedwatch/redact"
)

// The results of the state check at start.
const (
	StateOK         = "ok"          // the store holds what the checkpoint recorded
	StateDamaged    = "damaged"     // it holds less: state was lost while stopped
	StateFirstStart = "first_start" // no checkpoint yet
	StateUnchecked  = "unchecked"   // the checkpoint could not be used
)

// otherNATS starts the error of a checkpoint made against other servers.
const otherNATS = "the checkpoint is about another nats"

// checkpointEvery is how often the checkpoint is written while running.
// Damage is judged against the last one written, so messages written after
// it and lost are found only when the server says so or they do not read
// back.
const checkpointEvery = time.Minute

// StateCheck is what the start found about the state store, in
// /api/status and /readyz.
type StateCheck struct {
	Result string `json:"result"`
	// Lost names each stream or bucket that holds less than the
	// checkpoint recorded, and how.
	Lost []string `json:"lost,omitempty"`
	// GoodAt is when the checkpoint last saw the store good.
	GoodAt time.Time `json:"good_at,omitzero"`
	// RecoverBefore: items published before this (or undated) and not
	// found seen are not alerted at their feed's first poll in this run.
	RecoverBefore time.Time `json:"recover_before,omitzero"`
	Error         string    `json:"error,omitempty"`
}

// stateKeeper checks the state store against the checkpoint at start and
// writes the checkpoint while the daemon runs. Only processes that watch
// keep it: they own the seen-state that old alerts would come back from.
type stateKeeper struct {
	path, nats string
	bus        *bus.Bus
	log        *slog.Logger
	now        func() time.Time
	// carry is how long a recovery's cutoff is carried into later
	// checkpoints, for feeds not yet polled when the daemon stops again.
	carry time.Duration

	damaged, written prometheus.Gauge

	mu       sync.Mutex
	check    StateCheck
	failing  bool // the last write failed (logged once)
	carrying time.Time
	// unreadable is what the read-back at start found, by stream: carried
	// in every checkpoint of this run.
	unreadable map[string]uint64
	// judged: the check at start ran to its end. Until then no checkpoint
	// is written, or a damaged store could be recorded as good.
	judged bool
}

func newStateKeeper(dataDir, nats string, b *bus.Bus, log *slog.Logger, reg prometheus.Registerer, now func() time.Time, backfill time.Duration) *stateKeeper {
	k := &stateKeeper{
		path: filepath.Join(dataDir, checkpoint.FileName), nats: nats, bus: b, log: log, now: now,
		carry:      max(backfill, 24*time.Hour),
		unreadable: map[string]uint64{},
		damaged:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "feedwatch_state_damaged", Help: "1 when lost or damaged state was found at start (see /api/status); old items are then not alerted again."}),
		written:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "feedwatch_state_checkpoint_timestamp_seconds", Help: "When the state checkpoint was last written."}),
	}
	reg.MustRegister(k.damaged, k.written)
	return k
}

// natsIdentity names the store a checkpoint is about: a checkpoint made
// against another NATS is not compared.
func natsIdentity(url string) string {
	if url == "" {
		return "embedded"
	}
	return redact.Userinfo(url)
}

// start compares the store with the checkpoint, reports what was lost, and
// writes a new checkpoint.
func (k *stateKeeper) start(ctx context.Context) StateCheck {
	c := k.compare(ctx)
	if ctx.Err() != nil {
		// Stopped while starting: nothing was judged, nothing is written.
		return StateCheck{Result: StateUnchecked, Error: ctx.Err().Error()}
	}
	k.mu.Lock()
	k.check = c
	k.carrying = c.RecoverBefore
	k.judged = true
	k.mu.Unlock()
	switch c.Result {
	case StateDamaged:
		k.damaged.Set(1)
		k.log.Error("state store damaged: state was lost while the daemon was stopped; items published before the last known-good time are not alerted again",
			"lost", c.Lost, "good_at", c.GoodAt, "recover_before", c.RecoverBefore, "checkpoint", k.path)
	case StateUnchecked:
		// An unreadable checkpoint is damage next to the store; one made
		// against other NATS servers is a config change.
		level := slog.LevelError
		if strings.HasPrefix(c.Error, otherNATS) {
			level = slog.LevelWarn
		}
		k.log.Log(ctx, level, "state store not checked: the checkpoint cannot be used", "err", c.Error, "checkpoint", k.path)
	case StateFirstStart:
		k.log.Info("no state checkpoint yet; starting one", "checkpoint", k.path)
	default:
		if !c.RecoverBefore.IsZero() {
			k.log.Warn("still recovering from state lost earlier: items published before recover_before are not alerted at their feed's first poll", "recover_before", c.RecoverBefore)
		}
	}
	k.save(ctx)
	return c
}

func (k *stateKeeper) compare(ctx context.Context) StateCheck {
	cp, err := checkpoint.Load(k.path)
	if errors.Is(err, checkpoint.ErrNone) {
		return StateCheck{Result: StateFirstStart}
	}
	if err != nil {
		return StateCheck{Result: StateUnchecked, Error: err.Error()}
	}
	if cp.NATS != k.nats {
		return StateCheck{Result: StateUnchecked, GoodAt: cp.GoodAt, Error: otherNATS + " (" + cp.NATS + "), not compared"}
	}
	now, err := k.bus.Streams(ctx)
	if err != nil {
		return StateCheck{Result: StateUnchecked, GoodAt: cp.GoodAt, Error: err.Error()}
	}
	c := StateCheck{Result: StateOK, GoodAt: cp.GoodAt}
	for _, l := range checkpoint.Compare(cp, now, k.now()) {
		c.Lost = append(c.Lost, describe(l))
	}
	if k.bus.Embedded() {
		// Nothing else writes to the embedded store yet, so every message
		// it counts must read back.
		vctx, cancel := context.WithTimeout(ctx, verifyTimeout)
		defer cancel()
		// The state that keeps old items from alerting again.
		for _, name := range []string{"KV_" + bus.SeenBucket, "KV_" + bus.FeedsBucket, "KV_" + bus.AlertedBucket} {
			n, err := k.bus.Unreadable(vctx, name)
			if err != nil {
				if ctx.Err() == nil {
					k.log.Warn("state check: reading the store back failed", "stream", name, "err", err)
				}
				break
			}
			k.unreadable[name] = n
			// Known from an earlier check: reported then.
			if was := cp.Streams[name].Unreadable; n > was {
				c.Lost = append(c.Lost, describe(checkpoint.Loss{Stream: name, What: fmt.Sprintf("%d messages cannot be read back", n-was)}))
			}
		}
	}
	if len(c.Lost) > 0 {
		c.Result = StateDamaged
		// Whatever damaged these may have damaged more than the counts
		// show: every feed recovers, whatever was lost.
		c.RecoverBefore = cp.GoodAt
	} else if !cp.RecoverBefore.IsZero() && k.now().Sub(cp.RecoverBefore) < k.carry {
		c.RecoverBefore = cp.RecoverBefore
	}
	return c
}

// verifyTimeout bounds the read-back at start.
const verifyTimeout = time.Minute

// describe names a loss for people: the bucket or stream and what it holds.
func describe(l checkpoint.Loss) string {
	what := map[string]string{
		"KV_" + bus.SeenBucket:    "seen items (bucket " + bus.SeenBucket + ")",
		"KV_" + bus.FeedsBucket:   "per-feed state (bucket " + bus.FeedsBucket + ")",
		"KV_" + bus.AlertedBucket: "published hit ids (bucket " + bus.AlertedBucket + ")",
		"KV_" + bus.LedgerBucket:  "delivery ledger (bucket " + bus.LedgerBucket + ")",
		bus.HitsStream:            "hits (stream " + bus.HitsStream + ")",
		bus.DeadStream:            "dead letters (stream " + bus.DeadStream + ")",
		bus.ItemsStream:           "archived items (stream " + bus.ItemsStream + ")",
		"KV_" + bus.MutesBucket:   "muted profiles (bucket " + bus.MutesBucket + ")",
	}[l.Stream]
	if what == "" {
		what = l.Stream
	}
	return what + ": " + l.What
}

// recoverBefore is the cutoff the watcher applies at each feed's first poll.
func (k *stateKeeper) recoverBefore() time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.check.RecoverBefore
}

func (k *stateKeeper) status() StateCheck {
	k.mu.Lock()
	defer k.mu.Unlock()
	c := k.check
	c.Lost = append([]string(nil), c.Lost...)
	return c
}

// save writes the checkpoint: what the store holds now, known good now.
func (k *stateKeeper) save(ctx context.Context) {
	k.mu.Lock()
	judged := k.judged
	k.mu.Unlock()
	if !judged {
		return
	}
	streams, err := k.bus.Streams(ctx)
	at := k.now()
	if err == nil {
		k.mu.Lock()
		rb := k.carrying
		if !rb.IsZero() && at.Sub(rb) >= k.carry {
			rb = time.Time{}
		}
		for name, n := range k.unreadable {
			if st, ok := streams[name]; ok {
				st.Unreadable = min(n, st.Msgs)
				streams[name] = st
			}
		}
		k.mu.Unlock()
		err = checkpoint.Save(k.path, checkpoint.Checkpoint{NATS: k.nats, GoodAt: at, Streams: streams, RecoverBefore: rb})
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if err != nil {
		if !k.failing && ctx.Err() == nil {
			k.log.Warn("state checkpoint not written; lost state will not be detected at the next start", "err", err)
		}
		k.failing = true
		return
	}
	if k.failing {
		k.log.Info("state checkpoint written again", "checkpoint", k.path)
	}
	k.failing = false
	k.written.Set(float64(at.Unix()))
}

// run writes the checkpoint every checkpointEvery until ctx ends.
func (k *stateKeeper) run(ctx context.Context) {
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			k.save(ctx)
		}
	}
}
