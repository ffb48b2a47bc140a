package notifiertest

import (
	"strings"
	"time"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier/render"
)

// Mentions are the words chat services turn into pings of many people.
var Mentions = []string{"@room", "@channel", "@everyone", "@here", "@all"}

// ChatHostileHit is a hit whose feed text tries everything a chat message
// must not do: mention a room or a user, inject markdown and HTML, forge
// links (markdown, HTML, Slack/Mattermost <url|label>), hide text with
// zero-width characters and reverse it with a right-to-left override.
func ChatHostileHit() hit.Hit {
	h := render.SampleHit(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
	h.Item.Title = "@room @everyone Xinjiang [bank login](https://evil.example/login) <b>x</b> \u202egnp.exe\u202c pay\u200bpal"
	h.Feed.Title = "Evil @here Feed <https://evil.example|Reuters> **bold**"
	h.Snippet = "…«Xinjiang» @channel @all @someuser <a href=\"https://evil.example\">Reuters</a> " +
		"[Reuters](https://evil.example) <https://evil.example|Reuters> `code` *b* _i_ ~~s~~ # heading\n> quote\n" +
		"|a|b|\n|-|-|\n\u200b@\u200beveryone &lt;tag&gt; &amp;…"
	h.Item.Summary = "<script>alert(1)</script> @room"
	return h
}

// LongHit is a hit with a title and snippet far past any chat limit.
func LongHit() hit.Hit {
	h := render.SampleHit(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
	h.Item.Title = strings.Repeat("Very long Xinjiang title ", 400)
	h.Snippet = strings.Repeat("…«Xinjiang» and a snippet & <stuff> that goes on ", 2000)
	return h
}
