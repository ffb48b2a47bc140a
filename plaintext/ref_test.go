package plaintext

// The implementation FromHTML had before its fast paths (lazy tag ends,
// whole runs of text copied at once, appending to a caller's buffer),
// kept as the reference that tests and FuzzFromHTML compare it with.

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

func refFromHTML(s string) string {
	if isPlain(s) {
		return s
	}
	out := s
	for pass := 0; pass < maxPasses; pass++ {
		out = refStrip(out)
		if !hasTag(out) {
			return out
		}
	}
	return defuse(out)
}

// refWriter collapses whitespace while text is appended.
type refWriter struct {
	b       strings.Builder
	pending bool // a space is owed before the next visible character
}

func (w *refWriter) space() {
	if w.b.Len() > 0 {
		w.pending = true
	}
}

func (w *refWriter) text(s string) {
	for i := 0; i < len(s); {
		// Copy runs of visible ASCII in one go.
		j := i
		for j < len(s) && s[j] > ' ' && s[j] < 0x7f {
			j++
		}
		if j > i {
			if w.pending {
				w.b.WriteByte(' ')
				w.pending = false
			}
			w.b.WriteString(s[i:j])
			i = j
			continue
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c <= ' ' || c == 0x7f {
				// Control characters separate words, like spaces.
				w.space()
				i++
				continue
			}
			if w.pending {
				w.b.WriteByte(' ')
				w.pending = false
			}
			w.b.WriteByte(c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if unicode.IsSpace(r) {
			w.space()
			i += size
			continue
		}
		if w.pending {
			w.b.WriteByte(' ')
			w.pending = false
		}
		if r == utf8.RuneError && size == 1 {
			// Invalid bytes become U+FFFD, so that dropping the bytes
			// around them cannot splice a new character together.
			w.b.WriteString("\uFFFD")
		} else {
			w.b.WriteString(s[i : i+size])
		}
		i += size
	}
}

// strip does one pass: markup out, entities decoded.
func refStrip(s string) string {
	var w refWriter
	w.b.Grow(len(s))
	e := refEnds{gt: strings.LastIndexByte(s, '>'), dq: strings.LastIndexByte(s, '"'), sq: strings.LastIndexByte(s, '\'')}
	cdata := false // a CDATA section is open: its "]]>" goes too
	for i := 0; i < len(s); {
		lt := strings.IndexByte(s[i:], '<')
		if lt < 0 {
			w.text(decode(endCDATA(s[i:], &cdata)))
			break
		}
		if lt > 0 {
			w.text(decode(endCDATA(s[i:i+lt], &cdata)))
			i += lt
		}
		next, block := refSkipMarkup(s, i, e)
		if strings.HasPrefix(s[i:], "<![CDATA[") {
			cdata = true
		}
		if next == i {
			// Not markup: a literal "<".
			w.text("<")
			i++
			continue
		}
		if block {
			w.space()
		}
		i = next
	}
	return w.b.String()
}

// refSkipMarkup looks at the "<" at s[i]. It returns where the text resumes
// (i itself when this is not markup) and whether the markup separates words.
func refSkipMarkup(s string, i int, e refEnds) (next int, block bool) {
	rest := s[i+1:]
	switch {
	case strings.HasPrefix(rest, "!--"):
		end := strings.Index(rest[3:], "-->")
		if end < 0 {
			return len(s), true
		}
		return i + 1 + 3 + end + 3, true
	case strings.HasPrefix(rest, "![CDATA["):
		// The section's text stays; only the markers go.
		return i + 1 + len("![CDATA["), false
	case rest == "":
		return i, false
	}
	c := rest[0]
	switch {
	case isLetter(c):
	case c == '/' && len(rest) > 1 && isLetter(rest[1]):
	case c == '!' || c == '?':
	default:
		return i, false
	}
	if i > e.gt {
		// No ">" left anywhere: keep the text literally.
		return i, false
	}
	end := refTagEnd(s, i+1, e)
	if end < 0 {
		// No closing ">" anywhere: keep the text literally.
		return i, false
	}
	name := tagName(rest)
	next = end + 1
	if name == "script" || name == "style" {
		closeAt := indexFold(s[next:], "</"+name)
		if closeAt < 0 {
			return len(s), true
		}
		after := next + closeAt
		if e := strings.IndexByte(s[after:], '>'); e >= 0 {
			return after + e + 1, true
		}
		return len(s), true
	}
	return next, !isInline(name)
}

// ends holds the last positions of the bytes that close tags and quoted
// values, so that unclosed markup is recognised without rescanning the rest
// of the text each time (which would make hostile input quadratic).
type refEnds struct{ gt, dq, sq int }

// refTagEnd finds the ">" closing the tag that starts before s[from], skipping
// quoted attribute values; an unbalanced quote falls back to the first ">".
func refTagEnd(s string, from int, e refEnds) int {
	for j := from; j < len(s); j++ {
		c := s[j]
		switch {
		case c == '"' || c == '\'':
			if !(j > from && s[j-1] == '=' || j > from+1 && s[j-1] == ' ' && s[j-2] == '=') {
				continue
			}
			last := e.dq
			if c == '\'' {
				last = e.sq
			}
			if last <= j {
				return strings.IndexByte(s[from:], '>') + from
			}
			j += 1 + strings.IndexByte(s[j+1:], c)
		case c == '>':
			return j
		}
	}
	return -1
}
