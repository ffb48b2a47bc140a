package watcher

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	polls    *prometheus.CounterVec
	newItems prometheus.Counter
	duration prometheus.Histogram
	feeds    prometheus.Gauge
	lag      prometheus.Histogram
	pushes   *prometheus.CounterVec
}

// newMetrics builds the watcher's metrics and registers them when reg is
// not nil (unregistered metrics still count, harmlessly).
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "feedwatch_polls_total",
			Help: "Feed polls by result (ok, not_modified, unchanged, or an error kind such as timeout, http_status, gone).",
		}, []string{"result"}),
		newItems: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "feedwatch_new_items_total",
			Help: "Items handed to the sink as new.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "feedwatch_poll_duration_seconds",
			Help:    "Time per poll: fetch, parse and delivery.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		feeds: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "feedwatch_feeds",
			Help: "Feeds configured.",
		}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "feedwatch_schedule_lag_seconds",
			Help:    "Poll start minus the time the poll was due.",
			Buckets: []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2, 3, 5, 10, 30, 60, 300},
		}),
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "feedwatch_pushed_documents_total",
			Help: "Pushed (WebSub) documents handled by the watcher, by result (ok, sink, not_owner, not_watched, or a parse error kind).",
		}, []string{"result"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.polls, err = register(reg, m.polls); err != nil {
		return nil, err
	}
	if m.newItems, err = register(reg, m.newItems); err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, m.duration); err != nil {
		return nil, err
	}
	if m.feeds, err = register(reg, m.feeds); err != nil {
		return nil, err
	}
	if m.lag, err = register(reg, m.lag); err != nil {
		return nil, err
	}
	if m.pushes, err = register(reg, m.pushes); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the collector already registered under
// its name (a second Watcher on the same registry, e.g. after a restart of
// the component within one process).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if ex, ok := are.ExistingCollector.(C); ok {
				return ex, nil
			}
		}
		return c, err
	}
	return c, nil
}
