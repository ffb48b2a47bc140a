package daemon

import (
	"fmt"
	"sort"
	"strings"

	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/matcher"
	"github.com/feedwatch/feedwatch/notifier/build"
)

// checkProfiles reports query and keyword problems the matcher finds.
func checkProfiles(c *config.Config) []config.Problem {
	var out []config.Problem
	for i, p := range c.Profiles {
		for _, err := range matcher.CheckProfile(MatcherProfile(p)) {
			out = append(out, problemAt(fmt.Sprintf("profiles[%d]", i), err))
		}
	}
	return out
}

// checkNotifiers reports what each channel finds wrong with its settings
// (required fields, TLS mode, templates rendered on a sample hit).
func checkNotifiers(c *config.Config) []config.Problem {
	names := make([]string, 0, len(c.Notifiers))
	for n := range c.Notifiers {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []config.Problem
	for _, n := range names {
		for _, err := range build.Check(c.Notifiers[n]) {
			out = append(out, problemAt("notifiers."+n, err))
		}
	}
	return out
}

// problemAt turns a part's error such as `query: unexpected ")" at column 14`
// into a problem at base.query, so `check` can name the key and its line.
func problemAt(base string, err error) config.Problem {
	msg := err.Error()
	if field, rest, ok := strings.Cut(msg, ": "); ok && field != "" && !strings.ContainsAny(field, " \t\"") {
		return config.Problem{Path: base + "." + field, Msg: rest}
	}
	return config.Problem{Path: base, Msg: msg}
}
