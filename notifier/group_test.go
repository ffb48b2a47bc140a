package notifier_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier"
	"github.com/feedwatch/feedwatch/notifier/notifiertest"
)

// messages is a Notifier that keeps every message it is given; fail, when
// set, decides each call's answer.
type messages struct {
	mu   sync.Mutex
	got  [][]hit.Hit
	fail func(call int) (bool, error)
}

func (m *messages) Notify(_ context.Context, hits []hit.Hit) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.got = append(m.got, append([]hit.Hit(nil), hits...))
	if m.fail != nil {
		return m.fail(len(m.got))
	}
	return false, nil
}

func (m *messages) all() [][]hit.Hit {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([][]hit.Hit(nil), m.got...)
}

// profiles lists each message's hits as "title[profiles]".
func (m *messages) profiles() []string {
	var out []string
	for _, msg := range m.all() {
		parts := make([]string, len(msg))
		for i, h := range msg {
			parts[i] = h.Item.Title + "[" + strings.Join(h.AllProfiles(), ",") + "]"
		}
		out = append(out, strings.Join(parts, " "))
	}
	return out
}

// itemHit is the hit of item n for profile p, as the watcher makes it.
func itemHit(n int, p string) hit.Hit {
	key := fmt.Sprintf("world:item-%d", n)
	return hit.Hit{
		V: hit.Version, ID: hit.ID(p, key), Profile: p,
		DetectedAt: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC),
		Feed:       hit.Feed{Name: "world"},
		Item:       hit.Item{ID: key, Title: fmt.Sprintf("story %d", n), Link: fmt.Sprintf("https://news.example.org/%d", n)},
		Matches:    []hit.Match{{Field: "title", Text: p, Term: p}},
	}
}

func TestEngineGroupsAnItemsHits(t *testing.T) {
	tests := []struct {
		name string
		hits []hit.Hit
		mod  func(*notifier.EngineOptions)
		want []string
	}{
		{"one item two profiles", []hit.Hit{itemHit(1, "xinjiang"), itemHit(1, "trade-bill")}, nil,
			[]string{"story 1[xinjiang,trade-bill]"}},
		{"two items", []hit.Hit{itemHit(1, "xinjiang"), itemHit(2, "xinjiang")}, nil,
			[]string{"story 1[xinjiang]", "story 2[xinjiang]"}},
		{"two items, one twice", []hit.Hit{itemHit(1, "xinjiang"), itemHit(1, "trade-bill"), itemHit(2, "trade-bill")}, nil,
			[]string{"story 1[xinjiang,trade-bill]", "story 2[trade-bill]"}},
		{"interleaved", []hit.Hit{itemHit(1, "a"), itemHit(2, "a"), itemHit(1, "b")}, nil,
			[]string{"story 1[a,b]", "story 2[a]"}},
		{"in flight 4", []hit.Hit{itemHit(1, "a"), itemHit(1, "b"), itemHit(2, "a"), itemHit(3, "a"), itemHit(3, "c")},
			func(o *notifier.EngineOptions) { o.MaxInFlight = 4 },
			[]string{"story 1[a,b]", "story 2[a]", "story 3[a,c]"}},
		// The webhook's: each hit a message of its own.
		{"per hit", []hit.Hit{itemHit(1, "xinjiang"), itemHit(1, "trade-bill"), itemHit(2, "xinjiang")},
			func(o *notifier.EngineOptions) { o.PerHit = true },
			[]string{"story 1[xinjiang]", "story 1[trade-bill]", "story 2[xinjiang]"}},
		{"per hit, in flight 4", []hit.Hit{itemHit(1, "a"), itemHit(1, "b"), itemHit(1, "c")},
			func(o *notifier.EngineOptions) { o.PerHit, o.MaxInFlight = true, 4 },
			[]string{"story 1[a]", "story 1[b]", "story 1[c]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &messages{}
			h := start(t, m, tt.mod, func(h *harness) {
				for _, x := range tt.hits {
					h.q.AddHit(x)
				}
			})
			waitFor(t, "all acked", h.q.Settled)
			h.stop(t)
			got := m.profiles()
			if len(got) != len(tt.want) {
				t.Fatalf("messages %q, want %q", got, tt.want)
			}
			for _, w := range tt.want {
				found := false
				for _, g := range got {
					found = found || g == w
				}
				if !found {
					t.Errorf("messages %q lack %q", got, w)
				}
			}
			for _, x := range tt.hits {
				if ok, _ := h.ledger.Delivered(context.Background(), "hook", x.ID); !ok {
					t.Errorf("%s/%s not in ledger", x.Item.Title, x.Profile)
				}
			}
			for _, s := range h.q.Records() {
				if !s.Acked || s.Delivered != 1 {
					t.Errorf("%s: acked=%v delivered=%d", s.ID, s.Acked, s.Delivered)
				}
			}
			if got := h.counter(t, notifier.ResultDelivered); got != float64(len(tt.hits)) {
				t.Errorf("delivered metric = %v, want one per hit", got)
			}
		})
	}
}

func TestEngineMergedHit(t *testing.T) {
	m := &messages{}
	a, b := itemHit(1, "xinjiang"), itemHit(1, "trade-bill")
	b.DetectedAt = a.DetectedAt.Add(-time.Second)
	b.Matches = append(b.Matches, a.Matches[0])
	h := start(t, m, nil, func(h *harness) { h.q.AddHit(a); h.q.AddHit(b) })
	waitFor(t, "all acked", h.q.Settled)
	h.stop(t)
	got := m.all()
	if len(got) != 1 || len(got[0]) != 1 {
		t.Fatalf("messages %v", m.profiles())
	}
	x := got[0][0]
	if x.ID != a.ID || x.Profile != "xinjiang" || !x.DetectedAt.Equal(b.DetectedAt) {
		t.Errorf("merged id %s profile %s detected %v: want the first hit's id and profile, the earliest time", x.ID, x.Profile, x.DetectedAt)
	}
	if fmt.Sprint(x.Matches) != fmt.Sprint([]hit.Match{a.Matches[0], b.Matches[0]}) {
		t.Errorf("matches %v, want each once", x.Matches)
	}
}

// TestEngineNeverMergesOneProfileTwice: two hits of one profile are two
// items however alike they look (a feed repeating a GUID for two links).
func TestEngineNeverMergesOneProfileTwice(t *testing.T) {
	m := &messages{}
	a := itemHit(1, "xinjiang")
	b := a
	b.ID = "other-item"
	h := start(t, m, nil, func(h *harness) { h.q.AddHit(a); h.q.AddHit(b) })
	waitFor(t, "all acked", h.q.Settled)
	h.stop(t)
	if got := m.profiles(); len(got) != 2 {
		t.Errorf("messages %q, want two", got)
	}
}

// TestEngineGathersHitsArrivingApart: an item's second hit that arrives
// just after the first was fetched still goes out in the same message.
func TestEngineGathersHitsArrivingApart(t *testing.T) {
	m := &messages{}
	var first *notifiertest.Record
	h := start(t, m, func(o *notifier.EngineOptions) { o.GatherQuiet, o.GatherMax = time.Second, 10*time.Second },
		func(h *harness) { first = h.q.AddHit(itemHit(1, "xinjiang")) })
	waitFor(t, "first fetched", func() bool { return h.q.Snapshot(first).Delivered == 1 })
	h.q.AddHit(itemHit(1, "trade-bill"))
	waitFor(t, "all acked", h.q.Settled)
	h.stop(t)
	if got := m.profiles(); len(got) != 1 || got[0] != "story 1[xinjiang,trade-bill]" {
		t.Errorf("messages %q, want one naming both profiles", got)
	}
}

// TestEngineGroupSpansAFullRound: when a round fills up in the middle of an
// item's hits, the item waits for the next round instead of going out in
// two messages.
func TestEngineGroupSpansAFullRound(t *testing.T) {
	m := &messages{}
	h := start(t, m, nil, func(h *harness) {
		for i := range 15 {
			h.q.AddHit(itemHit(100+i, "xinjiang"))
		}
		h.q.AddHit(itemHit(1, "xinjiang")) // the 16th: a round is full
		h.q.AddHit(itemHit(1, "trade-bill"))
	})
	waitFor(t, "all acked", h.q.Settled)
	h.stop(t)
	got := m.profiles()
	if len(got) != 16 {
		t.Errorf("%d messages, want 16: %q", len(got), got)
	}
	found := false
	for _, g := range got {
		found = found || g == "story 1[xinjiang,trade-bill]"
	}
	if !found {
		t.Errorf("messages %q: story 1 not sent once with both profiles", got)
	}
}

func TestEngineGroupRetriedTogether(t *testing.T) {
	m := &messages{fail: func(call int) (bool, error) {
		if call == 1 {
			return true, errors.New("status 503")
		}
		return false, nil
	}}
	h := start(t, m, func(o *notifier.EngineOptions) { o.BaseBackoff = 10 * time.Millisecond },
		func(h *harness) { h.q.AddHit(itemHit(1, "xinjiang")); h.q.AddHit(itemHit(1, "trade-bill")) })
	waitFor(t, "all acked", h.q.Settled)
	h.stop(t)
	if got := m.profiles(); fmt.Sprint(got) != "[story 1[xinjiang,trade-bill] story 1[xinjiang,trade-bill]]" {
		t.Errorf("messages %q, want the group failing once, then sent once", got)
	}
	for _, s := range h.q.Records() {
		if !s.Acked || fmt.Sprint(s.Naks) != "[10ms]" {
			t.Errorf("%s: acked=%v naks=%v", s.ID, s.Acked, s.Naks)
		}
	}
}

// TestEngineGroupDeadLettersEachHit: a group refused for good is one dead
// letter per hit, each under its own id and profile.
func TestEngineGroupDeadLettersEachHit(t *testing.T) {
	m := &messages{fail: func(int) (bool, error) { return false, errors.New("status 400") }}
	a, b := itemHit(1, "xinjiang"), itemHit(1, "trade-bill")
	h := start(t, m, nil, func(h *harness) { h.q.AddHit(a); h.q.AddHit(b) })
	waitFor(t, "all termed", h.q.Settled)
	h.stop(t)
	dl := h.dead.Letters()
	if len(dl) != 2 {
		t.Fatalf("%d dead letters, want 2", len(dl))
	}
	got := map[string]string{}
	for _, l := range dl {
		got[l.Hit.ID] = l.Hit.Profile
		if len(l.Hit.Profiles) != 0 {
			t.Errorf("dead letter %s carries the group's profiles %v", l.Hit.ID, l.Hit.Profiles)
		}
	}
	if got[a.ID] != "xinjiang" || got[b.ID] != "trade-bill" {
		t.Errorf("dead letters %v", got)
	}
	if len(m.all()) != 1 {
		t.Errorf("%d sends, want 1", len(m.all()))
	}
}

// TestEngineGroupLedger: a crash after the send and before the acks sends
// no hit of the group again; a hit already delivered leaves the others to
// go out naming only their profiles.
func TestEngineGroupLedger(t *testing.T) {
	t.Run("crash between send and ack", func(t *testing.T) {
		m := &messages{}
		q, ledger := notifiertest.NewQueue(), &notifiertest.Ledger{}
		ra, rb := q.AddHit(itemHit(1, "xinjiang")), q.AddHit(itemHit(1, "trade-bill"))
		ra.DropAcks, rb.DropAcks = 1, 1
		run := func(until func() bool) {
			eng, err := notifier.NewEngine(notifier.EngineOptions{Name: "hook", Notifier: m, Source: q, Ledger: ledger, Dead: &notifiertest.Dead{}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- eng.Run(ctx) }()
			waitFor(t, "delivery", until)
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
		run(func() bool { return q.Snapshot(ra).DropAcks == 0 && q.Snapshot(rb).DropAcks == 0 })
		q.Redeliver(ra)
		q.Redeliver(rb)
		run(func() bool { return q.Snapshot(ra).Acked && q.Snapshot(rb).Acked })
		if got := m.profiles(); len(got) != 1 {
			t.Errorf("messages across the restart %q, want 1", got)
		}
	})
	t.Run("one hit delivered before", func(t *testing.T) {
		m := &messages{}
		a, b := itemHit(1, "xinjiang"), itemHit(1, "trade-bill")
		h := start(t, m, nil, func(h *harness) {
			_ = h.ledger.MarkDelivered(context.Background(), "hook", a.ID)
			h.q.AddHit(a)
			h.q.AddHit(b)
		})
		waitFor(t, "all acked", h.q.Settled)
		h.stop(t)
		if got := m.profiles(); fmt.Sprint(got) != "[story 1[trade-bill]]" {
			t.Errorf("messages %q, want only the new profile", got)
		}
	})
}

func TestEngineDigestListsAnItemOnce(t *testing.T) {
	m := &messages{}
	var calls atomic.Int32
	n := notifierFunc(func(ctx context.Context, hits []hit.Hit) (bool, error) {
		calls.Add(1)
		return m.Notify(ctx, hits)
	})
	h := start(t, n, func(o *notifier.EngineOptions) { o.Digest = 50 * time.Millisecond }, func(h *harness) {
		h.q.AddHit(itemHit(1, "xinjiang"))
		h.q.AddHit(itemHit(2, "xinjiang"))
		h.q.AddHit(itemHit(1, "trade-bill"))
	})
	waitFor(t, "all acked", h.q.Settled)
	h.stop(t)
	if got := m.profiles(); fmt.Sprint(got) != "[story 1[xinjiang,trade-bill] story 2[xinjiang]]" {
		t.Errorf("digests %q, want one listing story 1 once with both profiles", got)
	}
}

// TestEngineSendsAGroupOnceAnotherItemFollows: an item's group goes out
// when a hit of another item comes after it, without waiting for a quiet
// stream; the last item waits for its siblings (here, till the stop).
func TestEngineSendsAGroupOnceAnotherItemFollows(t *testing.T) {
	m := &messages{}
	var first *notifiertest.Record
	h := start(t, m, func(o *notifier.EngineOptions) { o.GatherQuiet, o.GatherMax = time.Hour, time.Hour },
		func(h *harness) { first = h.q.AddHit(itemHit(1, "xinjiang")) })
	waitFor(t, "first fetched", func() bool { return h.q.Snapshot(first).Delivered == 1 })
	h.q.AddHit(itemHit(1, "trade-bill"))
	h.q.AddHit(itemHit(2, "xinjiang"))
	waitFor(t, "story 1 sent", func() bool { return len(m.all()) == 1 })
	h.stop(t)
	if got := m.profiles(); fmt.Sprint(got) != "[story 1[xinjiang,trade-bill]]" {
		t.Errorf("messages %q", got)
	}
	if s := h.q.Records()[2]; s.Acked || fmt.Sprint(s.Naks) != "[3s]" {
		t.Errorf("story 2: acked=%v naks=%v, want it handed back at the stop", s.Acked, s.Naks)
	}
}
