package mattermost

import (
	"fmt"
	"strings"
	"text/template"
	"unicode"
	"unicode/utf8"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier/render"
)

const (
	// MaxText is Mattermost's limit on a post's text (its default
	// MaxPostSize), in characters.
	MaxText          = 16383
	maxTitle         = 250
	maxDigestSnippet = 300
)

// Escape makes one line of feed text inert in Mattermost Markdown: & < >
// as entities, Markdown punctuation backslash-escaped, mentions broken.
func Escape(s string) string {
	s = render.Unmention(s)
	var b strings.Builder
	b.Grow(len(s) + 16)
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '\\', '`', '*', '_', '~', '[', ']', '|', '#':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// EscapeText escapes multi-line feed text: each line escaped and trimmed,
// its start kept from opening a heading, list, quote, rule or code block.
func EscapeText(s string) string {
	lines := strings.Split(render.StripControl(s), "\n")
	for i, l := range lines {
		l = Escape(strings.TrimSpace(l))
		// A list item ("- x", "+ x", "1. x") or a setext rule ("===").
		if l != "" && strings.ContainsRune("-+=", rune(l[0])) {
			l = `\` + l
		} else if j := strings.IndexFunc(l, func(r rune) bool { return !unicode.IsDigit(r) }); j > 0 && (l[j] == '.') {
			l = l[:j] + `\` + l[j:]
		}
		lines[i] = l
	}
	return strings.Join(lines, "\n")
}

// linkTarget is a URL safe inside [label](url): http(s) only, with the
// characters that would end or break the target encoded; "" when unsafe.
func linkTarget(link string) string {
	l := render.ChatLink(link)
	return strings.NewReplacer("(", "%28", ")", "%29", " ", "%20", "<", "%3C", ">", "%3E").Replace(l)
}

// Text is the message for hits, at most MaxText characters: the snippet
// (or the template's body) is cut, never the link.
func (m *Mattermost) Text(hits []hit.Hit) (string, error) {
	if len(hits) == 1 {
		head := head(hits[0])
		body, err := m.body(hits[0], MaxText-utf8.RuneCountInString(head)-2)
		if err != nil {
			return "", err
		}
		if body == "" {
			return head, nil
		}
		return head + "\n\n" + body, nil
	}
	out := fmt.Sprintf("**%d new hits**", len(hits))
	n := utf8.RuneCountInString(out)
	for i, h := range hits {
		e := "\n\n" + head(h)
		body, err := m.body(h, maxDigestSnippet)
		if err != nil {
			return "", err
		}
		if body != "" {
			e += "\n" + body
		}
		more := fmt.Sprintf("\n\n…and %d more", len(hits)-i)
		need := n + utf8.RuneCountInString(e)
		if i < len(hits)-1 {
			need += utf8.RuneCountInString(more)
		}
		if need > MaxText {
			out += more
			break
		}
		out += e
		n += utf8.RuneCountInString(e)
	}
	return out, nil
}

// head is the bold title linked to the item and the profile/feed/date line.
func head(h hit.Hit) string {
	title := Escape(render.Truncate(maxTitle, render.Title(h)))
	meta := Escape(render.Truncate(500, render.Meta(h)))
	if l := linkTarget(h.Item.Link); l != "" {
		return "**[" + title + "](" + l + ")**\n_" + meta + "_"
	}
	return "**" + title + "**\n_" + meta + "_"
}

// body is the snippet (matched words bold), else the summary's start, or
// the template's output, cut to n characters.
func (m *Mattermost) body(h hit.Hit, n int) (string, error) {
	if m.tmpl != nil {
		out, err := render.Execute(m.tmpl, escapeHit(h))
		if err != nil {
			return "", fmt.Errorf("render template: %w", err)
		}
		return cut(strings.TrimSpace(out), n), nil
	}
	raw := strings.TrimSpace(h.Snippet)
	if raw == "" {
		raw = render.Truncate(500, strings.TrimSpace(h.Item.Summary))
	}
	// Escaping makes text longer: cut the text, then what escaping added
	// (cut never splits an escape).
	return cut(bold(EscapeText(render.Truncate(n, raw))), n), nil
}

// cut shortens Markdown to n characters without ending in a lone
// backslash or inside an entity.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 1 {
		return ""
	}
	s = string([]rune(s)[:n-1])
	if i := strings.LastIndexByte(s, '&'); i >= 0 && !strings.Contains(s[i:], ";") {
		s = s[:i]
	}
	if t := strings.TrimRight(s, `\`); (len(s)-len(t))%2 == 1 {
		s = s[:len(s)-1]
	}
	return s + "…"
}

func bold(escaped string) string { return render.Markers(escaped, "**", "**") }

// escapeHit is the hit as a template sees it: feed text escaped, the link
// safe inside (…), the snippet's matches in **bold**.
func escapeHit(h hit.Hit) hit.Hit {
	link := linkTarget(h.Item.Link)
	h = render.MapText(h, func(s string) string { return Escape(render.OneLine(s)) }, EscapeText)
	h.Item.Link = link
	h.Snippet = bold(h.Snippet)
	return h
}

func parseTemplate(text string) (*template.Template, error) {
	return render.ParseChecked(text, func(h hit.Hit) any { return escapeHit(h) })
}

// CheckTemplate parses a body template and renders it on the sample hit.
func CheckTemplate(text string) error {
	_, err := parseTemplate(text)
	return err
}
