package watcher

import (
	"fmt"
	"net/url"

	"github.com/feedwatch/feedwatch/watcher/fetch"
)

// A feed's credentials (its headers, the URL's userinfo and query) belong
// to the origin (scheme, host, port) of its configured URL. After a
// permanent move the feed is polled at the new URL; it gets them only when
// that URL is on the configured origin. The comparison is always against
// the configured URL, never the previous hop, so a move stored before a
// restart, or a chain of moves, is judged the same way.

// pollTarget returns the URL to poll and the headers to send for a feed
// configured as cfg and moved to moved ("" when it was not).
func pollTarget(cfg FeedConfig, moved string) (string, map[string]string) {
	if moved == "" {
		return cfg.URL, cfg.Headers
	}
	cu, err := url.Parse(cfg.URL)
	if err != nil {
		return moved, nil
	}
	mu, err := url.Parse(moved)
	if err != nil || fetch.Origin(cu) != fetch.Origin(mu) {
		return moved, nil
	}
	if mu.User == nil && cu.User != nil {
		mu.User = cu.User
		return mu.String(), cfg.Headers
	}
	return moved, cfg.Headers
}

// originMove describes a permanent move from the configured URL to moved:
// the two origins and whether they differ, or https to http. Origins carry
// no secrets (no userinfo, path or query), so they may be logged.
type originMove struct {
	from, to  string
	cross     bool
	downgrade bool
}

func moveOf(cfgURL, moved string) originMove {
	cu, err1 := url.Parse(cfgURL)
	mu, err2 := url.Parse(moved)
	if moved == "" || err1 != nil || err2 != nil {
		return originMove{}
	}
	m := originMove{from: fetch.Origin(cu), to: fetch.Origin(mu)}
	m.cross = m.from != m.to
	m.downgrade = cu.Scheme == "https" && mu.Scheme == "http"
	return m
}

// notice is the status line for a feed polled on another origin.
func (m originMove) notice() string {
	if !m.cross {
		return ""
	}
	return fmt.Sprintf("moved permanently from %s to another origin, %s: polled without the configured headers and credentials; update the feed's url (and headers) in the config", m.from, m.to)
}
