package matcher

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string // "fold@start-end"
	}{
		{"Trade Bill", []string{"trade@0-5", "bill@6-10"}},
		{"re-education, 2024!", []string{"re@0-2", "education@3-12", "2024@14-18"}},
		{"Uyğur ÇİN", []string{"uygur@0-6", "cin@7-12"}},
		{"ｔｒａｄｅ", []string{"trade@0-15"}},
		{"Straße", []string{"strasse@0-7"}},
		{"cafe\u0301s", []string{"cafes@0-7"}},
		{"新疆ab", []string{"新@0-3", "疆@3-6", "ab@6-8"}},
		{"ที่นี่", []string{"ที่@0-9", "นี่@9-18"}},
		{"ｶﾀｶﾅ", []string{"カ@0-3", "タ@3-6", "カ@6-9", "ナ@9-12"}},
		{"  \u0301 a", []string{"a@5-6"}},
		{"HELLOworldAGAIN and more", []string{"helloworldagain@0-15", "and@16-19", "more@20-24"}},
		{"abcdefghijklmnopqrstuvwxyz0123456789", []string{"abcdefghijklmnopqrstuvwxyz0123456789@0-36"}},
		{"x\xffy", []string{"x@0-1", "y@2-3"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var got []string
			for _, w := range words(sharedFoldTable(), tt.in) {
				got = append(got, fmt.Sprintf("%s@%d-%d", w.fold, w.start, w.end))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("words(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestNotLowerOrDigit checks the eight-bytes-at-a-time class test against
// the byte table, for every byte value in every lane.
func TestNotLowerOrDigit(t *testing.T) {
	for c := range 256 {
		for lane := range 8 {
			x := uint64(0x6161616161616161) // "aaaaaaaa"
			x &^= 0xff << (8 * lane)
			x |= uint64(c) << (8 * lane)
			m := notLowerOrDigit(x)
			want := uint64(0)
			if asciiClass[c] != 1 {
				want = 0x80 << (8 * lane)
			}
			if m != want {
				t.Fatalf("byte %#x in lane %d: mask %#x, want %#x", c, lane, m, want)
			}
		}
	}
}

func TestHead8OneToOne(t *testing.T) {
	seen := map[[2]uint64]string{}
	for _, w := range []string{"a", "b", "ab", "ba", "aa", "abc", "acb", "abcd", "abdc", "abcde", "abcdf", "abcdefg", "abcdefh", "abcdefgh", "éa", "aé"} {
		k := [2]uint64{head8(w), uint64(len(w))}
		if o, ok := seen[k]; ok {
			t.Errorf("head8(%q) == head8(%q)", w, o)
		}
		seen[k] = w
	}
}

// TestScanFieldTokens: the matcher's fused fast path splits and hashes
// exactly as the scanner does.
func TestScanFieldTokens(t *testing.T) {
	m, err := Compile([]Profile{{Name: "p", Query: `trade* "trade bill" zurich`}})
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{
		"The Trade Bill, passed in ZÜRICH by TradeUnions and re-education 2024!",
		"short", "A", "ab cd", "HELLOworldAGAIN and more Uyğur 新疆 words at the end",
		"ｔｒａｄｅ bill Straße café\u0301 end", "x\xffy tradeÜ", "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ",
	}
	r := rand.New(rand.NewPCG(7, 8))
	for range 200 {
		texts = append(texts, genText(r))
	}
	st := m.newState()
	for _, text := range texts {
		st.texts[fSummary] = text
		m.scanField(st, fSummary, false)
		ws := words(sharedFoldTable(), text)
		if len(ws) != len(st.toks) {
			t.Fatalf("%q: %d tokens, scanner %d", text, len(st.toks), len(ws))
		}
		for i, w := range ws {
			want := span{int32(w.start), int32(w.end), wordHash(w.fold)}
			if st.toks[i] != want {
				t.Errorf("%q token %d: %+v, want %+v (%q)", text, i, st.toks[i], want, w.fold)
			}
		}
		st.reset()
	}
}

// TestStopHashes checks the articles' hash constants.
func TestStopHashes(t *testing.T) {
	for w, h := range map[string]uint32{"the": hashThe, "a": hashA, "an": hashAn} {
		if wordHash(w) != h {
			t.Errorf("wordHash(%q) = %#x, the constant says %#x", w, wordHash(w), h)
		}
	}
}
