package console

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestItems(t *testing.T) {
	x := NewItems(3, 0)
	now := time.Unix(1_700_000_000, 0)
	pub := now.Add(-time.Hour)
	for i := 1; i <= 4; i++ {
		x.Add("a", fmt.Sprint(i), fmt.Sprint("title ", i), "https://x.example/"+fmt.Sprint(i), &pub, now.Add(time.Duration(i)*time.Second))
	}
	x.Add("b", "b1", strings.Repeat("é", 300), "https://x.example/"+strings.Repeat("l", 600), nil, now)
	// The ring holds 3: a's 3 and 4, and b's one.
	got := x.Feed("a")
	if len(got) != 2 || got[0].Title != "title 4" || got[1].Title != "title 3" || !got[0].Published.Equal(pub) {
		t.Fatalf("feed a: %+v", got)
	}
	if got[0].Key != itemKey("a", "4", "https://x.example/4") {
		t.Errorf("key differs from the hit index's")
	}
	b := x.Feed("b")
	if len(b) != 1 {
		t.Fatalf("feed b: %+v", b)
	}
	if !utf8.ValidString(b[0].Title) || len(b[0].Title) > maxItemTitle+len("…") {
		t.Errorf("title not cut on a rune boundary: %d bytes", len(b[0].Title))
	}
	// A link too long to keep still joins the item with its hits.
	if b[0].Key != itemKey("b", "b1", "https://x.example/"+strings.Repeat("l", 600)) {
		t.Errorf("item with a long link keyed without it")
	}
	if b[0].Link != "" || !b[0].Published.IsZero() {
		t.Errorf("long link kept or date invented: %+v", b[0])
	}
	// The byte budget evicts the oldest too.
	y := NewItems(10, 25)
	for i := range 5 {
		y.Add("a", fmt.Sprint(i), "0123456789", "", nil, now)
	}
	if got := y.Feed("a"); len(got) != 2 || got[0].Key != itemKey("a", "4", "") {
		t.Errorf("budget of 25 bytes holds %d items of 10, want the newest 2", len(got))
	}
	if x.Feed("c") != nil || (*Items)(nil).Feed("a") != nil {
		t.Error("items of an unknown feed")
	}
}

// stateLedgerFake knows delivered and dropped hits.
type stateLedgerFake map[string]string

func (l stateLedgerFake) Delivered(_ context.Context, n, id string) (bool, error) {
	return l[n+"/"+id] != "", nil
}

func (l stateLedgerFake) State(_ context.Context, n, id string) (string, error) {
	return l[n+"/"+id], nil
}

// TestDeliveryStateDropped: a hit whose dead letter was dropped shows as
// dropped, not pending for ever (and not delivered).
func TestDeliveryStateDropped(t *testing.T) {
	c := &Console{o: Options{Ledger: stateLedgerFake{"hook/h1": "dropped", "hook/h2": "delivered"}}}
	ctx := context.Background()
	for id, want := range map[string]string{"h1": "dropped", "h2": "delivered", "h3": "pending"} {
		if got := c.deliveryState(ctx, "hook", id, nil, false); got != want {
			t.Errorf("state of %s = %q, want %q", id, got, want)
		}
	}
	if got := c.deliveryState(ctx, "hook", "h3", nil, true); got != "muted" {
		t.Errorf("muted pending hit: %q", got)
	}
}
