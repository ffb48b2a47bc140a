package daemon

import (
	"fmt"
	"net/http"
	"net/http/httptest"
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
