package parse

import (
	"bytes"
	"fmt"
	"mime"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html/charset"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"
	"golang.org/x/text/transform"
)

// ToUTF8 returns body as UTF-8 with an XML declaration that no longer names
// another encoding, so the XML parser does not convert a second time.
//
// The encoding is chosen in this order: a byte-order mark; the charset
// parameter of the HTTP Content-Type (RFC 7303: it overrides the document);
// UTF-16/32 recognised from the first bytes; the XML declaration; UTF-8.
// Bytes invalid in the chosen encoding become U+FFFD: one bad byte must not
// lose the whole feed (gofeed alone fails the document).
func ToUTF8(body []byte, contentType string) ([]byte, error) {
	enc, name, bomLen := fromBOM(body)
	body = body[bomLen:]
	if enc == nil {
		if label := httpCharset(contentType); label != "" {
			enc, name = lookup(label)
		}
	}
	if enc == nil {
		enc, name = sniffWide(body)
	}
	if enc == nil {
		if label := xmlDeclEncoding(body); label != "" {
			enc, name = lookup(label)
			// A declared UTF-16/32 that neither the BOM nor the first
			// bytes confirmed is a document transcoded to an 8-bit
			// encoding that kept its declaration: read it as UTF-8.
			if enc == nil && !utf8.Valid(body) && !unorderedWide(label) {
				return nil, &Error{Kind: KindBadEncoding, Err: fmt.Errorf("unknown encoding %q", truncate(label, 40))}
			}
		}
	}
	var out []byte
	if enc == nil || name == "utf-8" {
		out = body
		if !utf8.Valid(out) {
			out = bytes.ToValidUTF8(out, []byte("\uFFFD"))
		}
	} else {
		var err error
		out, _, err = transform.Bytes(enc.NewDecoder(), body)
		if err != nil {
			return nil, &Error{Kind: KindBadEncoding, Err: fmt.Errorf("decode %s: %w", name, err)}
		}
		if !utf8.Valid(out) {
			out = bytes.ToValidUTF8(out, []byte("\uFFFD"))
		}
	}
	return fixC1(rewriteDecl(out)), nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func fromBOM(b []byte) (encoding.Encoding, string, int) {
	switch {
	case bytes.HasPrefix(b, []byte{0x00, 0x00, 0xFE, 0xFF}):
		return utf32.UTF32(utf32.BigEndian, utf32.IgnoreBOM), "utf-32be", 4
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE, 0x00, 0x00}):
		return utf32.UTF32(utf32.LittleEndian, utf32.IgnoreBOM), "utf-32le", 4
	case bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}):
		return unicode.UTF8, "utf-8", 3
	case bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		return unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM), "utf-16be", 2
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}):
		return unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM), "utf-16le", 2
	}
	return nil, "", 0
}

// sniffWide recognises "<?" (or "<") in UTF-16/32 without a BOM (XML 1.0
// appendix F).
func sniffWide(b []byte) (encoding.Encoding, string) {
	switch {
	case bytes.HasPrefix(b, []byte{0, 0, 0, '<'}):
		return utf32.UTF32(utf32.BigEndian, utf32.IgnoreBOM), "utf-32be"
	case bytes.HasPrefix(b, []byte{'<', 0, 0, 0}):
		return utf32.UTF32(utf32.LittleEndian, utf32.IgnoreBOM), "utf-32le"
	case bytes.HasPrefix(b, []byte{0, '<', 0}):
		return unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM), "utf-16be"
	case bytes.HasPrefix(b, []byte{'<', 0, '?', 0}) || bytes.HasPrefix(b, []byte{'<', 0, 'r', 0}) || bytes.HasPrefix(b, []byte{'<', 0, 'f', 0}):
		return unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM), "utf-16le"
	}
	return nil, ""
}

// lookup maps a label to an encoding; nil for unknown labels and for the
// UTF-16/32 labels without a byte order, which the BOM or the first bytes
// must tell (ToUTF8 checks both; a body without either is not UTF-16/32).
func lookup(label string) (encoding.Encoding, string) {
	if unorderedWide(label) {
		return nil, ""
	}
	label = strings.ToLower(strings.Trim(strings.TrimSpace(label), `"'`))
	switch label {
	case "utf-8", "utf8":
		return unicode.UTF8, "utf-8"
	case "utf-16be":
		return unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM), "utf-16be"
	case "utf-16le":
		return unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM), "utf-16le"
	case "utf-32be":
		return utf32.UTF32(utf32.BigEndian, utf32.IgnoreBOM), "utf-32be"
	case "utf-32le":
		return utf32.UTF32(utf32.LittleEndian, utf32.IgnoreBOM), "utf-32le"
	}
	enc, name := charset.Lookup(label)
	if enc == nil {
		return nil, ""
	}
	return enc, name
}

// unorderedWide reports whether label names UTF-16 or UTF-32 without a
// byte order.
func unorderedWide(label string) bool {
	switch strings.ToLower(strings.Trim(strings.TrimSpace(label), `"'`)) {
	case "utf-16", "utf16", "utf_16", "u16", "ucs-2", "utf-32", "utf32", "utf_32", "u32", "ucs-4":
		return true
	}
	return false
}

func httpCharset(contentType string) string {
	if contentType == "" {
		return ""
	}
	_, params, err := mime.ParseMediaType(contentType)
	if err == nil {
		return params["charset"]
	}
	// Tolerate the sloppy forms servers send (charset='x', stray ';').
	for _, part := range strings.Split(contentType, ";")[1:] {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "charset") {
			return strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	return ""
}

// xmlDeclEncoding returns the encoding pseudo-attribute of a leading XML
// declaration.
func xmlDeclEncoding(b []byte) string {
	decl, ok := leadingDecl(b)
	if !ok {
		return ""
	}
	i := bytes.Index(decl, []byte("encoding"))
	if i < 0 {
		return ""
	}
	rest := bytes.TrimLeft(decl[i+len("encoding"):], " \t\r\n")
	if len(rest) == 0 || rest[0] != '=' {
		return ""
	}
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	if len(rest) == 0 || (rest[0] != '"' && rest[0] != '\'') {
		return ""
	}
	q := rest[0]
	end := bytes.IndexByte(rest[1:], q)
	if end < 0 {
		return ""
	}
	return string(rest[1 : 1+end])
}

func leadingDecl(b []byte) ([]byte, bool) {
	t := bytes.TrimLeft(b, " \t\r\n")
	if !bytes.HasPrefix(t, []byte("<?xml")) {
		return nil, false
	}
	end := bytes.Index(t, []byte("?>"))
	if end < 0 || end > 512 {
		return nil, false
	}
	return t[:end+2], true
}

// rewriteDecl replaces a leading XML declaration with a plain UTF-8 one.
func rewriteDecl(b []byte) []byte {
	t := bytes.TrimLeft(b, " \t\r\n")
	decl, ok := leadingDecl(t)
	if !ok {
		return b
	}
	if label := strings.ToLower(xmlDeclEncoding(decl)); label == "" || label == "utf-8" || label == "utf8" {
		return b // the XML parser needs no conversion: no copy
	}
	const plain = `<?xml version="1.0" encoding="utf-8"?>`
	rest := t[len(decl):]
	out := make([]byte, 0, len(plain)+len(rest))
	out = append(out, plain...)
	return append(out, rest...)
}

// fixC1 maps C1 control characters (U+0080-U+009F), which never belong in
// feed text, to the windows-1252 characters their byte values stand for:
// documents that say ISO-8859-1 or UTF-8 but were written as windows-1252
// ("don\x92t" -> "don’t"), as feedparser does.
func fixC1(b []byte) []byte {
	if bytes.IndexByte(b, 0xC2) < 0 {
		return b
	}
	var out []byte
	last := 0
	for i := 0; i+1 < len(b); i++ {
		if b[i] != 0xC2 || b[i+1] < 0x80 || b[i+1] > 0x9F {
			continue
		}
		r := win1252C1[b[i+1]-0x80]
		if r == 0 {
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(b)+16)
		}
		out = append(out, b[last:i]...)
		out = utf8.AppendRune(out, r)
		last = i + 2
		i++
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

// win1252C1 is windows-1252 for bytes 0x80-0x9F (0 = undefined there).
var win1252C1 = [32]rune{
	0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
	0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
}
