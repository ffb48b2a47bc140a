package bus_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/bus"
	"github.com/feedwatch/feedwatch/bus/natstest"
)

// TestConcurrentOpenOnFreshCluster: processes started together on a new
// three-server cluster (deploy/compose.yaml starts two watchers and two
// notifiers at once) all create the same R3 streams and buckets at once;
// every one of them must start, not time out in the race (nats-server
// leaves all of such simultaneous requests unanswered, though it makes the
// stream: each collision costs one apiAttempt, then a retry succeeds).
func TestConcurrentOpenOnFreshCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	c := natstest.StartCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const procs = 3
	var wg sync.WaitGroup
	errs := make([]error, procs)
	for i := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := bus.Open(ctx, bus.Options{URL: c.URL(), Retention: time.Hour, Replicas: 3})
			errs[i] = err
			if err == nil {
				b.Close()
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("process %d: %v", i, err)
		}
	}
}
