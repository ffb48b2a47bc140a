package bus_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/bus"
	"github.com/feedwatch/feedwatch/bus/natstest"
	"github.com/feedwatch/feedwatch/ownership"
)

func openURL(t *testing.T, url string, replicas int) *bus.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := bus.Open(ctx, bus.Options{URL: url, Retention: time.Hour, Replicas: replicas})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(b.Close)
	return b
}

// TestFeedStateWritesAreFenced: two processes' state stores on one bucket.
// A write based on a state another process has overwritten since fails as
// changed and keeps failing, without writing, until the state is read
// again; a first write fails the same way when someone wrote first.
func TestFeedStateWritesAreFenced(t *testing.T) {
	ctx := context.Background()
	n := natstest.Start(t)
	b1, b2 := openURL(t, n.URL(), 1), openURL(t, n.URL(), 1)
	old, cur := b1.FeedState(), b2.FeedState()

	for _, s := range []*bus.StateStore{old, cur} {
		if st, err := s.Load(ctx, "world"); err != nil || st != nil {
			t.Fatalf("load of a new feed = %q, %v", st, err)
		}
	}
	if err := cur.Save(ctx, "world", []byte("new owner 1")); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := old.Save(ctx, "world", []byte("old owner")); !errors.Is(err, bus.ErrStateChanged) {
			t.Fatalf("stale save %d = %v, want ErrStateChanged", i, err)
		}
	}
	if err := cur.Save(ctx, "world", []byte("new owner 2")); err != nil {
		t.Fatalf("owner's second save: %v", err)
	}
	st, err := old.Load(ctx, "world")
	if err != nil || string(st) != "new owner 2" {
		t.Fatalf("load = %q, %v", st, err)
	}
	if err := old.Save(ctx, "world", []byte("taken back")); err != nil {
		t.Fatalf("save after load: %v", err)
	}
	if err := cur.Save(ctx, "world", []byte("late")); !errors.Is(err, bus.ErrStateChanged) {
		t.Fatalf("late save = %v, want ErrStateChanged", err)
	}
}

// TestMembersShareFeeds runs coordinators over the members bucket of a
// three-node cluster (R3): they split the feeds without overlap or gap, a
// member that leaves hands its feeds over at once, and one that dies
// silently is counted out after the TTL.
func TestMembersShareFeeds(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	feeds := make([]string, 300)
	for i := range feeds {
		feeds[i] = fmt.Sprintf("feed-%d", i)
	}
	type member struct {
		c      *ownership.Coordinator
		cancel context.CancelFunc
		done   chan struct{}
		mu     sync.Mutex
		owned  []string
	}
	start := func(role string) *member {
		m := &member{done: make(chan struct{})}
		b := openURL(t, c.URL(), 3)
		store, err := b.Members(context.Background(), 3*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		m.c, err = ownership.New(ownership.Options{Store: store, Role: role, Renew: 300 * time.Millisecond, Lease: 2 * time.Second, TTL: 3 * time.Second,
			OnChange: func(o []string) { m.mu.Lock(); m.owned = o; m.mu.Unlock() }})
		if err != nil {
			t.Fatal(err)
		}
		m.c.SetFeeds(feeds)
		ctx, cancel := context.WithCancel(context.Background())
		m.cancel = cancel
		if err := m.c.Start(ctx); err != nil {
			t.Fatal(err)
		}
		go func() { defer close(m.done); _ = m.c.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-m.done })
		return m
	}
	owned := func(m *member) []string { m.mu.Lock(); defer m.mu.Unlock(); return m.owned }
	// split reports whether the members' shares cover every feed once.
	split := func(ms ...*member) bool {
		var all []string
		for _, m := range ms {
			if len(owned(m)) == 0 {
				return false
			}
			all = append(all, owned(m)...)
		}
		slices.Sort(all)
		want := slices.Clone(feeds)
		slices.Sort(want)
		return slices.Equal(all, want)
	}
	wait := func(what string, d time.Duration, ok func() bool) time.Duration {
		t.Helper()
		start := time.Now()
		for time.Since(start) < d {
			if ok() {
				return time.Since(start)
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("%s: not after %s", what, d)
		return 0
	}

	a := start(ownership.RoleWatch)
	if len(owned(a)) != len(feeds) {
		t.Fatalf("a single watcher owns %d of %d feeds after Start", len(owned(a)), len(feeds))
	}
	n := start(ownership.RoleNotify)
	b := start(ownership.RoleRun)
	wait("a and b split the feeds", 5*time.Second, func() bool { return split(a, b) })
	if len(owned(n)) != 0 {
		t.Errorf("a notify member owns %d feeds", len(owned(n)))
	}
	cc := start(ownership.RoleWatch)
	wait("a, b and c split the feeds", 5*time.Second, func() bool { return split(a, b, cc) })
	if got := len(a.c.Members()); got != 4 {
		t.Errorf("a sees %d members, want 4: %+v", got, a.c.Members())
	}

	// Leave: the others take c's feeds on the delete, not after the TTL.
	cc.c.Leave(context.Background())
	cc.cancel()
	took := wait("a and b take c's feeds", 5*time.Second, func() bool { return split(a, b) })
	t.Logf("handover after leave: %s", took)
	if took > 2*time.Second {
		t.Errorf("handover after leave took %s, want well under the 3 s TTL", took)
	}

	// Silent death: b's record stays until it expires.
	held := owned(b)[0]
	b.c.Halt()
	b.cancel()
	if b.c.Owns(held) {
		t.Error("a halted member still owns a feed")
	}
	took = wait("a takes b's feeds", 10*time.Second, func() bool { return split(a) })
	t.Logf("failover after a silent death: %s", took)
}

// TestWatchFeedStates: a process sees the states other processes store,
// those there when it starts and each write after.
func TestWatchFeedStates(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := natstest.Start(t)
	owner, viewer := openURL(t, n.URL(), 1), openURL(t, n.URL(), 1)
	st := owner.FeedState()
	if err := st.Save(ctx, "world", []byte("1")); err != nil {
		t.Fatal(err)
	}
	type change struct{ feed, state string }
	got := make(chan change, 16)
	initial := make(chan struct{})
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- viewer.WatchFeedStates(wctx, func(feed string, state []byte) {
			if state == nil {
				got <- change{feed, "(deleted)"}
				return
			}
			got <- change{feed, string(state)}
		}, func() { close(initial) })
	}()
	next := func(want change) {
		t.Helper()
		select {
		case c := <-got:
			if c != want {
				t.Fatalf("got %+v, want %+v", c, want)
			}
		case <-ctx.Done():
			t.Fatalf("no change; want %+v", want)
		}
	}
	next(change{"world", "1"})
	<-initial
	if err := st.Save(ctx, "uk news", []byte("2")); err != nil {
		t.Fatal(err)
	}
	next(change{"uk news", "2"})
	if err := st.Save(ctx, "world", []byte("3")); err != nil {
		t.Fatal(err)
	}
	next(change{"world", "3"})
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("watch ended with %v, want context.Canceled", err)
	}
}
