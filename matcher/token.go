package matcher

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
	"unsafe"
)

// asciiClass drives the tokenizer's fast path: 0 separator, 1 lower-case
// letter or digit, 2 upper-case letter, 3 the first byte of a multi-byte
// rune (leave the fast path).
var asciiClass = [256]uint8{
	'0': 1, '1': 1, '2': 1, '3': 1, '4': 1, '5': 1, '6': 1, '7': 1, '8': 1, '9': 1,
	'a': 1, 'b': 1, 'c': 1, 'd': 1, 'e': 1, 'f': 1, 'g': 1, 'h': 1, 'i': 1, 'j': 1, 'k': 1, 'l': 1, 'm': 1,
	'n': 1, 'o': 1, 'p': 1, 'q': 1, 'r': 1, 's': 1, 't': 1, 'u': 1, 'v': 1, 'w': 1, 'x': 1, 'y': 1, 'z': 1,
	'A': 2, 'B': 2, 'C': 2, 'D': 2, 'E': 2, 'F': 2, 'G': 2, 'H': 2, 'I': 2, 'J': 2, 'K': 2, 'L': 2, 'M': 2,
	'N': 2, 'O': 2, 'P': 2, 'Q': 2, 'R': 2, 'S': 2, 'T': 2, 'U': 2, 'V': 2, 'W': 2, 'X': 2, 'Y': 2, 'Z': 2,
	0x80: 3, 0x81: 3, 0x82: 3, 0x83: 3, 0x84: 3, 0x85: 3, 0x86: 3, 0x87: 3, 0x88: 3, 0x89: 3, 0x8a: 3, 0x8b: 3, 0x8c: 3, 0x8d: 3, 0x8e: 3, 0x8f: 3,
	0x90: 3, 0x91: 3, 0x92: 3, 0x93: 3, 0x94: 3, 0x95: 3, 0x96: 3, 0x97: 3, 0x98: 3, 0x99: 3, 0x9a: 3, 0x9b: 3, 0x9c: 3, 0x9d: 3, 0x9e: 3, 0x9f: 3,
	0xa0: 3, 0xa1: 3, 0xa2: 3, 0xa3: 3, 0xa4: 3, 0xa5: 3, 0xa6: 3, 0xa7: 3, 0xa8: 3, 0xa9: 3, 0xaa: 3, 0xab: 3, 0xac: 3, 0xad: 3, 0xae: 3, 0xaf: 3,
	0xb0: 3, 0xb1: 3, 0xb2: 3, 0xb3: 3, 0xb4: 3, 0xb5: 3, 0xb6: 3, 0xb7: 3, 0xb8: 3, 0xb9: 3, 0xba: 3, 0xbb: 3, 0xbc: 3, 0xbd: 3, 0xbe: 3, 0xbf: 3,
	0xc0: 3, 0xc1: 3, 0xc2: 3, 0xc3: 3, 0xc4: 3, 0xc5: 3, 0xc6: 3, 0xc7: 3, 0xc8: 3, 0xc9: 3, 0xca: 3, 0xcb: 3, 0xcc: 3, 0xcd: 3, 0xce: 3, 0xcf: 3,
	0xd0: 3, 0xd1: 3, 0xd2: 3, 0xd3: 3, 0xd4: 3, 0xd5: 3, 0xd6: 3, 0xd7: 3, 0xd8: 3, 0xd9: 3, 0xda: 3, 0xdb: 3, 0xdc: 3, 0xdd: 3, 0xde: 3, 0xdf: 3,
	0xe0: 3, 0xe1: 3, 0xe2: 3, 0xe3: 3, 0xe4: 3, 0xe5: 3, 0xe6: 3, 0xe7: 3, 0xe8: 3, 0xe9: 3, 0xea: 3, 0xeb: 3, 0xec: 3, 0xed: 3, 0xee: 3, 0xef: 3,
	0xf0: 3, 0xf1: 3, 0xf2: 3, 0xf3: 3, 0xf4: 3, 0xf5: 3, 0xf6: 3, 0xf7: 3, 0xf8: 3, 0xf9: 3, 0xfa: 3, 0xfb: 3, 0xfc: 3, 0xfd: 3, 0xfe: 3, 0xff: 3,
}

// scanner splits text into folded words. Words are runs of letters and
// digits (with their marks); each Han, kana, Thai... character is a word of
// its own. Offsets are byte offsets into the original text.
type scanner struct {
	s   string
	i   int
	buf []byte
	ft  *foldTable
}

func (sc *scanner) reset(s string) {
	sc.s = s
	sc.i = 0
}

// next returns the next word: its byte span in the text and its folded
// form. The folded form may live in the scanner's buffer and is valid only
// until the next call.
func (sc *scanner) next() (start, end int, fold string, ok bool) {
	s := sc.s
	i := sc.i
	for i < len(s) {
		c := s[i]
		k := asciiClass[c]
		if k == 0 {
			i++
			continue
		}
		if k == 3 {
			r, size := utf8.DecodeRuneInString(s[i:])
			switch sc.ft.class(r) {
			case clWord:
				return sc.slowWord(i, i)
			case clSingle:
				return sc.single(i, r, size)
			}
			// Separators, and marks with no word to attach to.
			i += size
			continue
		}
		// ASCII fast path: no folding beyond lower-casing. Skip lower-case
		// letters and digits eight at a time, then go byte by byte.
		start = i
		upper := k == 2
		i++
		for i+8 <= len(s) {
			if m := notLowerOrDigit(load64(s, i)); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		for i < len(s) {
			k = asciiClass[s[i]]
			if k == 1 {
				i++
				continue
			}
			if k == 2 {
				upper = true
				i++
				continue
			}
			break
		}
		if k == 3 {
			return sc.slowWord(start, i)
		}
		sc.i = i
		if !upper {
			return start, i, s[start:i], true
		}
		b := sc.buf[:0]
		for j := start; j < i; j++ {
			b = append(b, s[j]|0x20) // letters and digits only: |0x20 lower-cases letters, keeps digits
		}
		sc.buf = b
		return start, i, unsafe.String(unsafe.SliceData(b), len(b)), true
	}
	sc.i = i
	return 0, 0, "", false
}

// load64 reads eight bytes of s at i (little-endian); i+8 <= len(s).
func load64(s string, i int) uint64 {
	return binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s), len(s))[i : i+8])
}

// load32 reads four bytes of s at i (little-endian); i+4 <= len(s).
func load32(s string, i int) uint32 {
	return binary.LittleEndian.Uint32(unsafe.Slice(unsafe.StringData(s), len(s))[i : i+4])
}

// notLowerOrDigit returns a mask with the high bit set in every byte of x
// that is not an ASCII lower-case letter or digit.
func notLowerOrDigit(x uint64) uint64 {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	x7 := x &^ high // no carries between bytes below
	geA := x7 + ones*(0x80-'a')
	gtZ := x7 + ones*(0x80-'z'-1)
	ge0 := x7 + ones*(0x80-'0')
	gt9 := x7 + ones*(0x80-'9'-1)
	word := (geA&^gtZ | ge0&^gt9) &^ x
	return ^word & high
}

// slowWord finishes a word that starts at start, whose ASCII prefix ends at
// i, and goes on with runes that need folding.
func (sc *scanner) slowWord(start, i int) (int, int, string, bool) {
	s := sc.s
	b := sc.buf[:0]
	for j := start; j < i; j++ {
		b = append(b, s[j]|0x20)
	}
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if asciiClass[c] == 0 {
				break
			}
			b = append(b, c|0x20)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		n := len(b)
		var cl int
		b, cl = sc.ft.appendFold(b, r)
		if cl != clWord && cl != clMarkDrop && cl != clMarkKeep {
			b = b[:n]
			break
		}
		i += size
	}
	sc.buf = b
	sc.i = i
	if len(b) == 0 {
		// Only marks that fold away: not a word; carry on.
		return sc.next()
	}
	return start, i, unsafe.String(unsafe.SliceData(b), len(b)), true
}

// single returns a one-character word, with the marks that follow it.
func (sc *scanner) single(start int, r rune, size int) (int, int, string, bool) {
	s := sc.s
	b, _ := sc.ft.appendFold(sc.buf[:0], r)
	i := start + size
	for i < len(s) && s[i] >= utf8.RuneSelf {
		r, size := utf8.DecodeRuneInString(s[i:])
		cl := sc.ft.class(r)
		if cl != clMarkDrop && cl != clMarkKeep {
			break
		}
		b, _ = sc.ft.appendFold(b, r)
		i += size
	}
	sc.buf = b
	sc.i = i
	return start, i, unsafe.String(unsafe.SliceData(b), len(b)), true
}

// isStop reports whether a folded word is an article, which phrases skip:
// "trade bill" matches "trade, the bill".
func isStop(w string) bool {
	return len(w) <= 3 && (w == "the" || w == "a" || w == "an")
}

// word is one token with its folded form, for the parser, snippets and the
// tests' reference evaluator.
type word struct {
	start, end int
	fold       string
}

// words tokenizes s completely.
func words(ft *foldTable, s string) []word {
	sc := scanner{s: s, ft: ft}
	var out []word
	for {
		start, end, f, ok := sc.next()
		if !ok {
			return out
		}
		out = append(out, word{start, end, string([]byte(f))})
	}
}
