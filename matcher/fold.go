package matcher

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/width"
)

// Rune classes, as the tokenizer sees them.
const (
	clSep      = iota // separates words
	clWord            // part of a word (letters, digits)
	clSingle          // a word on its own: Han, Hiragana, Katakana, Thai...
	clMarkDrop        // a diacritic: stays with its word, folds to nothing
	clMarkKeep        // a mark that is part of the spelling (Thai vowels, Indic signs)
)

// Layout of a foldTable entry: class in the top byte, then a flag for
// folds longer than one rune (looked up in multi), then the folded rune.
const (
	entryClassShift = 24
	entryMulti      = 1 << 23
	entryRuneMask   = 1<<21 - 1
)

// foldTable classifies and folds every rune of the Basic Multilingual Plane
// in one lookup, so that the tokenizer never runs the x/text transformers
// on the hot path.
type foldTable struct {
	bmp   []uint32
	multi map[rune]string
}

// sharedFoldTable is built once, on first use: it is pure data derived from
// the Unicode tables (like the tables of package unicode itself), costs a
// few milliseconds to build and is never written after.
var sharedFoldTable = sync.OnceValue(buildFoldTable)

func buildFoldTable() *foldTable {
	ft := &foldTable{bmp: make([]uint32, 0x10000), multi: map[rune]string{}}
	caser := cases.Fold()
	for r := rune(0); r < 0x10000; r++ {
		cl := classify(r)
		if cl == clSep || cl == clMarkDrop {
			ft.bmp[r] = uint32(cl) << entryClassShift
			continue
		}
		f := foldRune(r, caser)
		v := uint32(cl) << entryClassShift
		if fr, size := utf8.DecodeRuneInString(f); size == len(f) && size > 0 {
			v |= uint32(fr)
		} else {
			v |= entryMulti
			ft.multi[r] = f
		}
		ft.bmp[r] = v
	}
	return ft
}

// appendFold appends the fold of r to buf and returns it with the class of r.
func (ft *foldTable) appendFold(buf []byte, r rune) ([]byte, int) {
	if r < 0x10000 {
		v := ft.bmp[r]
		cl := int(v >> entryClassShift)
		switch {
		case cl == clSep || cl == clMarkDrop:
			return buf, cl
		case v&entryMulti != 0:
			return append(buf, ft.multi[r]...), cl
		default:
			return utf8.AppendRune(buf, rune(v&entryRuneMask)), cl
		}
	}
	// Beyond the BMP (rare in news text): fold on the spot.
	cl := classify(r)
	if cl == clSep || cl == clMarkDrop {
		return buf, cl
	}
	return append(buf, foldRune(r, cases.Fold())...), cl
}

// class returns the class of r.
func (ft *foldTable) class(r rune) int {
	if r < 0x10000 {
		return int(ft.bmp[r] >> entryClassShift)
	}
	return classify(r)
}

func classify(r rune) int {
	if r == utf8.RuneError {
		return clSep
	}
	if unicode.Is(unicode.Cf, r) {
		// Invisible format characters: a soft hyphen (&shy;, common in
		// German feeds), zero-width space and joiners, the word joiner,
		// bidi controls. Inside a word they are not a break: "Xin&shy;jiang"
		// is the word xinjiang, as readers see it.
		return clMarkDrop
	}
	if unicode.Is(unicode.Mn, r) {
		if keepMark(r) {
			return clMarkKeep
		}
		return clMarkDrop
	}
	if !unicode.IsLetter(r) && !unicode.IsNumber(r) && !unicode.In(r, unicode.Mc, unicode.Me) {
		return clSep
	}
	if unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Thai, unicode.Lao, unicode.Khmer, unicode.Myanmar) {
		return clSingle
	}
	return clWord
}

// keepMark reports whether a nonspacing mark is part of the spelling rather
// than a diacritic that readers and searchers ignore: the vowel and tone
// signs of Thai and Lao, the Indic signs, the kana voicing marks.
func keepMark(r rune) bool {
	switch {
	case r >= 0x0900 && r <= 0x0DFF, // Indic scripts
		r >= 0x0E00 && r <= 0x0EFF, // Thai, Lao
		r >= 0x1000 && r <= 0x109F, // Myanmar
		r >= 0x1780 && r <= 0x17FF, // Khmer
		r == 0x3099 || r == 0x309A: // kana voicing marks
		return true
	}
	return false
}

// foldRune folds one rune: full-width and half-width forms to their usual
// twins, case folded, diacritics dropped. Kana and Hangul keep their
// composed form: their "diacritics" change the sound, not the accent.
func foldRune(r rune, caser cases.Caser) string {
	s := width.Fold.String(string(r))
	if fr, _ := utf8.DecodeRuneInString(s); unicode.In(fr, unicode.Hiragana, unicode.Katakana, unicode.Hangul) {
		return norm.NFC.String(s)
	}
	s = caser.String(s)
	s = norm.NFD.String(s)
	var b strings.Builder
	for _, c := range s {
		if unicode.Is(unicode.Mn, c) && !keepMark(c) {
			continue
		}
		if x, ok := extraFold(c); ok {
			c = x
		}
		b.WriteRune(c)
	}
	return b.String()
}

// extraFold covers letters whose "diacritic" Unicode does not decompose,
// but which searchers type without it: "Łódź" is searched as "lodz".
func extraFold(r rune) (rune, bool) {
	switch r {
	case 'ı':
		return 'i', true
	case 'ł':
		return 'l', true
	case 'đ':
		return 'd', true
	case 'ħ':
		return 'h', true
	case 'ŧ':
		return 't', true
	case 'ø':
		return 'o', true
	}
	return r, false
}
