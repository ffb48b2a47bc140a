package email

import (
	"strings"
	"testing"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier/notifiertest"
)

// FuzzEmailRender: whatever the feed says, the HTML part runs nothing and
// loads nothing, and the subject stays one line.
func FuzzEmailRender(f *testing.F) {
	f.Add(notifiertest.HostileTitle, notifiertest.HostileSummary, "…«Xinjiang» <script>…", "javascript:alert(1)")
	f.Add("a\r\nBcc: x@y", `<a href="jav&#x09;ascript:alert(1)">x</a><svg onload=alert(1)>`, "«<img src=x onerror=alert(1)>»", "https://example.org/\"onmouseover=\"x")
	f.Add("", `<style>@import url(https://evil.example/x.css)</style><div style="background:url(https://t.example/p)">x</div>`, "", "data:text/html,<script>1</script>")
	e, err := New(Config{Host: "127.0.0.1", TLS: TLSNone, From: "a@example.org", To: []string{"b@example.org"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, title, summary, snippet, link string) {
		h := sampleHit()
		h.Item.Title, h.Item.Summary, h.Snippet, h.Item.Link, h.Feed.Title = title, summary, snippet, link, title
		h2 := h
		h2.Snippet = ""
		for _, hits := range [][]hit.Hit{{h}, {h2}, {h, h2}} {
			subject, _, out, err := e.Render(hits)
			if err != nil {
				t.Fatal(err)
			}
			if msg := dangerous(out); msg != "" {
				t.Errorf("%s in %q", msg, out)
			}
			if strings.ContainsAny(subject, "\r\n\x00") {
				t.Errorf("subject %q", subject)
			}
		}
	})
}
