package daemon

import (
	"testing"

	"github.com/feedwatch/feedwatch/config"
)

// TestCheckNotifiersInPlainWords: template errors say line, column and
// what is wrong, without Go's template and type names.
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
		ps := checkNotifiers(c)
		if len(ps) != 1 || ps[0].Path != "notifiers.c.template" || ps[0].Msg != tt.want {
			t.Errorf("%q: got %v\nwant notifiers.c.template: %s", tt.tmpl, ps, tt.want)
		}
	}
}
