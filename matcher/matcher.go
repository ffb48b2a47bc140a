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

// maxOccPerTerm bounds the places remembered per term and item; maxMatches
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
	// nothing while tokenizing.
	anchorWords []string
	anchorTable []slot   // open addressing: word hash -> anchor id
	bloom       []uint64 // bloom bit of every anchor word's hash
	// anchor id -> terms checked when the word occurs (CSR layout).
	anchorStart []int32
	anchorTerms []int32

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

// slot is an entry of the anchor table; id is the anchor id plus one, 0
// for an empty slot.
type slot struct {
	hash uint32
	id   int32
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
			bloom:    make([]uint64, 1<<bloomBits/64),
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
	ids := map[string]int32{}
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
		t.anchor = best
		w := t.words[best]
		id, ok := ids[w]
		if !ok {
			id = int32(len(perAnchor))
			ids[w] = id
			perAnchor = append(perAnchor, nil)
			m.anchorWords = append(m.anchorWords, w)
			k := bloomKey(wordHash(w))
			m.bloom[k/64] |= 1 << (k % 64)
		}
		perAnchor[id] = append(perAnchor[id], int32(i))
	}
	size := 16
	for size < 2*len(m.anchorWords) {
		size *= 2
	}
	m.anchorTable = make([]slot, size)
	for id, w := range m.anchorWords {
		h := wordHash(w)
		i := int(h) & (size - 1)
		for m.anchorTable[i].id != 0 {
			i = (i + 1) & (size - 1)
		}
		m.anchorTable[i] = slot{hash: h, id: int32(id) + 1}
	}
	m.anchorStart, m.anchorTerms = flatten(perAnchor)
	m.termProfStart, m.termProfs = flatten(b.trig)
	m.pool.New = func() any { return m.newState() }
	return m
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
