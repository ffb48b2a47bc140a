package parse

import (
	"bytes"
	"fmt"
)

// Structure limits, checked by one linear scan before any parser sees a
// document. gofeed parses extension elements recursively with no depth
// limit (a few MB of nested elements is a fatal stack overflow that
// recover cannot catch) and materialises every element before our item
// cap applies (1.9 million unclosed elements in 9.5 MB took 1.9 GB), so
// the shape of a document is bounded first, and a document past a limit
// is refused with KindTooComplex (or KindTooMany for items).
const (
	// MaxDepth bounds element (or JSON container) nesting. Real feeds
	// stay under ~20 levels, XHTML content inside Atom included.
	MaxDepth = 256
	// MaxNodes bounds elements plus attributes (XML), or containers plus
	// array values (JSON): 10,000 items (the item cap) of 20 nodes each.
	MaxNodes = 200_000
	// MaxExtElements bounds extension elements (prefixed, in a foreign
	// default namespace, or inside such an element): gofeed builds two
	// maps and a struct for each, ~0.5-1 KB.
	MaxExtElements = 100_000
	// maxTextWork bounds the bytes gofeed copies while it assembles the
	// text of extension elements: it appends every text fragment (split
	// at each child element, comment or CDATA section) to a string, which
	// is quadratic (800 KB of CDATA fragments took 12 s). The work of an
	// element is (markup nodes in it + 1) x (bytes of its own text): real
	// feeds stay under 10,000; at the limit a parse takes ~0.2 s.
	maxTextWork = 1 << 26
)

// nativeNS are the default namespaces whose elements gofeed does not parse
// as extensions.
var nativeNS = []string{
	"",
	"http://www.w3.org/2005/Atom",
	"http://purl.org/atom/ns#",
	"http://www.w3.org/1999/02/22-rdf-syntax-ns#",
	"http://purl.org/rss/1.0/",
	"http://channel.netscape.com/rdf/simple/0.9/",
	"http://my.netscape.com/rdf/simple/0.9/",
}

func tooComplex(format string, args ...any) *Error {
	return &Error{Kind: KindTooComplex, Err: fmt.Errorf(format, args...)}
}

// frame is an open element during the scan.
type frame struct {
	name      []byte // local name, to match end tags as encoding/xml does
	nodes     int    // markup nodes directly inside (each splits the text)
	text      int    // bytes of text directly inside
	ext       bool   // gofeed parses it as an extension element
	foreignNS bool   // the default namespace in scope is not native
}

// xmlScan mirrors encoding/xml's non-strict tokenizer (gofeed's) closely
// enough that its depth and counts are never below what the decoder sees:
// it skips exactly what the decoder skips (comments, CDATA, PIs,
// directives with their quoting, quoted attribute values) and stops where
// the decoder fails (nothing after that point reaches a parser). b must not
// hold C0 controls other than tab, CR and LF (gofeed drops them before
// decoding; Check scans a copy without them).
type xmlScan struct {
	b        []byte
	stack    []frame
	nodes    int
	ext      int
	items    int
	maxItems int
	textWork int
	maxDepth int // deepest nesting seen (tests)
	root     int // offset of the root start tag, -1 before it
}

// scanXML checks b's structure and returns the offset of its root element
// (-1 when there is none) and whether gofeed will need much memory for it.
func scanXML(b []byte, maxItems int) (root int, heavy bool, err error) {
	s := xmlScan{b: b, maxItems: maxItems, root: -1}
	var stack [16]frame
	s.stack = stack[:0]
	if err := s.run(); err != nil {
		return -1, false, err
	}
	for len(s.stack) > 0 {
		s.pop()
	}
	if s.textWork > maxTextWork {
		return -1, false, tooComplex("extension element text in too many fragments (more than %d bytes to join)", maxTextWork)
	}
	return s.root, s.nodes > heavyNodes || s.ext > heavyExt || s.textWork > heavyTextWork, nil
}

func (s *xmlScan) top() *frame {
	if len(s.stack) == 0 {
		return nil
	}
	return &s.stack[len(s.stack)-1]
}

// node counts a markup node inside the current element.
func (s *xmlScan) node() {
	if t := s.top(); t != nil {
		t.nodes++
	}
}

func (s *xmlScan) pop() {
	t := s.top()
	if t.ext {
		s.textWork += (t.nodes + 1) * t.text
	}
	s.stack = s.stack[:len(s.stack)-1]
}

func (s *xmlScan) run() error {
	b := s.b
	i := 0
	for i < len(b) {
		j := bytes.IndexByte(b[i:], '<')
		if j < 0 {
			j = len(b) - i
		}
		if t := s.top(); t != nil {
			t.text += j
		}
		i += j
		if i+1 >= len(b) {
			return nil
		}
		switch b[i+1] {
		case '/':
			n := s.endTag(i)
			if n < 0 {
				return nil
			}
			i = n
		case '?':
			k := bytes.Index(b[i+2:], []byte("?>"))
			if k < 0 {
				return nil
			}
			s.node()
			i += 2 + k + 2
		case '!':
			n := s.bang(i)
			if n < 0 {
				return nil
			}
			s.node()
			i = n
		default:
			n, err := s.startTag(i)
			if n < 0 || err != nil {
				return err
			}
			i = n
		}
	}
	return nil
}

// endTag handles "</name>" at i and returns the offset after it, or -1
// where the decoder would fail.
func (s *xmlScan) endTag(i int) int {
	b := s.b
	k := bytes.IndexByte(b[i:], '>')
	if k < 0 {
		return -1
	}
	name := localName(bytes.TrimRight(b[i+2:i+k], " \t\r\n"))
	// Non-strict encoding/xml closes every open element up to the one the
	// end tag names, and fails when none does.
	f := len(s.stack) - 1
	for f >= 0 && !bytes.Equal(s.stack[f].name, name) {
		f--
	}
	if f < 0 {
		return -1
	}
	for len(s.stack) > f {
		s.pop()
	}
	return i + k + 1
}

// bang handles a comment, CDATA section or directive at i and returns the
// offset after it, or -1 where the decoder would fail.
func (s *xmlScan) bang(i int) int {
	b := s.b
	rest := b[i:]
	switch {
	case bytes.HasPrefix(rest, []byte("<!--")):
		k := bytes.Index(rest[4:], []byte("-->"))
		if k < 0 {
			return -1
		}
		return i + 4 + k + 3
	case bytes.HasPrefix(rest, []byte("<![CDATA[")):
		k := bytes.Index(rest[9:], []byte("]]>"))
		if k < 0 {
			return -1
		}
		if t := s.top(); t != nil {
			t.text += k
		}
		return i + 9 + k + 3
	case bytes.HasPrefix(rest, []byte("<![")):
		return -1
	}
	// A directive (DOCTYPE and its internal subset), scanned as
	// encoding/xml does: quoted '<' and '>' do not nest, comments inside
	// are skipped.
	// The byte after "<!" is taken as it is, even a quote or '>'.
	var quote byte
	depth := 0
	for k := 3; k < len(rest); k++ {
		c := rest[k]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			if depth == 0 {
				return i + k + 1
			}
			depth--
		case c == '<':
			if bytes.HasPrefix(rest[k:], []byte("<!--")) {
				e := bytes.Index(rest[k+4:], []byte("-->"))
				if e < 0 {
					return -1
				}
				k += 4 + e + 2
				continue
			}
			depth++
		}
	}
	return -1
}

// startTag handles "<name attrs>" or "<name attrs/>" at i and returns the
// offset after it, or -1 where the decoder would fail.
func (s *xmlScan) startTag(i int) (int, error) {
	b := s.b
	k := i + 1
	name, k := readName(b, k)
	if name == nil {
		return -1, nil
	}
	parent := s.top()
	f := frame{name: localName(name)}
	if parent != nil {
		f.foreignNS = parent.foreignNS
	}
	attrs := 0
	empty := false
	for {
		k = skipSpace(b, k)
		if k >= len(b) {
			return -1, nil
		}
		if b[k] == '/' {
			if k+1 >= len(b) || b[k+1] != '>' {
				return -1, nil
			}
			empty = true
			k += 2
			break
		}
		if b[k] == '>' {
			k++
			break
		}
		var an []byte
		an, k = readName(b, k)
		if an == nil {
			return -1, nil
		}
		attrs++
		k = skipSpace(b, k)
		if k >= len(b) {
			return -1, nil
		}
		if b[k] != '=' {
			continue // non-strict: an attribute without a value
		}
		k = skipSpace(b, k+1)
		if k >= len(b) {
			return -1, nil
		}
		var val []byte
		if q := b[k]; q == '"' || q == '\'' {
			e := bytes.IndexByte(b[k+1:], q)
			if e < 0 {
				return -1, nil
			}
			val = b[k+1 : k+1+e]
			k += 1 + e + 1
		} else {
			st := k
			for k < len(b) && unquotedByte(b[k]) {
				k++
			}
			val = b[st:k]
		}
		if string(an) == "xmlns" {
			f.foreignNS = !isNative(val)
		}
	}
	if s.root < 0 {
		s.root = i
	}
	s.nodes += 1 + attrs
	if s.nodes > MaxNodes {
		return -1, tooComplex("more than %d elements and attributes", MaxNodes)
	}
	if len(s.stack)+1 > MaxDepth {
		return -1, tooComplex("elements nested deeper than %d", MaxDepth)
	}
	if parent != nil {
		parent.nodes++
		f.ext = parent.ext || f.foreignNS || len(f.name) < len(name)
		if f.ext {
			s.ext++
			if s.ext > MaxExtElements {
				return -1, tooComplex("more than %d extension elements", MaxExtElements)
			}
		}
	}
	if ln := string(f.name); ln == "item" || ln == "entry" {
		s.items++
		if s.items > s.maxItems {
			return -1, &Error{Kind: KindTooMany, Err: fmt.Errorf("document has more than %d items", s.maxItems)}
		}
	}
	if !empty {
		s.stack = append(s.stack, f)
	}
	s.maxDepth = max(s.maxDepth, len(s.stack)+1)
	return k, nil
}

// readName reads an XML name at k as encoding/xml does (ASCII name bytes
// or any byte from 0x80); nil when there is none.
func readName(b []byte, k int) ([]byte, int) {
	st := k
	for k < len(b) && (b[k] >= 0x80 || isNameByte(b[k])) {
		k++
	}
	if k == st {
		return nil, k
	}
	return b[st:k], k
}

// localName is the part after the prefix, split as encoding/xml does.
func localName(name []byte) []byte {
	if i := bytes.IndexByte(name, ':'); i > 0 && i < len(name)-1 && bytes.IndexByte(name[i+1:], ':') < 0 {
		return name[i+1:]
	}
	return name
}

func skipSpace(b []byte, k int) int {
	for k < len(b) && (b[k] == ' ' || b[k] == '\t' || b[k] == '\r' || b[k] == '\n') {
		k++
	}
	return k
}

// unquotedByte: what non-strict encoding/xml takes into an unquoted
// attribute value.
func unquotedByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == ':' || c == '-'
}

func isNative(ns []byte) bool {
	ns = bytes.TrimSpace(ns)
	for _, n := range nativeNS {
		if string(ns) == n {
			return true
		}
	}
	return false
}

// stripControls drops the C0 controls gofeed drops before decoding.
func stripControls(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c >= 0x20 || c == '\t' || c == '\n' || c == '\r' {
			out = append(out, c)
		}
	}
	return out
}

// scanJSON checks a JSON document's nesting, size in nodes and number of
// items (objects in the top-level "items" array) before encoding/json
// builds it.
func scanJSON(b []byte, maxItems int) (heavy bool, err error) {
	var stack [MaxDepth]byte // '{' or '['
	depth, nodes, items := 0, 0, 0
	itemsKey := false // the last key of the top-level object was "items"
	itemsDepth := -1  // depth of the open items array
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '"':
			e := stringEnd(b, i+1)
			if e < 0 {
				return false, nil // unterminated: encoding/json fails
			}
			if depth == 1 && stack[0] == '{' {
				k := skipSpace(b, e+1)
				if k < len(b) && b[k] == ':' {
					itemsKey = string(b[i+1:e]) == "items"
				}
			}
			i = e
		case '{', '[':
			if depth == MaxDepth {
				return false, tooComplex("json nested deeper than %d", MaxDepth)
			}
			nodes++
			if nodes > MaxNodes {
				return false, tooComplex("more than %d json objects, arrays and array values", MaxNodes)
			}
			if c == '[' && depth == 1 && itemsKey {
				itemsDepth = 2
			}
			if c == '{' && depth == itemsDepth {
				items++
				if items > maxItems {
					return false, &Error{Kind: KindTooMany, Err: fmt.Errorf("document has more than %d items", maxItems)}
				}
			}
			stack[depth] = c
			depth++
		case '}', ']':
			if depth == 0 {
				return false, nil // encoding/json fails here
			}
			depth--
			if depth < itemsDepth {
				itemsDepth = -1
			}
		case ',':
			if depth > 0 && stack[depth-1] == '[' {
				nodes++
				if nodes > MaxNodes {
					return false, tooComplex("more than %d json objects, arrays and array values", MaxNodes)
				}
			}
		}
	}
	return nodes > heavyNodes, nil
}

// stringEnd returns the offset of the quote closing the JSON string that
// starts at i, or -1.
func stringEnd(b []byte, i int) int {
	for {
		k := bytes.IndexByte(b[i:], '"')
		if k < 0 {
			return -1
		}
		e := i + k
		bs := 0
		for p := e - 1; p >= i && b[p] == '\\'; p-- {
			bs++
		}
		if bs%2 == 0 {
			return e
		}
		i = e + 1
	}
}
