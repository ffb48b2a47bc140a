package telegram

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier/notifiertest"
)

// FuzzTelegramText: whatever the feed says, an HTML message is HTML the Bot
// API takes, holds no link but the item's, mentions nobody and stays
// within MaxText; a text message too stays within the limit.
func FuzzTelegramText(f *testing.F) {
	f.Add(notifiertest.HostileTitle, "…«Xinjiang» <b> &amp; @everyone…", "https://news.example.org/a?b=1&c=\"2\"")
	f.Add("@room", "«»«a&b»", "javascript:alert(1)")
	html, err := New(Config{Settings: Settings{Token: botToken, ChatID: chatID}}, nil)
	if err != nil {
		f.Fatal(err)
	}
	text, err := New(Config{Settings: Settings{Token: botToken, ChatID: chatID, ParseMode: ModeText}}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, title, snippet, link string) {
		h := sample()
		h.Item.Title, h.Snippet, h.Item.Link, h.Feed.Title = title, snippet, link, title
		for _, hits := range [][]hit.Hit{{h}, {h, h, h}} {
			msg, err := html.Text(hits)
			if err != nil {
				t.Fatal(err)
			}
			shown, ok := visible(msg)
			if !ok {
				t.Fatalf("not Telegram HTML: %q", msg)
			}
			if n := len16(shown); n > MaxText {
				t.Errorf("%d UTF-16 units shown", n)
			}
			if n := strings.Count(msg, "<a "); n > len(hits) {
				t.Errorf("%d links for %d hits: %q", n, len(hits), msg)
			}
			for _, m := range notifiertest.Mentions {
				if strings.Contains(shown, m) {
					t.Errorf("mentions %s: %q", m, shown)
				}
			}
			plain, err := text.Text(hits)
			if err != nil {
				t.Fatal(err)
			}
			if n := len16(plain); n > MaxText || !utf8.ValidString(plain) {
				t.Errorf("text message of %d UTF-16 units (valid UTF-8: %v)", n, utf8.ValidString(plain))
			}
			body, err := html.Body(hits)
			if err != nil || !json.Valid(body) {
				t.Fatalf("body: %v", err)
			}
		}
	})
}
