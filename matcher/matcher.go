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
	"github.com/feedwatch/feedwatch/item"
	"github.com/feedwatch/feedwatch/plaintext"
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

	words    map[string]int32 // folded word -> word id
	wordStop []bool
	bloom    []uint64 // bloomKey of every dictionary word

	// anchors: word id -> terms checked when the word occurs (CSR layout).
	anchorStart []int32
	anchorTerms []int32

	terms []term
	// termProfs: term id -> profiles that become candidates (CSR layout).
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
	words  []int32
	anchor int // index into words of the word that triggers the check
	slop   int
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
	wordUses []int32
}

func newBuilder() *builder {
	return &builder{
		m: &Matcher{
			ft:       sharedFoldTable(),
			words:    map[string]int32{},
			prefixes: map[string]int32{},
			bloom:    make([]uint64, 1<<bloomBits/64),
		},
		termIDs: map[string]int32{},
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
		for _, w := range n.words {
			t.words = append(t.words, b.wordID(w))
		}
	}
	b.m.terms = append(b.m.terms, t)
	return id
}

func (b *builder) wordID(w string) int32 {
	id, ok := b.m.words[w]
	if !ok {
		id = int32(len(b.m.wordStop))
		b.m.words[w] = id
		b.m.wordStop = append(b.m.wordStop, isStop(w))
		b.wordUses = append(b.wordUses, 0)
		k := bloomKey(w)
		b.m.bloom[k/64] |= 1 << (k % 64)
	}
	b.wordUses[id]++
	return id
}

// finish picks each term's anchor (its rarest word, which keeps the
// checks per token few) and lays the tables out flat.
func (b *builder) finish() *Matcher {
	m := b.m
	slices.Sort(m.prefixLens)
	nw := len(m.wordStop)
	count := make([]int32, nw+1)
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
		count[t.words[best]+1]++
	}
	for i := 1; i <= nw; i++ {
		count[i] += count[i-1]
	}
	m.anchorStart = slices.Clone(count)
	m.anchorTerms = make([]int32, count[nw])
	for i := range m.terms {
		t := &m.terms[i]
		if t.kind == kPrefix {
			continue
		}
		w := t.words[t.anchor]
		m.anchorTerms[count[w]] = int32(i)
		count[w]++
	}
	m.termProfStart = make([]int32, len(m.terms)+1)
	for i, ps := range b.trig {
		m.termProfStart[i+1] = m.termProfStart[i] + int32(len(ps))
	}
	m.termProfs = make([]int32, 0, m.termProfStart[len(m.terms)])
	for _, ps := range b.trig {
		m.termProfs = append(m.termProfs, ps...)
	}
	m.pool.New = func() any { return m.newState() }
	return m
}

// rarer reports whether word a makes a better anchor than word b.
func (b *builder) rarer(a, c int32) bool {
	m := b.m
	if m.wordStop[a] != m.wordStop[c] {
		return !m.wordStop[a]
	}
	if b.wordUses[a] != b.wordUses[c] {
		return b.wordUses[a] < b.wordUses[c]
	}
	return false
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

// Bloom filters in front of the dictionaries: most words of a text are in
// no profile, and these keys reject them without hashing the word.
const bloomBits = 19

func bloomKey(w string) uint32 {
	n := len(w)
	k := uint32(n&15)<<15 | uint32(w[0]&31)<<10 | uint32(w[n-1]&31)
	if n > 1 {
		k |= uint32(w[1]&31) << 5
	}
	return k
}

func prefixKey(w string) uint32 {
	k := uint32(w[0]&31) << 5
	if len(w) > 1 {
		k |= uint32(w[1] & 31)
	}
	return k
}

// state is the scratch space of one Match call.
type state struct {
	sc       scanner
	texts    [numFields]string
	hits     []hitEntry
	termMask []uint8 // term id -> fields it occurred in
	termCnt  []uint8
	termHead []int32 // term id -> 1 + index of its latest occurrence
	touched  []int32
	occ      []occurrence
	cand     []bool
	candList []int32
	reState  []uint8 // regexp id * numFields + field -> 0 unknown, 1 no, 2 yes
	reLoc    [][2]int32
	reUsed   []int32
	counts   []int32
	raw      []rawMatch
}

// hitEntry is a dictionary word found in the current field: its token
// index, the number of non-article tokens up to it, its word id and span.
type hitEntry struct {
	tok, cp, word, start, end int32
}

type occurrence struct {
	term       int32
	field      uint8
	start, end int32
	next       int32
}

func (m *Matcher) newState() *state {
	return &state{
		sc:       scanner{ft: m.ft},
		termMask: make([]uint8, len(m.terms)),
		termCnt:  make([]uint8, len(m.terms)),
		termHead: make([]int32, len(m.terms)),
		cand:     make([]bool, len(m.profiles)),
		reState:  make([]uint8, len(m.regexps)*numFields),
		reLoc:    make([][2]int32, len(m.regexps)*numFields),
	}
}

func (st *state) reset() {
	for _, t := range st.touched {
		st.termMask[t] = 0
		st.termCnt[t] = 0
		st.termHead[t] = 0
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
}

func (st *state) record(t int32, f int, start, end int32) {
	mask := st.termMask[t]
	if mask == 0 {
		st.touched = append(st.touched, t)
	}
	st.termMask[t] = mask | 1<<f
	if st.termCnt[t] < maxOccPerTerm {
		st.termCnt[t]++
		st.occ = append(st.occ, occurrence{term: t, field: uint8(f), start: start, end: end, next: st.termHead[t]})
		st.termHead[t] = int32(len(st.occ))
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
	st.texts[fTitle] = plaintext.FromHTML(it.Title)
	st.texts[fSummary] = plaintext.FromHTML(it.Summary)
	st.texts[fContent] = plaintext.FromHTML(it.Content)
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
			m.scanField(st, f)
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
	var out []Result
	for _, p := range st.candList {
		if m.eval(st, &m.profiles[p].root) {
			out = append(out, m.result(st, int(p)))
		}
	}
	return out
}

// scanField tokenizes one field, looks every word up in the dictionary and
// records the terms that occur.
func (m *Matcher) scanField(st *state, f int) {
	text := st.texts[f]
	st.hits = st.hits[:0]
	st.sc.reset(text)
	hasPrefixes := len(m.prefixLens) > 0
	var tok, cp int32
	for {
		start, end, w, ok := st.sc.next()
		if !ok {
			break
		}
		if !isStop(w) {
			cp++
		}
		if k := bloomKey(w); m.bloom[k/64]&(1<<(k%64)) != 0 {
			if id, ok := m.words[w]; ok {
				st.hits = append(st.hits, hitEntry{tok: tok, cp: cp, word: id, start: int32(start), end: int32(end)})
			}
		}
		if hasPrefixes {
			if k := prefixKey(w); m.prefixBloom[k/64]&(1<<(k%64)) != 0 {
				for _, l := range m.prefixLens {
					if l > len(w) {
						break
					}
					if t, ok := m.prefixes[w[:l]]; ok {
						st.record(t, f, int32(start), int32(end))
					}
				}
			}
		}
		tok++
	}
	hits := st.hits
	for h := range hits {
		e := &hits[h]
		for _, ti := range m.anchorTerms[m.anchorStart[e.word]:m.anchorStart[e.word+1]] {
			t := &m.terms[ti]
			switch t.kind {
			case kWord:
				st.record(ti, f, e.start, e.end)
			case kPhrase:
				if s, en, ok := m.phraseAt(hits, h, t); ok {
					st.record(ti, f, s, en)
				}
			case kNear:
				if s, en, ok := m.nearAt(st, hits, h, t); ok {
					st.record(ti, f, s, en)
				}
			}
		}
	}
}

// phraseAt checks whether the phrase t occurs with its anchor word at
// hits[h]. Between two words of the phrase only articles may stand.
func (m *Matcher) phraseAt(hits []hitEntry, h int, t *term) (start, end int32, ok bool) {
	cur := h
	for k := t.anchor - 1; k >= 0; k-- {
		want := t.words[k]
		found := -1
		for e := cur - 1; e >= 0; e-- {
			between := hits[cur].cp - hits[e].cp
			if !m.wordStop[hits[cur].word] {
				between--
			}
			if between > 0 {
				break
			}
			if hits[e].word == want {
				found = e
				break
			}
			if !m.wordStop[hits[e].word] {
				break
			}
		}
		if found < 0 {
			return 0, 0, false
		}
		cur = found
	}
	first := cur
	cur = h
	for k := t.anchor + 1; k < len(t.words); k++ {
		want := t.words[k]
		found := -1
		for e := cur + 1; e < len(hits); e++ {
			between := hits[e].cp - hits[cur].cp
			if !m.wordStop[hits[e].word] {
				between--
			}
			if between > 0 {
				break
			}
			if hits[e].word == want {
				found = e
				break
			}
			if !m.wordStop[hits[e].word] {
				break
			}
		}
		if found < 0 {
			return 0, 0, false
		}
		cur = found
	}
	return hits[first].start, hits[cur].end, true
}

// nearAt checks whether all words of t occur within a window of
// len(words)+slop tokens that lies around the anchor at hits[h].
func (m *Matcher) nearAt(st *state, hits []hitEntry, h int, t *term) (start, end int32, ok bool) {
	w := int32(len(t.words) + t.slop)
	p := hits[h].tok
	lo, hi := h, h
	for lo > 0 && hits[lo-1].tok > p-w {
		lo--
	}
	for hi+1 < len(hits) && hits[hi+1].tok < p+w {
		hi++
	}
	// Sliding window over the hits in range, counting each word's presence.
	counts := st.counts[:0]
	for range t.words {
		counts = append(counts, 0)
	}
	st.counts = counts
	missing := len(t.words)
	l := lo
	for r := lo; r <= hi; r++ {
		for i, tw := range t.words {
			if hits[r].word == tw {
				if counts[i] == 0 {
					missing--
				}
				counts[i]++
			}
		}
		for missing == 0 {
			if hits[r].tok-hits[l].tok < w {
				return hits[l].start, hits[r].end, true
			}
			for i, tw := range t.words {
				if hits[l].word == tw {
					counts[i]--
					if counts[i] == 0 {
						missing++
					}
				}
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
	return st.termMask[n.id]&n.fields != 0
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
// ignoring ASCII case.
func containsFoldASCII(s, lit string) bool {
	c0 := lit[0]
	up := c0
	if c0 >= 'a' && c0 <= 'z' {
		up = c0 - 32
	}
	for i := 0; i+len(lit) <= len(s); i++ {
		j := strings.IndexByte(s[i:len(s)-len(lit)+1], c0)
		if up != c0 {
			if k := strings.IndexByte(s[i:len(s)-len(lit)+1], up); k >= 0 && (j < 0 || k < j) {
				j = k
			}
		}
		if j < 0 {
			return false
		}
		i += j
		if isASCIIFoldEqual(s[i:i+len(lit)], lit) {
			return true
		}
	}
	return false
}

// isASCIIFoldEqual reports whether a equals the lower-case ASCII b,
// ignoring the case of ASCII letters only.
func isASCIIFoldEqual(a, b string) bool {
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x >= 'A' && x <= 'Z' {
			x += 32
		}
		if x != y {
			return false
		}
	}
	return true
}
