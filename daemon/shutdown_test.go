package daemon

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// slowHook answers after a delay, to keep deliveries in flight.
type slowHook struct {
	recorder
	delay time.Duration
}

func (s *slowHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	time.Sleep(s.delay)
	s.recorder.ServeHTTP(w, r)
}

// TestStopWithHitsInFlight stops the daemon while deliveries are queued and
// in flight: it exits well within 10 s, and after a restart every hit is
// delivered, exactly once.
func TestStopWithHitsInFlight(t *testing.T) {
	r := newReloadRig(t)
	slow := &slowHook{delay: 300 * time.Millisecond}
	hs := httptest.NewServer(slow)
	defer hs.Close()
	r.hookURL = hs.URL
	r.write(t, xinjiangOnly, "10s")
	r.start(t)

	const items = 10
	now := time.Now()
	for i := 0; i < items; i++ {
		r.feed.add(fmt.Sprint("s", i), fmt.Sprintf("Xinjiang item %d", i), "", now)
	}
	waitFor(t, "deliveries under way", 15*time.Second, func() bool { return len(hookTitles(t, &slow.recorder)) >= 2 })
	start := time.Now()
	r.stop(t)
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("stop took %v", d)
	}
	t.Logf("stopped in %v with %d of %d delivered", time.Since(start), len(hookTitles(t, &slow.recorder)), items)

	r.start(t)
	defer r.stop(t)
	restarted := time.Now()
	waitFor(t, "the rest after restart", 60*time.Second, func() bool { return len(hookTitles(t, &slow.recorder)) == items })
	t.Logf("the rest arrived %v after restart\n%s", time.Since(restarted), r.logs.String())
	time.Sleep(time.Second)
	for k, n := range hookTitles(t, &slow.recorder) {
		if n != 1 {
			t.Errorf("%s delivered %d times", k, n)
		}
	}
}

// TestStopHandsBackAHangingSend: a send that hangs past the shutdown's
// grace is handed back at stop, so the next start delivers the hit at
// once, not after the consumer's 30 s ack wait.
func TestStopHandsBackAHangingSend(t *testing.T) {
	r := newReloadRig(t)
	var hang atomic.Bool
	hang.Store(true)
	var got atomic.Int32
	over := make(chan struct{})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if hang.Load() {
			got.Add(1)
			select { // until the client gives up
			case <-req.Context().Done():
			case <-over:
			}
			return
		}
		r.hook.ServeHTTP(w, req)
	}))
	defer hs.Close()
	defer close(over)
	r.hookURL = hs.URL
	r.write(t, xinjiangOnly, "60s")
	r.start(t)
	r.feed.add("h", "Xinjiang hanging", "", time.Now())
	waitFor(t, "the send under way", 15*time.Second, func() bool { return got.Load() > 0 })
	r.stop(t)
	hang.Store(false)
	r.start(t)
	defer r.stop(t)
	restarted := time.Now()
	waitFor(t, "the hit after restart", 20*time.Second, func() bool { return hookTitles(t, r.hook)["xinjiang: Xinjiang hanging"] == 1 })
	if d := time.Since(restarted); d > 10*time.Second {
		t.Errorf("delivered %v after the restart: not handed back at stop", d)
	}
}
