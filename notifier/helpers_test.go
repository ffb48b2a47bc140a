package notifier_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/hit"
)

// notifierFunc adapts a function to Notifier.
type notifierFunc func(ctx context.Context, hits []hit.Hit) (bool, error)

func (f notifierFunc) Notify(ctx context.Context, hits []hit.Hit) (bool, error) {
	return f(ctx, hits)
}

// recorder is a Notifier that counts sends per hit id.
type recorder struct {
	mu    sync.Mutex
	sends map[string]int
	calls [][]string
}

func newRecorder() *recorder { return &recorder{sends: map[string]int{}} }

func (r *recorder) Notify(_ context.Context, hits []hit.Hit) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]string, len(hits))
	for i, h := range hits {
		r.sends[h.ID]++
		ids[i] = h.ID
	}
	r.calls = append(r.calls, ids)
	return false, nil
}

func (r *recorder) count(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sends[id]
}

func testHit(i int) hit.Hit {
	return hit.Hit{
		V: hit.Version, ID: fmt.Sprintf("hit-%03d", i), Profile: "xinjiang",
		Feed: hit.Feed{Name: "world"},
		Item: hit.Item{Title: fmt.Sprintf("Xinjiang story %d", i), Link: "https://news.example.org/" + fmt.Sprint(i)},
	}
}

// waitFor polls cond until it holds; the deadline only stops a hung test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
