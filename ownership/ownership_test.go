package ownership

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// memStore is an in-memory Store; Watch is not offered (the coordinator
// then relies on its periodic re-reads), which keeps it small.
type memStore struct {
	mu  sync.Mutex
	rev uint64
	m   map[string]Entry
}

func newMemStore() *memStore { return &memStore{m: map[string]Entry{}} }

func (s *memStore) Put(_ context.Context, key string, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rev++
	s.m[key] = Entry{Key: key, Value: v, Revision: s.rev, Created: time.Now()}
	return nil
}

func (s *memStore) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
	return nil
}

func (s *memStore) List(context.Context) ([]Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Entry
	for _, e := range s.m {
		out = append(out, e)
	}
	return out, nil
}

func (s *memStore) Watch(context.Context) (<-chan Entry, error) {
	return nil, errors.New("no watch")
}

func (s *memStore) putMember(m Member, created time.Time) {
	b, _ := json.Marshal(m)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rev++
	s.m[m.ID] = Entry{Key: m.ID, Value: b, Revision: s.rev, Created: created}
}

// newTestCoordinator returns a coordinator of 40 feeds and a function
// returning its latest share.
func newTestCoordinator(t *testing.T, s Store, alive func(int) bool) (*Coordinator, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var owned []string
	c, err := New(Options{Store: s, Role: RoleWatch, Host: "h1", PID: 100, Renew: 100 * time.Millisecond, Lease: 400 * time.Millisecond, TTL: 600 * time.Millisecond,
		OnChange: func(o []string) { mu.Lock(); owned = o; mu.Unlock() }, alive: alive})
	if err != nil {
		t.Fatal(err)
	}
	c.SetFeeds(feedNames(40))
	return c, func() []string { mu.Lock(); defer mu.Unlock(); return owned }
}

// TestStartIgnoresDeadRecords: at start, the record of a process of this
// host that no longer runs is deleted, and one not renewed for longer than
// the TTL (by the store's clock) is not waited for: a restarted lone
// watcher owns every feed at once. A live peer's record splits the feeds.
func TestStartIgnoresDeadRecords(t *testing.T) {
	s := newMemStore()
	s.putMember(Member{ID: "h1-99-aaaaaa", Role: RoleWatch, Host: "h1", PID: 99}, time.Now())
	s.putMember(Member{ID: "h2-7-bbbbbb", Role: RoleWatch, Host: "h2", PID: 7}, time.Now().Add(-time.Minute))
	c, owned := newTestCoordinator(t, s, func(pid int) bool { return pid != 99 })
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(owned()) != 40 {
		t.Errorf("owns %d of 40 feeds at start, want all", len(owned()))
	}
	if e, _ := s.List(context.Background()); slices.ContainsFunc(e, func(e Entry) bool { return e.Key == "h1-99-aaaaaa" }) {
		t.Error("the dead local process's record is still there")
	}

	s2 := newMemStore()
	s2.putMember(Member{ID: "h2-7-bbbbbb", Role: RoleWatch, Host: "h2", PID: 7}, time.Now())
	c2, owned2 := newTestCoordinator(t, s2, func(int) bool { return true })
	if err := c2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(owned2()); n != 0 {
		t.Errorf("with a live peer: owns %d of 40 at start, want none until the peer can have seen it", n)
	}
	time.Sleep(c2.handoverHold())
	s2.putMember(Member{ID: "h2-7-bbbbbb", Role: RoleWatch, Host: "h2", PID: 7}, time.Now()) // it renews meanwhile
	if err := c2.resync(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	c2.compute()
	if n := len(owned2()); n == 0 || n == 40 {
		t.Errorf("with a live peer: owns %d of 40 after the hold", n)
	}
	if got := len(c2.Members()); got != 2 {
		t.Errorf("members = %d, want 2", got)
	}
}

// TestLeaseLapseFencesAndRejoins: while renewals fail, the member stops
// owning anything once its lease ends (before the others' TTL would hand
// its feeds on), and takes its share again after renewals succeed.
func TestLeaseLapseFencesAndRejoins(t *testing.T) {
	s := newMemStore()
	c, owned := newTestCoordinator(t, s, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	feed := feedNames(1)[0]
	if !c.Owns(feed) {
		t.Fatal("a lone member does not own a feed")
	}
	c.SetFault(errors.New("cut off"))
	// By the time the others could count it dead (TTL after its last
	// renewal, which was before the cut), it owns nothing.
	time.Sleep(600 * time.Millisecond)
	if c.Owns(feed) {
		t.Error("still owns a feed a TTL after its renewals stopped")
	}
	for len(owned()) != 0 {
		time.Sleep(10 * time.Millisecond)
	}
	c.SetFault(nil)
	deadline := time.Now().Add(10 * time.Second)
	for !c.Owns(feed) {
		if time.Now().After(deadline) {
			t.Fatal("no rejoin after healing")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !slices.Contains(owned(), feed) {
		t.Error("OnChange did not hand the feeds back")
	}
	cancel()
	<-done
	c.Leave(context.Background())
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.Owns(feed) || len(s.m) != 0 {
		t.Errorf("after Leave: owns %v, records %d", c.Owns(feed), len(s.m))
	}
}

// TestJoinNeverTwoOwners: a watcher that joins takes its share only once
// the running one can have seen its record, so no feed is owned by both at
// any moment. The store has no watch: the running member learns of the new
// one at its next re-read, the slow path.
func TestJoinNeverTwoOwners(t *testing.T) {
	s := newMemStore()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	coord := func(host string, renew time.Duration) *Coordinator {
		c, err := New(Options{Store: s, Role: RoleWatch, Host: host, PID: 1, Renew: renew, Lease: time.Second, TTL: 1500 * time.Millisecond, alive: func(int) bool { return true }})
		if err != nil {
			t.Fatal(err)
		}
		c.SetFeeds(feedNames(40))
		return c
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	run := func(c *Coordinator) {
		wg.Add(1)
		go func() { defer wg.Done(); _ = c.Run(ctx) }()
	}
	// a re-reads every 100 ms; b's hold (3 renewals) is 600 ms.
	a, b := coord("a", 50*time.Millisecond), coord("b", 200*time.Millisecond)
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	run(a)
	started := make(chan error, 1)
	go func() { started <- b.Start(ctx) }()
	feeds := feedNames(40)
	both := map[string]bool{}
	deadline := time.Now().Add(10 * time.Second)
	for {
		na, nb := 0, 0
		for _, f := range feeds {
			// b first: once b owns a feed it keeps it, so a yes from
			// a after that is an overlap, not a race of the two reads.
			ob := b.Owns(f)
			oa := a.Owns(f)
			if oa && ob {
				both[f] = true
			}
			if oa {
				na++
			}
			if ob {
				nb++
			}
		}
		if na > 0 && nb > 0 && na+nb == len(feeds) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no split after 10 s: a owns %d, b %d", na, nb)
		}
		select {
		case err := <-started:
			if err != nil {
				t.Fatal(err)
			}
			run(b)
		default:
		}
		time.Sleep(time.Millisecond)
	}
	if len(both) > 0 {
		t.Errorf("%d feeds owned by both members at once during the join", len(both))
	}
}

// TestMembersMetrics: /metrics shows each live member with its role, the
// feeds it owns and when it was last seen, as feedwatch status does (the
// contract's "the same as gauges"), not only a count per role.
func TestMembersMetrics(t *testing.T) {
	s := newMemStore()
	seen := time.Now().UTC().Truncate(time.Second)
	s.putMember(Member{ID: "h2-7-bbbbbb", Role: RoleNotify, Host: "h2", PID: 7, LastSeen: seen}, time.Now())
	reg := prometheus.NewRegistry()
	c, err := New(Options{Store: s, Role: RoleWatch, Host: "h1", PID: 100, Renew: 100 * time.Millisecond, Lease: 400 * time.Millisecond, TTL: 600 * time.Millisecond,
		Registerer: reg, alive: func(int) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	c.SetFeeds(feedNames(40))
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]float64{} // metric -> member -> value
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["member"] == "" {
				continue
			}
			if got[mf.GetName()] == nil {
				got[mf.GetName()] = map[string]float64{}
			}
			got[mf.GetName()][labels["member"]+" "+labels["role"]+" "+labels["host"]] = m.GetGauge().GetValue()
		}
	}
	self := c.self.ID + " watch h1"
	if v, ok := got["feedwatch_member_feeds_owned"][self]; !ok || v != 40 {
		t.Errorf("feedwatch_member_feeds_owned of this member = %v (present %v), want 40; all: %v", v, ok, got)
	}
	if v, ok := got["feedwatch_member_feeds_owned"]["h2-7-bbbbbb notify h2"]; !ok || v != 0 {
		t.Errorf("feedwatch_member_feeds_owned of the notify peer = %v (present %v), want 0; all: %v", v, ok, got)
	}
	if v := got["feedwatch_member_last_seen_timestamp_seconds"]["h2-7-bbbbbb notify h2"]; v != float64(seen.Unix()) {
		t.Errorf("last seen of the peer = %v, want %d", v, seen.Unix())
	}
	if v := got["feedwatch_member_last_seen_timestamp_seconds"][self]; v < float64(seen.Unix()) {
		t.Errorf("last seen of this member = %v, want at least %d", v, seen.Unix())
	}
}
