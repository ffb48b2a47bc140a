package console

import (
	"context"
	"strings"
	"testing"

	"github.com/feedwatch/feedwatch/hit"
)

func TestConsoleNamesProfiles(t *testing.T) {
	var b strings.Builder
	c, err := New(&b, "")
	if err != nil {
		t.Fatal(err)
	}
	h := sample()
	h.Profiles = []string{"xinjiang", "trade-bill"}
	if _, err := c.Notify(context.Background(), []hit.Hit{h}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.HasPrefix(out, "== hit xinjiang, trade-bill ==\n") || !strings.Contains(out, "\nprofiles xinjiang, trade-bill · feed") {
		t.Errorf("got:\n%s", out)
	}
}
