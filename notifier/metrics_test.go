package notifier

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestNewMetricsTwiceReusesSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, b := NewMetrics(reg), NewMetrics(reg)
	a.delivery("x", ResultDelivered)
	b.delivery("x", ResultDelivered)
	if got := counterValue(t, a.deliveries.WithLabelValues("x", ResultDelivered)); got != 2 {
		t.Errorf("got %v, want 2", got)
	}
}
