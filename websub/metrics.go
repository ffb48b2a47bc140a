package websub

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	pushes        *prometheus.CounterVec
	requests      *prometheus.CounterVec
	verifications *prometheus.CounterVec
}

// subsDesc is counted at scrape time from the records.
var subsDesc = prometheus.NewDesc("feedwatch_websub_subscriptions", "WebSub subscriptions of this process by state (pending, active, denied); feeds without a hub have none.", []string{"state"}, nil)

type subsCollector struct{ m *Manager }

func (c subsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- subsDesc }

func (c subsCollector) Collect(ch chan<- prometheus.Metric) {
	n := map[State]int{StatePending: 0, StateActive: 0, StateDenied: 0}
	c.m.mu.Lock()
	for _, rec := range c.m.subs {
		if c.m.ours(rec) {
			n[rec.State]++
		}
	}
	c.m.mu.Unlock()
	for s, v := range n {
		ch <- prometheus.MustNewConstMetric(subsDesc, prometheus.GaugeValue, float64(v), string(s))
	}
}

func newMetrics(reg prometheus.Registerer, m *Manager) (*metrics, error) {
	mt := &metrics{
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "feedwatch_websub_pushes_total",
			Help: "WebSub pushes received, by result: accepted, no_signature, bad_signature, too_large, unknown_callback, wrong_topic, not_owner, dropped.",
		}, []string{"result"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "feedwatch_websub_hub_requests_total",
			Help: "Subscribe and unsubscribe requests sent to hubs, by mode and result (ok, error).",
		}, []string{"mode", "result"}),
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "feedwatch_websub_verifications_total",
			Help: "Hub verification requests by mode (subscribe, unsubscribe, denied, invalid) and result (ok, refused).",
		}, []string{"mode", "result"}),
	}
	if reg == nil {
		return mt, nil
	}
	for _, c := range []prometheus.Collector{mt.pushes, mt.requests, mt.verifications, subsCollector{m}} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
		}
	}
	return mt, nil
}
