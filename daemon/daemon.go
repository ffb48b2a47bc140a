// Package daemon wires feedwatch's parts together: config, bus, watcher,
// matcher and notifiers. cmd/feedwatch turns flags and signals into Run, so
// the whole daemon also runs inside tests.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/feedwatch/feedwatch/bus"
	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/console"
	"github.com/feedwatch/feedwatch/notifier"
	"github.com/feedwatch/feedwatch/notifier/build"
	"github.com/feedwatch/feedwatch/redact"
	"github.com/feedwatch/feedwatch/route"
	"github.com/feedwatch/feedwatch/watcher"
	"github.com/feedwatch/feedwatch/websub"
)

// Mode picks which parts run.
type Mode int

// The modes match the commands run, watch and notify.
const (
	ModeAll Mode = iota
	ModeWatch
	ModeNotify
)

func (m Mode) watches() bool  { return m == ModeAll || m == ModeWatch }
func (m Mode) notifies() bool { return m == ModeAll || m == ModeNotify }

// role is what the mode needs of the config: a secret that only notifiers
// use need not be set for "feedwatch watch".
func (m Mode) role() config.Role {
	switch m {
	case ModeWatch:
		return config.RoleWatch
	case ModeNotify:
		return config.RoleNotify
	}
	return config.RoleRun
}

// Options are what cmd hands the daemon.
type Options struct {
	ConfigPath string
	Mode       Mode
	// Stdout is where the console notifier writes.
	Stdout  io.Writer
	Logger  *slog.Logger
	Getenv  func(string) string
	Version string
	// Reload delivers SIGHUPs.
	Reload <-chan struct{}
	// Ready, when set, is closed once the daemon serves (tests wait on it).
	Ready chan<- struct{}
	// Environ is the process environment ("NAME=value"), for warnings
	// about FEEDWATCH_* variables that set nothing; nil skips them.
	Environ []string
	// ShutdownGrace bounds the wait for in-flight work at exit.
	ShutdownGrace time.Duration
	Now           func() time.Time

	hooks *testHooks
}

// LoadConfig reads and fully validates the config at path: structure, and
// what only the matcher and the notifier channels can check, every problem
// at once. opts add to or override the defaults (config.WithRole).
func LoadConfig(path string, getenv func(string) string, version string, opts ...config.Option) (*config.Config, error) {
	opts = append([]config.Option{config.WithChannels(build.Channels()...), config.WithChecks(checkProfiles, build.Problems),
		config.WithVersion(version)}, opts...)
	return config.Load(path, getenv, opts...)
}

// loadConfig loads the config for this process's mode.
func (o *Options) loadConfig() (*config.Config, error) {
	// data_dir is checked here and by check, not for the commands that
	// only read the config beside a daemon (match, send-test, status):
	// the folder is the daemon's, often not writable by whoever runs them.
	return LoadConfig(o.ConfigPath, o.Getenv, o.Version, config.WithRole(o.Mode.role()), config.WithEnviron(o.Environ),
		config.WithChecks(checkDataDir))
}

type daemon struct {
	opts    Options
	log     *slog.Logger
	reg     *prometheus.Registry
	bus     *bus.Bus
	sink    *sink
	watcher *watcher.Watcher
	engines *engines
	state   *stateKeeper // nil when not watching
	members *membership
	// remote follows the feeds other processes poll, for status pages.
	remote *othersFeeds
	// ops is http.listen's server (nil when off); a reload may replace it.
	ops  *opsServer
	opml *opmlWatches // nil when not watching
	// websub is nil unless websub.callback_url is set and this process
	// watches; pushTo hands its pushes to the watcher.
	websub *websub.Manager
	pushTo *lateWatcher
	// The web console, its items-per-day counts, the mutes it sets and
	// the notifiers obey.
	console http.Handler
	items   *itemRates
	seen    *console.Items // the feed pages' new items; nil without the console
	mutes   *bus.Mutes
	catchUp *catchUps // nil when not watching

	cfgMu  sync.Mutex
	cfg    *config.Config
	ready  atomic.Bool
	reload chan struct{}

	reloadOK   prometheus.Gauge
	reloadTime prometheus.Gauge
}

// Run runs the daemon until ctx ends, then stops within ShutdownGrace.
func Run(ctx context.Context, o Options) error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Getenv == nil {
		return errors.New("daemon: Getenv is nil")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ShutdownGrace <= 0 {
		o.ShutdownGrace = 8 * time.Second
	}
	cfg, err := o.loadConfig()
	if err != nil {
		return err
	}
	logProblems(o.Logger, slog.LevelWarn, "config warning", cfg.Warnings)
	d := &daemon{opts: o, log: o.Logger, reg: prometheus.NewRegistry(), cfg: cfg, reload: make(chan struct{}, 1)}
	d.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	d.reloadOK = prometheus.NewGauge(prometheus.GaugeOpts{Name: "feedwatch_config_last_reload_successful", Help: "1 when the last config load or reload succeeded."})
	d.reloadTime = prometheus.NewGauge(prometheus.GaugeOpts{Name: "feedwatch_config_last_reload_success_timestamp_seconds", Help: "When the config was last loaded successfully."})
	d.reg.MustRegister(d.reloadOK, d.reloadTime)
	d.reloadOK.Set(1)
	d.reloadTime.Set(float64(o.Now().Unix()))

	// Parts run on their own context: on shutdown the watcher stops first,
	// then the notifiers, then the bus closes.
	runCtx, stopParts := context.WithCancel(context.WithoutCancel(ctx))
	defer stopParts()

	// data_dir holds the embedded server's store and the watcher's
	// checkpoint: one process at a time.
	if cfg.NATS.URL == "" || o.Mode.watches() {
		lock, err := lockDataDir(cfg.DataDir, o.Mode, o.Now())
		if err != nil {
			return err
		}
		defer lock.release()
	}
	// Starting takes ctx itself, so that SIGTERM during start (a NATS
	// server that is slow to answer) stops it at once.
	bo := busOptions(cfg, "feedwatch "+o.Version, d.log)
	// Only the daemon shapes the archive: a dead-letter command opening
	// the store leaves it as it is (zero: untouched).
	bo.Archive = archiveOptions(cfg)
	if cfg.NATS.URL == "" && cfg.NATS.EmbeddedListen == "" {
		// backtest and dead reach this process's store through it.
		bo.LocalAccessFile = filepath.Join(cfg.DataDir, bus.LocalAccessName)
	}
	// http.listen answers from now on: /healthz live, /readyz 503 until
	// the daemon has started (NATS reached, config loaded).
	if cfg.HTTP.Listen != "" {
		if d.ops, err = d.listenHTTP(cfg.HTTP.Listen); err != nil {
			return err
		}
		defer func() { d.ops.shutdown() }()
	}
	if d.bus, err = d.openBus(ctx, cfg, bo); err != nil {
		return startErr(ctx, d.log, err)
	}
	defer d.bus.Close()
	if err := ensureConsumers(ctx, d.bus, cfg); err != nil {
		return startErr(ctx, d.log, err)
	}
	// Mutes set from the console hold in every process of the cluster.
	// Made before the state check, like the other buckets: one nats-server
	// could not load is made again, not reported missing at every start.
	if d.mutes, err = d.bus.Mutes(runCtx, o.Now); err != nil {
		return startErr(ctx, d.log, err)
	}
	if o.Mode.watches() {
		// Before the first poll: a feed whose state was lost must not
		// alert its old items again.
		d.state = newStateKeeper(cfg.DataDir, natsIdentity(cfg.NATS.URL), d.bus, d.log, d.reg, o.Now, cfg.Watcher.Backfill.D())
		// ctx, not runCtx: a SIGTERM cuts the read-back of a big store short.
		d.state.start(ctx)
	}
	if err := d.startMembers(ctx, runCtx, cfg); err != nil {
		return startErr(ctx, d.log, err)
	}
	defer d.members.leave()
	d.remote = newOthersFeeds(runCtx, d.bus, d.log)
	d.items = newItemRates(o.Now)

	if err := d.newWebSub(ctx, cfg); err != nil {
		return startErr(ctx, d.log, err)
	}

	var wg sync.WaitGroup
	var wsSrv *http.Server
	watchCtx, stopWatch := context.WithCancel(runCtx)
	defer stopWatch()
	// stop winds down what has started: at shutdown, and when starting
	// fails half-way (in-process callers must not be left with a listener
	// or goroutines).
	stop := func() {
		done := make(chan struct{})
		go func() {
			stopWatch()
			wg.Wait()
			// The watcher has stopped: others may take its feeds now.
			d.members.leave()
			if d.state != nil {
				// The watcher has stopped: the store is good as it is now.
				sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				d.state.save(sctx)
				cancel()
			}
			if d.engines != nil {
				d.engines.stop()
			}
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(o.ShutdownGrace):
			// Unacked hits go back to the stream and seen-state was never
			// written for unpublished items: nothing is lost by leaving now.
			d.log.Warn("shutdown grace ran out; in-flight work will be redone at next start")
		}
		d.ops.shutdown()
		if wsSrv != nil {
			sctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = wsSrv.Shutdown(sctx)
			cancel()
		}
	}
	if cfg.HTTP.Listen != "" {
		if err := d.startConsole(runCtx); err != nil {
			return err
		}
		d.serveHTTP(d.ops, cfg.HTTP.Listen)
	}
	if d.websub != nil && cfg.WebSub.Listen != "" {
		wsSrv, err = d.serveWebSub(cfg.WebSub.Listen)
		if err != nil {
			stop()
			return err
		}
	}

	if o.Mode.watches() {
		if err := d.startWatcher(watchCtx, cfg, &wg); err != nil {
			stop()
			return err
		}
	}
	if o.Mode.notifies() {
		d.engines = &engines{
			bus: d.bus, out: o.Stdout, log: d.log,
			client:  &http.Client{Timeout: 30 * time.Second},
			metrics: notifier.NewMetrics(d.reg),
			mutes:   d.mutes,
		}
		if err := d.engines.apply(runCtx, cfg); err != nil {
			stop()
			return err
		}
	}
	if d.state != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.state.run(watchCtx)
		}()
	}
	if d.websub != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.websub.Run(watchCtx); err != nil {
				d.log.Error("websub stopped", "err", err)
			}
		}()
	}
	if cfg.Path != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := config.WatchSince(watchCtx, cfg.Path, cfg.FileSum, d.requestReload, d.log); err != nil {
				d.log.Warn("config file watching stopped", "err", err)
			}
		}()
	}
	if o.Mode.watches() {
		d.opml = newOPMLWatches(watchCtx, &wg, d.requestReload, d.log)
		d.opml.set(cfg.OPMLFiles())
	}
	d.ready.Store(true)
	d.log.Info("feedwatch started", "mode", o.Mode.String(), "feeds", len(cfg.Feeds), "profiles", len(cfg.Profiles), "notifiers", len(cfg.Notifiers))
	if o.Ready != nil {
		close(o.Ready)
	}

loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-o.Reload:
			d.doReload(runCtx)
		case <-d.reload:
			d.doReload(runCtx)
		}
	}

	d.log.Info("feedwatch stopping")
	stop()
	return nil
}

// busOptions are how cfg reaches NATS and shapes its streams: every
// command that opens the bus uses them, so that opening it beside the
// daemon changes no stream or bucket.
func busOptions(cfg *config.Config, clientName string, log *slog.Logger) bus.Options {
	return bus.Options{
		URL: cfg.NATS.URL, EmbeddedListen: cfg.NATS.EmbeddedListen, DataDir: cfg.DataDir,
		Creds: cfg.NATS.Creds, User: cfg.NATS.User, Password: cfg.NATS.Password, Token: cfg.NATS.Token,
		TLSCA: cfg.NATS.TLSCA, TLSCert: cfg.NATS.TLSCert, TLSKey: cfg.NATS.TLSKey,
		Retention: cfg.Watcher.StateRetention.D(), Replicas: cfg.NATS.Replicas, ClientName: clientName, Logger: log,
	}
}

// openBus connects to NATS (or starts the embedded server). A NATS server
// named by nats.url that cannot be reached (down, restarting, a network
// not up yet) is waited for, with a warning each try, until ctx ends:
// the process stays up, /healthz live and /readyz not ready, rather than
// exiting. The embedded server's errors (data_dir) end the start at once.
func (d *daemon) openBus(ctx context.Context, cfg *config.Config, bo bus.Options) (*bus.Bus, error) {
	url := redact.Userinfo(cfg.NATS.URL)
	for attempt := 1; ; attempt++ {
		slow := time.AfterFunc(natsSlowAfter, func() {
			if cfg.NATS.URL != "" {
				d.log.Warn("still connecting to NATS: not reachable yet", "url", url)
			}
		})
		b, err := bus.Open(ctx, bo)
		slow.Stop()
		if err == nil || cfg.NATS.URL == "" || ctx.Err() != nil {
			return b, err
		}
		wait := min(time.Duration(attempt)*natsRetryStep, natsRetryMax)
		d.log.Warn("cannot start on NATS; trying again (the process stays up, /readyz not ready)", "url", url, "attempt", attempt, "retry_in", wait, "err", err)
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
	}
}

// How long start waits for NATS before a warning, and between tries.
const (
	natsSlowAfter = 5 * time.Second
	natsRetryStep = 2 * time.Second
	natsRetryMax  = 30 * time.Second
)

// startErr is what Run returns when starting failed with err: nothing,
// when the failure is only the stop that was asked for during start.
func startErr(ctx context.Context, log *slog.Logger, err error) error {
	if ctx.Err() != nil {
		log.Info("feedwatch stopped while starting", "err", err)
		return nil
	}
	return err
}

func (m Mode) String() string {
	switch m {
	case ModeWatch:
		return "watch"
	case ModeNotify:
		return "notify"
	default:
		return "run"
	}
}

func (d *daemon) startWatcher(ctx context.Context, cfg *config.Config, wg *sync.WaitGroup) error {
	rt, err := compileRoutes(cfg)
	if err != nil {
		return err
	}
	d.sink = newSink(d.bus, d.reg, d.opts.Now)
	d.sink.SetTable(rt)
	if err := d.recordAliases(ctx); err != nil && ctx.Err() == nil {
		d.log.Warn("record the stored feeds by url (for renames); trying again at the next start", "err", err)
	}
	wo := watcherOptions(cfg, newArchivingSink(countingSink{Sink: d.sink, rates: d.items, seen: d.seen, now: d.opts.Now}, d.bus.Archiver(), d.reg), d.bus, d.log, d.reg)
	if d.state != nil {
		wo.RecoverBefore = d.state.recoverBefore()
	}
	wo.Feeds = d.members.ownedFeeds()
	wo.Owner = d.members.c
	wo.Configured = d.members.configured
	// Overdue feeds taken over from a watcher that stopped or died are
	// polled within seconds (SPEC: within 30 s of the loss).
	wo.TakeoverSpread = 3 * time.Second
	wo.Slack = pollSlack
	if d.websub != nil {
		wo.Hubs = d.websub
	}
	if h := d.opts.hooks; h != nil && h.wrote != nil {
		wo.Seen = hookedSeen{SeenStore: wo.Seen, wrote: h.wrote}
		wo.State = hookedState{StateStore: wo.State, wrote: h.wrote}
	}
	w, err := watcher.New(wo)
	if err != nil {
		return fmt.Errorf("watcher: %w", err)
	}
	d.members.attach(w)
	d.watcher = w
	if d.pushTo != nil {
		d.pushTo.set(w)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := w.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			d.log.Error("watcher stopped", "err", err)
		}
	}()
	d.catchUp = &catchUps{bus: d.bus, sink: d.sink, log: d.log, now: d.opts.Now, owner: d.members.c.ID(), req: make(chan *config.Config, 1)}
	if h := d.opts.hooks; h != nil {
		d.catchUp.passed = h.catchUpPassed
	}
	d.catchUp.request(cfg)
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.catchUp.run(ctx)
	}()
	return nil
}

func watcherOptions(cfg *config.Config, s watcher.Sink, b *bus.Bus, log *slog.Logger, reg prometheus.Registerer) watcher.Options {
	o := watcher.Options{
		Feeds:                 feedConfigs(cfg),
		Interval:              cfg.Watcher.Interval.D(),
		Timeout:               cfg.Watcher.Timeout.D(),
		Backfill:              cfg.Watcher.Backfill.D(), // "0s" is watcher.BackfillNone
		StateRetention:        cfg.Watcher.StateRetention.D(),
		MaxBody:               int64(cfg.Watcher.MaxBody),
		Concurrency:           cfg.Watcher.Concurrency,
		PerHost:               cfg.Watcher.PerHost,
		UserAgent:             cfg.Watcher.UserAgent,
		AllowPrivateRedirects: cfg.Watcher.AllowPrivate,
		BaseDir:               baseDir(cfg),
		Sink:                  s,
		Logger:                log,
		Registerer:            reg,
	}
	if b != nil {
		o.Seen = b.Seen()
		o.State = b.FeedState()
	}
	return o
}

// FetchOptions are cfg's fetch limits and feeds (a source that is a
// configured feed's URL is fetched with its headers) for one-off fetches
// such as `feedwatch match`: no sink, no state.
func FetchOptions(cfg *config.Config) watcher.Options {
	return watcherOptions(cfg, nil, nil, nil, nil)
}

func baseDir(cfg *config.Config) string {
	if cfg.Path == "" {
		return "."
	}
	return filepath.Dir(cfg.Path)
}

func feedConfigs(cfg *config.Config) []watcher.FeedConfig {
	out := make([]watcher.FeedConfig, len(cfg.Feeds))
	for i, f := range cfg.Feeds {
		out[i] = watcher.FeedConfig{Name: f.Name, URL: f.URL, Interval: f.Interval.D(), Tags: f.Tags, Headers: f.Headers, URLSecrets: f.URLSecrets}
	}
	return out
}

func (d *daemon) requestReload() {
	select {
	case d.reload <- struct{}{}:
	default:
	}
}

// doReload reads the file again; a valid config is applied part by part, an
// invalid one is logged and the running config stays.
func (d *daemon) doReload(ctx context.Context) {
	cfg, err := d.opts.loadConfig()
	if err != nil {
		d.reloadOK.Set(0)
		// An OPML file the new config names may not exist yet: watch it
		// too, so that creating it retries the reload.
		d.opml.add(config.NamedOPMLFiles(d.opts.ConfigPath))
		var ps config.Problems
		if errors.As(err, &ps) {
			logProblems(d.log, slog.LevelError, "config reload failed; keeping the running config", ps)
			return
		}
		d.log.Error("config reload failed; keeping the running config", "err", err)
		return
	}
	logProblems(d.log, slog.LevelWarn, "config warning", cfg.Warnings)
	var rt *route.Table
	if d.opts.Mode.watches() {
		if rt, err = compileRoutes(cfg); err != nil {
			d.reloadOK.Set(0)
			d.log.Error("config reload failed; keeping the running config", "err", err)
			return
		}
		// Consumers first: a hit for a newly routed profile must have a
		// consumer to land in before the new matcher can publish it.
		if err := ensureConsumers(ctx, d.bus, cfg); err != nil {
			d.reloadOK.Set(0)
			d.log.Error("config reload failed; keeping the running config", "err", err)
			return
		}
	}
	// Notifiers before the feeds and routes: hits of a feed or profile
	// the edit adds reach notifiers already changed by it (a digest
	// turned on in the same edit batches them).
	if d.engines != nil {
		if err := d.engines.apply(ctx, cfg); err != nil {
			d.log.Error("config reload: notifier not started", "err", err)
		}
	}
	if d.opts.Mode.watches() {
		d.sink.SetTable(rt)
		d.members.setFeeds(feedConfigs(cfg))
		if d.websub != nil {
			// Feeds that left the config are unsubscribed.
			d.websub.SetFeeds(feedNames(feedConfigs(cfg)))
			if err := d.websub.SetTunables(websubTunables(cfg)); err != nil {
				d.log.Error("config reload: websub settings not applied", "err", err)
			}
		}
		if err := d.bus.SetArchive(ctx, archiveOptions(cfg)); err != nil {
			d.log.Error("config reload: archive settings not applied", "err", err)
		}
		if d.watcher != nil && d.watcherLimitsChanged(cfg) {
			if err := d.watcher.SetLimits(watcherLimits(cfg)); err != nil {
				d.log.Error("config reload: watcher limits not applied", "err", err)
			}
		}
		d.catchUp.request(cfg)
	}
	if err := d.bus.SetRetention(ctx, cfg.Watcher.StateRetention.D()); err != nil {
		d.log.Error("config reload: watcher.state_retention not applied", "err", err)
	}
	d.cfgMu.Lock()
	old := d.cfg
	d.cfg = cfg
	d.cfgMu.Unlock()
	d.opml.set(cfg.OPMLFiles())
	if keys := restartOnly(old, cfg); len(keys) > 0 {
		d.log.Warn("config reload: these settings take effect at the next restart", "keys", keys)
	}
	if old.HTTP != cfg.HTTP {
		d.reloadHTTP(ctx, old.HTTP, cfg.HTTP)
	}
	d.reloadOK.Set(1)
	d.reloadTime.Set(float64(d.opts.Now().Unix()))
	d.log.Info("config reloaded", "feeds", len(cfg.Feeds), "profiles", len(cfg.Profiles), "notifiers", len(cfg.Notifiers))
}

// restartOnly lists changed settings that a reload does not apply: where
// state lives, how NATS is reached and where WebSub callbacks arrive.
// Feeds, profiles, notifiers, the archive, watcher.*, websub.lease and
// fallback_interval, and http.* all apply live.
func restartOnly(old, cur *config.Config) []string {
	var out []string
	if old.DataDir != cur.DataDir {
		out = append(out, "data_dir")
	}
	if old.NATS != cur.NATS {
		out = append(out, "nats")
	}
	// WebSub's lease and fallback interval apply live; where hubs call
	// back (and whether WebSub is on at all) waits for a restart.
	if old.WebSub.CallbackURL != cur.WebSub.CallbackURL {
		out = append(out, "websub.callback_url")
	}
	if old.WebSub.Listen != cur.WebSub.Listen {
		out = append(out, "websub.listen")
	}
	return out
}

// watcherLimits are cfg's watcher.* limits that a reload applies to the
// running watcher (watcher.interval goes with each feed, state_retention
// to the bus).
func watcherLimits(cfg *config.Config) watcher.Limits {
	return watcherOptions(cfg, nil, nil, nil, nil).Limits()
}

// watcherLimitsChanged reports whether cfg's watcher limits differ from
// the running config's.
func (d *daemon) watcherLimitsChanged(cfg *config.Config) bool {
	d.cfgMu.Lock()
	defer d.cfgMu.Unlock()
	return watcherLimits(d.cfg) != watcherLimits(cfg)
}

// logProblems logs config problems so that each can be read: with the JSON
// handler one record whose "problems" attribute is an array, otherwise a
// record per problem, since a multi-line error in one text record comes out
// as a single line full of \n escapes.
func logProblems(log *slog.Logger, level slog.Level, msg string, ps config.Problems) {
	if len(ps) == 0 {
		return
	}
	ctx := context.Background()
	if _, isJSON := log.Handler().(*slog.JSONHandler); isJSON {
		lines := make([]string, len(ps))
		for i, p := range ps {
			lines[i] = p.String()
		}
		log.Log(ctx, level, msg, "problems", lines)
		return
	}
	for _, p := range ps {
		log.Log(ctx, level, msg, "problem", p.String())
	}
}

// pollSlack is how early a poll may start to run with another one that is
// due (watcher.Options.Slack): polls in bursts share the process's
// wake-ups, so a watcher polling 100 feeds a second costs about what one
// polling 300 does per poll. Invisible next to intervals of seconds to
// minutes, and never shorter than the interval since the last poll. 1 s
// rather than 250 ms: wider bursts cut the 2- and 3-watcher overhead over
// one watcher about in half in the scale-out measurement (docs/design.md).
const pollSlack = time.Second
