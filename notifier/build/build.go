// Package build is the notifier registry: the one table of channel types,
// which turns a configured notifier into its channel, checks a notifier's
// settings without connecting anywhere, and tells config validation and
// the daemon each channel's keys and defaults.
//
// A channel is one package under notifier/ exporting Spec() (its settings
// struct, their docs, defaults, validation and constructor) and one line
// in channels below.
package build

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"

	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier"
	"github.com/feedwatch/feedwatch/notifier/console"
	"github.com/feedwatch/feedwatch/notifier/discord"
	"github.com/feedwatch/feedwatch/notifier/email"
	"github.com/feedwatch/feedwatch/notifier/matrix"
	"github.com/feedwatch/feedwatch/notifier/mattermost"
	"github.com/feedwatch/feedwatch/notifier/ntfy"
	"github.com/feedwatch/feedwatch/notifier/render"
	"github.com/feedwatch/feedwatch/notifier/slack"
	"github.com/feedwatch/feedwatch/notifier/teams"
	"github.com/feedwatch/feedwatch/notifier/telegram"
	"github.com/feedwatch/feedwatch/notifier/webhook"
)

// channels is the registry: every notifier type, in the order messages and
// the config reference list them. A new channel is its package and one
// line here. It is built on each call, so nothing can change it.
func channels() []channel {
	return []channel{
		register(console.Spec()),
		register(slack.Spec()),
		register(email.Spec()),
		register(webhook.Spec()),
		register(telegram.Spec()),
		register(matrix.Spec()),
		register(mattermost.Spec()),
		register(ntfy.Spec()),
		register(discord.Spec()),
		register(teams.Spec()),
	}
}

// channel is one notifier type with its settings type erased.
type channel struct {
	typ       string
	keys      []config.ChannelKey
	inFlight  int
	rateLimit float64
	timeout   time.Duration
	check     func(config.Notifier) []notifier.FieldError
	build     func(config.Notifier, notifier.Env) (notifier.Notifier, error)
}

// register turns a channel's Spec into its registry entry: Settings keys
// decode into S, Defaults fill it, Check and New take it.
func register[S any](spec notifier.Spec[S]) channel {
	ch := channel{typ: spec.Type, inFlight: max(spec.InFlight, 1), rateLimit: spec.RateLimit, timeout: spec.Timeout}
	t := reflect.TypeFor[S]()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		d := spec.Keys[name]
		ch.keys = append(ch.keys, config.ChannelKey{Name: name, Type: f.Type, Doc: d.Doc, Default: d.Default, Secret: d.Secret})
	}
	settings := func(n config.Notifier) (S, []notifier.FieldError) {
		var s S
		var errs []notifier.FieldError
		for _, k := range slices.Sorted(maps.Keys(n.Settings)) {
			if !slices.ContainsFunc(ch.keys, func(ck config.ChannelKey) bool { return ck.Name == k }) {
				// Usually a key meant for another type (url on slack).
				errs = append(errs, notifier.FieldError{Key: k, Msg: "not used by type " + spec.Type})
				continue
			}
			// One key at a time, so a failure names its key and never
			// quotes the value (it may be a secret).
			if err := decode(k, n.Settings[k], &s); err != nil {
				errs = append(errs, notifier.FieldError{Key: k, Msg: "cannot decode this value"})
			}
		}
		if spec.Defaults != nil {
			spec.Defaults(&s)
		}
		return s, errs
	}
	common := func(n config.Notifier) notifier.Common {
		return notifier.Common{Template: n.Template, Timeout: n.Timeout.D()}
	}
	ch.check = func(n config.Notifier) []notifier.FieldError {
		s, unused := settings(n)
		errs := spec.Check(s, common(n))
		errs = append(errs, unused...)
		if spec.Timeout == 0 && n.Timeout != 0 {
			errs = append(errs, notifier.FieldError{Key: "timeout", Msg: "not used by type " + spec.Type})
		}
		return errs
	}
	ch.build = func(n config.Notifier, env notifier.Env) (notifier.Notifier, error) {
		s, _ := settings(n)
		return spec.New(s, common(n), env)
	}
	return ch
}

// decode sets key k of the settings s points to. A number given for a
// string key is taken as its decimal text: YAML reads chat_id: -100123 as a
// number, an environment variable gives the same value as a string.
func decode(k string, v any, s any) error {
	d, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		Result: s,
		DecodeHook: func(from, to reflect.Type, v any) (any, error) {
			if to.Kind() != reflect.String {
				return v, nil
			}
			switch from.Kind() {
			case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
				reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
				return fmt.Sprint(v), nil
			}
			return v, nil
		},
	})
	if err != nil {
		return err
	}
	return d.Decode(map[string]any{k: v})
}

func lookup(typ string) (channel, bool) {
	chs := channels()
	i := slices.IndexFunc(chs, func(c channel) bool { return c.typ == typ })
	if i < 0 {
		return channel{}, false
	}
	return chs[i], true
}

// typeList is "console, slack, email or webhook".
func typeList() string {
	chs := channels()
	names := make([]string, len(chs))
	for i, c := range chs {
		names[i] = c.typ
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// Channels describes every notifier type to config (config.WithChannels):
// its own keys, their types and docs, and its defaults.
func Channels() []config.Channel {
	var out []config.Channel
	for _, c := range channels() {
		out = append(out, config.Channel{Type: c.typ, Keys: c.keys, RateLimit: c.rateLimit, Timeout: c.timeout})
	}
	return out
}

// New builds the channel for one configured notifier. out is where console
// writes (os.Stdout in production); client is shared by HTTP channels (nil:
// a new one). Errors name the notifier and never hold a secret.
func New(name string, cfg config.Notifier, out io.Writer, client *http.Client) (notifier.Notifier, error) {
	if errs := Check(cfg); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, err := range errs {
			msgs[i] = err.Error()
		}
		return nil, fmt.Errorf("notifier %q: %s", name, strings.Join(msgs, "; "))
	}
	ch, _ := lookup(cfg.Type) // Check accepted the type
	n, err := ch.build(cfg, notifier.Env{Out: out, Client: client, Name: name})
	if err != nil {
		return nil, fmt.Errorf("notifier %q: %w", name, err)
	}
	return n, nil
}

// RateLimit is the messages per second the engine should allow: the
// configured rate_limit, else the channel's default (Slack: 1/s; others
// unlimited).
func RateLimit(cfg config.Notifier) float64 {
	if cfg.RateLimit > 0 {
		return cfg.RateLimit
	}
	ch, _ := lookup(cfg.Type)
	return ch.rateLimit
}

// InFlight is how many sends the engine runs at once for a notifier: the
// channel's choice (1 for an unknown type).
func InFlight(cfg config.Notifier) int {
	ch, ok := lookup(cfg.Type)
	if !ok {
		return 1
	}
	return ch.inFlight
}

// SampleHit is the hit send-test and template checks use.
func SampleHit(now time.Time) hit.Hit {
	return render.SampleHit(now)
}

// TestMarker starts the title of the hit send-test delivers.
const TestMarker = "[feedwatch test] "

// TestHit is the hit send-test delivers: the sample hit, marked as a test in
// its title (so in an email subject, a Slack message's link, a console
// line) and in its snippet and summary, so that nobody who receives it
// takes it for an alert.
func TestHit(now time.Time) hit.Hit {
	h := render.SampleHit(now)
	const note = "This is a test message from feedwatch send-test, not an alert: no feed published this item. "
	h.Item.Title = TestMarker + h.Item.Title
	h.Item.Summary = note + h.Item.Summary
	h.Snippet = note + h.Snippet
	// Its own id each time: a channel that deduplicates by hit id (Matrix
	// transaction ids) must not swallow a second send-test.
	h.ID = hit.ID(h.Profile, "send-test\x00"+now.UTC().Format(time.RFC3339Nano))
	return h
}

// Check validates one notifier config: the type is known, the common
// numbers are not negative, and the channel accepts its settings (required
// fields set and well formed, no key of another type, templates render on
// the sample hit). Each error carries its key, relative to the notifier;
// none quotes a secret.
func Check(cfg config.Notifier) []notifier.FieldError {
	var errs []notifier.FieldError
	add := func(key, msg string) { errs = append(errs, notifier.FieldError{Key: key, Msg: msg}) }
	if cfg.MaxAttempts < 0 {
		add("max_attempts", fmt.Sprintf("%d is negative", cfg.MaxAttempts))
	}
	if cfg.Digest < 0 {
		add("digest", "negative duration")
	}
	if cfg.RateLimit < 0 {
		add("rate_limit", fmt.Sprintf("%v is negative", cfg.RateLimit))
	}
	if cfg.Timeout < 0 {
		add("timeout", "negative duration")
	}
	ch, ok := lookup(cfg.Type)
	switch {
	case cfg.Type == "":
		add("type", "required ("+typeList()+")")
		return errs
	case !ok:
		add("type", fmt.Sprintf("unknown notifier type %q (want %s)", cfg.Type, typeList()))
		return errs
	}
	return append(errs, ch.check(cfg)...)
}

// Problems is what each configured notifier's channel finds wrong with its
// settings, at the key's path ("notifiers.me.to[1]"), template errors in
// plain words; pass it to config.WithChecks.
func Problems(c *config.Config) []config.Problem {
	var out []config.Problem
	for _, name := range slices.Sorted(maps.Keys(c.Notifiers)) {
		for _, fe := range Check(c.Notifiers[name]) {
			p := config.Problem{Path: "notifiers." + name, Msg: fe.Msg}
			if fe.Key != "" {
				p.Path += "." + fe.Key
			}
			if strings.HasSuffix(fe.Key, "template") {
				p.Msg = plainTemplateError(fe.Msg)
			}
			out = append(out, p)
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
