package daemon

import (
	"slices"

	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/matcher"
	"github.com/feedwatch/feedwatch/route"
)

// MatcherProfile is the matcher's view of a configured profile; see
// route.MatcherProfile.
func MatcherProfile(p config.Profile) matcher.Profile { return route.MatcherProfile(p) }

func compileRoutes(cfg *config.Config) (*route.Table, error) { return route.Compile(cfg.Profiles) }

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
