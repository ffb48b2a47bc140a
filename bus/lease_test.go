package bus

import (
	"context"
	"testing"
	"time"
)

// TestDigestLease: one holder at a time; renewals keep it; release hands it
// over at once; a holder whose lease was taken cannot renew it.
func TestDigestLease(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := open(t, t.TempDir())
	defer b.Close()
	a, c := b.DigestLease("daily", "proc-a"), b.DigestLease("daily", "proc-c")
	other := b.DigestLease("hourly", "proc-c")
	steps := []struct {
		name string
		l    *DigestLease
		want bool
	}{
		{"a takes", a, true},
		{"c waits", c, false},
		{"another notifier's lease is separate", other, true},
		{"a renews", a, true},
		{"a renews again", a, true},
		{"c still waits", c, false},
	}
	for _, s := range steps {
		got, err := s.l.Hold(ctx)
		if err != nil || got != s.want {
			t.Fatalf("%s: Hold = %v, %v; want %v", s.name, got, err, s.want)
		}
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Hold(ctx); err != nil || !got {
		t.Fatalf("c after a released: %v, %v", got, err)
	}
	if got, err := a.Hold(ctx); err != nil || got {
		t.Fatalf("a after c took the lease: %v, %v", got, err)
	}
	// c's lease taken behind its back (it expired and a took it): c's
	// renewal fails.
	if err := b.leases.Delete(ctx, c.key); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Hold(ctx); err != nil || !got {
		t.Fatalf("a after the lease expired: %v, %v", got, err)
	}
	if got, err := c.Hold(ctx); err != nil || got {
		t.Fatalf("c renewing a lease a now holds: %v, %v", got, err)
	}
}
