// Package opml reads the subscription lists feed readers export (OPML 1.0
// and 2.0) and writes the feed list back as OPML 2.0.
//
// OPML files come from elsewhere and are untrusted: a document is bounded
// in size, nesting and node count before it costs much, and every problem
// names the line it is on.
//
// What Parse takes from a document:
//   - every outline with an xmlUrl attribute (any case: xmlUrl, xmlurl) is
//     a feed; its name is its title, else its text;
//   - the title (else text) of each enclosing outline without xmlUrl is a
//     category, as Miniflux, FreshRSS, Feedly and newsboat write folders;
//     the category attribute adds more (comma-separated, each "/a/b" path
//     giving a and b), as OPML 2.0 defines it;
//   - htmlUrl is kept as the feed's site;
//   - an outline without xmlUrl and without children (a note, a separator)
//     is skipped.
package opml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"unicode"

	"github.com/feedwatch/feedwatch/watcher/parse"
)

// Limits on a document, checked while it is read: an export of 50,000
// feeds with a few categories is about 10 MB, 60,000 elements, 350,000
// attributes, 3 levels deep.
const (
	// MaxSize is the largest document read.
	MaxSize = 32 << 20
	// MaxDepth bounds element nesting (opml > body > folders > outline).
	MaxDepth = 64
	// MaxElements bounds the elements of a document.
	MaxElements = 250_000
	// MaxAttrs bounds the attributes of a document; encoding/xml holds
	// every attribute of a start tag at once, so they are counted (as
	// "=" bytes, an upper bound) before decoding.
	MaxAttrs = 2_000_000
	// maxProblems bounds the problems reported for one document.
	maxProblems = 50
)

// Feed is one subscription of a document.
type Feed struct {
	// Title is the outline's title, else its text; "" when it has neither.
	Title   string
	XMLURL  string
	HTMLURL string
	// Categories are the enclosing folders' titles, outermost first, then
	// the category attribute's entries; without repeats.
	Categories []string
	// Line is the line of the outline's start tag.
	Line int
}

// Document is a parsed OPML document.
type Document struct {
	Title string
	Feeds []Feed
}

// Error is one problem with a document, at a line (0 when unknown).
type Error struct {
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

// Errors is every problem found in a document.
type Errors []*Error

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "; ")
}

// Read reads at most MaxSize bytes of r and parses them.
func Read(r io.Reader) (*Document, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("read opml: %w", err)
	}
	return Parse(data)
}

// Parse parses an OPML document. A document that is not OPML (not XML, no
// <opml> root, no <body>) or is past a limit fails with one Error; bad
// feed URLs are collected, each with its line, and fail the document as
// Errors. A failed document yields no feeds.
func Parse(data []byte) (*Document, error) {
	if len(data) > MaxSize {
		return nil, Errors{{Msg: fmt.Sprintf("the file is larger than %d MB, the most an OPML file may be", MaxSize>>20)}}
	}
	if n := bytes.Count(data, []byte{'='}); n > MaxAttrs {
		return nil, Errors{{Msg: fmt.Sprintf("more than %d attributes: not a subscription list", MaxAttrs)}}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, Errors{{Msg: "the file is empty"}}
	}
	body, err := parse.ToUTF8(data, "")
	if err != nil {
		return nil, Errors{{Msg: "not OPML: " + err.Error()}}
	}
	p := &parser{d: xml.NewDecoder(bytes.NewReader(body)), outlines: bytes.Count(body, []byte("<outline"))}
	// Readers' exports are not always well-formed ("&" unescaped in a
	// title, HTML entities); be as lenient as the readers that import
	// them. Entities are never expanded beyond the fixed HTML set, so a
	// DTD's "billion laughs" is text, not gigabytes.
	p.d.Strict = false
	p.d.Entity = xml.HTMLEntity
	p.d.CharsetReader = func(label string, r io.Reader) (io.Reader, error) {
		// ToUTF8 decoded the document already; its declaration may still
		// name the original encoding.
		return r, nil
	}
	doc, err := p.run()
	if err != nil {
		return nil, err
	}
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	return doc, nil
}

type parser struct {
	d        *xml.Decoder
	errs     Errors
	elements int
	outlines int // "<outline" in the document: a capacity hint
}

// folder is an open <outline> or other element.
type folder struct {
	outline  bool
	category string // title of a folder outline, "" otherwise
	feed     bool   // an outline with xmlUrl: not a folder
}

func (p *parser) line() int {
	l, _ := p.d.InputPos()
	return l
}

func (p *parser) fail(line int, format string, args ...any) error {
	return Errors{{Line: line, Msg: fmt.Sprintf(format, args...)}}
}

func (p *parser) run() (*Document, error) {
	// Most outlines of a subscription list are feeds: size for them.
	doc := &Document{Feeds: make([]Feed, 0, min(p.outlines, MaxElements))}
	var stack []folder
	sawRoot, sawBody, inBody, inHead, inTitle := false, false, false, false, false
	bodyDepth := 0
	for {
		// The position before the token is just before its "<": the line
		// a person finds the tag on.
		line := p.line()
		tok, err := p.d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return nil, p.fail(se.Line, "not well-formed XML: %s", se.Msg)
			}
			return nil, p.fail(p.line(), "not well-formed XML: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			p.elements++
			if p.elements > MaxElements {
				return nil, p.fail(line, "more than %d elements: not a subscription list", MaxElements)
			}
			if len(stack)+1 > MaxDepth {
				return nil, p.fail(line, "nested more than %d levels deep", MaxDepth)
			}
			name := strings.ToLower(t.Name.Local)
			if len(stack) == 0 {
				if sawRoot {
					return nil, p.fail(line, "a second root element <%s>", clip(t.Name.Local))
				}
				sawRoot = true
				if name != "opml" {
					return nil, p.fail(line, "not OPML: the root element is <%s>, not <opml>", clip(t.Name.Local))
				}
				stack = append(stack, folder{})
				continue
			}
			if len(stack) == 1 {
				switch name {
				case "body":
					sawBody, inBody, bodyDepth = true, true, len(stack)+1
				case "head":
					inHead = true
				}
				stack = append(stack, folder{})
				continue
			}
			if inHead && len(stack) == 2 && name == "title" {
				inTitle = true
			}
			if !inBody || name != "outline" {
				stack = append(stack, folder{})
				continue
			}
			f := p.outline(t, line, stack, doc)
			stack = append(stack, f)
		case xml.EndElement:
			if len(stack) == 0 {
				continue
			}
			if len(stack) == bodyDepth {
				inBody = false
			}
			if len(stack) == 2 {
				inHead = false
			}
			inTitle = false
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if inTitle && len(doc.Title) < 1000 {
				doc.Title += string(t)
			}
		}
	}
	if !sawRoot {
		return nil, p.fail(0, "not OPML: no <opml> element")
	}
	if !sawBody {
		return nil, p.fail(0, "not OPML: no <body> element")
	}
	doc.Title = clean(doc.Title)
	return doc, nil
}

// outline handles one <outline> start tag inside <body>.
func (p *parser) outline(t xml.StartElement, line int, stack []folder, doc *Document) folder {
	var title, text, xmlURL, htmlURL, category string
	for _, a := range t.Attr {
		switch strings.ToLower(a.Name.Local) {
		case "title":
			title = a.Value
		case "text":
			text = a.Value
		case "xmlurl":
			xmlURL = a.Value
		case "htmlurl":
			htmlURL = a.Value
		case "category":
			category = a.Value
		}
	}
	name := clean(title)
	if name == "" {
		name = clean(text)
	}
	xmlURL = strings.TrimSpace(xmlURL)
	if xmlURL == "" {
		return folder{outline: true, category: name}
	}
	if msg := checkURL(xmlURL); msg != "" {
		if len(p.errs) < maxProblems {
			p.errs = append(p.errs, &Error{Line: line, Msg: "outline " + quoteName(name) + ": xmlUrl " + msg})
		}
		return folder{outline: true, feed: true}
	}
	f := Feed{Title: name, XMLURL: xmlURL, Line: line}
	if h := strings.TrimSpace(htmlURL); h != "" && checkURL(h) == "" {
		f.HTMLURL = h
	}
	add := func(c string) {
		c = clean(c)
		if c != "" && !slices.Contains(f.Categories, c) {
			f.Categories = append(f.Categories, c)
		}
	}
	for _, s := range stack {
		if s.outline && !s.feed {
			add(s.category)
		}
	}
	if category == "" {
		doc.Feeds = append(doc.Feeds, f)
		return folder{outline: true, feed: true}
	}
	for _, c := range strings.Split(category, ",") {
		for _, part := range strings.Split(c, "/") {
			add(part)
		}
	}
	doc.Feeds = append(doc.Feeds, f)
	return folder{outline: true, feed: true}
}

// checkURL says what is wrong with a feed URL, "" when it is an absolute
// http(s) URL with a host. It never quotes the URL: it may carry a token.
func checkURL(s string) string {
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return "holds a control character"
	}
	u, err := url.Parse(s)
	if err != nil {
		return "is not a valid URL"
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
	case "":
		return "is not an absolute URL (want https://host/path)"
	default:
		return fmt.Sprintf("has scheme %q: want http or https", clip(u.Scheme))
	}
	if u.Host == "" {
		return "has no host"
	}
	return ""
}

// clean makes attribute text a one-line name: control characters dropped,
// runs of white space as one space, at most 200 characters.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return ' '
		}
		if unicode.IsControl(r) || r == '\uFFFD' || unicode.In(r, unicode.Bidi_Control) {
			return -1
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= 200 {
		return s
	}
	if r := []rune(s); len(r) > 200 {
		s = strings.TrimSpace(string(r[:200]))
	}
	return s
}

func clip(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}

func quoteName(name string) string {
	if name == "" {
		return "(untitled)"
	}
	return fmt.Sprintf("%q", clip(name))
}
