package config

import (
	"net/url"
	"strings"
	"time"
)

// WebSub turns on push subscriptions (W3C WebSub) for feeds that advertise
// a hub. Empty CallbackURL: off, nothing changes.
type WebSub struct {
	// CallbackURL is the public base URL under which hubs reach Listen
	// (or http.listen); each subscription's callback starts with it.
	CallbackURL string `mapstructure:"callback_url"`
	// Listen is host:port of the callback server; "" serves the callbacks
	// on http.listen.
	Listen string `mapstructure:"listen"`
	// FallbackInterval is the poll interval of a feed whose subscription
	// is active (pushes arrive), in case they stop.
	FallbackInterval Duration `mapstructure:"fallback_interval"`
	// Lease is the subscription lease asked of hubs (they decide).
	Lease Duration `mapstructure:"lease"`
}

// WebSub defaults.
const (
	DefaultWebSubFallback = Duration(time.Hour)
	DefaultWebSubLease    = Duration(10 * 24 * time.Hour)
)

func (v *validator) websub(c *Config) {
	ws := c.WebSub
	if ws.CallbackURL != "" {
		u, err := url.Parse(ws.CallbackURL)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			v.add("websub.callback_url", `want the public http(s) URL hubs reach feedwatch at, like https://feedwatch.example.org/websub, or "" to turn WebSub off`)
		case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
			v.add("websub.callback_url", "want a URL without query, fragment or credentials: each subscription adds its own path element")
		}
		if ws.Listen == "" && c.HTTP.Listen == "" {
			v.add("websub.listen", "callbacks need a listener: set websub.listen, or http.listen")
		}
		if err == nil && ws.Listen == "" && !ownPath(u.Path) {
			v.add("websub.callback_url", "callbacks served on http.listen need a path of their own, like /websub (not /, /api, /metrics, /healthz, /readyz, /- or a web console page such as /feeds)")
		}
	}
	if ws.Listen != "" && !validHostPort(ws.Listen) {
		v.add("websub.listen", `want host:port, like 0.0.0.0:7071, or "" to serve callbacks on http.listen`)
	}
	// Zero (a config built in code) means the default.
	if ws.FallbackInterval < 0 {
		v.add("websub.fallback_interval", "must be more than 0")
	}
	if ws.Lease != 0 && ws.Lease < Duration(time.Minute) {
		v.add("websub.lease", "must be at least 1m")
	}
}

// ownPath reports whether a callback path leaves the operations endpoint's
// and the web console's paths alone when they share http.listen: callbacks
// are routed first, so one under /feeds would hide the console's feed
// pages. The console's first path elements are those of console/pages.go.
func ownPath(p string) bool {
	first, _, _ := strings.Cut(strings.Trim(p, "/"), "/")
	switch first {
	case "", "api", "metrics", "healthz", "readyz", "-",
		"feeds", "profiles", "hits", "dead", "members", "search", "actions", "static":
		return false
	}
	return true
}
