package bus_test

import (
	"context"
	"slices"
	"testing"

	"github.com/feedwatch/feedwatch/bus/natstest"
)

// TestWebSubStore: records survive a second connection (a restart), and
// names outside the key alphabet work.
func TestWebSubStore(t *testing.T) {
	ctx := context.Background()
	n := natstest.Start(t)
	s1, err := openURL(t, n.URL(), 1).WebSub(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := s1.Get(ctx, "world news"); err != nil || b != nil {
		t.Fatalf("get of nothing = %q, %v", b, err)
	}
	for _, f := range []string{"world news", "uk/politics", "ünï"} {
		if err := s1.Put(ctx, f, []byte("rec "+f)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s1.Delete(ctx, "uk/politics"); err != nil {
		t.Fatal(err)
	}
	if err := s1.Delete(ctx, "never there"); err != nil {
		t.Fatalf("delete of nothing: %v", err)
	}
	s2, err := openURL(t, n.URL(), 1).WebSub(ctx)
	if err != nil {
		t.Fatal(err)
	}
	list, err := s2.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range list {
		got = append(got, string(b))
	}
	slices.Sort(got)
	if want := []string{"rec world news", "rec ünï"}; !slices.Equal(got, want) {
		t.Fatalf("list = %q, want %q", got, want)
	}
	if b, err := s2.Get(ctx, "world news"); err != nil || string(b) != "rec world news" {
		t.Fatalf("get = %q, %v", b, err)
	}
}
