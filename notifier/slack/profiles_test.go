package slack

import (
	"context"
	"strings"
	"testing"

	"github.com/feedwatch/feedwatch/hit"
)

// TestSlackNamesProfiles: one message for an item that matched several
// profiles names them all, in the blocks and the notification text.
func TestSlackNamesProfiles(t *testing.T) {
	f := newFakeSlack(t, nil)
	s := modes[0].make(t, f, 0)
	h := sample()
	h.Profiles = []string{"xinjiang", "trade-bill"}
	if _, err := s.Notify(context.Background(), []hit.Hit{h}); err != nil {
		t.Fatal(err)
	}
	p := f.payloads()[0]
	if all := strings.Join(texts(t, p), "\n"); !strings.Contains(all, "Profiles *xinjiang, trade-bill*") {
		t.Errorf("blocks:\n%s", all)
	}
	if !strings.HasPrefix(p.Text, "xinjiang, trade-bill: Forced labour") {
		t.Errorf("notification text = %q", p.Text)
	}
}
