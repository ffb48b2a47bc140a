package build

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/notifier"
	"github.com/feedwatch/feedwatch/notifier/console"
	"github.com/feedwatch/feedwatch/notifier/discord"
	"github.com/feedwatch/feedwatch/notifier/email"
	"github.com/feedwatch/feedwatch/notifier/matrix"
	"github.com/feedwatch/feedwatch/notifier/mattermost"
	"github.com/feedwatch/feedwatch/notifier/ntfy"
	"github.com/feedwatch/feedwatch/notifier/slack"
	"github.com/feedwatch/feedwatch/notifier/teams"
	"github.com/feedwatch/feedwatch/notifier/telegram"
	"github.com/feedwatch/feedwatch/notifier/webhook"
)

// TestCheckNotifiersInPlainWords: template errors say line, column and
// what is wrong, without Go's template and type names, at the key's path.
func TestCheckNotifiersInPlainWords(t *testing.T) {
	tests := []struct {
		tmpl, want string
	}{
		{"{{.Nope}}", "line 1, column 2, at {{.Nope}}: no field Nope there (a template sees the hit: .Profile, .Item.Title, .Item.Link, .Snippet, …)"},
		{"x\n{{.Item.Nope}}", "line 2, column 7, at {{.Item.Nope}}: no field Nope there (a template sees the hit: .Profile, .Item.Title, .Item.Link, .Snippet, …)"},
		{"{{.Item.Title}", "line 1: bad character U+007D '}'"},
		{"{{.Item.Title | nope}}", `line 1: function "nope" not defined`},
	}
	for _, tt := range tests {
		c := &config.Config{Notifiers: map[string]config.Notifier{"c": {Type: "console", Template: tt.tmpl}}}
		ps := Problems(c)
		if len(ps) != 1 || ps[0].Path != "notifiers.c.template" || ps[0].Msg != tt.want {
			t.Errorf("%q: got %v\nwant notifiers.c.template: %s", tt.tmpl, ps, tt.want)
		}
	}
}

// TestProblemsCarryKeyPaths: each channel's problem lands on its key,
// nested ones too, as data rather than parsed back out of the message.
func TestProblemsCarryKeyPaths(t *testing.T) {
	c := &config.Config{Notifiers: map[string]config.Notifier{
		"me": {Type: "email", Settings: map[string]any{"host": "h", "from": "a@b.c", "to": []any{"d@e.f", "not: an address"}, "port": 70000}},
		"c":  {Type: "console", Timeout: config.Duration(time.Second)},
	}}
	got := map[string]string{}
	for _, p := range Problems(c) {
		got[p.Path] = p.Msg
	}
	want := map[string]string{
		"notifiers.me.port":   "not a port number",
		"notifiers.me.to[1]":  `not an email address: "not: an address" (want me@example.org or "Name <me@example.org>")`,
		"notifiers.c.timeout": "not used by type console",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

// TestRegistry: every channel has a distinct type, documents exactly the
// keys of its settings, and sends at least one at a time.
func TestRegistry(t *testing.T) {
	seen := map[string]bool{}
	for _, ch := range channels() {
		if ch.typ == "" || seen[ch.typ] {
			t.Errorf("type %q empty or registered twice", ch.typ)
		}
		seen[ch.typ] = true
		if ch.inFlight < 1 {
			t.Errorf("%s: in flight %d", ch.typ, ch.inFlight)
		}
		for _, k := range ch.keys {
			if k.Doc == "" {
				t.Errorf("%s: key %s has no doc", ch.typ, k.Name)
			}
		}
	}
	docs := map[string]map[string]notifier.KeyDoc{
		console.Type: console.Spec().Keys, slack.Type: slack.Spec().Keys,
		email.Type: email.Spec().Keys, webhook.Type: webhook.Spec().Keys,
		ntfy.Type: ntfy.Spec().Keys, discord.Type: discord.Spec().Keys, teams.Type: teams.Spec().Keys,
	}
	docs[telegram.Type] = telegram.Spec().Keys
	docs[matrix.Type] = matrix.Spec().Keys
	docs[mattermost.Type] = mattermost.Spec().Keys
	for _, ch := range channels() {
		for name := range docs[ch.typ] {
			if !slices.ContainsFunc(ch.keys, func(k config.ChannelKey) bool { return k.Name == name }) {
				t.Errorf("%s documents %q, which its settings lack", ch.typ, name)
			}
		}
	}
	if len(docs) != len(channels()) {
		t.Errorf("this test knows %d channels, the registry %d", len(docs), len(channels()))
	}
}

// TestDefaultsFromTheRegistry: what the daemon asks of a channel type.
func TestDefaultsFromTheRegistry(t *testing.T) {
	for typ, want := range map[string]int{"console": 1, "slack": 1, "email": 4, "webhook": 4, "pager": 1} {
		if got := InFlight(config.Notifier{Type: typ}); got != want {
			t.Errorf("InFlight(%s) = %d, want %d", typ, got, want)
		}
	}
}
