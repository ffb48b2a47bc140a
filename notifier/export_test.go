package notifier

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Hooks for the engine tests, which are external (package notifier_test)
// so that they can use notifiertest, which imports this package.

func SetGrace(e *Engine, d time.Duration) { e.grace = d }

func Backoff(e *Engine, attempt int, err error) time.Duration { return e.backoff(attempt, err) }

// DeliveryCount reads the engine's feedwatch_deliveries_total series.
func DeliveryCount(t testing.TB, e *Engine, name, result string) float64 {
	return counterValue(t, e.o.Metrics.deliveries.WithLabelValues(name, result))
}

// DeadCount reads the engine's dead-letter series.
func DeadCount(t testing.TB, e *Engine, name string) float64 {
	return counterValue(t, e.o.Metrics.dead.WithLabelValues(name))
}

func counterValue(t testing.TB, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// Stalled reads the engine's feedwatch_notify_stalled series.
func Stalled(t testing.TB, e *Engine, name string) float64 {
	t.Helper()
	var m dto.Metric
	if err := e.o.Metrics.stalled.WithLabelValues(name).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}
