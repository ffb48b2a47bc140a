// Package console writes hits to a terminal or log stream, one readable
// block per hit. Control characters from feeds are stripped so a title
// cannot move the cursor or send escape sequences.
package console

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/template"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier"
	"github.com/feedwatch/feedwatch/notifier/render"
)

// Type is the console's notifier type in the config file.
const Type = "console"

// Settings: the console takes no keys besides the common ones.
type Settings struct{}

// Spec describes the console to the notifier registry.
func Spec() notifier.Spec[Settings] {
	return notifier.Spec[Settings]{
		Type: Type,
		// One at a time, so hits print in order.
		InFlight: 1,
		Check: func(_ Settings, c notifier.Common) []notifier.FieldError {
			if c.Template == "" {
				return nil
			}
			return notifier.Field("template", CheckTemplate(c.Template))
		},
		New: func(_ Settings, c notifier.Common, env notifier.Env) (notifier.Notifier, error) {
			return New(env.Out, c.Template)
		},
	}
}

// Console prints hits to one writer.
type Console struct {
	mu   sync.Mutex
	w    io.Writer
	tmpl *template.Template
}

var _ notifier.Notifier = (*Console)(nil)

// New builds the channel; tmpl, when not "", renders each hit (the hit,
// cleaned of control characters, is its data).
func New(w io.Writer, tmpl string) (*Console, error) {
	c := &Console{w: w}
	if tmpl != "" {
		t, err := parseTemplate(tmpl)
		if err != nil {
			return nil, fmt.Errorf("template: %w", err)
		}
		c.tmpl = t
	}
	return c, nil
}

func parseTemplate(text string) (*template.Template, error) {
	return render.ParseChecked(text, nil)
}

// CheckTemplate parses a template and renders it on the sample hit.
func CheckTemplate(text string) error {
	_, err := parseTemplate(text)
	return err
}

// Notify writes one block per hit in a single write, so concurrent
// engines do not interleave lines.
func (c *Console) Notify(_ context.Context, hits []hit.Hit) (bool, error) {
	var b strings.Builder
	for _, h := range hits {
		if c.tmpl != nil {
			s, err := render.Execute(c.tmpl, render.Clean(h))
			if err != nil {
				return false, fmt.Errorf("console: render template: %w", err)
			}
			b.WriteString(render.StripControl(s))
			if !strings.HasSuffix(s, "\n") {
				b.WriteByte('\n')
			}
			continue
		}
		fmt.Fprintf(&b, "== hit %s ==\n", render.Profiles(h))
		b.WriteString(render.Block(h))
		b.WriteByte('\n')
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := io.WriteString(c.w, b.String()); err != nil {
		return true, fmt.Errorf("console: write: %w", err)
	}
	return false, nil
}
