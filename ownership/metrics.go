package ownership

import (
	"github.com/prometheus/client_golang/prometheus"
)

// memberCollector exports each live member as gauges, read from Members at
// scrape time, so a member that leaves or dies drops out of /metrics with
// no stale series left behind.
type memberCollector struct {
	c        *Coordinator
	owned    *prometheus.Desc
	lastSeen *prometheus.Desc
}

func newMemberCollector(c *Coordinator) *memberCollector {
	labels := []string{"member", "role", "host"}
	return &memberCollector{
		c:        c,
		owned:    prometheus.NewDesc("feedwatch_member_feeds_owned", "Feeds each live member (process) owns, as feedwatch status lists them.", labels, nil),
		lastSeen: prometheus.NewDesc("feedwatch_member_last_seen_timestamp_seconds", "When each live member last renewed its record (Unix time).", labels, nil),
	}
}

func (m *memberCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.owned
	ch <- m.lastSeen
}

func (m *memberCollector) Collect(ch chan<- prometheus.Metric) {
	for _, mb := range m.c.Members() {
		// A peer's record is input: a label value it spoils (not UTF-8)
		// drops that series rather than panicking the scrape.
		if g, err := prometheus.NewConstMetric(m.owned, prometheus.GaugeValue, float64(mb.FeedsOwned), mb.ID, mb.Role, mb.Host); err == nil {
			ch <- g
		}
		if mb.LastSeen.IsZero() {
			continue
		}
		if g, err := prometheus.NewConstMetric(m.lastSeen, prometheus.GaugeValue, float64(mb.LastSeen.Unix()), mb.ID, mb.Role, mb.Host); err == nil {
			ch <- g
		}
	}
}
