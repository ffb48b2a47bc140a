package bus

import (
	"context"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/bus/natstest"
)

// TestSeenDirectGetsSurviveServerLoss: while the server holding the seen
// bucket is down, reading seen-state fails; once it is back, reads work
// again with batched direct gets (the outage must not switch them off for
// good: the fallback creates a consumer per read).
func TestSeenDirectGetsSurviveServerLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	c := natstest.StartCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	b, err := Open(ctx, Options{URL: c.URL(), Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	st, err := b.js.Stream(ctx, "KV_"+SeenBucket)
	if err != nil {
		t.Fatal(err)
	}
	leader := st.CachedInfo().Cluster.Leader
	b.Close()
	var holder *natstest.Node
	var others []string
	for _, nd := range c.Nodes {
		if nd.Name == leader {
			holder = nd
		} else {
			others = append(others, nd.URL())
		}
	}
	// Connected to the other servers only, so the client stays connected.
	b, err = Open(ctx, Options{URL: others[0] + "," + others[1], Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !b.seenDirect.Load() {
		t.Skip("server without batched direct gets")
	}
	s := b.Seen()
	if err := s.MarkSeen(ctx, "world", []string{"a"}); err != nil {
		t.Fatal(err)
	}
	holder.Shutdown()
	if _, err := s.Seen(ctx, "world", []string{"a"}); err == nil {
		t.Fatal("read seen-state with its only server down: no error")
	}
	holder.Restart(t)
	for {
		got, err := s.Seen(ctx, "world", []string{"a"})
		if err == nil {
			if !got["a"] {
				t.Fatal("seen-state lost")
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("seen-state unreadable after the server came back: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !b.seenDirect.Load() {
		t.Error("batched direct gets switched off by a server outage")
	}
}
