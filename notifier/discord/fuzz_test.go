package discord

import (
	"encoding/json"
	"testing"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier/render"
)

// FuzzDiscordMessage: whatever the feed says, the payload is valid JSON
// within Discord's limits, nobody can be pinged, no feed character is
// left unescaped, and the embed links to the item's safe link or nowhere.
func FuzzDiscordMessage(f *testing.F) {
	f.Add("@everyone **x**", "…«Xinjiang» [a](https://evil.example)…", "https://news.example.org/a")
	d, err := New(Config{WebhookURL: "https://discord.com/api/webhooks/1/tok"}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, title, snippet, link string) {
		h := sample()
		h.Item.Title, h.Snippet, h.Item.Link, h.Feed.Title = title, snippet, link, title
		h.Profiles = []string{"xinjiang", title}
		for _, hits := range [][]hit.Hit{{h}, {h, h, h, h, h, h, h, h, h, h, h, h}} {
			p, err := d.Payload(hits)
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			checkLimits(t, payload(t, b))
			checkInert(t, p)
			if want := linkTarget(render.OneLineVisible(link)); p.Embeds[0].URL != want {
				t.Errorf("url = %q, want %q", p.Embeds[0].URL, want)
			}
		}
	})
}
