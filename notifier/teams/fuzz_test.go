package teams

import (
	"testing"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier/render"
)

// FuzzTeamsMessage: whatever the feed says, the card has the documented
// shape within Teams' size, feed text only in plain TextRuns, and links
// only to the item's safe link.
func FuzzTeamsMessage(f *testing.F) {
	f.Add("@everyone **x**", "…«Xinjiang» [a](https://evil.example)…", "https://news.example.org/a")
	tm, err := New(Config{WebhookURL: "https://prod-00.westeurope.logic.azure.com/workflows/x?sig=abcd"}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, title, snippet, link string) {
		h := sample()
		h.Item.Title, h.Snippet, h.Item.Link, h.Feed.Title = title, snippet, link, title
		h.Profiles = []string{"xinjiang", title}
		want := render.SafeLink(render.OneLineVisible(link))
		if len(want) > maxLink {
			want = ""
		}
		for _, hits := range [][]hit.Hit{{h}, {h, h, h}} {
			m, err := tm.Message(hits)
			if err != nil {
				t.Fatal(err)
			}
			b, err := Encode(m)
			if err != nil {
				t.Fatal(err)
			}
			c := decodeCard(t, b)
			checkCard(t, c)
			for _, u := range c.urls {
				if u != want {
					t.Errorf("url %q, want %q", u, want)
				}
			}
		}
	})
}
