package config

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/net/http/httpguts"

	"github.com/feedwatch/feedwatch/redact"
)

// Validate checks the structural rules: names, references between
// sections, ranges, URLs. extra adds checks this package cannot know (query
// syntax, notifier templates and required fields); each returns problems
// with key paths. Validate fills in the file line of every problem whose
// path (or a parent's) it knows, drops secret values from messages, and
// returns nil when all is well.
func (c *Config) Validate(extra ...func(*Config) []Problem) Problems {
	if c == nil {
		return Problems{{Msg: "no config"}}
	}
	v := &validator{}
	v.top(c)
	v.websub(c)
	tags := v.feeds(c)
	v.profiles(c, tags)
	v.notifiers(c)
	own := len(v.ps)
	for _, check := range extra {
		if check == nil {
			continue
		}
		for _, p := range check(c) {
			// One line per problem: where the checks above already
			// judged a key, another part's wording of it is noise.
			if !slices.ContainsFunc(v.ps[:own], func(q Problem) bool { return q.Path == p.Path }) {
				v.ps = append(v.ps, p)
			}
		}
	}
	if len(v.ps) == 0 {
		return nil
	}
	v.ps = dedupe(v.ps)
	secrets := secretsOf(c)
	for i := range v.ps {
		p := &v.ps[i]
		p.Msg = redact.Secrets(p.Msg, secrets...)
		if file, line, ok := c.feedOrigin(p.Path); ok && p.File == "" {
			p.File, p.Line = file, line
		}
		if p.Line == 0 && p.Path != "" {
			p.Line = c.src.lineNear(p.Path)
		}
		if p.File == "" && c.src != nil {
			p.File = c.src.file
		}
	}
	sortProblems(v.ps)
	return v.ps
}

// Line returns the file line of a key path ("profiles[1].keywords"), 0 if
// unknown (keys set from the environment, configs built in code, keys
// inside TOML inline tables).
func (c *Config) Line(path string) int {
	if c == nil || c.src == nil {
		return 0
	}
	return c.src.lines[path]
}

type validator struct{ ps Problems }

func (v *validator) add(path, format string, args ...any) {
	v.ps = append(v.ps, problemf(path, format, args...))
}

func (v *validator) top(c *Config) {
	if c.DataDir == "" {
		v.add("data_dir", "must not be empty")
	}
	if c.HTTP.Listen != "" && !validHostPort(c.HTTP.Listen) {
		v.add("http.listen", `want host:port, like 127.0.0.1:7070, or "" to turn it off`)
	}
	v.httpAuth(c.HTTP.Auth)
	if c.NATS.EmbeddedListen != "" && !validHostPort(c.NATS.EmbeddedListen) {
		v.add("nats.embedded_listen", `want host:port, like 127.0.0.1:4222, or "" for none`)
	}
	if msg := checkNATSURLs(c.NATS.URL); msg != "" {
		v.add("nats.url", "%s", msg)
	}
	switch r := c.NATS.Replicas; {
	case r < 1 || r > MaxReplicas:
		v.add("nats.replicas", "want 1 to %d (how many NATS servers keep each stream and bucket), got %d", MaxReplicas, r)
	case r > 1 && c.NATS.URL == "":
		v.add("nats.replicas", "%d replicas need a NATS cluster: set nats.url, or use 1 with the embedded server", r)
	}
	if c.Archive.Retention < 0 {
		v.add("archive.retention", "must not be negative (0 turns the archive off)")
	}
	if c.Archive.On() && c.Archive.MaxBytes < 1<<20 {
		v.add("archive.max_bytes", "want at least 1MB")
	}
	w := c.Watcher
	positive := []struct {
		key string
		d   Duration
	}{{"interval", w.Interval}, {"timeout", w.Timeout}, {"state_retention", w.StateRetention}}
	for _, p := range positive {
		if p.d <= 0 {
			v.add("watcher."+p.key, "must be more than 0")
		}
	}
	if w.StateRetention > 0 {
		// An item still in its feed is re-marked seen at least every
		// quarter of the retention (and at each poll when polls are rarer),
		// so it cannot expire while polls come more than twice as often.
		longest, key := w.Interval, "watcher.interval"
		for i, f := range c.Feeds {
			if f.Interval > longest {
				longest, key = f.Interval, indexPath("feeds", i)+".interval"
			}
		}
		if c.WebSub.CallbackURL != "" && c.WebSub.FallbackInterval > longest {
			longest, key = c.WebSub.FallbackInterval, "websub.fallback_interval"
		}
		switch {
		case w.StateRetention < Duration(time.Hour):
			v.add("watcher.state_retention", "want at least 1h (an item is remembered this long after it was last seen in its feed)")
		case w.StateRetention < 2*longest:
			v.add("watcher.state_retention", "%s is less than twice the longest poll interval (%s, %s): items still in a feed would be forgotten between polls and alert again", w.StateRetention, longest, key)
		}
	}
	if w.Backfill < 0 {
		v.add("watcher.backfill", "must not be negative")
	}
	if w.MaxBody <= 0 {
		v.add("watcher.max_body", "must be more than 0")
	}
	if w.Concurrency < 1 {
		v.add("watcher.concurrency", "must be at least 1")
	}
	if w.PerHost < 1 {
		v.add("watcher.per_host", "must be at least 1")
	}
	if !validHeaderValue(w.UserAgent) {
		v.add("watcher.user_agent", "holds a line break or another control character")
	}
}

// validHeaderValue reports whether s can be sent as an HTTP header value:
// no control characters but tab (CR and LF would split the header).
func validHeaderValue(s string) bool { return httpguts.ValidHeaderFieldValue(s) }

// feeds checks feeds and returns the set of tags they carry.
func (v *validator) feeds(c *Config) map[string]bool {
	tags := map[string]bool{}
	names := map[string]int{}
	for i, f := range c.Feeds {
		p := indexPath("feeds", i)
		if strings.TrimSpace(f.URL) == "" {
			v.add(p+".url", "required")
		} else if msg := checkFeedURL(f.URL); msg != "" {
			v.add(p+".url", "%s", msg)
		}
		name := f.DisplayName()
		switch {
		case name == "" && strings.TrimSpace(f.URL) != "":
			v.add(p+".name", "cannot derive a name from the URL; set one")
		case strings.HasPrefix(name, "tag:"):
			v.add(p+".name", `must not start with "tag:", which selects feeds by tag in profiles`)
		case strings.IndexFunc(name, unicode.IsControl) >= 0:
			v.add(p+".name", "must not hold control characters")
		}
		if name != "" {
			if j, dup := names[name]; dup {
				msg := fmt.Sprintf("duplicate feed name %q (%s has it too)", name, indexPath("feeds", j))
				if name == nameFromURL(f.URL) {
					msg += "; names default from the URL, so set a distinct name"
				}
				v.add(p+".name", "%s", msg)
			} else {
				names[name] = i
			}
		}
		if f.Interval < 0 {
			v.add(p+".interval", "must not be negative")
		}
		for j, t := range f.Tags {
			if strings.TrimSpace(t) == "" {
				v.add(indexPath(p+".tags", j), "empty tag")
				continue
			}
			tags[t] = true
		}
		for _, k := range sortedKeys(f.Headers) {
			// A bad name or value passes here but fails every request
			// (net/http refuses it), so the feed would never poll.
			if !httpguts.ValidHeaderFieldName(k) {
				v.add(p+".headers", "header name %q is not a valid HTTP header name (letters, digits and !#$%%&'*+-.^_`|~ only)", k)
				continue
			}
			if !validHeaderValue(f.Headers[k]) {
				v.add(p+".headers."+k, "holds a line break or another control character")
			}
		}
	}
	return tags
}

func (v *validator) profiles(c *Config, tags map[string]bool) {
	feedNames := make([]string, 0, len(c.Feeds))
	isFeed := map[string]bool{}
	for _, f := range c.Feeds {
		n := f.DisplayName()
		feedNames = append(feedNames, n)
		isFeed[n] = true
	}
	tagList := sortedKeys(tags)
	notifierNames := sortedKeys(c.Notifiers)

	names := map[string]int{}
	for i, pr := range c.Profiles {
		p := indexPath("profiles", i)
		switch {
		case pr.Name == "":
			v.add(p+".name", "required")
		case !validName(pr.Name):
			v.add(p+".name", "%q must match [a-z0-9_-]+ (it names the NATS subject)", pr.Name)
		case len(pr.Name) > maxNameLen:
			v.add(p+".name", "a name of %d characters: at most %d", len(pr.Name), maxNameLen)
		}
		if pr.Name != "" {
			if j, dup := names[pr.Name]; dup {
				v.add(p+".name", "duplicate profile name %q (%s has it too)", pr.Name, indexPath("profiles", j))
			} else {
				names[pr.Name] = i
			}
		}
		if strings.TrimSpace(pr.Query) == "" && len(pr.Keywords) == 0 {
			v.add(p, "a profile needs a query or keywords")
		}
		switch {
		case pr.CatchUp < 0:
			v.add(p+".catch_up", "must not be negative")
		case pr.CatchUp > 0 && !c.Archive.On():
			v.add(p+".catch_up", "needs the archive: archive.retention is 0")
		case pr.CatchUp > 0 && c.Watcher.StateRetention > 0 && pr.CatchUp > c.Watcher.StateRetention:
			// What was alerted is remembered for state_retention: older
			// matches in a longer window would alert again.
			v.add(p+".catch_up", "%s is longer than watcher.state_retention (%s): items alerted before that are no longer remembered and would alert again", pr.CatchUp, c.Watcher.StateRetention)
		}
		for j, k := range pr.Keywords {
			if strings.TrimSpace(k) == "" {
				v.add(indexPath(p+".keywords", j), "empty keyword")
			}
		}
		for j, k := range pr.Exclude {
			if strings.TrimSpace(k) == "" {
				v.add(indexPath(p+".exclude", j), "empty keyword")
			}
		}
		for j, ref := range pr.Feeds {
			rp := indexPath(p+".feeds", j)
			if tag, ok := strings.CutPrefix(ref, "tag:"); ok {
				switch {
				case tag == "":
					v.add(rp, `"tag:" needs a tag after it`)
				case !tags[tag]:
					v.add(rp, "no feed has tag %q%s", tag, didYouMean(tag, tagList))
				}
				continue
			}
			if !isFeed[ref] {
				msg := fmt.Sprintf("no feed is named %q", ref)
				if tags[ref] {
					msg += fmt.Sprintf(`; for the tag write "tag:%s"`, ref)
				} else {
					msg += didYouMean(ref, feedNames)
				}
				v.add(rp, "%s", msg)
			}
		}
		for j, ref := range pr.Notify {
			if _, ok := c.Notifiers[ref]; !ok {
				v.add(indexPath(p+".notify", j), "no notifier is named %q%s", ref, didYouMean(ref, notifierNames))
			}
		}
	}
}

// maxNameLen bounds profile and notifier names: a notifier's consumer,
// notify-<name>, may have at most 255 characters.
const maxNameLen = 200

func (v *validator) notifiers(c *Config) {
	for _, name := range sortedKeys(c.Notifiers) {
		n := c.Notifiers[name]
		p := "notifiers." + name
		if !validName(name) {
			v.add(p, "notifier name %q must match [a-z0-9_-]+ (it names the NATS consumer)", name)
		} else if len(name) > maxNameLen {
			v.add(p, "notifier name of %d characters: at most %d (it names the NATS consumer, notify-<name>, of at most 255)", len(name), maxNameLen)
		}
		switch _, known := c.channels.lookup(n.Type); {
		case n.Type == "" && len(c.channels) == 0:
			v.add(p+".type", "required")
		case n.Type == "":
			v.add(p+".type", "required: %s", c.channels.typeList(""))
		case !known && len(c.channels) > 0:
			// A Config built in code has no channels: the registry's
			// own check (notifier/build.Check) judges its type.
			v.add(p+".type", "unknown notifier type %q%s (want %s)", n.Type, didYouMean(n.Type, c.channels.types()), c.channels.typeList(""))
		}
		if n.MaxAttempts < 1 {
			v.add(p+".max_attempts", "must be at least 1")
		}
		if n.Digest < 0 {
			v.add(p+".digest", "must not be negative")
		}
		if n.Timeout < 0 {
			v.add(p+".timeout", "must not be negative")
		}
		if n.RateLimit < 0 {
			v.add(p+".rate_limit", "must not be negative")
		}
	}
}

func didYouMean(s string, known []string) string {
	if m := suggest(s, known); m != "" {
		return fmt.Sprintf(", did you mean %q?", m)
	}
	return ""
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func validHostPort(s string) bool {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 0 && n <= 65535
}

// checkNATSURLs checks a comma-separated server list without quoting it:
// it may carry user:password.
func checkNATSURLs(s string) string {
	if strings.TrimSpace(s) == "" {
		return ""
	}
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return fmt.Sprintf("server %d of the list is empty", i+1)
		}
		if !strings.Contains(part, "://") {
			if !validHostPort(part) {
				return fmt.Sprintf("server %d is neither a nats:// URL nor host:port", i+1)
			}
			continue
		}
		u, err := url.Parse(part)
		if err != nil || u.Host == "" {
			return fmt.Sprintf("server %d is not a valid URL", i+1)
		}
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			return fmt.Sprintf("server %d: want a nats://, tls://, ws:// or wss:// URL", i+1)
		}
	}
	return ""
}

// checkFeedURL accepts http(s) URLs, file:// URLs and plain paths. It never
// quotes the URL, which may carry a token.
func checkFeedURL(s string) string {
	if strings.ContainsRune(s, 0) {
		return "holds a NUL byte"
	}
	i := strings.Index(s, "://")
	if i < 0 {
		lower := strings.ToLower(s)
		for _, pre := range []string{"http:", "https:", "http//", "https//"} {
			if strings.HasPrefix(lower, pre) {
				return "malformed URL: want https://host/path"
			}
		}
		return "" // a path
	}
	scheme := strings.ToLower(s[:i])
	switch scheme {
	case "http", "https":
		u, err := url.Parse(s)
		if err != nil {
			return "not a valid URL"
		}
		if u.Host == "" {
			return "the URL has no host"
		}
	case "file":
		u, err := url.Parse(s)
		if err != nil {
			return "not a valid file:// URL"
		}
		if u.Path == "" && u.Host == "" && u.Opaque == "" {
			return "the file:// URL has no path"
		}
	default:
		if validScheme(scheme) {
			return fmt.Sprintf("scheme %q is not supported: use http(s)://, file:// or a path", scheme)
		}
		return "not a valid URL: use http(s)://, file:// or a path"
	}
	return ""
}

func validScheme(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// DisplayName returns the feed's name, or one derived from its URL: host and
// path, lower-case, runs of characters other than letters and digits as "-"
// ("https://www.example.org/world/rss" -> "example-org-world-rss"). Load
// sets Name to this, so loaded feeds always have one.
func (f Feed) DisplayName() string {
	if f.Name != "" {
		return f.Name
	}
	return nameFromURL(f.URL)
}

func nameFromURL(s string) string {
	s = strings.TrimSpace(s)
	base := s
	if i := strings.Index(s, "://"); i >= 0 {
		if u, err := url.Parse(s); err == nil {
			base = strings.TrimPrefix(u.Host, "www.") + u.Path
		} else {
			base = s[i+3:]
			if j := strings.IndexAny(base, "?#"); j >= 0 {
				base = base[:j]
			}
			if j := strings.LastIndexByte(base, '@'); j >= 0 {
				base = base[j+1:] // never user:password
			}
		}
	}
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(base) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	out := []rune(b.String())
	if len(out) > 100 {
		out = []rune(strings.TrimRight(string(out[:100]), "-"))
	}
	return string(out)
}

// secretsOf lists the secret values in a typed config, for scrubbing.
func secretsOf(c *Config) []string {
	s := []string{c.NATS.Password, c.NATS.Token}
	if u, err := url.Parse(c.NATS.URL); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok {
			s = append(s, pw)
		}
	}
	for _, f := range c.Feeds {
		for _, h := range f.Headers {
			s = append(s, h)
		}
	}
	for _, n := range c.Notifiers {
		keys, _ := c.channels.keysFor(n.Type)
		for k, val := range n.Settings {
			i := slices.IndexFunc(keys, func(nk notifierKey) bool { return nk.name == k })
			if secretKeys[k] || i >= 0 && keys[i].secret {
				if str, ok := val.(string); ok {
					s = append(s, str)
				}
			}
		}
	}
	return s
}
