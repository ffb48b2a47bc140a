package daemon

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/route"
)

// sink is the watcher's sink: the router, plus the hit counts it reports on
// /metrics and /api/status.
type sink struct {
	*route.Router
	hits *prometheus.CounterVec

	mu    sync.Mutex
	stats map[string]ProfileStats
}

type ProfileStats struct {
	Hits    int64     `json:"hits"`
	LastHit time.Time `json:"last_hit,omitzero"`
}

func newSink(store route.Store, reg prometheus.Registerer, now func() time.Time) *sink {
	s := &sink{
		stats: map[string]ProfileStats{},
		hits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "feedwatch_hits_total", Help: "Hits published, by profile.",
		}, []string{"profile"}),
	}
	if reg != nil {
		reg.MustRegister(s.hits)
	}
	s.Router = route.NewRouter(nil, store, route.WithClock(now), route.OnPublished(s.count))
	return s
}

func (s *sink) count(h hit.Hit) {
	s.hits.WithLabelValues(h.Profile).Inc()
	s.mu.Lock()
	st := s.stats[h.Profile]
	st.Hits++
	st.LastHit = h.DetectedAt
	s.stats[h.Profile] = st
	s.mu.Unlock()
}

func (s *sink) ProfileStats() map[string]ProfileStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]ProfileStats, len(s.stats))
	for k, v := range s.stats {
		out[k] = v
	}
	return out
}
