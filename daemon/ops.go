package daemon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/time/rate"

	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/console"
	"github.com/feedwatch/feedwatch/notifier"
	"github.com/feedwatch/feedwatch/ownership"
	"github.com/feedwatch/feedwatch/websub"
)

// opsServer is http.listen's server. It listens from the start of Run:
// while NATS is not reached yet it answers /healthz (live) and nothing
// else (503, /readyz included); once the daemon has started, serve puts
// the whole endpoint behind it.
type opsServer struct {
	srv      *http.Server
	addr     string
	loopback bool
	h        atomic.Pointer[http.Handler]
}

func (s *opsServer) ServeHTTP(w http.ResponseWriter, r *http.Request) { (*s.h.Load()).ServeHTTP(w, r) }

// listenHTTP opens http.listen with the starting handler.
func (d *daemon) listenHTTP(addr string) (*opsServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http.listen %s: %w", addr, err)
	}
	tcp, _ := ln.Addr().(*net.TCPAddr)
	s := &opsServer{addr: ln.Addr().String(), loopback: tcp != nil && tcp.IP.IsLoopback()}
	starting := startingHandler()
	s.h.Store(&starting)
	s.srv = &http.Server{
		Handler: s, ReadHeaderTimeout: 10 * time.Second,
		// net/http's own complaints go through slog too, so that
		// --log-format json holds for every line.
		ErrorLog: slog.NewLogLogger(d.log.Handler(), slog.LevelWarn),
	}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// shutdown stops s (nil: nothing), giving requests in flight a second.
func (s *opsServer) shutdown() {
	if s == nil {
		return
	}
	sctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.srv.Shutdown(sctx)
}

// reloadHTTP applies a reload's change of http.*: a new listen address is
// opened before the old one closes (if it cannot be opened, the old one
// stays, and the error is logged); "" closes it; auth and admin apply to
// the next request.
func (d *daemon) reloadHTTP(ctx context.Context, old, cur config.HTTP) {
	if cur.Listen == old.Listen {
		if d.ops != nil {
			h := d.opsHandler(d.ops.loopback)
			d.ops.h.Store(&h)
			d.log.Info("config reload: http settings applied", "addr", d.ops.addr)
			if exposed(d.ops.loopback, cur.Auth) {
				warnExposed(d.log, cur.Listen)
			}
		}
		return
	}
	if cur.Listen == "" {
		d.ops.shutdown()
		d.ops = nil
		d.log.Info("config reload: http.listen is off; the web console, metrics and health endpoint are closed")
		return
	}
	if d.console == nil {
		if err := d.startConsole(ctx); err != nil {
			d.log.Error("config reload: web console not started", "err", err)
		}
	}
	ops, err := d.listenHTTP(cur.Listen)
	if err != nil {
		d.log.Error("config reload: http.listen not changed", "err", err, "still", old.Listen)
		return
	}
	d.serveHTTP(ops, cur.Listen)
	d.ops.shutdown()
	d.ops = ops
}

// startingHandler is http.listen's answer before the daemon has started:
// alive, not ready.
func startingHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "5")
		http.Error(w, "not ready: feedwatch is starting (connecting to NATS)", http.StatusServiceUnavailable)
	})
	return mux
}

// serveHTTP puts the whole operations endpoint behind s: /metrics,
// /healthz, /readyz, /api/status, POST /-/reload and the web console.
func (d *daemon) serveHTTP(s *opsServer, addr string) {
	h := d.opsHandler(s.loopback)
	s.h.Store(&h)
	d.log.Info("serving the web console, metrics and health", "addr", s.addr, "console", "http://"+s.addr+"/")
	if exposed(s.loopback, d.cfg.HTTP.Auth) {
		warnExposed(d.log, addr)
	}
}

// exposed reports whether the endpoint is open beyond this machine: not
// on loopback, and no http.auth.
func exposed(loopback bool, a config.HTTPAuth) bool { return !loopback && a.Username == "" }

// warnExposed says that the endpoint is reachable beyond this machine
// while it has no authentication.
func warnExposed(log *slog.Logger, addr string) {
	log.Warn("http.listen is not a loopback address and has no http.auth: whoever reaches it can read the web console (feeds, profiles, hits), /api/status and /metrics, and use its actions when http.admin is on; set http.auth, or prefer 127.0.0.1 behind a proxy", "addr", addr)
}

// loopbackListen reports whether a listen address binds only loopback.
func loopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// opsHandler routes the endpoint. On a loopback bind, only loopback Host
// names are served (a web page that rebinds its own name to 127.0.0.1
// must not read the status), except the health checks; a POST must not
// come from another site, and must carry a Content-Type a web page cannot
// send without asking first (a CORS preflight, which we never grant).
func (d *daemon) opsHandler(loopback bool) http.Handler {
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
		// Lost state does not stop alerting: ready, and says so.
		if d.state != nil {
			if c := d.state.status(); c.Result == StateDamaged {
				fmt.Fprintf(w, "state damaged at start, old items not alerted again (published before %s): %s\n",
					c.RecoverBefore.UTC().Format(time.RFC3339), strings.Join(c.Lost, "; "))
			}
		}
	})
	mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		bw := bufio.NewWriterSize(w, 64<<10)
		if err := writeStatusJSON(bw, d.status()); err == nil {
			_ = bw.Flush()
		}
	})
	// One reload a second is plenty for people and scripts; more is a
	// loop or an attack, each reload reading and checking the whole file.
	limit := rate.NewLimiter(rate.Every(time.Second), 1)
	mux.HandleFunc("POST /-/reload", func(w http.ResponseWriter, r *http.Request) {
		// Actions are off unless the config says otherwise (as
		// Prometheus's --web.enable-lifecycle): read-only by default.
		d.cfgMu.Lock()
		admin := d.cfg.HTTP.Admin
		d.cfgMu.Unlock()
		if !admin {
			http.Error(w, "actions are off: set http.admin: true to allow POST /-/reload", http.StatusForbidden)
			return
		}
		if !limit.AllowN(d.opts.Now(), 1) {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "too many reloads: at most one a second", http.StatusTooManyRequests)
			return
		}
		d.log.Info("config reload requested over HTTP", "remote", r.RemoteAddr)
		d.requestReload()
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintln(w, "reload requested")
	})
	if d.console != nil {
		// Everything else is the web console's.
		mux.Handle("/", d.console)
	}
	cop := http.NewCrossOriginProtection()
	guarded := cop.Handler(mux)
	var callbacks http.Handler
	var prefix string
	if d.websub != nil && !d.websubOwnListener() {
		callbacks, prefix = d.websub.Handler(), d.websub.PathPrefix()
	}
	if a := d.cfg.HTTP.Auth; a.Username != "" {
		guarded = console.BasicAuth(a.Username, a.PasswordHash, authExempt, guarded)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if callbacks != nil && strings.HasPrefix(r.URL.Path, prefix) {
			// Hubs reach these through a public name (a reverse proxy)
			// and POST feed documents: not the operations rules.
			callbacks.ServeHTTP(w, r)
			return
		}
		health := r.URL.Path == "/healthz" || r.URL.Path == "/readyz"
		if loopback && !health && !loopbackHost(r.Host) {
			http.Error(w, "this endpoint answers only to a loopback Host (localhost, 127.0.0.1, [::1])", http.StatusMisdirectedRequest)
			return
		}
		// The console's forms carry a CSRF token instead.
		if r.Method == http.MethodPost && !strings.HasPrefix(r.URL.Path, "/actions/") && simpleContentType(r.Header.Get("Content-Type")) {
			http.Error(w, "POST needs Content-Type: application/json", http.StatusUnsupportedMediaType)
			return
		}
		guarded.ServeHTTP(w, r)
	})
}

// loopbackHost reports whether a Host header names this machine by
// loopback: localhost, 127.x.x.x or [::1], with or without a port. An
// empty Host (HTTP/1.0) does not come from browsers and passes.
func loopbackHost(host string) bool {
	if host == "" {
		return true
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// simpleContentType reports the Content-Types (and none) that a web page
// may POST anywhere without a CORS preflight.
func simpleContentType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil {
		return true
	}
	switch mt {
	case "text/plain", "application/x-www-form-urlencoded", "multipart/form-data":
		return true
	}
	return false
}

// writeStatusJSON writes s as json.Encoder with a two-space indent would,
// one feed at a time: at 50,000 feeds the whole body at once, then indented,
// took ~100 MB per call.
func writeStatusJSON(w io.Writer, s Status) error {
	feeds := s.Feeds
	s.Feeds = []FeedStatus{}
	head, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	// The top-level key (mode and ready before it hold no such text).
	const mark = "\n  \"feeds\": []"
	i := bytes.Index(head, []byte(mark))
	if i < 0 || len(feeds) == 0 {
		_, err = w.Write(append(head, '\n'))
		return err
	}
	i += len(mark) - 1 // before the ']'
	if _, err := w.Write(head[:i]); err != nil {
		return err
	}
	// One encoder for every feed: it keeps its buffers.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("    ", "  ")
	for n, f := range feeds {
		buf.Reset()
		if err := enc.Encode(f); err != nil {
			return fmt.Errorf("status of feed %q: %w", f.Name, err)
		}
		b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		sep := ",\n    "
		if n == 0 {
			sep = "\n    "
		}
		if _, err := io.WriteString(w, sep); err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	if _, err := io.WriteString(w, "\n  "); err != nil {
		return err
	}
	_, err = w.Write(append(head[i:], '\n'))
	return err
}

// Status is the body of /api/status.
type Status struct {
	Mode      string                   `json:"mode"`
	Ready     bool                     `json:"ready"`
	Feeds     []FeedStatus             `json:"feeds"`
	Profiles  map[string]ProfileStats  `json:"profiles"`
	Notifiers map[string]NotifierStats `json:"notifiers"`
	// State is the state store's check at start (processes that watch).
	State *StateCheck `json:"state,omitempty"`
	// Members are the processes sharing this NATS deployment, this one
	// included.
	Members []ownership.Member `json:"members"`
	// Member is this process's id among them: its own feeds are those
	// polled_by it (or without polled_by).
	Member string `json:"member,omitempty"`
}

// Own reports whether the process that made s polls f.
func (s *Status) Own(f FeedStatus) bool { return f.Owner == "" || f.Owner == s.Member }

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
	Notice   string    `json:"notice,omitempty"`
	// Owner is the member that polls the feed (its id, as in members),
	// when more than one process polls feeds or this one polls none: the
	// status then lists every configured feed, those of the others from
	// the state they stored (at most stateSaveEvery old).
	Owner string `json:"polled_by,omitempty"`
	// Push is the feed's WebSub state (only with websub.callback_url).
	Push *websub.FeedPush `json:"push,omitempty"`
}

func (d *daemon) status() Status { return d.statusWith(true) }

// statusWith builds the status; withPush adds each feed's WebSub state
// (the console shows none).
func (d *daemon) statusWith(withPush bool) Status {
	s := Status{Mode: d.opts.Mode.String(), Ready: d.ready.Load() && d.bus.Connected(), Feeds: []FeedStatus{}, Profiles: map[string]ProfileStats{}, Members: d.members.list()}
	if d.members != nil {
		s.Member = d.members.c.ID()
	}
	if d.watcher != nil {
		feeds := d.watcher.Status()
		s.Feeds = make([]FeedStatus, len(feeds))
		// One WebSub call for all feeds, not one per feed (which cost
		// as much as the rest of the status at 50,000 feeds).
		var push []websub.FeedPush
		if withPush && d.websub != nil {
			names := make([]string, len(feeds))
			for i, f := range feeds {
				names[i] = f.Name
			}
			push = d.websub.StatusOf(names)
		}
		for i, f := range feeds {
			s.Feeds[i] = FeedStatus{Name: f.Name, URL: f.URL, LastPoll: f.LastPoll, Result: f.Result, NextDue: f.NextDue,
				Error: f.Error, Gone: f.Gone, Failures: f.Failures, Notice: f.Notice}
			if push != nil {
				s.Feeds[i].Push = &push[i]
			}
		}
	}
	s.Feeds = d.withOthersFeeds(s.Feeds)
	if d.sink != nil {
		s.Profiles = d.sink.ProfileStats()
	}
	if d.state != nil {
		c := d.state.status()
		s.State = &c
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
