package matcher

import (
	"cmp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/plaintext"
)

// Snippet shape, in characters: the text before the first match, and the
// whole snippet.
const (
	snippetBefore = 60
	snippetLen    = 200
	snippetSnap   = 15 // how far a cut may move to land between words
)

type rawMatch struct {
	field      uint8
	start, end int32
	term       string
}

// arena hands out the match lists and snippets of one Match call from
// a few shared blocks instead of two allocations per result. What it hands
// out is never written again (lists are capped, so appending copies).
type arena struct {
	matches []hit.Match
	bytes   []byte
	left    int // results still to build, this one included
}

const (
	arenaMatches = 32
	arenaBytes   = 4096
)

// matchList returns an empty list with room for n matches.
func (a *arena) matchList(n int) []hit.Match {
	if cap(a.matches)-len(a.matches) < n {
		a.matches = make([]hit.Match, 0, max(n, min(arenaMatches, n*a.left)))
	}
	l := len(a.matches)
	return a.matches[l : l : l+n]
}

// keep marks the first n matches of the last list as used.
func (a *arena) keep(n int) { a.matches = a.matches[:len(a.matches)+n] }

// buf returns a buffer with room for n bytes, to be given back to str.
func (a *arena) buf(n int) []byte {
	if cap(a.bytes)-len(a.bytes) < n {
		a.bytes = make([]byte, 0, max(n, min(arenaBytes, n*a.left)))
	}
	return a.bytes[len(a.bytes):len(a.bytes)]
}

// str turns what was appended to the buffer from buf into a string that
// owns those bytes from now on.
func (a *arena) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if &b[:1][0] != &a.bytes[:len(a.bytes)+1][len(a.bytes)] {
		return string(b) // outgrew the block: b is its own allocation
	}
	a.bytes = a.bytes[:len(a.bytes)+len(b)]
	return unsafe.String(&b[0], len(b))
}

func (m *Matcher) result(st *state, ar *arena, p int) Result {
	prof := &m.profiles[p]
	st.raw = st.raw[:0]
	m.collect(st, &prof.root, false)
	raw := st.raw
	slices.SortFunc(raw, func(a, b rawMatch) int {
		return cmp.Or(cmp.Compare(a.field, b.field), cmp.Compare(a.start, b.start), cmp.Compare(b.end, a.end), strings.Compare(a.term, b.term))
	})
	res := Result{Profile: prof.name, Index: p}
	if len(raw) == 0 {
		return res
	}
	ms := ar.matchList(min(len(raw), maxMatches))
	for _, r := range raw {
		text := st.texts[r.field][r.start:r.end]
		if r.field >= fAuthor {
			text = plaintext.CollapseSpace(text) // not plaintext.FromHTML output
		}
		hm := hit.Match{Field: fieldNames[r.field], Text: text, Term: r.term}
		if !slices.Contains(ms, hm) {
			ms = append(ms, hm)
			if len(ms) == maxMatches {
				break
			}
		}
	}
	ar.keep(len(ms))
	res.Matches = ms
	focus := 0
	for i, r := range raw {
		if r.field == fSummary || r.field == fContent {
			focus = i
			break
		}
	}
	f := raw[focus].field
	spans := st.spans[:0]
	for _, r := range raw {
		if r.field == f {
			spans = append(spans, [2]int32{r.start, r.end})
		}
	}
	st.spans = spans
	text := st.texts[f]
	if f >= fAuthor {
		res.Snippet = plaintext.CollapseSpace(snippet(text, spans, raw[focus].start)) // not plaintext.FromHTML output
	} else {
		b := ar.buf(snippetBytes(text, raw[focus].start, len(spans)))
		res.Snippet = ar.str(appendSnippet(b, text, spans, raw[focus].start))
	}
	return res
}

// snippetBytes bounds the length of a snippet around focus in bytes.
func snippetBytes(text string, focus int32, spans int) int {
	return min(len(text)-int(focus), 4*snippetLen) + 4*snippetBefore + 4*spans + 6
}

// collect gathers the places where the positive terms of a matching tree
// occurred; terms under NOT report nothing.
func (m *Matcher) collect(st *state, n *cnode, neg bool) {
	switch n.kind {
	case kAnd, kOr:
		for i := range n.kids {
			m.collect(st, &n.kids[i], neg)
		}
	case kNot:
		m.collect(st, &n.kids[0], !neg)
	case kRegexp:
		if neg {
			return
		}
		for f := range numFields {
			slot := int(n.id)*numFields + f
			// Evaluation may have stopped short of this regexp: run it now.
			if n.fields&(1<<f) != 0 && m.regexpIn(st, n.id, f) {
				loc := st.reLoc[slot]
				st.raw = append(st.raw, rawMatch{field: uint8(f), start: loc[0], end: loc[1], term: n.text})
			}
		}
	default:
		if neg || st.terms[n.id].mask&n.fields == 0 {
			return
		}
		for o := st.terms[n.id].head; o != 0; o = st.occ[o-1].next {
			oc := &st.occ[o-1]
			if n.fields&(1<<oc.field) != 0 {
				st.raw = append(st.raw, rawMatch{field: oc.field, start: oc.start, end: oc.end, term: n.text})
			}
		}
	}
}

// snippet cuts about snippetLen characters of text around the match at
// focus, marks the matched spans with « », and shows cuts with "…".
func snippet(text string, spans [][2]int32, focus int32) string {
	return string(appendSnippet(nil, text, spans, focus))
}

// appendSnippet appends the snippet to b.
func appendSnippet(b []byte, text string, spans [][2]int32, focus int32) []byte {
	start := backRunes(text, int(focus), snippetBefore)
	if start > 0 {
		// Start at a word if one begins shortly after the cut.
		for i, n := start, 0; i < int(focus) && n < snippetSnap; n++ {
			r, size := utf8.DecodeRuneInString(text[i:])
			i += size
			if unicode.IsSpace(r) {
				start = i
				break
			}
		}
	}
	end := forwardRunes(text, start, snippetLen)
	if end < len(text) {
		for i, n := end, 0; i > int(focus) && n < snippetSnap; n++ {
			r, size := utf8.DecodeLastRuneInString(text[:i])
			if unicode.IsSpace(r) {
				end = i - size
				break
			}
			i -= size
		}
	}
	// Merge overlapping spans and keep those inside the window.
	slices.SortFunc(spans, func(a, b [2]int32) int { return cmp.Compare(a[0], b[0]) })
	if start > 0 {
		b = append(b, "…"...)
	}
	pos := start
	for i := 0; i < len(spans); i++ {
		s, e := int(spans[i][0]), int(spans[i][1])
		for i+1 < len(spans) && int(spans[i+1][0]) < e {
			e = max(e, int(spans[i+1][1]))
			i++
		}
		if s < pos || e > end {
			continue
		}
		b = append(b, text[pos:s]...)
		b = append(b, "«"...)
		b = append(b, text[s:e]...)
		b = append(b, "»"...)
		pos = e
	}
	b = append(b, text[pos:end]...)
	if end < len(text) {
		b = append(b, "…"...)
	}
	return b
}

// backRunes moves back n runes from byte offset i.
func backRunes(s string, i, n int) int {
	for ; n > 0 && i > 0; n-- {
		if s[i-1] < utf8.RuneSelf {
			i--
			continue
		}
		_, size := utf8.DecodeLastRuneInString(s[:i])
		i -= size
	}
	return i
}

// forwardRunes moves forward n runes from byte offset i, eight ASCII
// bytes at a time where it can.
func forwardRunes(s string, i, n int) int {
	for n > 0 && i < len(s) {
		if n >= 8 && i+8 <= len(s) && load64(s, i)&0x8080808080808080 == 0 {
			i += 8
			n -= 8
			continue
		}
		if s[i] < utf8.RuneSelf {
			i++
		} else {
			_, size := utf8.DecodeRuneInString(s[i:])
			i += size
		}
		n--
	}
	return i
}
