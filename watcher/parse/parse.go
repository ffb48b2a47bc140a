// Package parse turns one fetched feed document (RSS 0.9x/1.0/2.0, Atom
// 0.3/1.0, JSON Feed) into items. It owns charset handling, format detection
// and error classification; it does no I/O.
package parse

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mmcdole/gofeed"
	"github.com/mmcdole/gofeed/atom"
	gojson "github.com/mmcdole/gofeed/json"
	"github.com/mmcdole/gofeed/rss"

	"github.com/feedwatch/feedwatch/item"
)

// Kind classifies why a document could not be parsed.
type Kind string

// Error kinds; they double as the result label of a poll.
const (
	KindNotFeed     Kind = "not_feed"
	KindBadXML      Kind = "bad_xml"
	KindBadEncoding Kind = "bad_encoding"
	KindTooMany     Kind = "too_many_items"
	// KindTooComplex: past a structure limit (nesting, elements, extension
	// elements, fragmented text); see MaxDepth.
	KindTooComplex Kind = "too_complex"
)

// Error is a classified parse failure.
type Error struct {
	Kind Kind
	Err  error
}

func (e *Error) Error() string {
	switch e.Kind {
	case KindNotFeed:
		return "not a feed: " + e.Err.Error()
	case KindBadXML:
		return "bad xml: " + e.Err.Error()
	case KindBadEncoding:
		return "bad encoding: " + e.Err.Error()
	case KindTooMany:
		return "too many items: " + e.Err.Error()
	case KindTooComplex:
		return "document too complex: " + e.Err.Error()
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// DefaultMaxItems caps the items of one document: gofeed holds the whole
// document in memory (a 200,000-item feed peaked at 290 MB of heap).
const DefaultMaxItems = 10000

// Doc is a parsed feed document.
type Doc struct {
	Title string
	Link  string
	// TTL is RSS <ttl> (minutes in the document), 0 when absent.
	TTL   time.Duration
	Items []item.Item
}

// Parse parses body. contentType is the HTTP Content-Type header ("" for
// files); its charset parameter overrides the XML declaration. maxItems <= 0
// means DefaultMaxItems. Documents past the structure limits (see MaxDepth)
// are refused before gofeed sees them.
func Parse(body []byte, contentType string, maxItems int) (*Doc, error) {
	return parseDoc(body, contentType, maxItems, true)
}

// parseDoc is Parse; fast=false skips the fast RSS path (differential tests).
func parseDoc(body []byte, contentType string, maxItems int, fast bool) (*Doc, error) {
	p, err := Prepare(body, contentType, maxItems)
	if err != nil {
		return nil, err
	}
	// The fast path first: it is iterative and bounds its own nesting and
	// item count, so plain RSS does not pay for the structure scan.
	if fast {
		if d, ok := p.Fast(); ok {
			return d, nil
		}
	}
	return p.Parse()
}

// HeavyBody is the size from which a document counts as heavy: gofeed
// takes up to ~10 times its size in heap.
const HeavyBody = 1 << 20

// A document whose structure passes these counts is heavy whatever its
// size (a 0.6 MB document of 100,000 extension elements takes 90 MB).
const (
	heavyNodes    = 10_000
	heavyExt      = 2_000
	heavyTextWork = 1 << 22
)

// Prepared is a document in UTF-8, split into the steps of a parse so a
// caller can bound the costly one: Fast (plain RSS; linear, bounded by
// itself), Check (the structure scan; linear, little memory) and Parse
// (gofeed; Heavy says whether it may take much memory).
type Prepared struct {
	body     []byte // UTF-8, leading whitespace trimmed
	size     int    // of the body as fetched
	json     bool
	ctrl     bool   // holds C0 controls: not for the fast path
	checked  bool   // Check passed
	heavy    bool   // the scan found a big structure
	prefix   []byte // from the root element on, for format detection
	maxItems int
}

// Fast parses plain RSS 2.0 without gofeed (about 5 times faster); ok is
// false for anything else.
func (p *Prepared) Fast() (d *Doc, ok bool) {
	if p.json || p.ctrl {
		return nil, false
	}
	defer func() {
		if r := recover(); r != nil {
			d, ok = nil, false // gofeed decides
		}
	}()
	return fastRSSChecked(p.body, p.maxItems)
}

// Check refuses documents past the structure limits or the item cap.
func (p *Prepared) Check() error {
	if p.checked {
		return nil
	}
	if err := p.scan(); err != nil {
		return err
	}
	p.checked = true
	return nil
}

// Heavy reports whether Parse may take much memory: a body of HeavyBody or
// more, or (after Check) a big structure.
func (p *Prepared) Heavy() bool { return p.size >= HeavyBody || p.heavy }

// Parse parses the document with gofeed, after Check.
func (p *Prepared) Parse() (*Doc, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	return p.slow()
}

// Prepare converts body to UTF-8 and classifies what is plainly not a feed.
func Prepare(body []byte, contentType string, maxItems int) (p *Prepared, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, &Error{Kind: KindBadEncoding, Err: fmt.Errorf("charset panic: %v", r)}
		}
	}()
	if maxItems <= 0 {
		maxItems = DefaultMaxItems
	}
	utf8Body, err := ToUTF8(body, contentType)
	if err != nil {
		return nil, err
	}
	trimmed := bytes.TrimLeft(utf8Body, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, &Error{Kind: KindNotFeed, Err: errors.New("empty document")}
	}
	p = &Prepared{body: trimmed, size: len(body), maxItems: maxItems}
	switch trimmed[0] {
	case '{':
		p.json = true
		return p, nil
	case '<':
	default:
		return nil, &Error{Kind: KindNotFeed, Err: errors.New("document is neither xml nor json")}
	}
	if looksHTML(trimmed) {
		return nil, &Error{Kind: KindNotFeed, Err: errors.New("document is an html page")}
	}
	p.ctrl = hasControl(trimmed)
	return p, nil
}

// scan checks the structure limits and finds the root element.
func (p *Prepared) scan() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &Error{Kind: KindBadXML, Err: fmt.Errorf("scan panic: %v", r)}
		}
	}()
	if p.json {
		p.heavy, err = scanJSON(p.body, p.maxItems)
		return err
	}
	scanned := p.body
	if p.ctrl {
		scanned = stripControls(p.body) // as gofeed does before decoding
	}
	root, heavy, err := scanXML(scanned, p.maxItems)
	if err != nil {
		return err
	}
	p.heavy = heavy
	// Detection reads the root element, wherever it starts: a DOCTYPE or
	// comments may fill more than the prefix it is given.
	p.prefix = scanned[max(root, 0):]
	if len(p.prefix) > 4096 {
		p.prefix = p.prefix[:4096]
	}
	return nil
}

// slow parses with gofeed; only after scan.
func (p *Prepared) slow() (doc *Doc, err error) {
	// A parser bug must cost one document, not the daemon.
	defer func() {
		if r := recover(); r != nil {
			doc, err = nil, &Error{Kind: KindBadXML, Err: fmt.Errorf("parser panic: %v", r)}
		}
	}()
	if p.json {
		return parseJSON(p.body, p.maxItems)
	}
	doc, err = parseXML(p.body, p.prefix, p.maxItems)
	if err != nil {
		// A document cut off inside its last end tag ("</rss") is common
		// enough (and harmless) to repair once.
		if fixed, ok := closeLastTag(p.body); ok {
			if d, err2 := parseXML(fixed, p.prefix, p.maxItems); err2 == nil {
				return d, nil
			}
		}
	}
	return doc, err
}

func parseXML(body, prefix []byte, maxItems int) (*Doc, error) {
	switch gofeed.DetectFeedType(bytes.NewReader(prefix)) {
	case gofeed.FeedTypeRSS:
		rf, err := (&rss.Parser{}).Parse(bytes.NewReader(body))
		if err != nil {
			return nil, &Error{Kind: KindBadXML, Err: err}
		}
		f, err := (&gofeed.DefaultRSSTranslator{DisableContentImageScan: true}).Translate(rf)
		if err != nil {
			return nil, &Error{Kind: KindBadXML, Err: err}
		}
		d := convert(f, maxItems)
		d.TTL = parseTTL(rf.TTL)
		return d, nil
	case gofeed.FeedTypeAtom:
		af, err := (&atom.Parser{}).Parse(bytes.NewReader(body))
		if err != nil {
			return nil, &Error{Kind: KindBadXML, Err: err}
		}
		f, err := (&gofeed.DefaultAtomTranslator{}).Translate(af)
		if err != nil {
			return nil, &Error{Kind: KindBadXML, Err: err}
		}
		return convert(f, maxItems), nil
	}
	if !wellFormedStart(body) {
		return nil, &Error{Kind: KindBadXML, Err: errors.New("no root element found")}
	}
	return nil, &Error{Kind: KindNotFeed, Err: errors.New("root element is not rss, rdf or feed")}
}

// parseTTL reads RSS <ttl> (minutes); 0 when absent, unreadable or 30 days
// and more.
func parseTTL(s string) time.Duration {
	if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && n > 0 && n < 60*24*30 {
		return time.Duration(n) * time.Minute
	}
	return 0
}

// closeLastTag appends ">" to a document ending in an unclosed end tag.
func closeLastTag(b []byte) ([]byte, bool) {
	t := bytes.TrimRight(b, " \t\r\n")
	i := bytes.LastIndex(t, []byte("</"))
	if i < 0 || i < len(t)-64 || bytes.IndexByte(t[i:], '>') >= 0 {
		return nil, false
	}
	out := make([]byte, 0, len(t)+1)
	out = append(out, t...)
	return append(out, '>'), true
}

func parseJSON(body []byte, maxItems int) (*Doc, error) {
	jf, err := (&gojson.Parser{}).Parse(bytes.NewReader(body))
	if err != nil {
		return nil, &Error{Kind: KindNotFeed, Err: fmt.Errorf("json: %w", err)}
	}
	if jf.Version == "" && len(jf.Items) == 0 {
		return nil, &Error{Kind: KindNotFeed, Err: errors.New("json document is not a json feed")}
	}
	if len(jf.Items) > maxItems {
		return nil, &Error{Kind: KindTooMany, Err: fmt.Errorf("document has %d items, limit %d", len(jf.Items), maxItems)}
	}
	f, err := (&gofeed.DefaultJSONTranslator{}).Translate(jf)
	if err != nil {
		return nil, &Error{Kind: KindNotFeed, Err: err}
	}
	return convert(f, maxItems), nil
}

func convert(f *gofeed.Feed, maxItems int) *Doc {
	d := &Doc{Title: strings.TrimSpace(f.Title), Link: strings.TrimSpace(f.Link)}
	n := len(f.Items)
	if n > maxItems {
		n = maxItems
	}
	d.Items = make([]item.Item, 0, n)
	for _, gi := range f.Items[:n] {
		if gi == nil {
			continue
		}
		it := item.Item{
			ID:         strings.TrimSpace(gi.GUID),
			Title:      strings.TrimSpace(gi.Title),
			Link:       strings.TrimSpace(gi.Link),
			Summary:    gi.Description,
			Content:    gi.Content,
			Categories: gi.Categories,
		}
		if it.Link == "" && len(gi.Links) > 0 {
			it.Link = strings.TrimSpace(gi.Links[0])
		}
		switch {
		case gi.PublishedParsed != nil:
			t := gi.PublishedParsed.UTC()
			it.Published = &t
		case gi.UpdatedParsed != nil:
			t := gi.UpdatedParsed.UTC()
			it.Published = &t
		}
		for _, p := range gi.Authors {
			if p == nil {
				continue
			}
			switch {
			case p.Name != "":
				it.Authors = append(it.Authors, p.Name)
			case p.Email != "":
				it.Authors = append(it.Authors, p.Email)
			}
		}
		d.Items = append(d.Items, it)
	}
	return d
}

// looksHTML recognises an HTML page served where a feed was expected (the
// most common "feed" failure: a moved site answering with its home page).
func looksHTML(b []byte) bool {
	head := b
	if len(head) > 1024 {
		head = head[:1024]
	}
	l := bytes.ToLower(head)
	return bytes.HasPrefix(l, []byte("<!doctype html")) || bytes.HasPrefix(l, []byte("<html")) ||
		(bytes.Contains(l, []byte("<html")) && !bytes.Contains(l, []byte("<rss")) &&
			!bytes.Contains(l, []byte("<feed")) && !bytes.Contains(l, []byte("<rdf")))
}

// wellFormedStart reports whether b has something that looks like a start
// tag after the prolog, to tell "bad xml" from "xml that is not a feed".
func wellFormedStart(b []byte) bool {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '<')
		if i < 0 || i+1 >= len(b) {
			return false
		}
		c := b[i+1]
		if c == '?' || c == '!' {
			b = b[i+1:]
			continue
		}
		return c == '_' || c == ':' || (c|0x20 >= 'a' && c|0x20 <= 'z') || c >= 0x80
	}
	return false
}
