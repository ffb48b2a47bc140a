package notifiertest

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/feedwatch/feedwatch/notifier"
)

// Queue is an in-memory notifier.Source for tests outside the notifier
// package: it hands messages out, requeues nakked ones at once (the delay
// is recorded, not waited for) and records how each was settled.
type Queue struct {
	mu     sync.Mutex
	ready  []*Record
	all    []*Record
	signal chan struct{}
}

// Record is one message and its fate.
type Record struct {
	Data      []byte
	Delivered int
	Acked     bool
	Termed    bool
	Naks      []time.Duration
}

var _ notifier.Source = (*Queue)(nil)

// NewQueue returns an empty queue.
func NewQueue() *Queue { return &Queue{signal: make(chan struct{})} }

// Add enqueues one message body.
func (q *Queue) Add(data []byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	r := &Record{Data: data}
	q.all = append(q.all, r)
	q.readyLocked(r)
}

func (q *Queue) readyLocked(r *Record) {
	q.ready = append(q.ready, r)
	close(q.signal)
	q.signal = make(chan struct{})
}

// Fetch implements notifier.Source.
func (q *Queue) Fetch(ctx context.Context, n int, maxWait time.Duration) ([]notifier.Message, error) {
	t := time.NewTimer(maxWait)
	defer t.Stop()
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		q.mu.Lock()
		if len(q.ready) > 0 {
			k := min(n, len(q.ready))
			out := make([]notifier.Message, k)
			for i, r := range q.ready[:k] {
				r.Delivered++
				out[i] = &message{q: q, r: r, delivered: r.Delivered}
			}
			q.ready = q.ready[k:]
			q.mu.Unlock()
			return out, nil
		}
		sig := q.signal
		q.mu.Unlock()
		select {
		case <-sig:
		case <-t.C:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Settled reports whether every message was acked or terminated.
func (q *Queue) Settled() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, r := range q.all {
		if !r.Acked && !r.Termed {
			return false
		}
	}
	return true
}

// Records copies every message's state.
func (q *Queue) Records() []Record {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]Record, len(q.all))
	for i, r := range q.all {
		out[i] = *r
		out[i].Naks = append([]time.Duration(nil), r.Naks...)
	}
	return out
}

type message struct {
	q         *Queue
	r         *Record
	delivered int
	settled   bool
}

var errSettled = errors.New("message already settled")

func (m *message) Data() []byte   { return m.r.Data }
func (m *message) Delivered() int { return m.delivered }

func (m *message) settle() error {
	if m.settled {
		return errSettled
	}
	m.settled = true
	return nil
}

func (m *message) Ack(context.Context) error {
	m.q.mu.Lock()
	defer m.q.mu.Unlock()
	if err := m.settle(); err != nil {
		return err
	}
	m.r.Acked = true
	return nil
}

func (m *message) NakWithDelay(d time.Duration) error {
	m.q.mu.Lock()
	defer m.q.mu.Unlock()
	if err := m.settle(); err != nil {
		return err
	}
	m.r.Naks = append(m.r.Naks, d)
	m.q.readyLocked(m.r)
	return nil
}

func (m *message) InProgress() error {
	m.q.mu.Lock()
	defer m.q.mu.Unlock()
	if m.settled {
		return errSettled
	}
	return nil
}

func (m *message) Term() error {
	m.q.mu.Lock()
	defer m.q.mu.Unlock()
	if err := m.settle(); err != nil {
		return err
	}
	m.r.Termed = true
	return nil
}

// Ledger is an in-memory notifier.Ledger.
type Ledger struct {
	mu   sync.Mutex
	seen map[string]bool
}

var _ notifier.Ledger = (*Ledger)(nil)

// Delivered implements notifier.Ledger.
func (l *Ledger) Delivered(_ context.Context, n, id string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seen[n+"\x00"+id], nil
}

// MarkDelivered implements notifier.Ledger.
func (l *Ledger) MarkDelivered(_ context.Context, n, id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	l.seen[n+"\x00"+id] = true
	return nil
}

// Dead collects dead letters.
type Dead struct {
	mu      sync.Mutex
	letters []notifier.DeadLetter
}

var _ notifier.DeadLetters = (*Dead)(nil)

// Dead implements notifier.DeadLetters.
func (d *Dead) Dead(_ context.Context, _ string, l notifier.DeadLetter) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.letters = append(d.letters, l)
	return nil
}

// Letters copies the dead letters so far.
func (d *Dead) Letters() []notifier.DeadLetter {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]notifier.DeadLetter(nil), d.letters...)
}
