// Package config loads feedwatch's config file into typed structs and
// validates it, reporting every problem with its key path.
//
// Choices a user can see (the README repeats them):
//
//   - Syntax by extension: .toml is TOML, .json is JSON, anything else YAML.
//     Keys are lower-case exactly as documented; an unknown key is an error
//     naming the nearest known key. An empty file, a file with only
//     comments, "{}" and any syntax error are errors, never an empty config.
//   - ${NAME} in any string value is the environment variable; unset or
//     empty is an error naming the key and the variable, or a warning in a
//     section the command does not use (Role: watch needs no notifier
//     secrets, notify no feed secrets; check only warns). ${NAME:-default}
//     allows a default (also empty: ${NAME:-}). "$${" writes a literal "${";
//     a "$" not followed by "{" is left alone, so passwords need no escaping.
//   - FEEDWATCH_<PATH> overrides any scalar key of the top level and of the
//     sections and the structs in them (FEEDWATCH_NATS_URL,
//     FEEDWATCH_WATCHER_INTERVAL, FEEDWATCH_HTTP_AUTH_USERNAME), and of a
//     notifier that is in the file (FEEDWATCH_NOTIFIERS_TEAM_SLACK_WEBHOOK_URL;
//     "." and "-" become "_"). Values from the environment are not expanded.
//   - Durations are Go durations plus "d" for 24 hours ("90d", "1d12h",
//     "1.5d"); a bare number other than 0 is an error, its unit unknown.
//   - Sizes are bytes ("512") or a number with B, KB, MB, GB, TB, all
//     1024-based; KiB/MiB/GiB/TiB and K/M/G/T mean the same.
//   - Relative data_dir, nats.creds and nats.tls_* paths resolve against the
//     config file's folder, as do relative feed paths (in the watcher), so
//     the daemon does not depend on its working folder.
//   - A feed without a name is named from its URL's host and path
//     ("https://www.example.org/world/rss" -> "example-org-world-rss"); two
//     feeds ending up with one name is an error.
//   - Every notifier defaults to max_attempts: 10; each channel's package
//     defaults its own keys (email: port 587 with tls: starttls, 465 with
//     tls: tls).
//   - Messages never quote the value of a password, token, secret,
//     webhook_url or header, nor a feed or NATS URL (they may hold tokens).
package config

import "time"

// Config is the whole file, after ${VAR} expansion and FEEDWATCH_* overrides.
type Config struct {
	DataDir   string              `mapstructure:"data_dir"`
	HTTP      HTTP                `mapstructure:"http"`
	NATS      NATS                `mapstructure:"nats"`
	Watcher   Watcher             `mapstructure:"watcher"`
	WebSub    WebSub              `mapstructure:"websub"`
	Archive   Archive             `mapstructure:"archive"`
	Feeds     []Feed              `mapstructure:"feeds"`
	OPML      []string            `mapstructure:"opml"`
	Profiles  []Profile           `mapstructure:"profiles"`
	Notifiers map[string]Notifier `mapstructure:"notifiers"`

	// Path is the file the config was read from ("" when built in code);
	// relative feed paths resolve against its folder.
	Path string `mapstructure:"-"`
	// FileSum is the SHA-256 of the file's bytes as read (Load): the
	// config watch compares with it, so an edit saved while the daemon
	// was starting is not missed.
	FileSum [32]byte `mapstructure:"-"`

	// Warnings are problems that did not stop the load (see Role).
	Warnings Problems `mapstructure:"-"`

	// src maps key paths to file lines for problems found after Load.
	src *source
	// channels are the notifier types it was loaded with.
	channels channelSet
}

// HTTP is the operations endpoint.
type HTTP struct {
	// Listen is host:port for /metrics, /healthz, /readyz; "" turns it off.
	Listen string `mapstructure:"listen"`
	// Admin allows actions over HTTP (POST /-/reload); off, the endpoint
	// is read-only.
	Admin bool `mapstructure:"admin"`
	// Auth, when its username is set, protects every endpoint but the
	// health checks with HTTP basic auth.
	Auth HTTPAuth `mapstructure:"auth"`
}

// HTTPAuth is the console's and the endpoint's one user.
type HTTPAuth struct {
	Username string `mapstructure:"username"`
	// PasswordHash is a bcrypt hash (htpasswd -nbB, or feedwatch's docs).
	PasswordHash string `mapstructure:"password_hash"`
}

// NATS says where hits go.
type NATS struct {
	URL            string `mapstructure:"url"`
	EmbeddedListen string `mapstructure:"embedded_listen"`
	Creds          string `mapstructure:"creds"`
	User           string `mapstructure:"user"`
	Password       string `mapstructure:"password"`
	Token          string `mapstructure:"token"`
	TLSCA          string `mapstructure:"tls_ca"`
	TLSCert        string `mapstructure:"tls_cert"`
	TLSKey         string `mapstructure:"tls_key"`
	// Replicas is how many servers keep each stream and bucket feedwatch
	// creates: 1 (default) to 5; more than 1 needs a cluster (nats.url).
	Replicas int `mapstructure:"replicas"`
}

// Watcher holds the polling defaults.
type Watcher struct {
	Interval       Duration `mapstructure:"interval"`
	Concurrency    int      `mapstructure:"concurrency"`
	PerHost        int      `mapstructure:"per_host"`
	Timeout        Duration `mapstructure:"timeout"`
	MaxBody        Size     `mapstructure:"max_body"`
	Backfill       Duration `mapstructure:"backfill"`
	StateRetention Duration `mapstructure:"state_retention"`
	UserAgent      string   `mapstructure:"user_agent"`
	// AllowPrivate lets a redirect go from a public address to a loopback,
	// private or link-local one (intranet feeds).
	AllowPrivate bool `mapstructure:"allow_private_redirects"`
}

// Feed is one watched feed. URL is http(s), file:// or a plain path.
type Feed struct {
	URL      string            `mapstructure:"url"`
	Name     string            `mapstructure:"name"`
	Interval Duration          `mapstructure:"interval"`
	Tags     []string          `mapstructure:"tags"`
	Headers  map[string]string `mapstructure:"headers"`
	// URLSecrets are the values ${VAR} references put into URL: where the
	// URL is shown (hits, status) they are redacted (package feedurl).
	URLSecrets []string `mapstructure:"-"`
	// HTMLURL is the feed's site, from an OPML file's htmlUrl.
	HTMLURL string `mapstructure:"-"`
	// From is the OPML file (as the config names it) the feed came from,
	// "" for the config's own feeds; FromLine is its outline's line.
	From     string `mapstructure:"-"`
	FromLine int    `mapstructure:"-"`
}

// Profile is one topic someone follows.
type Profile struct {
	Name     string   `mapstructure:"name"`
	Query    string   `mapstructure:"query"`
	Keywords []string `mapstructure:"keywords"`
	Exclude  []string `mapstructure:"exclude"`
	// Feeds scopes the profile: feed names or "tag:<tag>"; empty means all.
	Feeds []string `mapstructure:"feeds"`
	// Notify names notifiers; empty means every notifier.
	Notify []string `mapstructure:"notify"`
	// CatchUp, when more than 0, is the archive window alerted when this
	// profile is added or its matching changes.
	CatchUp Duration `mapstructure:"catch_up"`
}

// Archive keeps every new item for backtests and catch-up.
type Archive struct {
	// Retention is how long an item is kept; 0 turns the archive off.
	Retention Duration `mapstructure:"retention"`
	// MaxBytes caps the archive; the oldest items go first past it.
	MaxBytes Size `mapstructure:"max_bytes"`
}

// On reports whether items are archived.
func (a Archive) On() bool { return a.Retention > 0 }

// Notifier is one delivery channel: the keys every type takes, and the
// type's own keys in Settings. Type picks the channel (console, slack,
// email, webhook: see WithChannels).
type Notifier struct {
	Type        string   `mapstructure:"type"`
	MaxAttempts int      `mapstructure:"max_attempts"`
	Template    string   `mapstructure:"template"`
	Digest      Duration `mapstructure:"digest"`
	// RateLimit is the most messages per second this notifier sends; 0 is
	// the channel's default.
	RateLimit float64 `mapstructure:"rate_limit"`
	// Timeout bounds one delivery attempt; 0 is the channel's default.
	Timeout Duration `mapstructure:"timeout"`

	// Settings are the channel's own keys as written (webhook_url, host,
	// to…), their shapes checked; the channel's package decodes and
	// validates them (notifier/build). nil when there are none.
	Settings map[string]any `mapstructure:"-"`
}

// Duration is a Go duration that also accepts "d" for days ("90d").
type Duration time.Duration

// Size is a byte count written with KB, MB or GB ("10MB").
type Size int64
