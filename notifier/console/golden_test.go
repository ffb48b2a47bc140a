package console

import (
	"bytes"
	"context"
	"testing"

	"github.com/feedwatch/feedwatch/notifier/notifiertest"
)

// TestGolden holds the console's output, default and templated, to
// testdata/<case>.golden and testdata/<case>.template.golden.
func TestGolden(t *testing.T) {
	for _, c := range notifiertest.GoldenCases() {
		if len(c.Hits) > 3 {
			continue // the long digest tests channel limits only
		}
		t.Run(c.Name, func(t *testing.T) {
			for suffix, tmpl := range map[string]string{
				"":          "",
				".template": "{{.Item.Title}} [{{join .Profiles \", \"}}] {{.Feed.Title}}\n{{.Snippet}}\n{{range .Matches}}{{.Field}}={{.Text}} {{end}}",
			} {
				var out bytes.Buffer
				con, err := New(&out, tmpl)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := con.Notify(context.Background(), c.Hits); err != nil {
					t.Fatal(err)
				}
				notifiertest.Golden(t, c.Name+suffix, out.Bytes())
			}
		})
	}
}
