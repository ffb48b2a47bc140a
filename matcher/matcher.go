// Package matcher compiles profiles (the query language of SPEC
// "Profiles and the query language") into one matcher that serves all of
// them: the words of every profile live in one dictionary, an item's text
// is tokenized once, and only the profiles whose words occurred (the
// candidates) have their boolean trees evaluated.
package matcher

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/feedwatch/feedwatch/hit"
)

// maxOccPerTerm bounds the places remembered per term, field and item; maxMatches
// bounds a result's match list.
const (
	maxOccPerTerm = 8
	maxMatches    = 20
)

// Result is one matching profile.
type Result struct {
	Profile string
	// Index is the profile's position in the slice given to Compile.
	Index   int
	Matches []hit.Match
	Snippet string
}

// Matcher matches items against a compiled set of profiles. It is
// immutable and safe for concurrent use; to reload, compile a new one and
// swap the pointer.
type Matcher struct {
	ft       *foldTable
	profiles []cprofile

	// The dictionary holds only anchor words: for each term the one word
	// (its rarest) whose occurrence triggers checking the term. The other
	// words of a phrase are compared in place, so common words cost
	// nothing while tokenizing. A slot carries what confirms the word and
	// where its entries are, so that a token costs one cache line.
	anchorTable []slot
	anchorText  string // anchor words longer than a slot's head
	// Two bits per word hash: the low one for anchor words, the high one
	// for the rarer words of pairs.
	bloom      []uint64
	bloomShift uint32
	entries    []entry  // the terms anchored at each word, grouped by word
	hashes     []uint32 // the terms' word hashes, in entry order

	// Phrases without articles are keyed by a pair of adjacent words
	// instead (tokens that are articles skipped): one word of a phrase
	// occurs far more often than the phrase, a pair of them rarely does,
	// so most tokens cost a bit test and few reach the table.
	pairTable     []pairSlot
	pairBloom     []uint64
	pairBloomBits uint32 // log2 of the filter's size in bits

	terms []term
	// term id -> profiles that become candidates (CSR layout).
	termProfStart []int32
	termProfs     []int32

	prefixes    map[string]int32 // folded prefix -> term id
	prefixLens  []int            // distinct prefix lengths in bytes, ascending
	prefixBloom [16]uint64

	regexps []*node
	always  []int32 // profiles that can match without any dictionary term

	fields uint8 // fields any profile looks at
	pool   sync.Pool
}

type cprofile struct {
	name string
	root cnode
}

// cnode is a compiled query node: leaves point at a term or a regexp.
type cnode struct {
	kind   kind
	fields uint8
	id     int32
	text   string
	kids   []cnode
}

// term is a dictionary entry shared by every profile that uses it.
type term struct {
	kind   kind
	words  []string
	hashes []uint32 // wordHash of each word
	anchor int      // index into words of the word that triggers the check
	slop   int
}

// slot is an entry of the anchor table: one cache line holds two.
type slot struct {
	head  uint64 // head8 of the word
	hash  uint32
	n     uint32 // length of the word in bytes; 0 marks an empty slot
	tail  int32  // offset of the word in anchorText when n > 8
	first int32  // the word's entries: entries[first : first+count]
	count int32
	_     int32
}

// pairSlot is an entry of the pair table: the hashes of two adjacent
// words and the phrases keyed there. Different pairs with the same hashes
// share a slot; the phrase check sorts them out.
type pairSlot struct {
	key   uint64 // hash of the first word << 32 | hash of the second
	first int32  // entries[first : first+count]; count 0 marks an empty slot
	count int32
}

// entry is a term to check where its anchor word occurs, with what the
// check needs laid out flat.
type entry struct {
	term int32
	hoff int32 // the term's word hashes: hashes[hoff : hoff+n]
	slop int32
	kind kind
	pos  uint8 // index of the anchor among the words
	n    uint8
}

// Compile builds one matcher serving all profiles. The error lists every
// profile that does not compile.
func Compile(profiles []Profile) (*Matcher, error) {
	b := newBuilder()
	var errs []error
	for i, p := range profiles {
		root, perrs := buildProfile(b.m.ft, p)
		for _, err := range perrs {
			errs = append(errs, fmt.Errorf("profile %q (profiles[%d]): %w", p.Name, i, err))
		}
		if len(perrs) > 0 {
			continue
		}
		b.add(p.Name, root)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return b.finish(), nil
}

type builder struct {
	m        *Matcher
	termIDs  map[string]int32
	trig     [][]int32 // term id -> profiles
	wordUses map[string]int32
}

func newBuilder() *builder {
	return &builder{
		m: &Matcher{
			ft:       sharedFoldTable(),
			prefixes: map[string]int32{},
		},
		termIDs:  map[string]int32{},
		wordUses: map[string]int32{},
	}
}

func (b *builder) add(name string, root *node) {
	pi := int32(len(b.m.profiles))
	b.m.profiles = append(b.m.profiles, cprofile{name: name, root: b.compile(root)})
	cp := &b.m.profiles[pi]
	if ts, ok := triggers(&cp.root); ok {
		slices.Sort(ts)
		for _, t := range slices.Compact(ts) {
			b.trig[t] = append(b.trig[t], pi)
		}
	} else {
		b.m.always = append(b.m.always, pi)
	}
}

func (b *builder) compile(n *node) cnode {
	b.m.fields |= n.fields
	c := cnode{kind: n.kind, fields: n.fields, text: n.text}
	switch n.kind {
	case kAnd, kOr, kNot:
		c.kids = make([]cnode, len(n.kids))
		for i, k := range n.kids {
			c.kids[i] = b.compile(k)
		}
	case kRegexp:
		c.id = int32(len(b.m.regexps))
		b.m.regexps = append(b.m.regexps, n)
	default:
		c.id = b.termID(n)
	}
	return c
}

// termID returns the id of the leaf's term, adding it to the dictionary.
func (b *builder) termID(n *node) int32 {
	key := fmt.Sprintf("%d/%d/%s", n.kind, n.slop, strings.Join(n.words, "\x00"))
	if id, ok := b.termIDs[key]; ok {
		return id
	}
	id := int32(len(b.m.terms))
	b.termIDs[key] = id
	b.trig = append(b.trig, nil)
	t := term{kind: n.kind, slop: n.slop}
	if n.kind == kPrefix {
		p := n.words[0]
		b.m.prefixes[p] = id
		if !slices.Contains(b.m.prefixLens, len(p)) {
			b.m.prefixLens = append(b.m.prefixLens, len(p))
		}
		if len(p) == 1 {
			for c := 0; c < 32; c++ {
				k := uint32(p[0]&31)<<5 | uint32(c)
				b.m.prefixBloom[k/64] |= 1 << (k % 64)
			}
		} else {
			k := prefixKey(p)
			b.m.prefixBloom[k/64] |= 1 << (k % 64)
		}
	} else {
		t.words = n.words
		for _, w := range n.words {
			b.wordUses[w]++
			t.hashes = append(t.hashes, wordHash(w))
		}
	}
	b.m.terms = append(b.m.terms, t)
	return id
}

// finish picks each term's anchor (its rarest word, which keeps the
// checks per token few) and lays the tables out flat.
func (b *builder) finish() *Matcher {
	m := b.m
	slices.Sort(m.prefixLens)
	var perAnchor [][]int32
	var anchorWords []string
	ids := map[string]int32{}
	var perPair [][]int32
	var pairKeys []uint64
	var rareWords []string // the rarer word of each term's pair
	pairIDs := map[uint64]int32{}
	for i := range m.terms {
		t := &m.terms[i]
		if t.kind == kPrefix {
			continue
		}
		best := 0
		for j, w := range t.words {
			if b.rarer(w, t.words[best]) {
				best = j
			}
		}
		if j, ok := b.pairAt(t, best); ok {
			// The anchor is the pair's second word.
			t.anchor = j + 1
			key := uint64(t.hashes[j])<<32 | uint64(t.hashes[j+1])
			id, ok := pairIDs[key]
			if !ok {
				id = int32(len(perPair))
				pairIDs[key] = id
				perPair = append(perPair, nil)
				pairKeys = append(pairKeys, key)
			}
			// Per term: words that differ but share hashes share a key.
			rw := t.words[j]
			if b.rarer(t.words[j+1], rw) {
				rw = t.words[j+1]
			}
			rareWords = append(rareWords, rw)
			perPair[id] = append(perPair[id], int32(i))
			continue
		}
		t.anchor = best
		w := t.words[best]
		id, ok := ids[w]
		if !ok {
			id = int32(len(perAnchor))
			ids[w] = id
			perAnchor = append(perAnchor, nil)
			anchorWords = append(anchorWords, w)
		}
		perAnchor[id] = append(perAnchor[id], int32(i))
	}
	bloomBits := 12
	for bloomBits < 21 && 1<<bloomBits < 128*(len(anchorWords)+len(pairKeys)) {
		bloomBits++
	}
	m.bloom = make([]uint64, 1<<bloomBits/64)
	m.bloomShift = uint32(32 - bloomBits)
	size := 16
	for size < 5*len(anchorWords)/4 {
		size *= 2
	}
	m.anchorTable = make([]slot, size)
	var text strings.Builder
	for id, w := range anchorWords {
		h := wordHash(w)
		k := h >> m.bloomShift
		m.bloom[k/64] |= 1 << (k % 64 &^ 1)
		sl := slot{hash: h, n: uint32(len(w)), head: head8(w), first: int32(len(m.entries)), count: int32(len(perAnchor[id]))}
		if len(w) > 8 {
			sl.tail = int32(text.Len())
			text.WriteString(w)
		}
		m.addEntries(perAnchor[id])
		i := int(h) & (size - 1)
		for m.anchorTable[i].n != 0 {
			i = (i + 1) & (size - 1)
		}
		m.anchorTable[i] = sl
	}
	if len(pairKeys) > 0 {
		bits := 12
		for bits < 21 && 1<<bits < 64*len(pairKeys) {
			bits++
		}
		m.pairBloomBits = uint32(bits)
		m.pairBloom = make([]uint64, 1<<bits/64)
		size := 16
		for size < 2*len(pairKeys) {
			size *= 2
		}
		m.pairTable = make([]pairSlot, size)
		for _, w := range rareWords {
			k := wordHash(w) >> m.bloomShift
			m.bloom[k/64] |= 2 << (k % 64 &^ 1)
		}
		for id, key := range pairKeys {
			ph := pairHash(key)
			w, b1, b2 := m.pairBits(ph)
			m.pairBloom[w] |= b1 | b2
			sl := pairSlot{key: key, first: int32(len(m.entries)), count: int32(len(perPair[id]))}
			m.addEntries(perPair[id])
			i := int(ph) & (size - 1)
			for m.pairTable[i].count != 0 {
				i = (i + 1) & (size - 1)
			}
			m.pairTable[i] = sl
		}
	}
	m.anchorText = text.String()
	for i := range m.terms {
		m.terms[i].hashes = nil // in m.hashes now
	}
	m.termProfStart, m.termProfs = flatten(b.trig)
	m.pool.New = func() any { return m.newState() }
	return m
}

// addEntries appends the entries of terms ts.
func (m *Matcher) addEntries(ts []int32) {
	for _, ti := range ts {
		t := &m.terms[ti]
		m.entries = append(m.entries, entry{term: ti, hoff: int32(len(m.hashes)), slop: int32(t.slop), kind: t.kind, pos: uint8(t.anchor), n: uint8(len(t.words))})
		m.hashes = append(m.hashes, t.hashes...)
	}
}

// pairAt returns the index j of the pair of words (j, j+1) that keys
// phrase t in the pair table, or false when t is not keyed by a pair:
// not a phrase, or an article among its words (the pairs skip articles).
// The pair holds the anchor word and its rarer neighbour.
func (b *builder) pairAt(t *term, anchor int) (int, bool) {
	if t.kind != kPhrase || len(t.words) < 2 {
		return 0, false
	}
	for _, w := range t.words {
		if isStop(w) {
			return 0, false
		}
	}
	switch {
	case anchor == 0:
		return 0, true
	case anchor == len(t.words)-1 || b.rarer(t.words[anchor-1], t.words[anchor+1]):
		return anchor - 1, true
	}
	return anchor, true
}

// flatten lays lists out in one slice: list i is all[start[i]:start[i+1]].
func flatten(lists [][]int32) (start, all []int32) {
	start = make([]int32, len(lists)+1)
	for i, l := range lists {
		start[i+1] = start[i] + int32(len(l))
	}
	all = make([]int32, 0, start[len(lists)])
	for _, l := range lists {
		all = append(all, l...)
	}
	return start, all
}

// rarer reports whether word a makes a better anchor than word c: not an
// article, used by fewer terms, longer.
func (b *builder) rarer(a, c string) bool {
	if isStop(a) != isStop(c) {
		return !isStop(a)
	}
	if ua, uc := b.wordUses[a], b.wordUses[c]; ua != uc {
		return ua < uc
	}
	return len(a) > len(c)
}

// triggers returns terms of which at least one must occur for n to hold,
// or false when n can hold with none of them (NOT, regexps).
func triggers(n *cnode) ([]int32, bool) {
	switch n.kind {
	case kNot, kRegexp:
		return nil, false
	case kAnd:
		var best []int32
		found := false
		for i := range n.kids {
			ts, ok := triggers(&n.kids[i])
			if ok && (!found || len(ts) < len(best)) {
				best, found = ts, true
			}
		}
		return best, found
	case kOr:
		var all []int32
		for i := range n.kids {
			ts, ok := triggers(&n.kids[i])
			if !ok {
				return nil, false
			}
			all = append(all, ts...)
		}
		return all, true
	}
	return []int32{n.id}, true
}
