package ntfy

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier/render"
)

// FuzzNtfyMessage: whatever the feed says, the message is valid JSON in
// ntfy's limits, the title one line, the click URL the item's safe link or
// none, and no override or invisible character survives.
func FuzzNtfyMessage(f *testing.F) {
	f.Add("@everyone **x**", "…«Xinjiang» [a](https://evil.example)…", "https://news.example.org/a")
	n, err := New(Config{Topic: "t0pic"}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, title, snippet, link string) {
		h := sample()
		h.Item.Title, h.Snippet, h.Item.Link, h.Feed.Title = title, snippet, link, title
		for _, hits := range [][]hit.Hit{{h}, {h, h, h}} {
			m, err := n.Message(hits)
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(m)
			if err != nil || !json.Valid(b) {
				t.Fatalf("marshal: %v", err)
			}
			if c := utf8.RuneCountInString(m.Title); c > MaxTitle || strings.ContainsAny(m.Title, "\r\n") {
				t.Errorf("title of %d characters: %q", c, m.Title)
			}
			if len(m.Message) > MaxMessage || !utf8.ValidString(m.Message) {
				t.Errorf("message of %d bytes, valid UTF-8 %v", len(m.Message), utf8.ValidString(m.Message))
			}
			want := ""
			if len(hits) == 1 {
				want = render.SafeLink(render.OneLineVisible(link))
			}
			if m.Click != want {
				t.Errorf("click = %q, want %q", m.Click, want)
			}
			// The link is shown whole or not at all, never cut.
			if l := render.SafeLink(render.OneLineVisible(link)); l != "" {
				if len(hits) == 1 && len(l) < MaxMessage/2 && !strings.HasSuffix(m.Message, "\n\n"+l) {
					t.Errorf("message does not end with the whole link")
				}
				if len(hits) > 1 && len(l) < MaxMessage/4 && !strings.Contains(m.Message, "\n"+l+"\n") {
					t.Errorf("digest lacks the whole link")
				}
			}
			if m.Markdown {
				t.Error("markdown on")
			}
			if strings.ContainsAny(m.Title+m.Message, "\u202e\u202d\u2066\u2067\u2068\u200b\u2060\ufeff\x00\x1b") {
				t.Errorf("an override, invisible or control character survived: %q %q", m.Title, m.Message)
			}
		}
	})
}
