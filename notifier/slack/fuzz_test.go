package slack

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier/notifiertest"
	"github.com/feedwatch/feedwatch/notifier/render"
)

// FuzzSlackMessage: whatever the feed says, the message holds exactly the
// one link we made (none for an unsafe link), no mention or command, and
// no section over Slack's limit.
func FuzzSlackMessage(f *testing.F) {
	f.Add(notifiertest.HostileTitle, "…«Xinjiang» <!here> &amp; <@U1>…", "https://news.example.org/a|b>c")
	f.Add("<!subteam^S1|@team>", "«»«a&b»", "javascript:alert(1)")
	f.Add(strings.Repeat("&", 700), strings.Repeat("<x>", 1100), "http://example.org/<>")
	s, err := New(Config{WebhookURL: "https://hooks.example.org/services/x"}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, title, snippet, link string) {
		h := render.SampleHit(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
		h.Item.Title, h.Snippet, h.Item.Link, h.Feed.Title = title, snippet, link, title
		for _, hits := range [][]hit.Hit{{h}, {h, h}} {
			blocks, text, err := s.Message(hits)
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(blocks)
			if err != nil {
				t.Fatal(err)
			}
			var p payload
			if err := json.Unmarshal([]byte(`{"blocks":`+string(b)+`}`), &p); err != nil {
				t.Fatal(err)
			}
			all := texts(t, p)
			wantLinks := 0
			if linkTarget(link) != "" {
				wantLinks = len(hits)
			}
			if n := strings.Count(strings.Join(all, "\n"), "<"); n != wantLinks {
				t.Errorf("%d '<' in the message, want %d: %q", n, wantLinks, all)
			}
			if strings.ContainsAny(text, "<>") {
				t.Errorf("fallback text not escaped: %q", text)
			}
			for _, s := range all {
				if n := utf8.RuneCountInString(s); n > MaxText {
					t.Errorf("section of %d characters", n)
				}
			}
		}
	})
}
