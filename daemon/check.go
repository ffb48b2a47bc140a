package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/matcher"
	"github.com/feedwatch/feedwatch/notifier/build"
	"github.com/feedwatch/feedwatch/watcher/fetch"
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

// CheckConfig is what "feedwatch check" runs: the daemon's load with every
// missing ${VAR} a warning (this shell need not hold the daemon's secrets),
// FEEDWATCH_* variables in environ that set nothing as warnings, and local
// feed files that must exist.
func CheckConfig(path string, getenv func(string) string, environ []string, version string) (*config.Config, error) {
	return LoadConfig(path, getenv, version, config.WithRole(config.RoleCheck),
		config.WithEnviron(environ), config.WithChecks(checkFeedFiles))
}

// checkFeedFiles reports feeds that name a local file (a path or file://)
// which does not exist. The daemon would keep retrying it with backoff;
// at check time it is almost always a typo in the path.
func checkFeedFiles(c *config.Config) []config.Problem {
	var out []config.Problem
	for i, f := range c.Feeds {
		p, local, err := fetch.LocalPath(f.URL, baseDir(c))
		if !local || err != nil || f.URL == "" {
			continue // config.Validate judges URLs that do not parse
		}
		if _, err := os.Stat(p); err != nil {
			msg := fmt.Sprintf("cannot read the feed file %q", p)
			if errors.Is(err, fs.ErrNotExist) {
				msg = fmt.Sprintf("no such file: %q", p)
			}
			out = append(out, config.Problem{Path: fmt.Sprintf("feeds[%d].url", i), Msg: msg})
		}
	}
	return out
}

// Go's template errors name the template and the Go type:
// `template: template:1:2: executing "template" at <.Nope>: can't evaluate
// field Nope in type hit.Hit`.
var (
	templateExecErr  = regexp.MustCompile(`^template: [a-z_]+:(\d+):(\d+): executing "[a-z_]+" at <([^>]*)>: (.*)$`)
	templateParseErr = regexp.MustCompile(`^template: [a-z_]+:(\d+): (.*)$`)
	noField          = regexp.MustCompile(`^can't evaluate field (\w+) in type [\w.*\[\]]+$`)
)

// plainTemplateError says where in the template and what, in the user's
// words: `line 1, column 2, at {{.Nope}}: no field Nope there (…)`.
func plainTemplateError(msg string) string {
	if m := templateExecErr.FindStringSubmatch(msg); m != nil {
		what := m[4]
		if f := noField.FindStringSubmatch(what); f != nil {
			what = "no field " + f[1] + " there (a template sees the hit: .Profile, .Item.Title, .Item.Link, .Snippet, …)"
		}
		return fmt.Sprintf("line %s, column %s, at {{%s}}: %s", m[1], m[2], m[3], what)
	}
	if m := templateParseErr.FindStringSubmatch(msg); m != nil {
		return "line " + m[1] + ": " + m[2]
	}
	return msg
}

// problemAt turns a part's error such as `query: unexpected ")" at column 14`
// into a problem at base.query, so `check` can name the key and its line.
func problemAt(base string, err error) config.Problem {
	msg := err.Error()
	if field, rest, ok := strings.Cut(msg, ": "); ok && field != "" && !strings.ContainsAny(field, " \t\"") {
		if strings.HasSuffix(field, "template") {
			rest = plainTemplateError(rest)
		}
		return config.Problem{Path: base + "." + field, Msg: rest}
	}
	return config.Problem{Path: base, Msg: msg}
}
