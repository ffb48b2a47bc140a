// Package plaintext turns the HTML found in feed summaries and content into
// the plain text that people read: tags and script/style bodies gone,
// entities decoded, whitespace collapsed.
package plaintext

import (
	"encoding/binary"
	"html"
	"strings"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// maxPasses bounds how often FromHTML strips again when decoding entities
// revealed new tags (feeds that escape their HTML twice are common).
const maxPasses = 3

// FromHTML strips tags (dropping the contents of script and style
// elements and comments), decodes entities and collapses runs of
// whitespace and control characters into one space; invalid UTF-8
// becomes U+FFFD. It never panics and leaves no "<tag" behind:
// markup that only appears after decoding is stripped again, and what is
// still left after a few rounds has its "<" replaced by "‹".
func FromHTML(s string) string {
	if isPlain(s) {
		return s
	}
	b := AppendFromHTML(make([]byte, 0, len(s)), s)
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// AppendFromHTML appends FromHTML(s) to dst and returns the extended
// buffer, so that a caller that strips many texts can reuse one buffer
// instead of allocating a string for each.
func AppendFromHTML(dst []byte, s string) []byte {
	if isPlain(s) {
		return append(dst, s...)
	}
	n := len(dst)
	dst = appendStrip(dst, s)
	for pass := 1; hasTag(unsafe.String(unsafe.SliceData(dst[n:]), len(dst)-n)); pass++ {
		// Decoding revealed markup (text escaped twice): rare, so the
		// passes after the first may copy.
		out := string(dst[n:])
		if pass == maxPasses {
			return append(dst[:n], defuse(out)...)
		}
		dst = appendStrip(dst[:n], out)
	}
	return dst
}

// isPlain reports whether s has no markup, no entities, no invalid UTF-8
// and no whitespace to collapse, so that FromHTML can return it as it is.
// It is the common case for titles and plain summaries and must cost
// almost nothing: each check runs eight bytes at a time or faster.
func isPlain(s string) bool {
	// One pass, eight bytes at a time: this check runs on every field of
	// every item, and separate passes for '<', '&', UTF-8 and spacing cost
	// a third of matching. The tests hold in ASCII chunks only, where no
	// byte has its high bit set and so no borrow or carry crosses a byte
	// that is not itself a hit.
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	prev := uint64(0x80) // the high bit of a byte before s that is a space
	i := 0
	for i+8 <= len(s) {
		x := binary.LittleEndian.Uint64([]byte(s[i : i+8]))
		if x&high != 0 {
			// Non-ASCII in this chunk: check it rune by rune (the last rune
			// may run past the chunk).
			var ok, prevSpace bool
			if i, prevSpace, ok = plainRunes(s, i, i+8, prev != 0); !ok {
				return false
			}
			prev = 0
			if prevSpace {
				prev = 0x80
			}
			continue
		}
		bad := (x - ones*' ') | // a control character
			(x + ones) | // DEL
			(x ^ ones*'<' - ones) | (x ^ ones*'&' - ones)
		sp := ^(x ^ ones*' ' + ones*0x7f) & high // high bit where a byte is ' '
		if (bad|sp&(sp<<8|prev))&high != 0 {
			return false
		}
		prev = sp >> 56
		i += 8
	}
	_, prevSpace, ok := plainRunes(s, i, len(s), prev != 0)
	return ok && (!prevSpace || s == "")
}

// plainRunes checks the runes starting in s[i:end] for isPlain, after a
// space or not, and returns where the last one ends.
func plainRunes(s string, i, end int, prevSpace bool) (int, bool, bool) {
	for i < end {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == ' ':
				if prevSpace {
					return i, prevSpace, false
				}
				prevSpace = true
			case c < ' ' || c == 0x7f || c == '<' || c == '&':
				return i, prevSpace, false
			default:
				prevSpace = false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || unicode.IsSpace(r) {
			return i, prevSpace, false // invalid UTF-8 or a non-ASCII space
		}
		prevSpace = false
		i += size
	}
	return i, prevSpace, true
}

// CollapseSpace turns runs of whitespace into one space and trims both
// ends. It is for text that is not HTML (authors, categories, links) and
// so does not go through FromHTML; text that needs no change comes back as
// it is.
func CollapseSpace(s string) string {
	if isCollapsed(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	prev := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			prev = true
			continue
		}
		if prev && b.Len() > 0 {
			b.WriteByte(' ')
		}
		prev = false
		b.WriteRune(r)
	}
	return b.String()
}

// isCollapsed reports whether s has no whitespace but single spaces
// between words and no control characters, so that CollapseSpace(s) == s.
// It checks eight ASCII bytes at a time: it runs over every match and
// snippet of the fields that skip FromHTML.
func isCollapsed(s string) bool {
	const (
		ones   = 0x0101010101010101
		high   = 0x8080808080808080
		spaces = 0x2020202020202020
	)
	prevSpace := true // a leading space is not collapsed
	i := 0
	for i+8 <= len(s) {
		x := binary.LittleEndian.Uint64([]byte(s[i : i+8]))
		if x&high != 0 && (hasByte(x, 0xC2) || hasByte(x, 0xE1) || hasByte(x, 0xE2) || hasByte(x, 0xE3)) {
			// Maybe a non-ASCII space in this chunk: check it byte by byte.
			for end := i + 8; i < end; i++ {
				if !collapsedAt(s, i, prevSpace) {
					return false
				}
				prevSpace = s[i] == ' '
			}
			continue
		}
		if ^(x&^high+ones*(0x80-' '))&high&^x != 0 || hasByte(x, 0x7f) {
			return false // a control character
		}
		y := x ^ spaces
		sp := ^((y&^high + ^uint64(high)) | y) & high // high bit where a byte is ' '
		if sp&(sp<<8) != 0 || prevSpace && sp&0x80 != 0 {
			return false
		}
		prevSpace = sp>>63 != 0
		i += 8
	}
	for ; i < len(s); i++ {
		if !collapsedAt(s, i, prevSpace) {
			return false
		}
		prevSpace = s[i] == ' '
	}
	return !prevSpace || s == ""
}

// collapsedAt checks the byte at s[i], after a space or not.
func collapsedAt(s string, i int, prevSpace bool) bool {
	switch c := s[i]; {
	case c == ' ':
		return !prevSpace
	case c < ' ' || c == 0x7f:
		return false
	case c == 0xC2 || c == 0xE1 || c == 0xE2 || c == 0xE3:
		// Lead bytes of the non-ASCII spaces.
		r, _ := utf8.DecodeRuneInString(s[i:])
		return !unicode.IsSpace(r)
	}
	return true
}

// hasByte reports whether some byte of x is b.
func hasByte(x uint64, b byte) bool {
	const high = 0x8080808080808080
	y := x ^ 0x0101010101010101*uint64(b)
	return ^((y&^high+^uint64(high))|y)&high != 0
}

// writer collapses whitespace while text is appended to b.
type writer struct {
	b       []byte
	start   int  // where this text begins in b
	pending bool // a space is owed before the next visible character
}

func (w *writer) space() {
	if len(w.b) > w.start {
		w.pending = true
	}
}

func (w *writer) text(s string) {
	for i := 0; i < len(s); {
		c := s[i]
		if c > ' ' && c < 0x7f {
			// Copy visible ASCII with the single spaces between words in
			// one go: most text needs nothing else.
			j := visibleRun(s, i+1)
			if w.pending {
				w.b = append(w.b, ' ')
				w.pending = false
			}
			w.b = append(w.b, s[i:j]...)
			i = j
			continue
		}
		if c < utf8.RuneSelf {
			if c <= ' ' || c == 0x7f {
				// Control characters separate words, like spaces.
				w.space()
				i++
				continue
			}
			if w.pending {
				w.b = append(w.b, ' ')
				w.pending = false
			}
			w.b = append(w.b, c)
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
			w.b = append(w.b, ' ')
			w.pending = false
		}
		if r == utf8.RuneError && size == 1 {
			// Invalid bytes become U+FFFD, so that dropping the bytes
			// around them cannot splice a new character together.
			w.b = append(w.b, "\uFFFD"...)
		} else {
			w.b = append(w.b, s[i:i+size]...)
		}
		i += size
	}
}

// visibleRun returns where the text that can be copied as it is ends, from
// s[i] on, after a visible character at s[i-1]: visible ASCII and single
// spaces between visible characters. It runs eight bytes at a time.
func visibleRun(s string, i int) int {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	prev := uint64(0) // 0x80 when the byte before the chunk is a space
	for i+8 <= len(s) {
		x := binary.LittleEndian.Uint64([]byte(s[i : i+8]))
		if x&high != 0 {
			break
		}
		// As in isPlain: in an all-ASCII chunk no borrow or carry
		// crosses a byte that is not itself a hit.
		bad := (x - ones*' ') | (x + ones) // a control character or DEL
		sp := ^(x ^ ones*' ' + ones*0x7f) & high
		if (bad|sp&(sp<<8|prev))&high != 0 {
			break
		}
		prev = sp >> 56
		i += 8
	}
	for ; i < len(s); i++ {
		c := s[i]
		if c > ' ' && c < 0x7f || c == ' ' && s[i-1] != ' ' {
			continue
		}
		break
	}
	if s[i-1] == ' ' {
		i-- // the space is owed only if a visible character follows
	}
	return i
}

// appendStrip does one pass, appending to dst: markup out, entities
// decoded.
func appendStrip(dst []byte, s string) []byte {
	w := writer{b: dst, start: len(dst)}
	e := ends{s: s, gt: unknown, dq: unknown, sq: unknown}
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
		next, block := skipMarkup(s, i, &e)
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
	return w.b
}

// endCDATA drops the "]]>" that closes an open CDATA section.
func endCDATA(s string, open *bool) string {
	if !*open {
		return s
	}
	i := strings.Index(s, "]]>")
	if i < 0 {
		return s
	}
	*open = false
	return s[:i] + s[i+3:]
}

func decode(s string) string {
	if strings.IndexByte(s, '&') < 0 {
		return s
	}
	return html.UnescapeString(s)
}

// skipMarkup looks at the "<" at s[i]. It returns where the text resumes
// (i itself when this is not markup) and whether the markup separates words.
func skipMarkup(s string, i int, e *ends) (next int, block bool) {
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
	if i > e.last(&e.gt, '>') {
		// No ">" left anywhere: keep the text literally.
		return i, false
	}
	end := tagEnd(s, i+1, e)
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
// of the text each time (which would make hostile input quadratic). Each
// is found when first needed: most text has no quotes in its tags.
type ends struct {
	s          string
	gt, dq, sq int
}

// unknown marks a position of ends not looked for yet.
const unknown = -2

// last returns the last position of c in the text (-1 for none), finding
// it on the first call; p is the field of ends that keeps it.
func (e *ends) last(p *int, c byte) int {
	if *p == unknown {
		*p = strings.LastIndexByte(e.s, c)
	}
	return *p
}

// tagEnd finds the ">" closing the tag that starts before s[from], skipping
// quoted attribute values; an unbalanced quote falls back to the first ">".
func tagEnd(s string, from int, e *ends) int {
	for j := from; j < len(s); j++ {
		c := s[j]
		switch {
		case c == '"' || c == '\'':
			if !(j > from && s[j-1] == '=' || j > from+1 && s[j-1] == ' ' && s[j-2] == '=') {
				continue
			}
			last := e.last(&e.dq, '"')
			if c == '\'' {
				last = e.last(&e.sq, '\'')
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

func tagName(rest string) string {
	if strings.HasPrefix(rest, "/") {
		rest = rest[1:]
	}
	n := 0
	for n < len(rest) && (isLetter(rest[n]) || rest[n] >= '0' && rest[n] <= '9') {
		n++
	}
	return strings.ToLower(rest[:n])
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// indexFold is strings.Index ignoring ASCII case.
func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

// isInline names the elements that do not separate words: "<b>Bill</b>ing"
// reads "Billing".
func isInline(name string) bool {
	switch name {
	case "a", "abbr", "b", "bdi", "bdo", "big", "cite", "code", "data", "del",
		"dfn", "em", "font", "i", "ins", "kbd", "mark", "q", "s", "samp", "small",
		"span", "strike", "strong", "sub", "sup", "time", "tt", "u", "var", "wbr":
		return true
	}
	return false
}

// hasTag reports whether s still holds something a reader would take for a
// tag: "<" followed by a letter, "/", "!" or "?".
func hasTag(s string) bool {
	for i := 0; i < len(s); {
		j := strings.IndexByte(s[i:], '<')
		if j < 0 {
			return false
		}
		i += j + 1
		if i < len(s) && isTagStart(s[i]) {
			return true
		}
	}
	return false
}

func isTagStart(c byte) bool { return isLetter(c) || c == '/' || c == '!' || c == '?' }

// defuse replaces the "<" of anything tag-like with "‹" so that no markup
// survives even text that was escaped many times over.
func defuse(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		if s[i] == '<' && i+1 < len(s) && isTagStart(s[i+1]) {
			b.WriteString("‹")
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
