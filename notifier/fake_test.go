package notifier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/hit"
)

// fakeQueue is an in-memory stand-in for one JetStream consumer: it hands
// messages out, counts deliveries, and records how each delivery was
// settled. Delays are recorded, not waited for.
type fakeQueue struct {
	mu      sync.Mutex
	ready   []*record
	signal  chan struct{} // closed and replaced when a message becomes ready
	all     []*record
	errs    []string // protocol violations (double settle, ...)
	fetches int
}

type record struct {
	data       []byte
	id         string
	delivered  int
	acked      bool
	termed     bool
	naks       []time.Duration
	inProgress int
	// failAcks makes the first n Acks fail and redeliver, like an ack lost
	// when the process dies after sending.
	failAcks int
	// dropAcks makes the first n Acks fail and leave the message out
	// until redeliver: the process died before its ack arrived.
	dropAcks int
	// onInProgress, when set, is closed once inProgress reaches wantIP.
	onInProgress chan struct{}
	wantIP       int
}

func newFakeQueue() *fakeQueue {
	return &fakeQueue{signal: make(chan struct{})}
}

func (q *fakeQueue) addRaw(id string, data []byte) *record {
	q.mu.Lock()
	defer q.mu.Unlock()
	r := &record{data: data, id: id}
	q.all = append(q.all, r)
	q.readyLocked(r)
	return r
}

func (q *fakeQueue) add(h hit.Hit) *record {
	b, err := json.Marshal(h)
	if err != nil {
		panic(err)
	}
	return q.addRaw(h.ID, b)
}

func (q *fakeQueue) readyLocked(r *record) {
	q.ready = append(q.ready, r)
	close(q.signal)
	q.signal = make(chan struct{})
}

func (q *fakeQueue) Fetch(ctx context.Context, n int, maxWait time.Duration) ([]Message, error) {
	t := time.NewTimer(maxWait)
	defer t.Stop()
	for {
		q.mu.Lock()
		q.fetches++
		if len(q.ready) > 0 {
			k := min(n, len(q.ready))
			out := make([]Message, k)
			for i, r := range q.ready[:k] {
				r.delivered++
				out[i] = &fakeMsg{q: q, r: r, delivered: r.delivered}
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

// settledAll reports whether every message was acked or termed.
func (q *fakeQueue) settledAll() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, r := range q.all {
		if !r.acked && !r.termed {
			return false
		}
	}
	return true
}

func (q *fakeQueue) snapshot(r *record) record {
	q.mu.Lock()
	defer q.mu.Unlock()
	c := *r
	c.naks = append([]time.Duration(nil), r.naks...)
	return c
}

func (q *fakeQueue) violations() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]string(nil), q.errs...)
}

// fakeMsg is one delivery of a record.
type fakeMsg struct {
	q         *fakeQueue
	r         *record
	delivered int
	settled   bool
}

func (m *fakeMsg) Data() []byte   { return m.r.data }
func (m *fakeMsg) Delivered() int { return m.delivered }

func (m *fakeMsg) settle(what string) bool {
	if m.settled {
		m.q.errs = append(m.q.errs, fmt.Sprintf("%s: %s after settle", m.r.id, what))
		return false
	}
	m.settled = true
	return true
}

func (m *fakeMsg) Ack(context.Context) error {
	m.q.mu.Lock()
	defer m.q.mu.Unlock()
	if !m.settle("ack") {
		return errors.New("already settled")
	}
	if m.r.failAcks > 0 {
		m.r.failAcks--
		m.q.readyLocked(m.r) // redelivered, as after AckWait
		return errors.New("ack lost")
	}
	if m.r.dropAcks > 0 {
		m.r.dropAcks--
		return errors.New("ack lost")
	}
	m.r.acked = true
	return nil
}

// redeliver hands r out again, as the bus does once AckWait has passed.
func (q *fakeQueue) redeliver(r *record) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.readyLocked(r)
}

func (m *fakeMsg) NakWithDelay(d time.Duration) error {
	m.q.mu.Lock()
	defer m.q.mu.Unlock()
	if !m.settle("nak") {
		return errors.New("already settled")
	}
	m.r.naks = append(m.r.naks, d)
	m.q.readyLocked(m.r)
	return nil
}

func (m *fakeMsg) InProgress() error {
	m.q.mu.Lock()
	defer m.q.mu.Unlock()
	if m.settled {
		// The engine's lease keeper may race a settle; the bus answers
		// with an error, which is harmless.
		return errors.New("already settled")
	}
	m.r.inProgress++
	if m.r.onInProgress != nil && m.r.inProgress == m.r.wantIP {
		close(m.r.onInProgress)
	}
	return nil
}

func (m *fakeMsg) Term() error {
	m.q.mu.Lock()
	defer m.q.mu.Unlock()
	if !m.settle("term") {
		return errors.New("already settled")
	}
	m.r.termed = true
	return nil
}

// fakeLedger is a delivered-id set.
type fakeLedger struct {
	mu   sync.Mutex
	seen map[string]bool
}

func newFakeLedger() *fakeLedger { return &fakeLedger{seen: map[string]bool{}} }

func (l *fakeLedger) Delivered(_ context.Context, notifier, id string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seen[notifier+"/"+id], nil
}

func (l *fakeLedger) MarkDelivered(_ context.Context, notifier, id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen[notifier+"/"+id] = true
	return nil
}

// fakeDead collects dead letters.
type fakeDead struct {
	mu      sync.Mutex
	letters []DeadLetter
	fail    int // fail the first n publishes
}

func (d *fakeDead) Dead(_ context.Context, notifier string, l DeadLetter) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail > 0 {
		d.fail--
		return errors.New("dead-letter stream unavailable")
	}
	d.letters = append(d.letters, l)
	return nil
}

func (d *fakeDead) all() []DeadLetter {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]DeadLetter(nil), d.letters...)
}

// notifierFunc adapts a function to Notifier.
type notifierFunc func(ctx context.Context, hits []hit.Hit) (bool, error)

func (f notifierFunc) Notify(ctx context.Context, hits []hit.Hit) (bool, error) {
	return f(ctx, hits)
}

// recorder is a Notifier that counts sends per hit id.
type recorder struct {
	mu    sync.Mutex
	sends map[string]int
	calls [][]string
}

func newRecorder() *recorder { return &recorder{sends: map[string]int{}} }

func (r *recorder) Notify(_ context.Context, hits []hit.Hit) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]string, len(hits))
	for i, h := range hits {
		r.sends[h.ID]++
		ids[i] = h.ID
	}
	r.calls = append(r.calls, ids)
	return false, nil
}

func (r *recorder) count(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sends[id]
}

func testHit(i int) hit.Hit {
	return hit.Hit{
		V: hit.Version, ID: fmt.Sprintf("hit-%03d", i), Profile: "xinjiang",
		Feed: hit.Feed{Name: "world"},
		Item: hit.Item{Title: fmt.Sprintf("Xinjiang story %d", i), Link: "https://news.example.org/" + fmt.Sprint(i)},
	}
}

// waitFor polls cond until it holds; the deadline only stops a hung test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
