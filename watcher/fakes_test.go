package watcher

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/feedwatch/feedwatch/item"
)

// memSeen is an in-memory SeenStore that counts MarkSeen calls per key.
type memSeen struct {
	mu   sync.Mutex
	keys map[string]int
	fail error
	// markFail fails the next MarkSeen only.
	markFail error
	calls    int
	looked   int // keys asked about in all Seen calls
}

func newMemSeen() *memSeen { return &memSeen{keys: map[string]int{}} }

func (m *memSeen) Seen(_ context.Context, _ string, keys []string) (map[string]bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	m.looked += len(keys)
	out := make(map[string]bool, len(keys))
	for _, k := range keys {
		if m.keys[k] > 0 {
			out[k] = true
		}
	}
	return out, nil
}

func (m *memSeen) MarkSeen(_ context.Context, _ string, keys []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if err := m.markFail; err != nil {
		m.markFail = nil
		return err
	}
	m.calls++
	for _, k := range keys {
		m.keys[k]++
	}
	return nil
}

type memState struct {
	mu sync.Mutex
	m  map[string][]byte
}

func newMemState() *memState { return &memState{m: map[string][]byte{}} }

func (s *memState) Load(_ context.Context, feed string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[feed], nil
}

func (s *memState) Save(_ context.Context, feed string, b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[feed] = append([]byte(nil), b...)
	return nil
}

// recSink records delivered items; fail makes Handle fail.
type recSink struct {
	mu    sync.Mutex
	items []item.Item
	fail  error
	ch    chan item.Item
}

func (r *recSink) Handle(_ context.Context, _ item.Feed, items []item.Item) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.items = append(r.items, items...)
	if r.ch != nil {
		for _, it := range items {
			select {
			case r.ch <- it:
			default:
			}
		}
	}
	return nil
}

func (r *recSink) titles() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var t []string
	for _, it := range r.items {
		t = append(t, it.Title)
	}
	return t
}

func (r *recSink) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.items = nil
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var errBoom = errors.New("boom")

func itemWith(id, link string) item.Item { return item.Item{ID: id, Link: link} }

// testOptions gives the limits a test leaves zero the config's default
// values (New and Fetch take only explicit ones), and a zero Backfill 24h:
// a test that wants BackfillNone sets it afterwards.
func testOptions(o Options) Options {
	if o.Interval == 0 {
		o.Interval = 5 * time.Minute
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	if o.MaxBody == 0 {
		o.MaxBody = 10 << 20
	}
	if o.Concurrency == 0 {
		o.Concurrency = 32
	}
	if o.PerHost == 0 {
		o.PerHost = 2
	}
	if o.Backfill == 0 {
		o.Backfill = 24 * time.Hour
	}
	return o
}
