package matcher

import (
	"math/bits"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/feedwatch/feedwatch/item"
	"github.com/feedwatch/feedwatch/plaintext"
)

// prefixKey is the bloom key of a word for the prefix table: its first two
// bytes.
func prefixKey(w string) uint32 {
	k := uint32(w[0]&31) << 5
	if len(w) > 1 {
		k |= uint32(w[1] & 31)
	}
	return k
}

// wordHash hashes a folded word: its length and first eight bytes, with
// one multiplication. Words that share both collide, which the anchor
// table and the phrase checks resolve by comparing the words.
func wordHash(w string) uint32 { return hashHead(head8(w), len(w)) }

func hashHead(head uint64, n int) uint32 {
	return uint32((head ^ uint64(n)<<58) * 0x9E3779B97F4A7C15 >> 32)
}

// upperLanes returns a mask with the high bit set in every byte of x that
// is an ASCII capital letter.
func upperLanes(x uint64) uint64 {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	x7 := x &^ high
	ge := x7 + ones*(0x80-'A')
	gt := x7 + ones*(0x80-'Z'-1)
	return ge &^ gt &^ x & high
}

// Hashes of the articles (wordHash of "the", "a", "an"; a test checks
// them), so that phrase checks can rule tokens out without folding them
// again. Constants keep the checks that use them small enough to inline.
const (
	hashThe = 0x3cc5bc26
	hashA   = 0x47051f49
	hashAn  = 0x7152d3fb
)

func isStopHash(h uint32) bool { return h == hashThe || h == hashA || h == hashAn }

// pairHash hashes a pair key (two word hashes).
func pairHash(key uint64) uint32 { return uint32(key * 0x9E3779B97F4A7C15 >> 32) }

// pairBits returns the word of the pair filter and the two bits in it
// that hash ph sets.
func (m *Matcher) pairBits(ph uint32) (w uint32, b1, b2 uint64) {
	return ph >> (32 - m.pairBloomBits + 6), 1 << (ph & 63), 1 << (ph >> 6 & 63)
}

// pairMaybe reports whether the pair filter may hold key, returning its
// pair hash for pairProbe. With on zero instead of all ones it says no: a
// mask where a branch would be mispredicted. Small enough to inline, so
// that the pairs it rules out (nearly all) cost no call.
func (m *Matcher) pairMaybe(key, on uint64) (uint32, bool) {
	ph := pairHash(key)
	w, b1, b2 := m.pairBits(ph)
	x := m.pairBloom[w] & on
	return ph, x&b1 != 0 && x&b2 != 0
}

// pairProbe returns the entries keyed by the pair key, with pair hash ph,
// or count 0.
func (m *Matcher) pairProbe(key uint64, ph uint32) (first, count int32) {
	mask := uint32(len(m.pairTable) - 1)
	for i := ph & mask; ; i = (i + 1) & mask {
		sl := &m.pairTable[i]
		if sl.count == 0 {
			return 0, 0
		}
		if sl.key == key {
			return sl.first, sl.count
		}
	}
}

// head8 returns the first 8 bytes of w, little-endian, zero-padded: what
// the tokenizer's fast path reads straight from the text.
func head8(w string) uint64 {
	n := len(w)
	switch {
	case n >= 8:
		return load64(w, 0)
	case n >= 4:
		// Two overlapping loads, the second shifted into place.
		return uint64(load32(w, 0)) | uint64(load32(w, n-4))<<(8*(n-4))
	}
	var x uint64
	for i := n - 1; i >= 0; i-- {
		x = x<<8 | uint64(w[i])
	}
	return x
}

// lookup returns the anchor slot of folded word w with hash h, or nil.
func (m *Matcher) lookup(w string, h uint32) *slot {
	mask := uint32(len(m.anchorTable) - 1)
	head := head8(w)
	for i := h & mask; ; i = (i + 1) & mask {
		sl := &m.anchorTable[i]
		if sl.n == 0 {
			return nil
		}
		if sl.hash == h && int(sl.n) == len(w) && sl.head == head &&
			(len(w) <= 8 || m.anchorText[sl.tail+8:sl.tail+int32(sl.n)] == w[8:]) {
			return sl
		}
	}
}

// maxPooledStrip bounds the buffer for stripped text that a pooled state
// keeps.
const maxPooledStrip = 64 << 10

// state is the scratch space of one Match call, pooled.
type state struct {
	sc       scanner // tokenizes a field
	lbuf     []byte  // lower-cased ASCII words
	one      scanner // folds one token again, for checks in place
	texts    [numFields]string
	stripped uint8             // fields whose text is in strip, not the item's
	strip    [numFields][]byte // FromHTML output of fields that are not plain
	toks     []span            // every token of the current field
	hits     []anchorHit
	terms    []termState // by term id
	touched  []int32
	occ      []occurrence
	cand     []bool
	candList []int32
	reState  []uint8 // regexp id * numFields + field -> 0 unknown, 1 no, 2 yes
	reLoc    [][2]int32
	reUsed   []int32
	near     []nearTok
	counts   []int32
	raw      []rawMatch
	matched  []int32     // profiles that match
	spans    [][2]int32  // a snippet's marks
	fwd      []int32     // tokens of the field that may start a pair
	cands    []uint32    // tokens that denseRun noted for lookup
	dense    bool        // an eighth of the tokens of the last field passed the filters
	pre      []prefixHit // prefix places of the field, recorded after it is tokenized
}

// prefixHit is a place where a prefix term occurred.
type prefixHit struct {
	term       int32
	start, end int32
}

// termState is what an item has shown of one term: the fields it
// occurred in, and its places (a list through occ, newest first).
type termState struct {
	mask uint8
	// count is per field: a term shared by profiles that look at different
	// fields must keep places in each, or eight in the title leave a
	// link:-only profile that matched with no match to show.
	count [numFields]uint8
	head  int32 // 1 + index in occ of the latest place, 0 for none
}

// span is a token: its bytes in the text and the hash of its folded form.
type span struct {
	start, end int32
	hash       uint32
}

// anchorHit is an anchor word found at token tok, with its entries. A
// pair hit (count < 0, entries[first:first-count]) has matched the token by
// hash only.
type anchorHit struct{ tok, first, count int32 }

type occurrence struct {
	term       int32
	field      uint8
	start, end int32
	next       int32
}

func (m *Matcher) newState() *state {
	return &state{
		sc:      scanner{ft: m.ft},
		one:     scanner{ft: m.ft},
		terms:   make([]termState, len(m.terms)),
		cand:    make([]bool, len(m.profiles)),
		reState: make([]uint8, len(m.regexps)*numFields),
		reLoc:   make([][2]int32, len(m.regexps)*numFields),
	}
}

func (st *state) reset() {
	for _, t := range st.touched {
		st.terms[t] = termState{}
	}
	for _, p := range st.candList {
		st.cand[p] = false
	}
	for _, r := range st.reUsed {
		st.reState[r] = 0
	}
	st.touched = st.touched[:0]
	st.candList = st.candList[:0]
	st.reUsed = st.reUsed[:0]
	st.occ = st.occ[:0]
	st.texts = [numFields]string{}
	st.stripped = 0
	for f, b := range st.strip {
		if cap(b) > maxPooledStrip {
			st.strip[f] = nil // a huge item's buffers are not kept
		}
	}
	if cap(st.cands) > maxPooledStrip {
		st.cands = nil
	}
	st.sc.s, st.one.s = "", "" // keep no item text alive in the pool
}

func (st *state) record(t int32, f int, start, end int32) {
	ts := &st.terms[t]
	if ts.mask == 0 {
		st.touched = append(st.touched, t)
	}
	ts.mask |= 1 << f
	if ts.count[f] < maxOccPerTerm {
		ts.count[f]++
		st.occ = append(st.occ, occurrence{term: t, field: uint8(f), start: start, end: end, next: ts.head})
		ts.head = int32(len(st.occ))
	}
}

// Match returns one Result per matching profile, in profile order.
func (m *Matcher) Match(it *item.Item) []Result {
	if len(m.profiles) == 0 {
		return nil
	}
	st := m.pool.Get().(*state)
	defer func() {
		st.reset()
		m.pool.Put(st)
	}()
	// Plain text comes back from FromHTML as it is, so fields go in raw:
	// scanField checks that they are plain on the way and strips and scans
	// again when not, sparing a pass over the text. A field no profile
	// looks at is never scanned nor read, so it is not stripped either.
	st.texts[fTitle], st.texts[fSummary], st.texts[fContent] = it.Title, it.Summary, it.Content
	if m.fields&(1<<fAuthor) != 0 {
		st.texts[fAuthor] = strings.Join(it.Authors, ", ")
	}
	if m.fields&(1<<fCategory) != 0 {
		st.texts[fCategory] = strings.Join(it.Categories, ", ")
	}
	if m.fields&(1<<fLink) != 0 {
		st.texts[fLink] = it.Link
	}
	for f := range numFields {
		if m.fields&(1<<f) != 0 && st.texts[f] != "" {
			m.scanField(st, f, f <= fContent)
		}
	}
	for _, t := range st.touched {
		for _, p := range m.termProfs[m.termProfStart[t]:m.termProfStart[t+1]] {
			if !st.cand[p] {
				st.cand[p] = true
				st.candList = append(st.candList, p)
			}
		}
	}
	for _, p := range m.always {
		if !st.cand[p] {
			st.cand[p] = true
			st.candList = append(st.candList, p)
		}
	}
	slices.Sort(st.candList)
	hits := st.matched[:0]
	for _, p := range st.candList {
		if m.eval(st, &m.profiles[p].root) {
			hits = append(hits, p)
		}
	}
	st.matched = hits
	if len(hits) == 0 {
		return nil
	}
	for f := range numFields {
		if st.stripped&(1<<f) != 0 {
			// Results quote the text; the buffer is the next item's.
			st.texts[f] = strings.Clone(st.texts[f])
		}
	}
	out := make([]Result, len(hits))
	var ar arena
	for i, p := range hits {
		ar.left = len(hits) - i
		out[i] = m.result(st, &ar, int(p))
	}
	return out
}

// scanField tokenizes one field, notes the anchor words and prefixes that
// occur, then checks the terms anchored there. With checkPlain, the text
// is raw: when it is not what plaintext.FromHTML returns as it is (no
// markup, entities, controls, invalid UTF-8 or spacing to collapse; a
// conservative test), scanning stops there and FromHTML's output is
// scanned instead.
func (m *Matcher) scanField(st *state, f int, checkPlain bool) {
	text := st.texts[f]
	st.toks = st.toks[:0]
	st.hits = st.hits[:0]
	st.fwd = st.fwd[:0]
	st.pre = st.pre[:0]
	notPlain, prevSpace := false, true
	st.sc.reset(text)
	s := text
	n := len(s)
	hasPrefixes := len(m.prefixLens) > 0
	// Room in st.cands for denseRun: one token every two bytes (a word and
	// what ends it), so that noting one needs no check.
	if cap(st.cands) < n/2+1 {
		st.cands = make([]uint32, n/2+1)
	}
	dense, passed := st.dense, 0
	for i := 0; i < n; {
		k := asciiClass[s[i]]
		if k == 0 {
			if checkPlain {
				// HTML is common: stop at the first sign of it. (notPlain
				// is set only on the way out: one value less to keep in
				// the loop.)
				if c := s[i]; c == ' ' {
					if prevSpace {
						notPlain = true
						break
					}
					prevSpace = true
				} else {
					if c < ' ' || c == 0x7f || c == '<' || c == '&' {
						notPlain = true
						break
					}
					prevSpace = false
				}
			}
			i++
			continue
		}
		if k != 3 && i+8 <= n {
			if dense {
				if j, nc := m.denseRun(st, s, i); j > i {
					if nc > 0 {
						m.tokens(st, f, s, st.cands[:nc])
						passed += nc
					}
					i = j
					prevSpace = s[i-1] == ' '
					continue
				}
			}
			// Fast path for ASCII words: find the end eight bytes at a
			// time and hash the word straight from the text; fold it only
			// when a bloom filter says it may be in a dictionary.
			start := i
			i++
			for i+8 <= n {
				if mm := notLowerOrDigit(load64(s, i)); mm != 0 {
					i += bits.TrailingZeros64(mm) >> 3
					break
				}
				i += 8
			}
			for i < n {
				if k = asciiClass[s[i]]; k != 1 && k != 2 {
					break
				}
				i++
			}
			if i == n || k != 3 {
				prevSpace = false
				wl := i - start
				head := load64(s, start)
				if wl < 8 {
					head &= 1<<(8*wl) - 1
				}
				head |= upperLanes(head) >> 2
				h := hashHead(head, wl)
				tok := len(st.toks)
				st.toks = append(st.toks, span{int32(start), int32(i), h})
				// Either bit of the word's pair: an anchor word or the
				// rare word of a pair.
				bit := h >> m.bloomShift
				bb := uint32(m.bloom[bit/64]>>(bit%64&^1)) & 3
				if hasPrefixes && m.mayHavePrefix(s[start:i]) {
					bb |= 4
				}
				if bb != 0 {
					m.asciiToken(st, f, s, tok, bb)
					passed++
				}
				if i < n && s[i] == ' ' {
					// The space after a word, as the separator case above
					// takes it: most words have one, so spare an iteration.
					i++
					prevSpace = true
				}
				continue
			}
			// The word goes on with non-ASCII letters: the scanner's job.
			i = start
		}
		st.sc.i = i
		start, end, w, ok := st.sc.next()
		if checkPlain {
			to := n
			if ok {
				to = st.sc.i
			}
			var plain bool
			if plain, prevSpace = plainBytes(s, i, to, prevSpace); !plain {
				notPlain = true
				break
			}
		}
		if !ok {
			break
		}
		i = st.sc.i
		st.toks = append(st.toks, span{int32(start), int32(end), wordHash(w)})
		m.token(st, f, len(st.toks)-1, w, len(m.prefixLens) > 0 && m.mayHavePrefix(w))
	}
	if len(st.toks) >= 16 {
		st.dense = passed*8 > len(st.toks)
	}
	if checkPlain && (notPlain || prevSpace && n > 0) {
		// Into the state's buffer: most HTML summaries match nothing, and
		// a string per field was a third of the cost of stripping.
		b := plaintext.AppendFromHTML(st.strip[f][:0], text)
		st.strip[f] = b
		st.texts[f] = unsafe.String(unsafe.SliceData(b), len(b))
		st.stripped |= 1 << f
		if st.texts[f] != "" {
			m.scanField(st, f, false)
		} else {
			st.toks, st.hits, st.fwd, st.pre = st.toks[:0], st.hits[:0], st.fwd[:0], st.pre[:0]
		}
		return
	}
	for _, p := range st.pre {
		st.record(p.term, f, p.start, p.end)
	}
	if len(st.fwd) > 0 {
		m.pairsForward(st, text)
	}
	toks, hits := st.toks, st.hits
	for _, h := range hits {
		count := h.count
		if count < 0 {
			count = -count
		}
		for i := h.first; i < h.first+count; i++ {
			e := &m.entries[i]
			if h.count < 0 && !st.tokEq(text, int(h.tok), m.terms[e.term].words[e.pos]) {
				continue // another word with the same hash
			}
			switch e.kind {
			case kWord:
				sp := toks[h.tok]
				st.record(e.term, f, sp.start, sp.end)
			case kPhrase:
				if s, en, ok := st.phraseAt(m, text, int(h.tok), e); ok {
					st.record(e.term, f, s, en)
				}
			case kNear:
				if ts := &st.terms[e.term]; ts.count[f] >= maxOccPerTerm {
					continue // enough places known: spare the window scan
				}
				if s, en, ok := st.nearAt(m, text, int(h.tok), e); ok {
					st.record(e.term, f, s, en)
				}
			}
		}
	}
}

// tokens looks up the ASCII tokens that denseRun noted.
func (m *Matcher) tokens(st *state, f int, s string, cands []uint32) {
	for _, c := range cands {
		m.asciiToken(st, f, s, int(c>>3), c&7)
	}
}

// asciiToken looks up ASCII token tok, given the filter bits that passed
// it: 1 anchor, 2 rare word of a pair, 4 prefix.
func (m *Matcher) asciiToken(st *state, f int, s string, tok int, bb uint32) {
	sp := st.toks[tok]
	if bb == 2 {
		// Only the rare word of a pair: no table needs its folded form,
		// and it is no article unless its hash says so.
		if !isStopHash(sp.hash) || !isStop(st.lower(s[sp.start:sp.end])) {
			m.pairs(st, f, tok, sp.hash)
		}
		return
	}
	m.token(st, f, tok, st.lower(s[sp.start:sp.end]), bb&4 != 0)
}

// denseRun is scanField's fast path for dense text, where many tokens
// pass the filters (profiles of common words): there a branch on the
// filters goes either way at random and most of them are mispredicted.
// From the ASCII word at s[i] on it tokenizes words and the separators
// between them that the plain check passes (single spaces, punctuation),
// notes every token in st.cands and advances the list past those that
// pass, without a branch. It stops where scanField has to look (a
// non-ASCII word, the last eight bytes, controls, markup, two spaces) and
// returns the position and how many tokens it noted for lookup.
func (m *Matcher) denseRun(st *state, s string, i int) (int, int) {
	n := len(s)
	hasPrefixes := len(m.prefixLens) > 0
	cands, nc := unsafe.Pointer(unsafe.SliceData(st.cands)), 0 // room: see scanField
	toks := st.toks
	for i+8 <= n {
		// The word, as in scanField's fast path.
		start := i
		i++
		for i+8 <= n {
			if mm := notLowerOrDigit(load64(s, i)); mm != 0 {
				i += bits.TrailingZeros64(mm) >> 3
				break
			}
			i += 8
		}
		k := uint8(1)
		for i < n {
			if k = asciiClass[s[i]]; k != 1 && k != 2 {
				break
			}
			i++
		}
		if i < n && k == 3 {
			i = start // the scanner's job
			break
		}
		wl := i - start
		head := load64(s, start)
		if wl < 8 {
			head &= 1<<(8*wl) - 1
		}
		head |= upperLanes(head) >> 2
		h := hashHead(head, wl)
		bit := h >> m.bloomShift
		bb := uint32(m.bloom[bit/64]>>(bit%64&^1)) & 3
		if hasPrefixes && m.mayHavePrefix(s[start:i]) {
			bb |= 4
		}
		*(*uint32)(unsafe.Add(cands, 4*nc)) = uint32(len(toks))<<3 | bb
		nc += int((bb + 7) >> 3)
		toks = append(toks, span{int32(start), int32(i), h})
		for ; i < n; i++ {
			c := s[i]
			if asciiClass[c] != 0 {
				break
			}
			if c == ' ' && s[i-1] == ' ' || c < ' ' || c == 0x7f || c == '<' || c == '&' {
				st.toks = toks
				return i, nc
			}
		}
		if i < n && asciiClass[s[i]] == 3 {
			break
		}
	}
	st.toks = toks
	return i, nc
}

// token looks up token tok, given its folded form w and whether the
// prefix filter passed it.
func (m *Matcher) token(st *state, f, tok int, w string, prefix bool) {
	sp := st.toks[tok]
	h := sp.hash
	k := h >> m.bloomShift
	bits := m.bloom[k/64] >> (k % 64 &^ 1)
	if bits&1 != 0 {
		if sl := m.lookup(w, h); sl != nil {
			st.hits = append(st.hits, anchorHit{tok: int32(tok), first: sl.first, count: sl.count})
		}
	}
	if bits&2 != 0 && !isStop(w) {
		m.pairs(st, f, tok, h)
	}
	if prefix {
		for _, l := range m.prefixLens {
			if l > len(w) {
				break
			}
			if t, ok := m.prefixes[w[:l]]; ok {
				st.pre = append(st.pre, prefixHit{t, sp.start, sp.end})
			}
		}
	}
}

// pairs handles token t (hash h, not an article), the rarer word of
// some pair: the pair it ends is looked up now, the pair it starts once
// the field is tokenized. A pair of two rare words is found from its
// first.
func (m *Matcher) pairs(st *state, f, t int, h uint32) {
	tok := int32(t)
	st.fwd = append(st.fwd, tok)
	text := st.texts[f]
	for i := tok - 1; i >= 0; i-- {
		ph := st.toks[i].hash
		if isStopHash(ph) && st.foldsToStop(text, int(i)) {
			continue
		}
		// A pair that starts with a rare word is found from there, so
		// the lookup is off then (dense text makes that a coin toss).
		k := ph >> m.bloomShift
		on := uint64(m.bloom[k/64]>>(k%64&^1)>>1&1) - 1
		key := uint64(ph)<<32 | uint64(h)
		if pp, ok := m.pairMaybe(key, on); ok {
			if first, count := m.pairProbe(key, pp); count != 0 {
				st.hits = append(st.hits, anchorHit{tok: tok, first: first, count: -count})
			}
		}
		break
	}
}

// pairsForward looks up the pairs that the rare words of the field
// start.
func (m *Matcher) pairsForward(st *state, text string) {
	toks := st.toks
	for _, t := range st.fwd {
		for i := int(t) + 1; i < len(toks); i++ {
			h := toks[i].hash
			if isStopHash(h) && st.foldsToStop(text, i) {
				continue
			}
			key := uint64(toks[t].hash)<<32 | uint64(h)
			if ph, ok := m.pairMaybe(key, ^uint64(0)); ok {
				if first, count := m.pairProbe(key, ph); count != 0 {
					st.hits = append(st.hits, anchorHit{tok: int32(i), first: first, count: -count})
				}
			}
			break
		}
	}
}

// mayHavePrefix reports whether some prefix term may match word w (folded
// or not: the key ignores ASCII case).
func (m *Matcher) mayHavePrefix(w string) bool {
	k := prefixKey(w)
	return m.prefixBloom[k/64]&(1<<(k%64)) != 0
}

// lower returns an ASCII word in lower case, in the state's buffer when it
// has capitals.
func (st *state) lower(w string) string {
	for i := 0; i < len(w); i++ {
		if c := w[i]; c >= 'A' && c <= 'Z' {
			b := append(st.lbuf[:0], w...)
			for j := i; j < len(b); j++ {
				b[j] |= asciiClass[b[j]] >> 1 << 5 // upper-case letters (class 2) get 0x20
			}
			st.lbuf = b
			return unsafe.String(unsafe.SliceData(b), len(b))
		}
	}
	return w
}

// foldTok returns the folded form of token i of text, valid until the
// next call.
func (st *state) foldTok(text string, i int) string {
	sp := st.toks[i]
	st.one.reset(text[sp.start:sp.end])
	_, _, w, _ := st.one.next()
	return w
}

// phraseAt checks whether the phrase of entry e occurs with its anchor
// word at token p. Between two words of the phrase only articles may
// stand. Tokens are compared by hash first; the words themselves are read
// only when a hash matches.
func (st *state) phraseAt(m *Matcher, text string, p int, e *entry) (start, end int32, ok bool) {
	hs := m.hashes[e.hoff : e.hoff+int32(e.n)]
	cur := p
	for k := int(e.pos) - 1; k >= 0; k-- {
		i := cur - 1
		for ; i >= 0; i-- {
			if st.tokIs(m, text, i, e, k, hs[k]) {
				break
			}
			if !st.tokIsStop(text, i) {
				return 0, 0, false
			}
		}
		if i < 0 {
			return 0, 0, false
		}
		cur = i
	}
	first := cur
	cur = p
	for k := int(e.pos) + 1; k < len(hs); k++ {
		i := cur + 1
		for ; i < len(st.toks); i++ {
			if st.tokIs(m, text, i, e, k, hs[k]) {
				break
			}
			if !st.tokIsStop(text, i) {
				return 0, 0, false
			}
		}
		if i >= len(st.toks) {
			return 0, 0, false
		}
		cur = i
	}
	return st.toks[first].start, st.toks[cur].end, true
}

// tokIs reports whether token i is word k of the entry's term, whose hash
// is h.
func (st *state) tokIs(m *Matcher, text string, i int, e *entry, k int, h uint32) bool {
	return st.toks[i].hash == h && st.tokEq(text, i, m.terms[e.term].words[k])
}

// tokEq reports whether token i of text folds to w. An ASCII token folds
// to its lower case, so it is compared in place.
func (st *state) tokEq(text string, i int, w string) bool {
	sp := st.toks[i]
	raw := text[sp.start:sp.end]
	if len(raw) == len(w) && isASCII(raw) {
		return equalFoldASCII(raw, w)
	}
	return st.foldTok(text, i) == w
}

// isASCII reports whether s is all ASCII, eight bytes at a time.
func isASCII(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if load64(s, i)&0x8080808080808080 != 0 {
			return false
		}
	}
	for ; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// tokIsStop reports whether token i is an article. The hash rules out
// nearly every token inline; only those left are folded.
func (st *state) tokIsStop(text string, i int) bool {
	return isStopHash(st.toks[i].hash) && st.foldsToStop(text, i)
}

func (st *state) foldsToStop(text string, i int) bool { return isStop(st.foldTok(text, i)) }

// nearTok is a token near an anchor that is one of the words of a
// proximity term (word index w).
type nearTok struct{ tok, w int32 }

// nearAt checks whether all words of t occur within some window of
// len(words)+slop tokens around the anchor at token p.
func (st *state) nearAt(m *Matcher, text string, p int, e *entry) (start, end int32, ok bool) {
	hs := m.hashes[e.hoff : e.hoff+int32(e.n)]
	w := len(hs) + int(e.slop)
	lo, hi := max(0, p-w+1), min(len(st.toks)-1, p+w-1)
	near := st.near[:0]
	for i := lo; i <= hi; i++ {
		for j, h := range hs {
			if st.tokIs(m, text, i, e, j, h) {
				near = append(near, nearTok{int32(i), int32(j)})
			}
		}
	}
	st.near = near
	// Sliding window over those tokens, counting each word's presence.
	counts := st.counts[:0]
	for range hs {
		counts = append(counts, 0)
	}
	st.counts = counts
	missing := len(hs)
	l := 0
	for r := range near {
		if counts[near[r].w] == 0 {
			missing--
		}
		counts[near[r].w]++
		for missing == 0 {
			if int(near[r].tok-near[l].tok) < w {
				return st.toks[near[l].tok].start, st.toks[near[r].tok].end, true
			}
			counts[near[l].w]--
			if counts[near[l].w] == 0 {
				missing++
			}
			l++
		}
	}
	return 0, 0, false
}

func (m *Matcher) eval(st *state, n *cnode) bool {
	switch n.kind {
	case kAnd:
		for i := range n.kids {
			if !m.eval(st, &n.kids[i]) {
				return false
			}
		}
		return true
	case kOr:
		for i := range n.kids {
			if m.eval(st, &n.kids[i]) {
				return true
			}
		}
		return false
	case kNot:
		return !m.eval(st, &n.kids[0])
	case kRegexp:
		found := false
		for f := range numFields {
			if n.fields&(1<<f) != 0 && m.regexpIn(st, n.id, f) {
				found = true
			}
		}
		return found
	}
	return st.terms[n.id].mask&n.fields != 0
}

// regexpIn runs regexp id over field f once per item, behind its
// required literal.
func (m *Matcher) regexpIn(st *state, id int32, f int) bool {
	slot := int(id)*numFields + f
	switch st.reState[slot] {
	case 1:
		return false
	case 2:
		return true
	}
	st.reUsed = append(st.reUsed, int32(slot))
	st.reState[slot] = 1
	re := m.regexps[id]
	text := st.texts[f]
	if re.lit != "" && !containsFoldASCII(text, re.lit) {
		return false
	}
	loc := re.re.FindStringIndex(text)
	if loc == nil {
		return false
	}
	st.reState[slot] = 2
	st.reLoc[slot] = [2]int32{int32(loc[0]), int32(loc[1])}
	return true
}

// containsFoldASCII reports whether s contains lit (lower-case ASCII)
// ignoring the case of ASCII letters.
func containsFoldASCII(s, lit string) bool {
	lo := lit[0]
	up := lo
	if lo >= 'a' && lo <= 'z' {
		up = lo - 32
	}
	last := len(s) - len(lit)
	// Next position of the first byte in each case; -1 when none is left.
	nextLo, nextUp := -2, -2
	for i := 0; i <= last; {
		if nextLo != -1 && nextLo < i {
			nextLo = indexFrom(s[:last+1], lo, i)
		}
		if up == lo {
			nextUp = -1
		} else if nextUp != -1 && nextUp < i {
			nextUp = indexFrom(s[:last+1], up, i)
		}
		j := nextLo
		if j < 0 || nextUp >= 0 && nextUp < j {
			j = nextUp
		}
		if j < 0 {
			return false
		}
		if equalFoldASCII(s[j:j+len(lit)], lit) {
			return true
		}
		i = j + 1
	}
	return false
}

func indexFrom(s string, c byte, from int) int {
	if k := strings.IndexByte(s[from:], c); k >= 0 {
		return from + k
	}
	return -1
}

// equalFoldASCII reports whether a equals the lower-case ASCII b, ignoring
// the case of ASCII letters only.
func equalFoldASCII(a, b string) bool {
	for i := 0; i < len(a); i++ {
		x := a[i]
		if x >= 'A' && x <= 'Z' {
			x += 32
		}
		if x != b[i] {
			return false
		}
	}
	return true
}

// plainBytes checks s[i:end] as plaintext.FromHTML's fast check would:
// no markup, entities, controls, invalid UTF-8, non-ASCII spaces or two
// spaces in a row (prevSpace says whether the byte before was a space; the
// result says whether the last one is). It returns prevSpace rather than
// taking a pointer so that the tokenizer's loop keeps it in a register.
func plainBytes(s string, i, end int, prevSpace bool) (plain, lastSpace bool) {
	for i < end {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == ' ':
				if prevSpace {
					return false, prevSpace
				}
				prevSpace = true
			case c < ' ' || c == 0x7f || c == '<' || c == '&':
				return false, prevSpace
			default:
				prevSpace = false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || unicode.IsSpace(r) {
			return false, prevSpace
		}
		prevSpace = false
		i += size
	}
	return true, prevSpace
}
