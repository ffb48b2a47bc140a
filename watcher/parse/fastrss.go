package parse

import (
	"bytes"
	"html"
	"regexp"
	"strings"
	"time"

	"github.com/feedwatch/feedwatch/item"
)

// fastRSS parses the plain shape of RSS 2.0 that most feeds have (title,
// link, guid, description, pubDate, category, content:encoded) about three
// times faster than gofeed, whose text decoding goes through reflection for
// every element. It produces exactly what the gofeed path produces for
// such documents (a differential test over the corpus and a fuzz test hold
// it to that) and declines (ok=false) anything else: other namespaces,
// authors, xml:base, DOCTYPE subsets, odd markup, unparsed dates. gofeed
// then parses the document as usual.
func fastRSS(b []byte, maxItems int) (doc *Doc, ok bool) {
	if hasControl(b) {
		return nil, false
	}
	return fastRSSChecked(b, maxItems)
}

// fastRSSChecked is fastRSS for a document known to hold no C0 controls
// (Check looked already).
func fastRSSChecked(b []byte, maxItems int) (doc *Doc, ok bool) {
	// encoding/xml rejects U+FFFE/U+FFFF; the fast path must not accept
	// what gofeed rejects.
	if bytes.Contains(b, []byte("xml:base")) ||
		bytes.Contains(b, []byte("\uFFFE")) || bytes.Contains(b, []byte("\uFFFF")) {
		return nil, false
	}
	s := &scan{b: b}
	if !s.prolog() {
		return nil, false
	}
	name, attrs, empty, ok := s.startTag()
	if !ok || empty || name != "rss" {
		return nil, false
	}
	ns, ok := nsDecls(attrs)
	if !ok {
		return nil, false
	}
	contentPrefix, dcPrefix := "", ""
	for p, uri := range ns {
		switch uri {
		case "http://purl.org/rss/1.0/modules/content/":
			contentPrefix = p
		case "http://purl.org/dc/elements/1.1/":
			dcPrefix = p
		case "http://wellformedweb.org/CommentAPI/", "http://purl.org/rss/1.0/modules/slash/":
		default:
			if p != "atom" || uri != "http://www.w3.org/2005/Atom" {
				return nil, false
			}
		}
	}
	if !s.skipMisc() {
		return nil, false
	}
	name, _, empty, ok = s.startTag()
	if !ok || empty || name != "channel" {
		return nil, false
	}
	doc = &Doc{Items: make([]item.Item, 0, 32)}
	var ttl string
	sawAtomLink := false
	for {
		if !s.skipMisc() {
			return nil, false
		}
		if s.endTagIs("channel") {
			break
		}
		name, attrs, empty, ok := s.startTag()
		if !ok {
			return nil, false
		}
		if strings.Contains(attrs, "xmlns") {
			return nil, false
		}
		lname := strings.ToLower(name)
		switch {
		case lname == "item":
			if empty {
				return nil, false
			}
			if len(doc.Items) >= maxItems {
				return nil, false
			}
			it, ok := s.item(contentPrefix, dcPrefix)
			if !ok {
				return nil, false
			}
			doc.Items = append(doc.Items, it)
			continue
		case empty:
			if lname == "title" || lname == "link" {
				return nil, false
			}
			continue
		}
		raw, ok := s.inner(name)
		if !ok {
			return nil, false
		}
		switch {
		case lname == "title":
			doc.Title = strings.TrimSpace(parseText(raw))
		case lname == "link":
			if strings.Contains(attrs, "href") {
				return nil, false
			}
			doc.Link = strings.TrimSpace(parseText(raw))
		case lname == "ttl":
			ttl = parseText(raw)
		case strings.Contains(name, ":"):
			// atom:link rel="self" and friends: not used for our fields.
			if lname != "atom:link" {
				return nil, false
			}
			sawAtomLink = true
		}
	}
	if !s.skipMisc() || !s.endTagIs("rss") {
		return nil, false // e.g. items after the channel
	}
	if doc.Link == "" && sawAtomLink {
		return nil, false // gofeed takes the link from atom:link then
	}
	if !s.withinLimits() {
		return nil, false
	}
	doc.TTL = parseTTL(ttl)
	return doc, true
}

func hasControl(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			return true
		}
	}
	return false
}

func (s *scan) item(contentPrefix, dcPrefix string) (item.Item, bool) {
	var it item.Item
	var creator, dcDate string
	seenCreator, seenDate := false, false
	for {
		if !s.skipMisc() {
			return it, false
		}
		if s.endTagIs("item") {
			if seenCreator {
				// gofeed: personFromText(first dc:creator); we keep the
				// name, else the address.
				name, addr := parseNameAddress(creator)
				switch {
				case name != "":
					it.Authors = []string{name}
				case addr != "":
					it.Authors = []string{addr}
				}
			}
			if it.Published == nil && seenDate {
				t, ok := parseRSSDate(dcDate)
				if !ok {
					return it, false
				}
				it.Published = &t
			}
			return it, true
		}
		name, attrs, empty, ok := s.startTag()
		if !ok || strings.Contains(attrs, "xmlns") {
			return it, false
		}
		lname := strings.ToLower(name)
		prefix, local, hasPrefix := strings.Cut(name, ":")
		isDC := hasPrefix && dcPrefix != "" && prefix == dcPrefix
		if hasPrefix {
			switch {
			case prefix == contentPrefix && contentPrefix != "" && local == "encoded":
			case isDC && (local == "creator" || local == "date"):
			case prefix == "wfw" || prefix == "slash":
			default:
				return it, false
			}
		}
		switch lname {
		case "author", "source":
			return it, false
		}
		if empty {
			if isDC {
				return it, false
			}
			switch lname {
			case "title", "link", "guid", "description", "pubdate", "category":
				return it, false
			}
			continue
		}
		raw, ok := s.inner(name)
		if !ok {
			return it, false
		}
		switch {
		case hasPrefix && local == "encoded" && prefix == contentPrefix:
			it.Content = parseText(raw)
		case isDC:
			// gofeed reads extension text through encoding/xml (entities
			// decoded its way, child text included): take only plain text.
			v, ok := plainText(raw)
			if !ok {
				return it, false
			}
			if local == "creator" && !seenCreator {
				creator, seenCreator = v, true
			}
			if local == "date" && !seenDate {
				dcDate, seenDate = v, true
			}
		case hasPrefix:
		case lname == "title":
			it.Title = strings.TrimSpace(parseText(raw))
		case lname == "link":
			if strings.Contains(attrs, "href") {
				return it, false
			}
			it.Link = strings.TrimSpace(parseText(raw))
		case lname == "guid":
			it.ID = strings.TrimSpace(parseText(raw))
		case lname == "description":
			it.Summary = parseText(raw)
		case lname == "category":
			it.Categories = append(it.Categories, parseText(raw))
		case lname == "pubdate":
			t, ok := parseRSSDate(parseText(raw))
			if !ok {
				return it, false
			}
			it.Published = &t
		}
	}
}

// parseRSSDate parses the date forms gofeed parses identically; anything
// else declines the fast path.
func parseRSSDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	for _, layout := range []string{time.RFC1123Z, "Mon, 2 Jan 2006 15:04:05 -0700", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	if strings.HasSuffix(s, " GMT") || strings.HasSuffix(s, " UTC") {
		base := s[:len(s)-4]
		for _, layout := range []string{"Mon, 02 Jan 2006 15:04:05", "Mon, 2 Jan 2006 15:04:05"} {
			if t, err := time.ParseInLocation(layout, base, time.UTC); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// parseText is gofeed's ParseText on an element's raw inner XML: trimmed,
// CDATA unwrapped, entities decoded outside CDATA.
func parseText(raw []byte) string {
	str := strings.TrimSpace(string(raw))
	if !strings.Contains(str, "<![CDATA[") {
		return decodeEntities(str)
	}
	var buf strings.Builder
	curr := 0
	for curr < len(str) {
		start := strings.Index(str[curr:], "<![CDATA[")
		if start < 0 {
			buf.WriteString(decodeEntities(str[curr:]))
			break
		}
		start += curr
		buf.WriteString(decodeEntities(str[curr:start]))
		end := strings.Index(str[start+9:], "]]>")
		if end < 0 {
			buf.WriteString(decodeEntities(str[start:]))
			break
		}
		end += start + 9
		buf.WriteString(str[start+9 : end])
		curr = end + 3
	}
	return buf.String()
}

// decodeEntities is gofeed's DecodeEntities (MIT licence, mmcdole/gofeed).
func decodeEntities(str string) string {
	if strings.IndexByte(str, '&') < 0 {
		return str
	}
	const maxEntityLen = 64
	var buf bytes.Buffer
	data := []byte(str)
	for len(data) > 0 {
		idx := bytes.IndexByte(data, '&')
		if idx == -1 {
			buf.Write(data)
			break
		}
		buf.Write(data[:idx])
		data = data[idx:]
		window := data
		if len(window) > maxEntityLen {
			window = window[:maxEntityLen]
		}
		end := bytes.IndexByte(window, ';')
		if end == -1 && len(window) == len(data) {
			buf.Write(data)
			break
		}
		if end == -1 || bytes.ContainsAny(data[1:end], " \t\r\n") {
			buf.WriteByte('&')
			data = data[1:]
			continue
		}
		span := string(data[:end+1])
		dec := html.UnescapeString(span)
		if dec == html.UnescapeString(span[:len(span)-1])+";" {
			buf.WriteByte('&')
			data = data[1:]
			continue
		}
		buf.WriteString(dec)
		data = data[end+1:]
	}
	return buf.String()
}

// scan is a minimal XML scanner over a UTF-8 document, strict about what
// it accepts (anything unusual makes the caller decline).
type scan struct {
	b   []byte
	pos int
	// Counts for the structure limits (limits.go), over-approximated:
	// the fast path declines whatever the structure scan might refuse.
	nodes, ext, textWork int
}

// withinLimits reports whether the counts stay inside the structure
// limits.
func (s *scan) withinLimits() bool {
	return s.nodes <= MaxNodes && s.ext <= MaxExtElements && s.textWork <= maxTextWork
}

// prolog skips the XML declaration, comments, PIs, whitespace and a
// DOCTYPE without internal subset.
func (s *scan) prolog() bool {
	if bytes.HasPrefix(s.b, []byte("<?")) {
		end := bytes.Index(s.b, []byte("?>"))
		if end < 0 || !bytes.HasPrefix(s.b, []byte("<?xml ")) {
			return false
		}
		decl := s.b[:end]
		if !bytes.Contains(decl, []byte(`version="1.0"`)) && !bytes.Contains(decl, []byte(`version='1.0'`)) {
			return false
		}
		s.pos = end + 2
	}
	for {
		if !s.skipMisc() {
			return false
		}
		rest := s.b[s.pos:]
		if bytes.HasPrefix(rest, []byte("<!DOCTYPE")) {
			end := bytes.IndexByte(rest, '>')
			if end < 0 || bytes.IndexByte(rest[:end], '[') >= 0 {
				return false
			}
			s.pos += end + 1
			continue
		}
		return true
	}
}

// skipMisc skips whitespace, comments and processing instructions; text
// other than whitespace fails.
func (s *scan) skipMisc() bool {
	for s.pos < len(s.b) {
		c := s.b[s.pos]
		switch c {
		case ' ', '\t', '\r', '\n':
			s.pos++
			continue
		case '<':
			rest := s.b[s.pos:]
			switch {
			case bytes.HasPrefix(rest, []byte("<!--")):
				n, ok := commentLen(rest)
				if !ok {
					return false
				}
				s.pos += n
				continue
			case bytes.HasPrefix(rest, []byte("<?")):
				return false // only the leading declaration (prolog)
			}
			return true
		default:
			return false
		}
	}
	return false
}

func isNameByte(c byte) bool {
	return c == '_' || c == ':' || c == '-' || c == '.' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// startTag reads "<name attrs>" or "<name attrs/>" at pos.
func (s *scan) startTag() (name, attrs string, empty, ok bool) {
	if s.pos >= len(s.b) || s.b[s.pos] != '<' {
		return "", "", false, false
	}
	i := s.pos + 1
	j := i
	for j < len(s.b) && isNameByte(s.b[j]) {
		j++
	}
	if j == i || j >= len(s.b) || (s.b[i] >= '0' && s.b[i] <= '9') || s.b[i] == '-' || s.b[i] == '.' {
		return "", "", false, false
	}
	name = string(s.b[i:j])
	// Attributes: quoted values may hold '>' or '/'.
	k := j
	var quote byte
	for ; k < len(s.b); k++ {
		c := s.b[k]
		if quote != 0 {
			if c == quote {
				quote = 0
			} else if c == '<' {
				return "", "", false, false
			}
			continue
		}
		if c == '"' || c == '\'' {
			quote = c
			continue
		}
		if c == '<' || c == '&' {
			return "", "", false, false
		}
		if c == '>' {
			break
		}
	}
	if k >= len(s.b) {
		return "", "", false, false
	}
	a := s.b[j:k]
	if len(a) > 0 && a[len(a)-1] == '/' {
		empty = true
		a = a[:len(a)-1]
	}
	if !validAttrs(a) {
		return "", "", false, false
	}
	s.nodes += 1 + bytes.Count(a, []byte("="))
	if strings.IndexByte(name, ':') >= 0 {
		s.ext++
	}
	s.pos = k + 1
	return name, string(a), empty, true
}

// endTagIs consumes "</name>" at pos if it is there.
func (s *scan) endTagIs(name string) bool {
	rest := s.b[s.pos:]
	if len(rest) < len(name)+3 || rest[0] != '<' || rest[1] != '/' || string(rest[2:2+len(name)]) != name {
		return false
	}
	k := 2 + len(name)
	for k < len(rest) && (rest[k] == ' ' || rest[k] == '\t' || rest[k] == '\r' || rest[k] == '\n') {
		k++
	}
	if k >= len(rest) || rest[k] != '>' {
		return false
	}
	s.pos += k + 1
	return true
}

// inner returns the raw bytes up to the end tag matching name (nested
// elements balanced, CDATA and comments opaque) and consumes the end tag.
func (s *scan) inner(name string) ([]byte, bool) {
	start := s.pos
	var stack []string
	// gofeed joins an extension element's text fragments by string
	// concatenation: count the work as limits.go does (here over all the
	// nodes inside, an upper bound).
	fragments := 0
	if strings.IndexByte(name, ':') >= 0 {
		defer func() { s.textWork += (fragments + 1) * (s.pos - start) }()
	}
	for {
		fragments++
		i := bytes.IndexByte(s.b[s.pos:], '<')
		if i < 0 || bytes.Contains(s.b[s.pos:s.pos+i], []byte("]]>")) {
			return nil, false // encoding/xml rejects "]]>" in text
		}
		s.pos += i
		rest := s.b[s.pos:]
		switch {
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			end := bytes.Index(rest, []byte("]]>"))
			if end < 0 {
				return nil, false
			}
			s.pos += end + 3
		case bytes.HasPrefix(rest, []byte("<!--")):
			n, ok := commentLen(rest)
			if !ok {
				return nil, false
			}
			s.pos += n
		case bytes.HasPrefix(rest, []byte("</")):
			want := name
			if len(stack) > 0 {
				want = stack[len(stack)-1]
			}
			at := s.pos
			if !s.endTagIs(want) {
				return nil, false
			}
			if len(stack) == 0 {
				return s.b[start:at], true
			}
			stack = stack[:len(stack)-1]
		case len(rest) > 1 && (rest[1] == '!' || rest[1] == '?'):
			return nil, false
		default:
			n, attrs, empty, ok := s.startTag()
			if !ok || strings.Contains(attrs, "xmlns") {
				return nil, false
			}
			if !empty {
				// Declines wherever the structure scan might refuse
				// (rss, channel, item and this element are 4 levels).
				if len(stack) >= MaxDepth-4 {
					return nil, false
				}
				stack = append(stack, n)
			}
		}
	}
}

// nsDecls reads xmlns:prefix="uri" declarations from the root's
// attributes; a default namespace declines.
func nsDecls(attrs string) (map[string]string, bool) {
	ns := map[string]string{}
	for {
		i := strings.Index(attrs, "xmlns")
		if i < 0 {
			return ns, true
		}
		rest := attrs[i+5:]
		if !strings.HasPrefix(rest, ":") {
			return nil, false
		}
		eq := strings.IndexByte(rest, '=')
		if eq < 0 {
			return nil, false
		}
		prefix := strings.TrimSpace(rest[1:eq])
		v := strings.TrimLeft(rest[eq+1:], " \t\r\n")
		if v == "" || (v[0] != '"' && v[0] != '\'') {
			return nil, false
		}
		end := strings.IndexByte(v[1:], v[0])
		if end < 0 {
			return nil, false
		}
		ns[prefix] = v[1 : 1+end]
		attrs = v[2+end:]
	}
}

// plainText is the trimmed text of raw inner XML without markup or
// entities (CDATA unwrapped); ok=false when raw has either.
func plainText(raw []byte) (string, bool) {
	str := string(raw)
	if strings.IndexByte(str, '&') >= 0 {
		return "", false
	}
	if strings.Contains(str, "<![CDATA[") {
		str = parseText(raw)
		if strings.ContainsAny(str, "<&") {
			return "", false
		}
		return strings.TrimSpace(str), true
	}
	if strings.IndexByte(str, '<') >= 0 {
		return "", false
	}
	return strings.TrimSpace(str), true
}

// The patterns of gofeed's ParseNameAddress (MIT licence, mmcdole/gofeed).
var (
	emailNameRgx = regexp.MustCompile(`^([^@]+@[^\s]+)\s+\(([^@]+)\)$`)
	nameEmailRgx = regexp.MustCompile(`^([^@]+)\s+\(([^@]+@[^)]+)\)$`)
	nameOnlyRgx  = regexp.MustCompile(`^([^@()]+)$`)
	emailOnlyRgx = regexp.MustCompile(`^([^@()]+@[^@()]+)$`)
)

func parseNameAddress(s string) (name, address string) {
	if s == "" {
		return
	}
	if m := emailNameRgx.FindStringSubmatch(s); m != nil {
		return m[2], m[1]
	}
	if m := nameEmailRgx.FindStringSubmatch(s); m != nil {
		return m[1], m[2]
	}
	if m := nameOnlyRgx.FindStringSubmatch(s); m != nil {
		return m[1], ""
	}
	if m := emailOnlyRgx.FindStringSubmatch(s); m != nil {
		return "", m[1]
	}
	return
}

// validAttrs accepts only well-formed ` name="value"` sequences.
func validAttrs(a []byte) bool {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
	i := 0
	for {
		j := i
		for j < len(a) && isSpace(a[j]) {
			j++
		}
		if j == len(a) {
			return true
		}
		if j == i {
			return false // attributes must be separated by space
		}
		k := j
		for k < len(a) && isNameByte(a[k]) {
			k++
		}
		if k == j || (a[j] >= '0' && a[j] <= '9') || a[j] == '-' || a[j] == '.' {
			return false
		}
		for k < len(a) && isSpace(a[k]) {
			k++
		}
		if k >= len(a) || a[k] != '=' {
			return false
		}
		k++
		for k < len(a) && isSpace(a[k]) {
			k++
		}
		if k >= len(a) || (a[k] != '"' && a[k] != '\'') {
			return false
		}
		end := bytes.IndexByte(a[k+1:], a[k])
		if end < 0 {
			return false
		}
		i = k + 1 + end + 1
	}
}

// commentLen returns the length of the comment at the start of b; a "--"
// inside it is an error for encoding/xml, so it declines too.
func commentLen(b []byte) (int, bool) {
	end := bytes.Index(b[4:], []byte("--"))
	if end < 0 || 4+end+2 >= len(b) || b[4+end+2] != '>' {
		return 0, false
	}
	return 4 + end + 3, true
}
