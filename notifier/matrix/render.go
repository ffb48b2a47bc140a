package matrix

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"strings"
	"text/template"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier/render"
)

const (
	maxTitle = 250
	// maxSnippet bounds one hit's body text; a digest cuts each to
	// maxDigestSnippet.
	maxSnippet       = 2000
	maxDigestSnippet = 300
	// maxContent keeps body and formatted_body together well under the
	// 65,536 bytes a homeserver takes for a whole event.
	maxContent = 48 << 10
)

// Content is an m.room.message event's content as sent.
type Content struct {
	MsgType       string   `json:"msgtype"`
	Body          string   `json:"body"`
	Format        string   `json:"format"`
	FormattedBody string   `json:"formatted_body"`
	Mentions      Mentions `json:"m.mentions"`
}

// Mentions is the event's intentional mentions: none, always.
type Mentions struct{}

// feedLine is one-line feed text made harmless: control and invisible
// characters gone, mentions broken.
func feedLine(s string) string { return render.Unmention(render.OneLine(s)) }

// feedText is multi-line feed text made harmless.
func feedText(s string) string { return render.Unmention(render.StripControl(s)) }

func esc(s string) string { return html.EscapeString(s) }

// part is a piece of the message as plain body and as HTML.
type part struct{ plain, html string }

// Body is the event content for hits, as JSON.
func (m *Matrix) Body(hits []hit.Hit) ([]byte, error) {
	c, err := m.Content(hits)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	return bytes.TrimSpace(b.Bytes()), nil
}

// Content is the m.notice for hits: one hit, or a digest that lists as
// many as fit and counts the rest.
func (m *Matrix) Content(hits []hit.Hit) (Content, error) {
	var out part
	if len(hits) == 1 {
		e, err := m.entry(hits[0], maxSnippet)
		if err != nil {
			return Content{}, err
		}
		out = e
	} else {
		head := fmt.Sprintf("%d new hits", len(hits))
		out = part{head, "<b>" + head + "</b>"}
		for i, h := range hits {
			e, err := m.entry(h, maxDigestSnippet)
			if err != nil {
				return Content{}, err
			}
			if len(out.plain)+len(out.html)+len(e.plain)+len(e.html) > maxContent {
				more := fmt.Sprintf("…and %d more", len(hits)-i)
				out.plain += "\n\n" + more
				out.html += "<p>" + more + "</p>"
				break
			}
			out.plain += "\n\n" + e.plain
			out.html += e.html
		}
	}
	return Content{
		MsgType: "m.notice", Body: out.plain,
		Format: "org.matrix.custom.html", FormattedBody: out.html,
	}, nil
}

// entry is one hit: the title (linked in HTML, the link on its own line in
// the body), the profile/feed/date line and the snippet or template text.
func (m *Matrix) entry(h hit.Hit, n int) (part, error) {
	title := render.Truncate(maxTitle, feedLine(render.Title(h)))
	link := render.ChatLink(h.Item.Link)
	meta := render.Truncate(500, feedLine(render.Meta(h)))
	var p part
	if link != "" {
		p.plain = title + "\n" + link + "\n" + meta
		p.html = `<p><b><a href="` + esc(link) + `">` + esc(title) + "</a></b><br><i>" + esc(meta) + "</i>"
	} else {
		p.plain = title + "\n" + meta
		p.html = "<p><b>" + esc(title) + "</b><br><i>" + esc(meta) + "</i>"
	}
	body, err := m.body(h, n)
	if err != nil {
		return part{}, err
	}
	if body.plain != "" {
		p.plain += "\n\n" + body.plain
		p.html += "<br>" + body.html
	}
	p.html += "</p>"
	return p, nil
}

// body is the snippet (matched words bold in HTML), else the summary's
// start, or the template's output, cut to n characters.
func (m *Matrix) body(h hit.Hit, n int) (part, error) {
	if m.tmpl != nil {
		out, err := render.Execute(m.tmpl, templateData(h))
		if err != nil {
			return part{}, fmt.Errorf("render template: %w", err)
		}
		out = render.Truncate(n, strings.TrimSpace(out))
		return part{out, lines(esc(out))}, nil
	}
	raw := strings.TrimSpace(feedText(h.Snippet))
	if raw == "" {
		raw = strings.TrimSpace(render.Truncate(500, feedText(h.Item.Summary)))
	}
	raw = render.Truncate(n, raw)
	return part{raw, lines(render.Markers(esc(raw), "<b>", "</b>"))}, nil
}

func lines(s string) string { return strings.ReplaceAll(s, "\n", "<br>") }

// templateData is the hit as a template sees it: plain text, mentions
// broken, the link http(s) only.
func templateData(h hit.Hit) hit.Hit {
	link := render.ChatLink(h.Item.Link)
	h = render.MapText(h, feedLine, feedText)
	h.Item.Link = link
	return h
}

func parseTemplate(text string) (*template.Template, error) {
	return render.ParseChecked(text, func(h hit.Hit) any { return templateData(h) })
}

// CheckTemplate parses a body template and renders it on the sample hit.
func CheckTemplate(text string) error {
	_, err := parseTemplate(text)
	return err
}
