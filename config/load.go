package config

import (
	"crypto/sha256"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/viper"

	"github.com/feedwatch/feedwatch/redact"
)

// Defaults, as the SPEC lists them.
const (
	DefaultDataDir        = "./data"
	DefaultListen         = "127.0.0.1:7070"
	DefaultInterval       = Duration(5 * time.Minute)
	DefaultConcurrency    = 32
	DefaultPerHost        = 2
	DefaultTimeout        = Duration(30 * time.Second)
	DefaultMaxBody        = Size(10 << 20)
	DefaultBackfill       = Duration(24 * time.Hour)
	DefaultStateRetention = Duration(90 * 24 * time.Hour)
	DefaultMaxAttempts    = 10
	DefaultReplicas       = 1
	DefaultArchiveAge     = Duration(30 * 24 * time.Hour)
	DefaultArchiveBytes   = Size(2 << 30)
	MaxReplicas           = 5
	ProjectURL            = "https://github.com/feedwatch/feedwatch"
)

// UserAgent is the default User-Agent for a version.
func UserAgent(version string) string {
	if version == "" {
		version = "dev"
	}
	return "feedwatch/" + version + " (+" + ProjectURL + ")"
}

// DefaultWatcher is the watcher section of a config that sets none of it:
// the one place polling defaults are decided. The watcher and fetch
// packages take every value explicitly.
func DefaultWatcher(version string) Watcher {
	return Watcher{
		Interval:       DefaultInterval,
		Concurrency:    DefaultConcurrency,
		PerHost:        DefaultPerHost,
		Timeout:        DefaultTimeout,
		MaxBody:        DefaultMaxBody,
		Backfill:       DefaultBackfill,
		StateRetention: DefaultStateRetention,
		UserAgent:      UserAgent(version),
	}
}

// Option changes how Load works.
type Option func(*options)

type options struct {
	version  string
	checks   []func(*Config) []Problem
	role     Role
	environ  []string
	channels channelSet
}

// Role is the command a config is loaded for. Each uses only some
// sections; a ${VAR} missing from a section the role does not use is a
// warning, so "feedwatch watch" starts without the notifiers' secrets.
type Role string

// The roles, named after their commands.
const (
	RoleRun    Role = "run"    // everything: the default
	RoleWatch  Role = "watch"  // all but notifiers
	RoleNotify Role = "notify" // all but feeds and watcher
	RoleMatch  Role = "match"  // profiles and watcher limits only
	RoleCheck  Role = "check"  // validates everything; missing variables are warnings
	RoleDead   Role = "dead"   // data_dir and nats only: the dead-letter commands
	// RoleBacktest reads the archive: all but notifiers and feed headers.
	RoleBacktest Role = "backtest"
)

// unused says why a key path is outside what role uses, "" when it is used.
func (r Role) unused(path string) string {
	section, _, _ := strings.Cut(path, ".")
	section, _, _ = strings.Cut(section, "[")
	skip := false
	switch r {
	case RoleWatch:
		skip = section == "notifiers"
	case RoleNotify:
		skip = section == "feeds" || section == "watcher" || section == "websub"
	case RoleMatch:
		skip = section != "profiles" && section != "watcher"
	case RoleDead:
		skip = section != "nats" && section != "data_dir"
	case RoleBacktest:
		skip = section == "notifiers" || section == "feeds" && strings.Contains(path, ".headers")
	case RoleCheck:
		return "the processes that use this key will refuse to start"
	}
	if !skip {
		return ""
	}
	return "ignored because feedwatch " + string(r) + " does not use this key"
}

// readOnlyWarning turns p into a warning for a command that only reads
// (backtest, dead, match) when p is in a section it does not use: a broken
// notifier template must not stop a backtest, which sends nothing. The
// daemon's roles keep every problem: they run beside the notifiers.
func (r Role) readOnlyWarning(p Problem) Problem {
	if r != RoleBacktest && r != RoleDead && r != RoleMatch {
		return p
	}
	if why := r.unused(p.Path); why != "" {
		p.Warning = true
		p.Msg += " (" + why + ")"
	}
	return p
}

// WithRole loads the config for one command (RoleRun without it).
func WithRole(r Role) Option { return func(o *options) { o.role = r } }

// WithEnviron hands Load the whole environment ("NAME=value" entries, as
// os.Environ gives) so that it can warn about FEEDWATCH_* variables that
// set nothing, usually a misspelt key.
func WithEnviron(environ []string) Option { return func(o *options) { o.environ = environ } }

// WithVersion sets the version in the default user_agent ("dev" without it).
func WithVersion(v string) Option { return func(o *options) { o.version = v } }

// WithChecks adds checks the config package cannot know (query syntax,
// notifier templates); Load passes them to Validate so every problem is
// reported at once.
func WithChecks(checks ...func(*Config) []Problem) Option {
	return func(o *options) { o.checks = append(o.checks, checks...) }
}

// Load reads the file at path, expands ${VAR}, applies FEEDWATCH_*
// overrides, decodes strictly, applies defaults and runs Validate. On any
// problem with the content it returns a nil *Config and Problems holding
// every problem found; a file it cannot read is a plain wrapped error.
// Problems that are only warnings (see Role) do not fail the load: they are
// in Config.Warnings, or beside the errors in Problems.
// getenv is os.Getenv in production; nil means an empty environment.
func Load(path string, getenv func(string) string, opts ...Option) (*Config, error) {
	data, err := readLimited(path)
	if err != nil {
		return nil, err
	}
	c, err := Parse(path, data, getenv, opts...)
	if c != nil {
		c.FileSum = sha256.Sum256(data)
	}
	return c, err
}

// Parse is Load on bytes already read; path names the file (its extension
// picks the syntax, its folder anchors relative paths).
func Parse(path string, data []byte, getenv func(string) string, opts ...Option) (*Config, error) {
	o := options{version: "dev", role: RoleRun}
	for _, opt := range opts {
		opt(&o)
	}
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if abs, err := filepath.Abs(path); err == nil && path != "" {
		path = abs
	}
	src := &source{lines: map[string]int{}}
	if path != "" {
		src.file = filepath.Base(path)
	}
	finish := func(ps Problems, c *Config) (*Config, error) {
		for i := range ps {
			if ps[i].File != "" && ps[i].File != src.file {
				continue // inside an OPML file: its own name and line
			}
			if ps[i].Line == 0 && ps[i].Path != "" {
				ps[i].Line = src.lineNear(ps[i].Path)
			}
			ps[i].File = src.file
		}
		// The config's problems in its line order, then each OPML
		// file's in the order found (file by file, line by line).
		own, other := Problems{}, Problems{}
		for _, p := range ps {
			if p.File == src.file {
				own = append(own, p)
			} else {
				other = append(other, p)
			}
		}
		sortProblems(own)
		ps = append(own, other...)
		if ps.errors() {
			return nil, ps
		}
		if c != nil && len(ps) > 0 {
			c.Warnings = ps
		}
		return c, nil
	}

	if ps := checkLimits(formatOf(path), data); len(ps) > 0 {
		return finish(ps, nil)
	}
	r, ps := parseRaw(formatOf(path), data)
	src.lines = r.lines
	if len(ps) > 0 {
		return finish(ps, nil)
	}
	substituted := map[string][]string{}
	tree := expandTree(r.tree, "", getenv, o.role.unused, &ps, substituted).(map[string]any)
	for p, name := range applyEnv(tree, getenv, o.channels) {
		// The value came from the environment, not the file.
		delete(src.lines, p)
		src.env = append(src.env, envOrigin{path: p, name: name})
	}

	ck := &checker{channels: o.channels}
	clean := ck.object("", tree, reflect.TypeFor[Config]())
	ps = append(ps, ck.ps...)

	c, decodePs, notifiers := decode(clean, ck.secrets)
	ps = append(ps, decodePs...)
	if c == nil {
		return finish(ps, nil)
	}
	c.Path = path
	c.src = src
	c.channels = o.channels
	for i := range c.Feeds {
		c.Feeds[i].URLSecrets = substituted[indexPath("feeds", i)+".url"]
	}
	var opmlPs Problems
	if o.role != RoleNotify {
		// notify polls nothing, so it does not need the OPML files.
		opmlPs = c.addOPML()
	}
	c.applyDefaults(notifiers, o.version)

	// A value the checker rejected was dropped, so later checks on it or
	// inside it would only echo the first problem.
	early := ps
	for _, p := range c.Validate(o.checks...) {
		if !under(p.Path, early) {
			ps = append(ps, o.role.readOnlyWarning(p))
		}
	}
	ps = append(ps, unknownEnv(tree, o.environ, o.channels)...)
	ps = dedupe(ps)
	// After dedupe: two outlines may have the same problem on two lines.
	ps = append(ps, opmlPs...)
	for i := range ps {
		ps[i].Msg = redact.Secrets(ps[i].Msg, ck.secrets...)
		for _, e := range src.env {
			if ps[i].Path == e.path {
				ps[i].Msg += " (set by $" + e.name + ")"
			}
		}
	}
	return finish(ps, c)
}

// decode turns the checked tree into a Config through a fresh viper, with
// the defaults underneath. It returns the raw notifier entries too, for
// defaults that depend on which keys were set.
func decode(clean map[string]any, secrets []string) (*Config, Problems, map[string]any) {
	var ps Problems
	// Viper lower-cases every key; header names keep their spelling by
	// going around it.
	headers := takeHeaders(clean)
	// Viper also drops empty maps and splits keys at dots, so each
	// notifier decodes on its own, keeping its name as written.
	notifiers, _ := clean["notifiers"].(map[string]any)
	delete(clean, "notifiers")

	v := viper.New()
	setDefaults(v)
	if err := v.MergeConfigMap(clean); err != nil {
		return nil, Problems{{Msg: "cannot read the settings: " + redact.Secrets(err.Error(), secrets...)}}, nil
	}
	var c Config
	if err := v.UnmarshalExact(&c, viper.DecodeHook(DecodeHook)); err != nil {
		// The checker already caught every shape problem we know of;
		// this is a last resort, so scrub whatever mapstructure quotes.
		return nil, Problems{{Msg: "cannot decode the settings: " + redact.Secrets(err.Error(), secrets...)}}, nil
	}
	common := keyNames(commonKeys())
	for _, name := range sortedKeys(notifiers) {
		var n Notifier
		nv := viper.New()
		entry, _ := notifiers[name].(map[string]any)
		// The channel's own keys go to Settings as checked, for its
		// package to decode; viper sees the common ones.
		shared := make(map[string]any, len(entry))
		for k, v := range entry {
			if slices.Contains(common, k) {
				shared[k] = v
				continue
			}
			if n.Settings == nil {
				n.Settings = map[string]any{}
			}
			n.Settings[k] = v
		}
		if err := nv.MergeConfigMap(shared); err != nil {
			ps = append(ps, Problem{Path: "notifiers." + name, Msg: "cannot read: " + redact.Secrets(err.Error(), secrets...)})
			continue
		}
		if err := nv.UnmarshalExact(&n, viper.DecodeHook(DecodeHook)); err != nil {
			ps = append(ps, Problem{Path: "notifiers." + name, Msg: "cannot decode: " + redact.Secrets(err.Error(), secrets...)})
			continue
		}
		if c.Notifiers == nil {
			c.Notifiers = map[string]Notifier{}
		}
		c.Notifiers[name] = n
	}
	for i := range c.Feeds {
		if i < len(headers) {
			c.Feeds[i].Headers = headers[i]
		}
	}
	return &c, ps, notifiers
}

// source remembers where a loaded config came from.
type source struct {
	file  string         // base name
	lines map[string]int // key path -> line
	env   []envOrigin    // keys set from FEEDWATCH_* variables
}

type envOrigin struct{ path, name string }

// lineNear returns the line of path or of its nearest parent that has one.
func (s *source) lineNear(path string) int {
	if s == nil {
		return 0
	}
	for p := path; p != ""; p = parentPath(p) {
		if l, ok := s.lines[p]; ok {
			return l
		}
	}
	return 0
}

func setDefaults(v *viper.Viper) {
	v.SetDefault("data_dir", DefaultDataDir)
	v.SetDefault("http.listen", DefaultListen)
	v.SetDefault("nats.replicas", DefaultReplicas)
	v.SetDefault("archive.retention", DefaultArchiveAge)
	v.SetDefault("archive.max_bytes", DefaultArchiveBytes)
	w := DefaultWatcher("")
	v.SetDefault("watcher.interval", w.Interval)
	v.SetDefault("watcher.concurrency", w.Concurrency)
	v.SetDefault("watcher.per_host", w.PerHost)
	v.SetDefault("watcher.timeout", w.Timeout)
	v.SetDefault("watcher.max_body", w.MaxBody)
	v.SetDefault("watcher.backfill", w.Backfill)
	v.SetDefault("watcher.state_retention", w.StateRetention)
	// user_agent depends on the version: applyDefaults.
	v.SetDefault("websub.fallback_interval", DefaultWebSubFallback)
	v.SetDefault("websub.lease", DefaultWebSubLease)
}

// applyDefaults fills what depends on other values or on presence in the
// file: derived feed names and intervals, notifier defaults, and relative
// paths, which resolve against the config file's folder.
func (c *Config) applyDefaults(rawNotifiers map[string]any, version string) {
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.Watcher.UserAgent == "" {
		c.Watcher.UserAgent = UserAgent(version)
	}
	if c.Path != "" {
		dir := filepath.Dir(c.Path)
		for _, p := range []*string{&c.DataDir, &c.NATS.Creds, &c.NATS.TLSCA, &c.NATS.TLSCert, &c.NATS.TLSKey} {
			if *p != "" && !filepath.IsAbs(*p) {
				*p = filepath.Join(dir, *p)
			}
		}
	}
	for i := range c.Feeds {
		f := &c.Feeds[i]
		f.Name = f.DisplayName()
		if f.Interval == 0 {
			f.Interval = c.Watcher.Interval
		}
	}
	for name, n := range c.Notifiers {
		set, _ := rawNotifiers[name].(map[string]any)
		if _, ok := set["max_attempts"]; !ok {
			n.MaxAttempts = DefaultMaxAttempts
		}
		c.Notifiers[name] = n
	}
}

// takeHeaders removes each feed's headers from the tree, keeping them by
// feed index.
func takeHeaders(clean map[string]any) []map[string]string {
	feeds, _ := clean["feeds"].([]any)
	out := make([]map[string]string, len(feeds))
	for i, f := range feeds {
		m, _ := f.(map[string]any)
		h, _ := m["headers"].(map[string]any)
		if h == nil {
			continue
		}
		delete(m, "headers")
		out[i] = make(map[string]string, len(h))
		for k, v := range h {
			s, _ := v.(string)
			out[i][k] = s
		}
	}
	return out
}

// applyEnv sets FEEDWATCH_<PATH> overrides for every scalar key of the
// top level, of the fixed sections and the structs in them
// (FEEDWATCH_NATS_URL, FEEDWATCH_WATCHER_INTERVAL, FEEDWATCH_HTTP_AUTH_USERNAME)
// and of each notifier in the file (FEEDWATCH_NOTIFIERS_TEAM_SLACK_WEBHOOK_URL).
// It returns the paths it set with their variable names.
func applyEnv(tree map[string]any, getenv func(string) string, chs channelSet) map[string]string {
	set := map[string]string{}
	try := func(m map[string]any, path, key string) {
		name := EnvName(joinPath(path, key))
		if v := getenv(name); v != "" {
			m[key] = v
			set[joinPath(path, key)] = name
		}
	}
	// walk sets the scalar keys of struct type t at path (whose map in
	// the tree is got, made on first need), and those of the structs in
	// it: FEEDWATCH_HTTP_AUTH_USERNAME as well as FEEDWATCH_NATS_URL.
	var walk func(path string, t reflect.Type, get func(create bool) (map[string]any, bool))
	walk = func(path string, t reflect.Type, get func(create bool) (map[string]any, bool)) {
		for j := range t.NumField() {
			sf := t.Field(j)
			sk := keyOf(sf)
			switch {
			case sk == "":
			case isScalar(sf.Type):
				if getenv(EnvName(joinPath(path, sk))) == "" {
					continue
				}
				if m, ok := get(true); ok {
					try(m, path, sk)
				}
			case sf.Type.Kind() == reflect.Struct:
				walk(joinPath(path, sk), sf.Type, func(create bool) (map[string]any, bool) {
					parent, ok := get(create)
					if !ok {
						return nil, false
					}
					sect, ok := parent[sk].(map[string]any)
					if ok {
						return sect, true
					}
					if parent[sk] != nil || !create {
						return nil, false // the checker reports a bad section
					}
					sect = map[string]any{}
					parent[sk] = sect
					return sect, true
				})
			}
		}
	}
	walk("", reflect.TypeFor[Config](), func(bool) (map[string]any, bool) { return tree, true })
	notifiers, _ := tree["notifiers"].(map[string]any)
	for name, n := range notifiers {
		m, ok := n.(map[string]any)
		if !ok {
			continue
		}
		for _, sk := range chs.notifierScalarKeys() {
			try(m, "notifiers."+name, sk)
		}
	}
	// Entries of the file's feeds and profiles lists, by index:
	// FEEDWATCH_FEEDS_0_INTERVAL, FEEDWATCH_PROFILES_1_QUERY.
	for _, l := range listEnvKeys(tree) {
		if v := getenv(l.env); v != "" {
			l.entry[l.key] = v
			set[l.path] = l.env
		}
	}
	return set
}

// listEnvKey is a scalar key of an entry of the feeds or profiles list
// and the FEEDWATCH_* variable that sets it.
type listEnvKey struct {
	entry          map[string]any
	key, path, env string
}

func listEnvKeys(tree map[string]any) []listEnvKey {
	var out []listEnvKey
	for _, l := range []struct {
		key string
		t   reflect.Type
	}{{"feeds", reflect.TypeFor[Feed]()}, {"profiles", reflect.TypeFor[Profile]()}} {
		entries, _ := tree[l.key].([]any)
		for i, e := range entries {
			m, ok := e.(map[string]any)
			if !ok {
				continue
			}
			for _, sk := range scalarKeys(l.t) {
				out = append(out, listEnvKey{entry: m, key: sk, path: indexPath(l.key, i) + "." + sk,
					env: EnvName(l.key + "." + strconv.Itoa(i) + "." + sk)})
			}
		}
	}
	return out
}

// EnvName is the FEEDWATCH_* variable that overrides a key path:
// "watcher.per_host" -> FEEDWATCH_WATCHER_PER_HOST.
func EnvName(path string) string {
	return "FEEDWATCH_" + strings.Map(func(r rune) rune {
		switch {
		case r == '.' || r == '-':
			return '_'
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		}
		return r
	}, path)
}

func isScalar(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Int, reflect.Int64, reflect.Float64, reflect.Bool:
		return true
	}
	return false
}

// dedupe drops repeated problems (same path and message).
func dedupe(ps Problems) Problems {
	seen := map[[2]string]bool{}
	out := ps[:0]
	for _, p := range ps {
		k := [2]string{p.Path, p.Msg}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, p)
	}
	return out
}

// under reports whether path is, or is inside, the path of one of ps.
func under(path string, ps Problems) bool {
	for _, q := range ps {
		if q.Path == "" {
			continue
		}
		if path == q.Path || strings.HasPrefix(path, q.Path+".") || strings.HasPrefix(path, q.Path+"[") {
			return true
		}
	}
	return false
}

// unknownEnv warns about each FEEDWATCH_* variable in environ that sets no
// key, naming the nearest one that would. FEEDWATCH_CONFIG picks the file,
// and FEEDWATCH_BENCH_* drive the benchmarks.
func unknownEnv(tree map[string]any, environ []string, chs channelSet) Problems {
	var known []string
	cfgType := reflect.TypeFor[Config]()
	for i := range cfgType.NumField() {
		f := cfgType.Field(i)
		key := keyOf(f)
		switch {
		case key == "":
		case isScalar(f.Type):
			known = append(known, EnvName(key))
		case f.Type.Kind() == reflect.Struct:
			for _, sk := range scalarKeys(f.Type) {
				known = append(known, EnvName(key+"."+sk))
			}
		}
	}
	notifiers, _ := tree["notifiers"].(map[string]any)
	for _, name := range sortedKeys(notifiers) {
		for _, sk := range chs.notifierScalarKeys() {
			known = append(known, EnvName("notifiers."+name+"."+sk))
		}
	}
	for _, l := range listEnvKeys(tree) {
		known = append(known, l.env)
	}
	var ps Problems
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "FEEDWATCH_") || name == "FEEDWATCH_CONFIG" ||
			strings.HasPrefix(name, "FEEDWATCH_BENCH_") || slices.Contains(known, name) {
			continue
		}
		msg := "environment variable " + name + " sets no key"
		if s := suggest(name, known); s != "" {
			msg += ", did you mean " + s + "?"
		}
		ps = append(ps, Problem{Msg: msg, Warning: true})
	}
	return ps
}

func scalarKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		if f := t.Field(i); keyOf(f) != "" && isScalar(f.Type) {
			keys = append(keys, keyOf(f))
		}
	}
	return keys
}
