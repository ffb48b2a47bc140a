package telegram

import (
	"fmt"
	"html"
	"regexp"
	"strings"
	"text/template"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	xhtml "golang.org/x/net/html"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier/render"
)

// Escape makes text inert in Telegram HTML: exactly &, < and > (and " for
// attribute values), as the Bot API documents.
func Escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// feedLine is one-line feed text made harmless: control and invisible
// characters gone, mentions broken.
func feedLine(s string) string { return render.Unmention(render.OneLine(s)) }

// feedText is multi-line feed text made harmless.
func feedText(s string) string { return render.Unmention(render.StripControl(s)) }

// message is a message built as sent (Telegram HTML, or plain text) and as
// Telegram counts it (the text without tags).
type message struct {
	html        bool
	sent, shown strings.Builder
	shownLen    int // UTF-16 units of shown
}

// text appends plain text, escaped in HTML mode.
func (m *message) text(s string) {
	if m.html {
		m.sent.WriteString(Escape(s))
	} else {
		m.sent.WriteString(s)
	}
	m.shown.WriteString(s)
	m.shownLen += len16(s)
}

// markup appends HTML whose visible text is shown (nothing in text mode
// but the text).
func (m *message) markup(h, shown string) {
	if m.html {
		m.sent.WriteString(h)
	} else {
		m.sent.WriteString(shown)
	}
	m.shown.WriteString(shown)
	m.shownLen += len16(shown)
}

func len16(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// cut16 shortens s to at most n UTF-16 units, ending in "…" when it cut.
func cut16(s string, n int) string {
	if len16(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	used := 1 // the "…"
	for i, r := range s {
		if used+utf16.RuneLen(r) > n {
			return strings.TrimRight(s[:i], " \t\n") + "…"
		}
		used += utf16.RuneLen(r)
	}
	return s
}

// Text is the message text for hits, within MaxText as Telegram counts it:
// the snippet (or template body) is cut to fit, never the link.
func (t *Telegram) Text(hits []hit.Hit) (string, error) {
	m := &message{html: t.html}
	if len(hits) == 1 {
		t.head(m, hits[0])
		body, err := t.body(hits[0], MaxText-m.shownLen-2)
		if err != nil {
			return "", err
		}
		if body.shown != "" {
			m.text("\n\n")
			m.markup(body.sent, body.shown)
		}
		return m.sent.String(), nil
	}
	m.markup(fmt.Sprintf("<b>%d new hits</b>", len(hits)), fmt.Sprintf("%d new hits", len(hits)))
	for i, h := range hits {
		e := &message{html: t.html}
		e.text("\n\n")
		t.head(e, h)
		body, err := t.body(h, 300)
		if err != nil {
			return "", err
		}
		if body.shown != "" {
			e.text("\n")
			e.markup(body.sent, body.shown)
		}
		// Room for this entry and, unless it is the last, the line
		// that counts the rest.
		more := fmt.Sprintf("\n\n…and %d more", len(hits)-i)
		need := m.shownLen + e.shownLen
		if i < len(hits)-1 {
			need += len16(more)
		}
		if need > MaxText {
			m.text(more)
			break
		}
		m.markup(e.sent.String(), e.shown.String())
	}
	return m.sent.String(), nil
}

// head is the title (bold, linked to the item in HTML mode; the link on
// its own line in text mode) and the profile/feed/date line.
func (t *Telegram) head(m *message, h hit.Hit) {
	title := cut16(feedLine(render.Title(h)), maxTitle)
	link := render.ChatLink(h.Item.Link)
	switch {
	case link != "" && t.html:
		m.markup(`<b><a href="`+Escape(link)+`">`+Escape(title)+`</a></b>`, title)
	case link != "":
		m.text(title + "\n" + link)
	default:
		m.markup("<b>"+Escape(title)+"</b>", title)
	}
	meta := cut16(feedLine(render.Meta(h)), 500)
	m.text("\n")
	m.markup("<i>"+Escape(meta)+"</i>", meta)
}

// part is a piece of a message as sent and as shown.
type part struct{ sent, shown string }

// body is the snippet (matched words bold), else the summary's start, or
// the template's output, cut to at most n shown UTF-16 units.
func (t *Telegram) body(h hit.Hit, n int) (part, error) {
	if t.tmpl != nil {
		out, err := render.Execute(t.tmpl, t.templateData(h))
		if err != nil {
			return part{}, fmt.Errorf("render template: %w", err)
		}
		out = strings.TrimSpace(out)
		if !t.html {
			out = cut16(out, n)
			return part{out, out}, nil
		}
		shown, ok := visible(out)
		if ok && len16(shown) <= n {
			return part{out, shown}, nil
		}
		// Too long, or not HTML Telegram takes: its text, escaped and cut.
		shown = cut16(shown, n)
		return part{Escape(shown), shown}, nil
	}
	var raw string
	if s := feedText(h.Snippet); strings.TrimSpace(s) != "" {
		raw = s
	} else {
		raw = render.Truncate(500, feedText(h.Item.Summary))
	}
	raw = strings.TrimSpace(raw)
	// Cut before the «» markers become tags: a cut leaves at most an
	// unpaired marker, which stays as text.
	raw = cut16(raw, n)
	shown := render.Markers(raw, "", "")
	if !t.html {
		return part{raw, raw}, nil // «matches» as the console shows them
	}
	return part{render.Markers(Escape(raw), "<b>", "</b>"), shown}, nil
}

// templateData is the hit as a template sees it: in HTML mode its feed
// text escaped and the snippet's matches in <b>; mentions broken either way.
func (t *Telegram) templateData(h hit.Hit) hit.Hit {
	link := render.ChatLink(h.Item.Link)
	if !t.html {
		h = render.MapText(h, feedLine, feedText)
		h.Item.Link = link
		return h
	}
	h = render.MapText(h,
		func(s string) string { return Escape(feedLine(s)) },
		func(s string) string { return Escape(feedText(s)) })
	h.Item.Link = Escape(link)
	h.Snippet = render.Markers(h.Snippet, "<b>", "</b>")
	return h
}

func parseTemplate(text string, html bool) (*template.Template, error) {
	tm, err := render.Parse("template", text)
	if err != nil {
		return nil, err
	}
	t := &Telegram{html: html}
	out, err := render.ExecuteSample(tm, t.templateData(render.SampleHit(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))))
	if err != nil {
		return nil, err
	}
	if _, ok := visible(out); html && !ok {
		return nil, fmt.Errorf("output for the sample hit is not Telegram HTML (tags b, i, u, s, a, code, pre, blockquote, tg-spoiler; & < > escaped)")
	}
	return tm, nil
}

// CheckTemplate parses a body template and renders it on the sample hit;
// in html mode the output must be HTML Telegram accepts.
func CheckTemplate(text, mode string) error {
	_, err := parseTemplate(text, mode != ModeText)
	return err
}

// allowedTags are the tags the Bot API's HTML mode takes.
var allowedTags = map[string]bool{
	"b": true, "strong": true, "i": true, "em": true, "u": true, "ins": true, "s": true, "strike": true, "del": true,
	"span": true, "tg-spoiler": true, "a": true, "code": true, "pre": true, "blockquote": true,
}

var entityRE = regexp.MustCompile(`^&(lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});`)

// visible is the text of Telegram HTML s as Telegram shows it, and whether
// s is HTML Telegram takes: known tags, balanced, links http(s) only, and
// every & an entity it knows.
func visible(s string) (string, bool) {
	var shown strings.Builder
	var open []string
	ok := utf8.ValidString(s)
	z := xhtml.NewTokenizer(strings.NewReader(s))
	for {
		tt := z.Next()
		switch tt {
		case xhtml.ErrorToken:
			return shown.String(), ok && len(open) == 0
		case xhtml.TextToken:
			raw := string(z.Raw())
			for i := strings.IndexByte(raw, '&'); i >= 0; i = strings.IndexByte(raw, '&') {
				if !entityRE.MatchString(raw[i:]) {
					ok = false
				}
				raw = raw[i+1:]
			}
			if strings.ContainsAny(string(z.Raw()), "<>") {
				ok = false
			}
			shown.WriteString(html.UnescapeString(string(z.Raw())))
		case xhtml.StartTagToken:
			tok := z.Token()
			if !allowedTags[tok.Data] {
				ok = false
			}
			for _, a := range tok.Attr {
				switch {
				case tok.Data == "a" && a.Key == "href":
					if render.SafeLink(a.Val) == "" {
						ok = false
					}
				case a.Key == "class" && (tok.Data == "span" || tok.Data == "code" || tok.Data == "pre"):
				case a.Key == "expandable" && tok.Data == "blockquote":
				default:
					ok = false
				}
			}
			open = append(open, tok.Data)
		case xhtml.EndTagToken:
			tok := z.Token()
			if len(open) == 0 || open[len(open)-1] != tok.Data {
				ok = false
			} else {
				open = open[:len(open)-1]
			}
		default: // comments, doctypes, self-closing tags
			ok = false
		}
	}
}
