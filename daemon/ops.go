package daemon

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/feedwatch/feedwatch/notifier"
	"github.com/feedwatch/feedwatch/ownership"
)

// serveHTTP starts the operations endpoint: /metrics, /healthz, /readyz,
// /api/status and POST /-/reload.
func (d *daemon) serveHTTP(addr string) (*http.Server, error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !d.ready.Load() || !d.bus.Connected() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(d.status())
	})
	mux.HandleFunc("POST /-/reload", func(w http.ResponseWriter, _ *http.Request) {
		d.requestReload()
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintln(w, "reload requested")
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http.listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	d.log.Info("serving metrics and health", "addr", ln.Addr().String())
	return srv, nil
}

// Status is the body of /api/status.
type Status struct {
	Mode      string                   `json:"mode"`
	Ready     bool                     `json:"ready"`
	Feeds     []FeedStatus             `json:"feeds"`
	Profiles  map[string]ProfileStats  `json:"profiles"`
	Notifiers map[string]NotifierStats `json:"notifiers"`
	// Members are the processes sharing this NATS deployment, this one
	// included.
	Members []ownership.Member `json:"members"`
}

// NotifierStats counts one notifier's deliveries since the process started.
type NotifierStats struct {
	Delivered float64 `json:"delivered"`
	Failed    float64 `json:"failed"` // attempts that will be retried
	Dead      float64 `json:"dead"`
	Pending   float64 `json:"pending"`
}

// notifierStats reads the delivery metrics back from the registry: they are
// the one record of these counts, so status cannot disagree with /metrics.
func (d *daemon) notifierStats(names []string) map[string]NotifierStats {
	out := make(map[string]NotifierStats, len(names))
	for _, n := range names {
		out[n] = NotifierStats{}
	}
	mfs, err := d.reg.Gather()
	if err != nil {
		return out
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			name, ok := labels["notifier"]
			if !ok {
				continue
			}
			st := out[name]
			switch mf.GetName() {
			case "feedwatch_deliveries_total":
				switch labels["result"] {
				case notifier.ResultDelivered, notifier.ResultDuplicate:
					st.Delivered += m.GetCounter().GetValue()
				case notifier.ResultRetry:
					st.Failed += m.GetCounter().GetValue()
				}
			case "feedwatch_dead_letters_total":
				st.Dead += m.GetCounter().GetValue()
			case "feedwatch_notify_pending":
				st.Pending = m.GetGauge().GetValue()
			default:
				continue
			}
			out[name] = st
		}
	}
	return out
}

// FeedStatus is one feed in /api/status.
type FeedStatus struct {
	Name     string    `json:"name"`
	URL      string    `json:"url"`
	LastPoll time.Time `json:"last_poll,omitzero"`
	Result   string    `json:"result"`
	NextDue  time.Time `json:"next_due,omitzero"`
	Error    string    `json:"error,omitempty"`
	Gone     bool      `json:"gone,omitempty"`
	Failures int       `json:"failures,omitempty"`
}

func (d *daemon) status() Status {
	s := Status{Mode: d.opts.Mode.String(), Ready: d.ready.Load() && d.bus.Connected(), Feeds: []FeedStatus{}, Profiles: map[string]ProfileStats{}, Members: d.members.list()}
	if d.watcher != nil {
		for _, f := range d.watcher.Status() {
			s.Feeds = append(s.Feeds, FeedStatus(f))
		}
	}
	if d.sink != nil {
		s.Profiles = d.sink.ProfileStats()
	}
	d.cfgMu.Lock()
	for _, p := range d.cfg.Profiles {
		if _, ok := s.Profiles[p.Name]; !ok {
			s.Profiles[p.Name] = ProfileStats{}
		}
	}
	names := make([]string, 0, len(d.cfg.Notifiers))
	for n := range d.cfg.Notifiers {
		names = append(names, n)
	}
	d.cfgMu.Unlock()
	if d.opts.Mode.notifies() {
		s.Notifiers = d.notifierStats(names)
	}
	return s
}
