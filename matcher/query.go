package matcher

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Fields an item is searched in; a term's field set is a bit mask of them.
const (
	fTitle = iota
	fSummary
	fContent
	fAuthor
	fCategory
	fLink
	numFields
)

// fieldNames are the prefixes of the query language, in field order.
var fieldNames = [numFields]string{"title", "summary", "content", "author", "category", "link"}

// defaultFields is where an unprefixed term is looked for.
const defaultFields = 1<<fTitle | 1<<fSummary | 1<<fContent

func fieldByName(name string) (int, bool) {
	for i, n := range fieldNames {
		if strings.EqualFold(n, name) {
			return i, true
		}
	}
	return 0, false
}

// Limits that keep hostile or mistaken queries cheap.
const (
	maxDepth    = 100
	maxSlop     = 1000
	maxWords    = 64 // words in one phrase
	maxQueryLen = 10000
)

// SyntaxError is a query parse error. Column counts runes from 1.
type SyntaxError struct {
	Column int
	Msg    string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%s at column %d", e.Msg, e.Column) }

type kind uint8

const (
	kWord   kind = iota // one folded word
	kPhrase             // words in sequence; articles between them skipped
	kPrefix             // words starting with a folded prefix
	kNear               // all words within a window
	kRegexp             // RE2 over the field text
	kAnd
	kOr
	kNot
)

// node is a parsed query. Leaves carry the folded words; fields is the
// field mask (0 until resolved to defaultFields).
type node struct {
	kind   kind
	fields uint8
	words  []string
	slop   int
	re     *regexp.Regexp
	lit    string // a literal every match of re contains (ASCII, case-free), or ""
	text   string // the term as written, lower-cased (regexps as written)
	kids   []*node
}

// ParseQuery checks a query on its own; it returns a *SyntaxError when the
// query does not parse.
func ParseQuery(q string) error {
	_, err := parseQuery(sharedFoldTable(), q)
	return err
}

func parseQuery(ft *foldTable, q string) (*node, error) {
	if strings.TrimSpace(q) == "" {
		return nil, &SyntaxError{Column: 1, Msg: "empty query"}
	}
	if len(q) > maxQueryLen {
		return nil, &SyntaxError{Column: 1, Msg: fmt.Sprintf("query longer than %d bytes", maxQueryLen)}
	}
	p := &parser{src: []rune(q), ft: ft}
	n, err := p.or(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos < len(p.src) {
		return nil, p.unexpected()
	}
	resolveFields(n, defaultFields)
	return n, nil
}

// resolveFields gives every leaf without a field prefix the fields of the
// nearest enclosing prefix, or the default fields.
func resolveFields(n *node, fields uint8) {
	if n.fields == 0 {
		n.fields = fields
	}
	for _, k := range n.kids {
		resolveFields(k, n.fields)
	}
}

type parser struct {
	src []rune
	pos int
	ft  *foldTable
}

func (p *parser) errAt(pos int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Column: pos + 1, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) skipSpace() {
	for p.pos < len(p.src) && unicode.IsSpace(p.src[p.pos]) {
		p.pos++
	}
}

// unexpected reports the token at the current position.
func (p *parser) unexpected() *SyntaxError {
	if p.pos >= len(p.src) {
		return p.errAt(len(p.src), "unexpected end of query")
	}
	start := p.pos
	w := p.peekWord()
	if w == "" {
		w = string(p.src[start])
	}
	return p.errAt(start, "unexpected %q", w)
}

// peekWord returns the bare word at the current position without moving.
func (p *parser) peekWord() string {
	end := p.pos
	for end < len(p.src) && !isDelim(p.src[end]) {
		end++
	}
	return string(p.src[p.pos:end])
}

func isDelim(r rune) bool { return unicode.IsSpace(r) || r == '(' || r == ')' || r == '"' }

// atOperator reports whether the word at the position is op.
func (p *parser) atOperator(op string) bool {
	return p.peekWord() == op
}

func (p *parser) or(depth int) (*node, error) {
	left, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	n := left
	for {
		p.skipSpace()
		if !p.atOperator("OR") {
			return n, nil
		}
		p.pos += 2
		right, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		if n == left {
			n = &node{kind: kOr, kids: []*node{left}}
		}
		n.kids = append(n.kids, right)
	}
}

func (p *parser) and(depth int) (*node, error) {
	first, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	n := first
	for {
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] == ')' || p.atOperator("OR") {
			return n, nil
		}
		if p.atOperator("AND") {
			p.pos += 3
		}
		right, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		if n == first {
			n = &node{kind: kAnd, kids: []*node{first}}
		}
		n.kids = append(n.kids, right)
	}
}

func (p *parser) unary(depth int) (*node, error) {
	if depth > maxDepth {
		return nil, p.errAt(p.pos, "query nested too deeply")
	}
	p.skipSpace()
	if p.pos >= len(p.src) {
		return nil, p.unexpected()
	}
	if p.atOperator("NOT") {
		p.pos += 3
		return p.not(depth)
	}
	if p.src[p.pos] == '-' {
		at := p.pos
		p.pos++
		if p.pos >= len(p.src) || unicode.IsSpace(p.src[p.pos]) || p.src[p.pos] == ')' {
			return nil, p.errAt(at, `expected a term after "-"`)
		}
		return p.not(depth)
	}
	return p.primary(depth)
}

func (p *parser) not(depth int) (*node, error) {
	k, err := p.unary(depth + 1)
	if err != nil {
		return nil, err
	}
	return &node{kind: kNot, kids: []*node{k}}, nil
}

func (p *parser) primary(depth int) (*node, error) {
	p.skipSpace()
	if p.pos >= len(p.src) {
		return nil, p.unexpected()
	}
	start := p.pos
	switch c := p.src[p.pos]; {
	case c == '(':
		p.pos++
		n, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != ')' {
			return nil, p.errAt(start, `unclosed "("`)
		}
		p.pos++
		return n, nil
	case c == ')':
		return nil, p.unexpected()
	case c == '"':
		return p.phrase()
	case c == '/':
		return p.regexp()
	}
	w := p.peekWord()
	switch w {
	case "AND", "OR", "NOT":
		return nil, p.unexpected()
	}
	if i := strings.IndexByte(w, ':'); i > 0 {
		if f, ok := fieldByName(w[:i]); ok {
			p.pos += utf8.RuneCountInString(w[:i]) + 1
			if p.pos >= len(p.src) || isDelim(p.src[p.pos]) && p.src[p.pos] != '(' && p.src[p.pos] != '"' {
				return nil, p.errAt(start, "expected a term after %q", w[:i+1])
			}
			if p.atOperator("AND") || p.atOperator("OR") || p.atOperator("NOT") || p.src[p.pos] == '-' {
				return nil, p.errAt(start, "expected a term after %q", w[:i+1])
			}
			n, err := p.primary(depth + 1)
			if err != nil {
				return nil, err
			}
			setFields(n, uint8(1)<<f)
			return n, nil
		}
	}
	p.pos += utf8.RuneCountInString(w)
	return termNode(p.ft, w, start)
}

// setFields applies a field prefix to every leaf that has none of its own.
func setFields(n *node, mask uint8) {
	if n.kind >= kAnd {
		for _, k := range n.kids {
			setFields(k, mask)
		}
		return
	}
	if n.fields == 0 {
		n.fields = mask
	}
}

// termNode turns a bare word of the query ("Bill", "re-education",
// "uyghur*", "新疆") into a leaf; start is its rune position, for errors.
func termNode(ft *foldTable, w string, start int) (*node, error) {
	text := strings.ToLower(w)
	prefix := strings.HasSuffix(w, "*")
	body := w
	if prefix {
		body = strings.TrimRight(w, "*")
	}
	ws := foldWords(ft, body)
	if len(ws) == 0 {
		return nil, &SyntaxError{Column: start + 1, Msg: fmt.Sprintf("%q has no letters or digits", w)}
	}
	if len(ws) > maxWords {
		return nil, &SyntaxError{Column: start + 1, Msg: fmt.Sprintf("a phrase may have at most %d words", maxWords)}
	}
	if prefix {
		if len(ws) > 1 {
			return nil, &SyntaxError{Column: start + 1, Msg: fmt.Sprintf("a trailing * needs a single word: %q", w)}
		}
		return &node{kind: kPrefix, words: ws, text: text}, nil
	}
	if len(ws) == 1 {
		return &node{kind: kWord, words: ws, text: text}, nil
	}
	return &node{kind: kPhrase, words: ws, text: text}, nil
}

// uniq returns ws without repeats, in first-occurrence order.
func uniq(ws []string) []string {
	var out []string
	for _, w := range ws {
		if !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}

func foldWords(ft *foldTable, s string) []string {
	var out []string
	for _, w := range words(ft, s) {
		out = append(out, w.fold)
	}
	return out
}

func (p *parser) phrase() (*node, error) {
	start := p.pos
	end := start + 1
	for end < len(p.src) && p.src[end] != '"' {
		if p.src[end] == '*' {
			return nil, p.errAt(end, "* is not allowed inside a phrase")
		}
		end++
	}
	if end >= len(p.src) {
		return nil, p.errAt(start, "unterminated phrase")
	}
	body := string(p.src[start+1 : end])
	p.pos = end + 1
	ws := foldWords(p.ft, body)
	if len(ws) == 0 {
		return nil, p.errAt(start, "phrase has no letters or digits")
	}
	if len(ws) > maxWords {
		return nil, p.errAt(start, "a phrase may have at most %d words", maxWords)
	}
	n := &node{kind: kPhrase, words: ws}
	if p.pos < len(p.src) && p.src[p.pos] == '~' {
		at := p.pos
		p.pos++
		ds := p.pos
		for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
			p.pos++
		}
		if ds == p.pos {
			return nil, p.errAt(at, `expected a number after "~"`)
		}
		slop, err := strconv.Atoi(string(p.src[ds:p.pos]))
		if err != nil || slop > maxSlop {
			return nil, p.errAt(ds, "proximity must be at most %d words", maxSlop)
		}
		n.kind = kNear
		n.slop = slop
		// A repeated word needs to occur once: drop the repeats, which
		// also keeps the window checks short.
		n.words = uniq(ws)
	}
	n.text = strings.ToLower(string(p.src[start:p.pos]))
	if len(ws) == 1 {
		n.kind = kWord
	}
	return n, nil
}

func (p *parser) regexp() (*node, error) {
	start := p.pos
	var b strings.Builder
	end := start + 1
	for ; end < len(p.src) && p.src[end] != '/'; end++ {
		if p.src[end] == '\\' && end+1 < len(p.src) && p.src[end+1] == '/' {
			end++
		}
	}
	if end >= len(p.src) {
		return nil, p.errAt(start, "unterminated regexp")
	}
	for i := start + 1; i < end; i++ {
		if p.src[i] == '\\' && i+1 < end && p.src[i+1] == '/' {
			continue
		}
		b.WriteRune(p.src[i])
	}
	p.pos = end + 1
	expr := b.String()
	if expr == "" {
		return nil, p.errAt(start, "empty regexp")
	}
	re, err := regexp.Compile("(?i)" + expr)
	if err != nil {
		msg := err.Error()
		if se, ok := errors.AsType[*syntax.Error](err); ok {
			msg = string(se.Code) + ": " + se.Expr
		}
		return nil, p.errAt(start, "invalid regexp: %s", msg)
	}
	return &node{kind: kRegexp, re: re, lit: requiredLiteral(expr), text: string(p.src[start:p.pos])}, nil
}

// requiredLiteral returns a string that every match of the case-insensitive
// expression contains, usable as a cheap prefilter, or "". It keeps only
// ASCII letters other than k and s: those have no non-ASCII case twins
// (K matches the Kelvin sign, s the long s), so an ASCII case-insensitive
// search for the literal is exact.
func requiredLiteral(expr string) string {
	re, err := syntax.Parse(expr, syntax.Perl|syntax.FoldCase)
	if err != nil {
		return ""
	}
	best := ""
	for _, lit := range literals(re.Simplify()) {
		for _, run := range strings.FieldsFunc(strings.ToLower(lit), func(r rune) bool {
			return r >= utf8.RuneSelf || r == 'k' || r == 's'
		}) {
			if len(run) > len(best) {
				best = run
			}
		}
	}
	return best
}

// literals lists strings that every match of re must contain.
func literals(re *syntax.Regexp) []string {
	switch re.Op {
	case syntax.OpLiteral:
		return []string{string(re.Rune)}
	case syntax.OpCapture, syntax.OpPlus:
		return literals(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return literals(re.Sub[0])
		}
	case syntax.OpConcat:
		var out []string
		for _, s := range re.Sub {
			out = append(out, literals(s)...)
		}
		return out
	}
	return nil
}
