package matrix

import (
	"encoding/json"
	"strings"
	"testing"

	xhtml "golang.org/x/net/html"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier/notifiertest"
)

// validHTML reports formatted_body made only of the tags this package
// writes, balanced, with http(s) links.
func validHTML(s string) bool {
	z := xhtml.NewTokenizer(strings.NewReader(s))
	var open []string
	for {
		switch z.Next() {
		case xhtml.ErrorToken:
			return len(open) == 0
		case xhtml.TextToken:
			if strings.ContainsAny(string(z.Raw()), "<>") {
				return false
			}
		case xhtml.StartTagToken:
			tok := z.Token()
			switch tok.Data {
			case "br":
				continue
			case "b", "i", "p":
				if len(tok.Attr) != 0 {
					return false
				}
			case "a":
				if len(tok.Attr) != 1 || tok.Attr[0].Key != "href" || !(strings.HasPrefix(tok.Attr[0].Val, "https://") || strings.HasPrefix(tok.Attr[0].Val, "http://")) {
					return false
				}
			default:
				return false
			}
			open = append(open, tok.Data)
		case xhtml.EndTagToken:
			tok := z.Token()
			if len(open) == 0 || open[len(open)-1] != tok.Data {
				return false
			}
			open = open[:len(open)-1]
		default:
			return false
		}
	}
}

// FuzzMatrixContent: whatever the feed says, the event is JSON with only
// this package's markup, at most the items' links, no mention, and under
// the event size limit.
func FuzzMatrixContent(f *testing.F) {
	f.Add(notifiertest.HostileTitle, "…«Xinjiang» <b> &amp; @room…", "https://news.example.org/a?b=1&c=\"2\"")
	f.Add("@room", "«»«a&b»", "javascript:alert(1)")
	m, err := New(Config{Settings: Settings{Homeserver: "https://hs.example.org", AccessToken: accessToken, RoomID: roomID}}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, title, snippet, link string) {
		h := sample()
		h.Item.Title, h.Snippet, h.Item.Link, h.Feed.Title = title, snippet, link, title
		for _, hits := range [][]hit.Hit{{h}, {h, h, h}} {
			b, err := m.Body(hits)
			if err != nil {
				t.Fatal(err)
			}
			var c Content
			if err := json.Unmarshal(b, &c); err != nil {
				t.Fatal(err)
			}
			if !validHTML(c.FormattedBody) {
				t.Fatalf("formatted_body: %q", c.FormattedBody)
			}
			if n := strings.Count(c.FormattedBody, "<a "); n > len(hits) {
				t.Errorf("%d links", n)
			}
			for _, s := range []string{c.Body, c.FormattedBody} {
				for _, mention := range notifiertest.Mentions {
					if strings.Contains(s, mention) {
						t.Errorf("mentions %s: %q", mention, s)
					}
				}
			}
			if len(b) > 60000 {
				t.Errorf("%d bytes", len(b))
			}
		}
	})
}
