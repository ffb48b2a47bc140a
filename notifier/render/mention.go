package render

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ZWSP is the zero-width space Unmention puts after an "@".
const ZWSP = "\u200b"

// Unmention makes feed text unable to mention anyone in a chat service:
// it drops invisible characters a feed might use to hide text or split a
// word (zero-width space, word joiner, BOM, Mongolian vowel separator),
// then puts a zero-width space after every "@" that starts a word, so
// @channel, @room, @everyone or @someuser show as written but are no
// mention. Zero-width (non-)joiners stay: scripts and emoji need them.
// Apply it to feed text only, never to a link: it would break a URL.
func Unmention(s string) string {
	if !strings.ContainsAny(s, "@\u200b\u2060\ufeff\u180e") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	rs := []rune(s)
	for i, r := range rs {
		if invisible(r) {
			continue
		}
		b.WriteRune(r)
		if r == '@' || r == '＠' {
			// The next visible rune decides: a word start is a mention.
			for j := i + 1; j < len(rs); j++ {
				if invisible(rs[j]) {
					continue
				}
				if unicode.IsLetter(rs[j]) || unicode.IsDigit(rs[j]) || rs[j] == '_' || rs[j] == '!' || rs[j] == '#' {
					b.WriteString(ZWSP)
				}
				break
			}
		}
	}
	return b.String()
}

// ChatLink is SafeLink with any invalid UTF-8 percent-encoded: a JSON body
// would otherwise carry U+FFFD instead, a different link, and chat
// services refuse or mangle such text.
func ChatLink(link string) string {
	l := SafeLink(link)
	if utf8.ValidString(l) {
		return l
	}
	var b strings.Builder
	for i := 0; i < len(l); {
		r, n := utf8.DecodeRuneInString(l[i:])
		if r == utf8.RuneError && n <= 1 {
			fmt.Fprintf(&b, "%%%02X", l[i])
			i++
			continue
		}
		b.WriteString(l[i : i+n])
		i += n
	}
	return b.String()
}
