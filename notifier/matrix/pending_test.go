package matrix

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/feedwatch/feedwatch/hit"
)

// TestMatrixDigestRetriedWithOtherHits: a digest whose answer was lost
// comes back with another set of hits (one more, or split apart); every
// hit still shows in the room once, whether the lost send was posted or
// not.
func TestMatrixDigestRetriedWithOtherHits(t *testing.T) {
	mk := func(id, title string) hit.Hit {
		h := sample()
		h.ID, h.Item.Title, h.Item.Link = id, title, "https://example.org/"+id
		return h
	}
	a, b, c := mk("a", "alpha-title"), mk("b", "bravo-title"), mk("c", "charlie-title")
	tests := []struct {
		name   string
		posted bool // the lost send reached the homeserver
		calls  [][]hit.Hit
	}{
		{"posted, one more hit", true, [][]hit.Hit{{a, b}, {a, b, c}}},
		{"posted, hits back apart", true, [][]hit.Hit{{a, b}, {c, a}, {b}}},
		{"posted, retried as it was", true, [][]hit.Hit{{a, b}, {b, a}}},
		{"not posted, one more hit", false, [][]hit.Hit{{a, b}, {a, b, c}}},
		{"not posted, hits back apart", false, [][]hit.Hit{{a, b}, {a}, {c, b}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			first := true
			lose := func() bool {
				mu.Lock()
				defer mu.Unlock()
				was := first
				first = false
				return was
			}
			var hs *homeserver
			if tt.posted {
				hs = newHomeserver(t, func(w http.ResponseWriter, _ *http.Request, _ bool) bool {
					if lose() {
						w.WriteHeader(http.StatusBadGateway)
						return true
					}
					return false
				})
			} else {
				hs = newHomeserver(t, nil)
				hs.mu.Lock()
				hs.refuse = func(w http.ResponseWriter) bool {
					if lose() {
						w.WriteHeader(http.StatusBadGateway)
						return true
					}
					return false
				}
				hs.mu.Unlock()
			}
			m := newMatrix(t, hs, Config{})
			for i, hits := range tt.calls {
				retry, err := m.Notify(context.Background(), hits)
				if i == 0 {
					if err == nil || !retry {
						t.Fatalf("first send: %v, %v; want a retryable error", retry, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
			}
			evs := hs.stored()
			for _, title := range []string{"alpha-title", "bravo-title", "charlie-title"} {
				n, want := 0, 1
				for _, ev := range evs {
					body, _ := ev.content["body"].(string)
					n += strings.Count(body, title)
				}
				if title == "charlie-title" && !strings.Contains(tt.name, "more") && !strings.Contains(tt.name, "apart") {
					want = 0
				}
				if n != want {
					t.Errorf("%s shows %d times in the room, want %d (%d events)", title, n, want, len(evs))
				}
			}
		})
	}
}
