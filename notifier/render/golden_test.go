package render_test

import (
	"strings"
	"testing"

	"github.com/feedwatch/feedwatch/notifier/notifiertest"
	"github.com/feedwatch/feedwatch/notifier/render"
)

// TestGoldenBlock holds the plain-text block (console, email text part,
// send-test) to testdata/<case>.golden: each hit's Block, then the
// one-line title, meta and profile label the channels build on.
func TestGoldenBlock(t *testing.T) {
	for _, c := range notifiertest.GoldenCases() {
		if len(c.Hits) > 3 {
			continue // the long digest tests channel limits only
		}
		t.Run(c.Name, func(t *testing.T) {
			var b strings.Builder
			for i, h := range c.Hits {
				if i > 0 {
					b.WriteString("----\n")
				}
				b.WriteString(render.Block(h))
				b.WriteString("== title: " + render.Title(h) + "\n")
				b.WriteString("== meta: " + render.Meta(h) + "\n")
				b.WriteString("== profiles: " + render.ProfileLabel(h) + "\n")
				b.WriteString("== link: " + render.SafeLink(h.Item.Link) + "\n")
			}
			notifiertest.Golden(t, c.Name, []byte(b.String()))
		})
	}
}
