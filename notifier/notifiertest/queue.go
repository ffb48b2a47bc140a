package notifiertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier"
)

// Queue is an in-memory notifier.Source standing in for one JetStream
// consumer: it hands messages out, requeues nakked ones at once (the delay
// is recorded, not waited for) and records how each was settled, and any
// settle of an already settled delivery as a protocol violation.
type Queue struct {
	mu     sync.Mutex
	ready  []*Record
	all    []*Record
	signal chan struct{} // closed and replaced when a message becomes ready
	errs   []string
}

// Record is one message and its fate. Set FailAcks and DropAcks before the
// engine runs; read the rest through Snapshot or Records.
type Record struct {
	ID         string
	Data       []byte
	Delivered  int
	Acked      bool
	Termed     bool
	Naks       []time.Duration
	InProgress int
	// FailAcks makes the first n Acks fail and redeliver, like an ack lost
	// on its way while the bus redelivers after AckWait.
	FailAcks int
	// DropAcks makes the first n Acks fail and leave the message out until
	// Redeliver: the process died before its ack arrived.
	DropAcks int

	onInProgress chan struct{} // closed once InProgress reaches wantIP
	wantIP       int
}

var _ notifier.Source = (*Queue)(nil)

// NewQueue returns an empty queue.
func NewQueue() *Queue { return &Queue{signal: make(chan struct{})} }

// Add enqueues one message body; id names it in violations.
func (q *Queue) Add(id string, data []byte) *Record {
	q.mu.Lock()
	defer q.mu.Unlock()
	r := &Record{ID: id, Data: data}
	q.all = append(q.all, r)
	q.readyLocked(r)
	return r
}

// AddHit enqueues h as JSON.
func (q *Queue) AddHit(h hit.Hit) *Record {
	b, err := json.Marshal(h)
	if err != nil {
		panic(fmt.Sprintf("marshal hit: %v", err)) // hit.Hit has only plain fields
	}
	return q.Add(h.ID, b)
}

func (q *Queue) readyLocked(r *Record) {
	q.ready = append(q.ready, r)
	close(q.signal)
	q.signal = make(chan struct{})
}

// Redeliver hands r out again, as the bus does once AckWait has passed.
func (q *Queue) Redeliver(r *Record) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.readyLocked(r)
}

// InProgressReached returns a channel closed once r's lease was extended
// n times. Call it before the engine runs.
func (q *Queue) InProgressReached(r *Record, n int) <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	r.onInProgress, r.wantIP = make(chan struct{}), n
	return r.onInProgress
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

// Snapshot copies r's state.
func (q *Queue) Snapshot(r *Record) Record {
	q.mu.Lock()
	defer q.mu.Unlock()
	return copyRecord(r)
}

// Records copies every message's state, in the order added.
func (q *Queue) Records() []Record {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]Record, len(q.all))
	for i, r := range q.all {
		out[i] = copyRecord(r)
	}
	return out
}

func copyRecord(r *Record) Record {
	c := *r
	c.Naks = append([]time.Duration(nil), r.Naks...)
	c.onInProgress = nil
	return c
}

// Violations lists settles of already settled deliveries.
func (q *Queue) Violations() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]string(nil), q.errs...)
}

// message is one delivery of a record.
type message struct {
	q         *Queue
	r         *Record
	delivered int
	settled   bool
}

var (
	errSettled = errors.New("message already settled")
	errAckLost = errors.New("ack lost")
)

func (m *message) Data() []byte   { return m.r.Data }
func (m *message) Delivered() int { return m.delivered }

// settle marks the delivery settled; the caller holds q.mu.
func (m *message) settle(what string) error {
	if m.settled {
		m.q.errs = append(m.q.errs, fmt.Sprintf("%s: %s after settle", m.r.ID, what))
		return errSettled
	}
	m.settled = true
	return nil
}

func (m *message) Ack(context.Context) error {
	m.q.mu.Lock()
	defer m.q.mu.Unlock()
	if err := m.settle("ack"); err != nil {
		return err
	}
	switch {
	case m.r.FailAcks > 0:
		m.r.FailAcks--
		m.q.readyLocked(m.r)
		return errAckLost
	case m.r.DropAcks > 0:
		m.r.DropAcks--
		return errAckLost
	}
	m.r.Acked = true
	return nil
}

func (m *message) NakWithDelay(d time.Duration) error {
	m.q.mu.Lock()
	defer m.q.mu.Unlock()
	if err := m.settle("nak"); err != nil {
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
		// The engine's lease keeper may race a settle; the bus answers
		// with an error, which is harmless: not a violation.
		return errSettled
	}
	m.r.InProgress++
	if m.r.onInProgress != nil && m.r.InProgress == m.r.wantIP {
		close(m.r.onInProgress)
	}
	return nil
}

func (m *message) Term() error {
	m.q.mu.Lock()
	defer m.q.mu.Unlock()
	if err := m.settle("term"); err != nil {
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
	// Fail makes the first n publishes fail; set it before use.
	Fail int
}

var _ notifier.DeadLetters = (*Dead)(nil)

// Dead implements notifier.DeadLetters.
func (d *Dead) Dead(_ context.Context, _ string, l notifier.DeadLetter) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.Fail > 0 {
		d.Fail--
		return errors.New("dead-letter stream unavailable")
	}
	d.letters = append(d.letters, l)
	return nil
}

// Letters copies the dead letters so far.
func (d *Dead) Letters() []notifier.DeadLetter {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]notifier.DeadLetter(nil), d.letters...)
}
