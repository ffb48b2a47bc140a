package notifier

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Delivery results, the "result" label of feedwatch_deliveries_total.
const (
	ResultDelivered = "delivered" // sent and acked
	ResultDuplicate = "duplicate" // the ledger says already sent: acked, not resent
	ResultRetry     = "retry"     // failed, will be tried again
	ResultDead      = "dead"      // dead-lettered
	ResultRequeued  = "requeued"  // handed back at shutdown
	ResultMuted     = "muted"     // its profile is muted: acked, not sent
)

// Metrics are the engine's Prometheus series; one set serves all engines,
// labelled by notifier name. Never labelled with anything secret.
type Metrics struct {
	deliveries *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	dead       *prometheus.CounterVec
	pending    *prometheus.GaugeVec
	stalled    *prometheus.GaugeVec
}

// NewMetrics creates the series and registers them with reg (nil: not
// registered). Registering twice with one registry reuses the first set.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "feedwatch_deliveries_total",
			Help: "Hit deliveries by notifier and result (delivered, duplicate, retry, dead, requeued, muted).",
		}, []string{"notifier", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "feedwatch_delivery_duration_seconds",
			Help:    "Time one send to a notifier took, successful or not.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"notifier"}),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "feedwatch_dead_letters_total",
			Help: "Hits given up on and published to feedwatch.dead.<notifier>.",
		}, []string{"notifier"}),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "feedwatch_notify_pending",
			Help: "Hits waiting for a notifier: held by the engine plus, where the source reports it, not yet fetched.",
		}, []string{"notifier"}),
		stalled: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "feedwatch_notify_stalled",
			Help: "1 while hits wait for a notifier (or fetching them fails) and none have arrived for 30 s.",
		}, []string{"notifier"}),
	}
	if reg != nil {
		m.deliveries = register(reg, m.deliveries)
		m.duration = register(reg, m.duration)
		m.dead = register(reg, m.dead)
		m.pending = register(reg, m.pending)
		m.stalled = register(reg, m.stalled)
	}
	return m
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}

func (m *Metrics) delivery(name, result string) {
	if m != nil {
		m.deliveries.WithLabelValues(name, result).Inc()
	}
}

func (m *Metrics) observe(name string, seconds float64) {
	if m != nil {
		m.duration.WithLabelValues(name).Observe(seconds)
	}
}

func (m *Metrics) deadLetter(name string) {
	if m != nil {
		m.dead.WithLabelValues(name).Inc()
	}
}

func (m *Metrics) setPending(name string, n float64) {
	if m != nil {
		m.pending.WithLabelValues(name).Set(n)
	}
}

func (m *Metrics) setStalled(name string, stalled bool) {
	if m != nil {
		v := 0.0
		if stalled {
			v = 1
		}
		m.stalled.WithLabelValues(name).Set(v)
	}
}
