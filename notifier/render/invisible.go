package render

import "strings"

// StripInvisible removes invisible characters that disguise text or split
// a word a channel escapes (a zero-width space inside "@every\u200bone",
// a word joiner, a BOM, invisible operators), after StripControl. ZWNJ and
// ZWJ stay (Persian script and emoji need them), as do the LRM/RLM marks
// (bidi text needs them; they cannot reorder text as overrides can).
func StripInvisible(s string) string {
	s = StripControl(s)
	if !strings.ContainsFunc(s, invisible) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if invisible(r) {
			return -1
		}
		return r
	}, s)
}

func invisible(r rune) bool {
	switch {
	case r == '\u200b', r == '\u180e', r == '\ufeff', r == '\u00ad':
		return true
	case r >= '\u2060' && r <= '\u2064':
		return true
	}
	return false
}

// OneLineVisible is OneLine without invisible characters.
func OneLineVisible(s string) string { return OneLine(StripInvisible(s)) }
