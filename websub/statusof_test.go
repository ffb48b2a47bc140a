package websub

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// listStore is a Store holding records made by a test.
type listStore [][]byte

func (listStore) Get(context.Context, string) ([]byte, error) { return nil, nil }
func (listStore) Put(context.Context, string, []byte) error   { return nil }
func (listStore) Delete(context.Context, string) error        { return nil }
func (s listStore) List(context.Context) ([][]byte, error)    { return s, nil }

type nopPusher struct{}

func (nopPusher) Push(string, []byte, string) error { return nil }

// TestStatusOf: the status of many feeds at once is Status of each, in
// order: this process's subscriptions with their hub masked, none for a
// feed without one or with another process's.
func TestStatusOf(t *testing.T) {
	const base = "https://feedwatch.example.org/websub"
	expires := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	recs := []Record{
		{Feed: "ours", Hub: "https://hub.example.net/sub?token=s3cret", Topic: "https://a.example/", ID: "a", Callback: base + "/a",
			State: StateActive, Expires: expires},
		{Feed: "pending", Hub: "https://hub.example.net/", Topic: "https://b.example/", ID: "b", Callback: base + "/b",
			State: StatePending, Reason: "not verified yet"},
		{Feed: "theirs", Hub: "https://hub.example.net/", Topic: "https://c.example/", ID: "c", Callback: base + "x/c", State: StateActive},
	}
	var st listStore
	for _, r := range recs {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		st = append(st, b)
	}
	m, err := New(Options{CallbackURL: base, LeaseSeconds: 600, Fallback: time.Hour, MaxBody: 1 << 20, Store: st, Pusher: nopPusher{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	feeds := []string{"theirs", "ours", "none", "pending", "ours"}
	want := []State{StateNone, StateActive, StateNone, StatePending, StateActive}
	for round := range 2 { // the second with the masked hub cached
		got := m.StatusOf(feeds)
		if len(got) != len(feeds) {
			t.Fatalf("round %d: %d statuses for %d feeds", round, len(got), len(feeds))
		}
		for i, f := range feeds {
			if got[i] != m.Status(f) || got[i].State != want[i] {
				t.Errorf("round %d: %s: StatusOf %+v, Status %+v, want state %s", round, f, got[i], m.Status(f), want[i])
			}
		}
		if h := got[1].Hub; strings.Contains(h, "s3cret") || !strings.HasPrefix(h, "https://hub.example.net/") {
			t.Errorf("round %d: hub shown as %q", round, h)
		}
		if !got[1].Expires.Equal(expires) || got[3].Reason != "not verified yet" {
			t.Errorf("round %d: %+v", round, got)
		}
	}
}
