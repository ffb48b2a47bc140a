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
// means DefaultMaxItems.
func Parse(body []byte, contentType string, maxItems int) (*Doc, error) {
	return parseDoc(body, contentType, maxItems, true)
}

// parseDoc is Parse; fast=false skips the fast RSS path (differential tests).
func parseDoc(body []byte, contentType string, maxItems int, fast bool) (doc *Doc, err error) {
	// A parser bug must cost one document, not the daemon.
	defer func() {
		if r := recover(); r != nil {
			doc, err = nil, &Error{Kind: KindBadXML, Err: fmt.Errorf("parser panic: %v", r)}
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
	switch trimmed[0] {
	case '{':
		return parseJSON(trimmed, maxItems)
	case '<':
	default:
		return nil, &Error{Kind: KindNotFeed, Err: errors.New("document is neither xml nor json")}
	}
	if looksHTML(trimmed) {
		return nil, &Error{Kind: KindNotFeed, Err: errors.New("document is an html page")}
	}
	// Refuse before parsing: gofeed materialises every item.
	if n := countItems(trimmed); n > maxItems {
		return nil, &Error{Kind: KindTooMany, Err: fmt.Errorf("document has %d items, limit %d", n, maxItems)}
	}
	prefix := trimmed
	if len(prefix) > 4096 {
		prefix = prefix[:4096]
	}
	if fast {
		if d, ok := fastRSS(trimmed, maxItems); ok {
			return d, nil
		}
	}
	doc, err = parseXML(trimmed, prefix, maxItems)
	if err != nil {
		// A document cut off inside its last end tag ("</rss") is common
		// enough (and harmless) to repair once.
		if fixed, ok := closeLastTag(trimmed); ok {
			if d, err2 := parseXML(fixed, prefix, maxItems); err2 == nil {
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

// countItems counts <item and <entry start tags (with or without a
// namespace prefix). It may overcount (<items>); it only gates the cap.
func countItems(b []byte) int {
	n := 0
	for {
		i := bytes.IndexByte(b, '<')
		if i < 0 {
			return n
		}
		b = b[i+1:]
		// skip an optional prefix like "rss:" or "atom:"
		j := 0
		for j < len(b) && j < 16 && b[j] != ':' && b[j] != '>' && b[j] != ' ' && b[j] != '/' {
			j++
		}
		name := b
		if j < len(b) && b[j] == ':' {
			name = b[j+1:]
		}
		if hasTag(name, "item") || hasTag(name, "entry") {
			n++
		}
	}
}

func hasTag(b []byte, tag string) bool {
	if len(b) <= len(tag) || string(b[:len(tag)]) != tag {
		return false
	}
	switch b[len(tag)] {
	case '>', ' ', '\t', '\r', '\n', '/':
		return true
	}
	return false
}
