package daemon

import (
	"slices"
	"strings"

	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/item"
	"github.com/feedwatch/feedwatch/matcher"
)

// routes is one compiled config: the matcher for every profile and each
// profile's feed scope. It is immutable; a reload builds a new one and swaps.
type routes struct {
	m      *matcher.Matcher
	scopes []scope // by profile index
}

// scope says which feeds a profile watches; empty means all.
type scope struct {
	names map[string]bool
	tags  map[string]bool
}

func (s scope) allows(f item.Feed) bool {
	if len(s.names) == 0 && len(s.tags) == 0 {
		return true
	}
	if s.names[f.Name] {
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

func compileRoutes(cfg *config.Config) (*routes, error) {
	ps := make([]matcher.Profile, len(cfg.Profiles))
	scopes := make([]scope, len(cfg.Profiles))
	for i, p := range cfg.Profiles {
		ps[i] = MatcherProfile(p)
		var s scope
		for _, f := range p.Feeds {
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
		scopes[i] = s
	}
	m, err := matcher.Compile(ps)
	if err != nil {
		return nil, err
	}
	return &routes{m: m, scopes: scopes}, nil
}

// profilesFor lists the profiles routed to a notifier: those that name it,
// and those that name none.
func profilesFor(cfg *config.Config, notifierName string) []string {
	out := []string{}
	for _, p := range cfg.Profiles {
		if len(p.Notify) == 0 || slices.Contains(p.Notify, notifierName) {
			out = append(out, p.Name)
		}
	}
	return out
}
