package daemon

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/feedwatch/feedwatch/bus"
	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/notifier"
	"github.com/feedwatch/feedwatch/notifier/build"
)

// ackWait is the consumers' lease on a hit; the engine renews it during
// slow sends.
const ackWait = 30 * time.Second

// engines runs one delivery engine per notifier and applies config changes:
// an unchanged notifier keeps running, a changed one is stopped (its
// in-flight hits finish or go back to the stream) and started anew.
type engines struct {
	bus     *bus.Bus
	out     io.Writer
	client  *http.Client
	log     *slog.Logger
	metrics *notifier.Metrics
	mutes   *bus.Mutes // profiles muted from the console; may be nil

	mu      sync.Mutex
	owner   string // this process's id in digest leases; set on first use
	running map[string]*runningEngine
	wg      sync.WaitGroup
}

type runningEngine struct {
	cfg      config.Notifier
	profiles []string
	cancel   context.CancelFunc
	done     chan struct{}
	// src is the engine's consumer source, with the buffer it pulls.
	src    *bus.Source
	buffer int
	// handOver, set before cancel, keeps src open for the engine that
	// replaces this one (same consumer): its open pull goes on, so no hit
	// is handed back and delayed by the restart.
	handOver atomic.Bool
}

// ensureConsumers creates or updates every notifier's consumer, so hits
// published from now on are kept for it even if no engine runs here.
func ensureConsumers(ctx context.Context, b *bus.Bus, cfg *config.Config) error {
	for name := range cfg.Notifiers {
		profiles := profilesFor(cfg, name)
		if len(profiles) == 0 {
			continue
		}
		if _, err := b.EnsureConsumer(ctx, name, bus.ConsumerOptions{Profiles: profiles, AckWait: ackWait}); err != nil {
			return err
		}
	}
	return nil
}

// apply brings the running engines in line with cfg.
func (e *engines) apply(ctx context.Context, cfg *config.Config) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.running == nil {
		e.running = map[string]*runningEngine{}
	}
	kept := map[string]*runningEngine{}
	for name, r := range e.running {
		n, ok := cfg.Notifiers[name]
		profiles := profilesFor(cfg, name)
		if ok && reflect.DeepEqual(n, r.cfg) && slices.Equal(profiles, r.profiles) {
			continue
		}
		if ok && slices.Equal(profiles, r.profiles) && bufferFor(build.InFlight(n)) == r.buffer {
			r.handOver.Store(true)
			kept[name] = r
		}
		r.cancel()
		<-r.done
		delete(e.running, name)
	}
	var firstErr error
	for name, n := range cfg.Notifiers {
		if _, ok := e.running[name]; ok {
			continue
		}
		profiles := profilesFor(cfg, name)
		if len(profiles) == 0 {
			e.log.Info("notifier has no profiles routed to it", "notifier", name)
			continue
		}
		var src *bus.Source
		if r := kept[name]; r != nil {
			src = r.src
			delete(kept, name)
		}
		if err := e.start(ctx, name, n, profiles, src); err != nil {
			e.log.Error("start notifier", "notifier", name, "err", err)
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	for _, r := range kept { // not started again (no profiles now, or an error)
		r.src.Close()
	}
	return firstErr
}

// start runs notifier name's engine, on src when a stopped engine of the
// same consumer left it open, else on a source of its own.
func (e *engines) start(ctx context.Context, name string, n config.Notifier, profiles []string, src *bus.Source) error {
	ch, err := build.New(name, n, e.out, e.client)
	if err != nil {
		if src != nil {
			src.Close()
		}
		return fmt.Errorf("notifier %q: %w", name, err)
	}
	inFlight := build.InFlight(n)
	if src == nil {
		if src, err = e.bus.EnsureConsumer(ctx, name, bus.ConsumerOptions{Profiles: profiles, AckWait: ackWait, Buffer: bufferFor(inFlight)}); err != nil {
			return err
		}
	}
	var lease notifier.Lease
	if n.Digest.D() > 0 {
		// Several notify processes may run this notifier: only the lease
		// holder gathers digests, so each window is sent once.
		if e.owner == "" {
			e.owner = processID()
		}
		lease = e.bus.DigestLease(name, e.owner)
	}
	eng, err := notifier.NewEngine(notifier.EngineOptions{
		Name:        name,
		DigestLease: lease,
		Notifier:    ch,
		Source:      src,
		Ledger:      e.bus.Ledger(),
		Dead:        e.bus.DeadLetters(),
		MaxAttempts: n.MaxAttempts,
		Digest:      n.Digest.D(),
		RateLimit:   build.RateLimit(n),
		AckWait:     ackWait,
		MaxInFlight: inFlight,
		// The SPEC's webhook body is the hit JSON, and the console prints
		// "one readable line (or block) per hit": each hit on its own, as
		// the stream holds it. People's channels get an item once.
		PerHit:  n.Type == "webhook" || n.Type == "console",
		Logger:  e.log,
		Metrics: e.metrics,
		Mutes:   muter(e.mutes),
	})
	if err != nil {
		src.Close()
		return fmt.Errorf("notifier %q: %w", name, err)
	}
	ectx, cancel := context.WithCancel(ctx)
	r := &runningEngine{cfg: n, profiles: profiles, cancel: cancel, done: make(chan struct{}), src: src, buffer: bufferFor(inFlight)}
	e.running[name] = r
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer close(r.done)
		defer func() {
			if !r.handOver.Load() {
				src.Close()
			}
		}()
		if err := eng.Run(ectx); err != nil {
			e.log.Error("notifier stopped", "notifier", name, "err", err)
		}
	}()
	return nil
}

// stop ends every engine and waits for them.
func (e *engines) stop() {
	e.mu.Lock()
	for _, r := range e.running {
		r.cancel()
	}
	e.mu.Unlock()
	e.wg.Wait()
}

// bufferFor is how many hits the client pulls ahead of the engine. A deeper
// buffer is faster (fewer pull round trips) but each buffered hit's AckWait
// runs while it waits; four per send in flight measured well
// (BenchmarkDeliveryThroughput) and keeps a slow channel's queue short.
func bufferFor(inFlight int) int { return 4 * inFlight }

// processID names this process uniquely among those sharing the cluster:
// host, pid and a random part (pids repeat across containers).
func processID() string {
	host, _ := os.Hostname()
	var r [4]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("%s-%d-%x", host, os.Getpid(), r)
}

// muter keeps a nil *bus.Mutes a nil interface.
func muter(m *bus.Mutes) notifier.Muter {
	if m == nil {
		return nil
	}
	return m
}
