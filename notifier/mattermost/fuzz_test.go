package mattermost

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier/notifiertest"
)

// FuzzMattermostText: whatever the feed says, the message mentions nobody,
// holds no tag and no link but the items', and stays within MaxText.
func FuzzMattermostText(f *testing.F) {
	f.Add(notifiertest.HostileTitle, "…«Xinjiang» [x](https://evil) @channel \\[…", "https://news.example.org/a_(b)?c=1")
	f.Add("@all", "«»«a&b» \\", "javascript:alert(1)")
	m, err := New(Config{WebhookURL: "https://chat.example.org" + hookPath}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, title, snippet, link string) {
		h := sample()
		h.Item.Title, h.Snippet, h.Item.Link, h.Feed.Title = title, snippet, link, title
		for _, hits := range [][]hit.Hit{{h}, {h, h, h}} {
			text, err := m.Text(hits)
			if err != nil {
				t.Fatal(err)
			}
			if n := utf8.RuneCountInString(text); n > MaxText {
				t.Errorf("%d characters", n)
			}
			if strings.ContainsAny(text, "<>") {
				t.Errorf("holds < or >: %q", text)
			}
			for _, mention := range notifiertest.Mentions {
				if strings.Contains(text, mention) {
					t.Errorf("mentions %s: %q", mention, text)
				}
			}
			open := 0
			for i := 0; i < len(text); i++ {
				switch text[i] {
				case '\\':
					i++
				case '[':
					open++
				}
			}
			if open > len(hits) {
				t.Errorf("%d unescaped [ for %d hits: %q", open, len(hits), text)
			}
		}
	})
}
