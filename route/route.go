// Package route decides what becomes of a feed's new items: which profiles
// see an item (the matcher, narrowed by each profile's feed scope), the hit
// each match makes, and whether that hit is published (not alerted before,
// its link not claimed by another feed). The daemon, `feedwatch match` and
// a backtest all route through it, so a dry run and the daemon agree.
//
// Route knows neither NATS nor HTTP: what needs state (the alerted check,
// link claims, publishing) goes through the small interfaces in store.go,
// which the bus implements and DryRun stands in for.
package route

import (
	"strings"

	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/feedurl"
	"github.com/feedwatch/feedwatch/item"
	"github.com/feedwatch/feedwatch/matcher"
)

// Table is one compiled set of profiles: the matcher for every profile and
// each profile's feed scope. It is immutable; a reload compiles a new one.
type Table struct {
	m      *matcher.Matcher
	names  []string // by profile index
	scopes []scope  // by profile index
	scoped bool     // some profile has a scope
}

// scope says which feeds a profile watches; empty means all.
type scope struct {
	names map[string]bool
	tags  map[string]bool
}

func (s scope) all() bool { return len(s.names) == 0 && len(s.tags) == 0 }

func (s scope) allows(f item.Feed) bool {
	if s.all() || s.names[f.Name] {
		return true
	}
	for _, t := range f.Tags {
		if s.tags[t] {
			return true
		}
	}
	return false
}

// MatcherProfile is the matcher's view of a configured profile, the one
// conversion `check`, `match` and the running daemon all use.
func MatcherProfile(p config.Profile) matcher.Profile {
	return matcher.Profile{Name: p.Name, Query: p.Query, Keywords: p.Keywords, Exclude: p.Exclude}
}

// Compile builds the table for profiles. A `feeds:` entry "tag:x" admits
// feeds tagged x, any other entry the feed of that name.
func Compile(profiles []config.Profile) (*Table, error) {
	ps := make([]matcher.Profile, len(profiles))
	t := &Table{names: make([]string, len(profiles)), scopes: make([]scope, len(profiles))}
	for i, p := range profiles {
		ps[i] = MatcherProfile(p)
		t.names[i] = p.Name
		t.scopes[i] = scopeOf(p.Feeds)
		t.scoped = t.scoped || !t.scopes[i].all()
	}
	m, err := matcher.Compile(ps)
	if err != nil {
		return nil, err
	}
	t.m = m
	return t, nil
}

func scopeOf(feeds []string) scope {
	var s scope
	for _, f := range feeds {
		if tag, ok := strings.CutPrefix(f, "tag:"); ok {
			if s.tags == nil {
				s.tags = map[string]bool{}
			}
			s.tags[tag] = true
			continue
		}
		if s.names == nil {
			s.names = map[string]bool{}
		}
		s.names[f] = true
	}
	return s
}

// Match returns the matches of the profiles whose scope admits feed.
func (t *Table) Match(feed item.Feed, it *item.Item) []matcher.Result {
	rs := t.m.Match(it)
	if !t.scoped {
		return rs
	}
	out := rs[:0:0]
	for _, r := range rs {
		if t.scopes[r.Index].allows(feed) {
			out = append(out, r)
		}
	}
	return out
}

// MatchAnyFeed returns the matches of every profile, scopes set aside: what
// the profiles would match were the item in a feed each of them watches
// (`feedwatch match` on a source that is not a configured feed).
func (t *Table) MatchAnyFeed(it *item.Item) []matcher.Result {
	return t.m.Match(it)
}

// Scoped reports whether some profile watches only some feeds.
func (t *Table) Scoped() bool { return t.scoped }

// Outside lists the profiles whose scope leaves feed out.
func (t *Table) Outside(feed item.Feed) []string {
	var out []string
	for i, s := range t.scopes {
		if !s.allows(feed) {
			out = append(out, t.names[i])
		}
	}
	return out
}

// ConfiguredFeed is the feed named name as the daemon routes its items
// (name, tags, the URL without credentials), for routing stored items of
// that feed without polling it (a backtest). Names are the config's, derived
// from the URL where the file gives none.
func ConfiguredFeed(cfg *config.Config, name string) (item.Feed, bool) {
	for _, f := range cfg.Feeds {
		if f.Name == name {
			return item.Feed{Name: f.Name, URL: feedurl.Public(f.URL, f.URLSecrets...), Tags: f.Tags}, true
		}
	}
	return item.Feed{}, false
}
