// Package hostile generates the hostile feed documents of the security
// review (issue 12) for tests and benchmarks: they are megabytes, so they
// are built in the test instead of committed. Sizes are parameters so fuzz
// seeds can use small forms of the same shapes.
package hostile

import (
	"bytes"
	"strings"
)

// Doc is a named hostile document.
type Doc struct {
	Name string
	Body []byte
}

const rssHead = `<rss version="2.0"><channel><title>t</title><item><title>Xinjiang</title><guid>d4</guid>`

// NestedRSS is the review's RSS document: a foreign-namespace element
// followed by n nested <a> (3.5 million: 10 MB).
func NestedRSS(n int) []byte {
	return join(rssHead+`<a xmlns="http://evil/">`, "<a>", n, "")
}

// NestedAtom is NestedRSS for Atom.
func NestedAtom(n int) []byte {
	return join(`<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry><id>d4</id><title>Xinjiang</title><a xmlns="http://evil/">`, "<a>", n, "")
}

// UnclosedPrefixed is n unclosed <x:a> (1.9 million: 9.5 MB).
func UnclosedPrefixed(n int) []byte {
	return join(`<rss version="2.0" xmlns:x="http://evil/"><channel><title>t</title><item><guid>1</guid>`, "<x:a>", n, "")
}

// FlatExtensions is n empty extension elements in one item.
func FlatExtensions(n int) []byte {
	return join(`<rss version="2.0" xmlns:x="http://evil/"><channel><title>t</title><item><guid>1</guid>`, "<x:a/>", n, "</item></channel></rss>")
}

// FlatElements is n empty unknown elements in one Atom entry.
func FlatElements(n int) []byte {
	return join(`<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry><id>d4</id>`, "<b/>", n, "</entry></feed>")
}

// Attributes is one extension element with n attributes.
func Attributes(n int) []byte {
	return join(rssHead+`<b xmlns="http://evil/"`, " a=''", n, "/></item></channel></rss>")
}

// FragmentedText is an extension element whose text comes in n CDATA
// fragments: gofeed joins them by string concatenation (quadratic).
func FragmentedText(n int) []byte {
	return join(`<rss version="2.0" xmlns:x="http://evil/"><channel><title>t</title><item><guid>1</guid><x:a>`, "<![CDATA[xxxxxxxx]]>", n, "</x:a></item></channel></rss>")
}

// MixedText is an extension element with n children, text between them.
func MixedText(n int) []byte {
	return join(`<rss version="2.0" xmlns:x="http://evil/"><channel><title>t</title><item><guid>1</guid><x:a>`, "xxxxxxxx<b/>", n, "</x:a></item></channel></rss>")
}

// ManyItems is a document of n minimal RSS items.
func ManyItems(n int) []byte {
	return join(`<rss version="2.0"><channel><title>t</title>`, "<item><guid>1</guid></item>", n, "</channel></rss>")
}

// JSONItems is a JSON Feed of n empty items (3 million: 9 MB).
func JSONItems(n int) []byte {
	b := bytes.TrimSuffix(join(`{"version":"https://jsonfeed.org/version/1.1","title":"t","items":[`, "{},", n, ""), []byte(","))
	return append(b, "]}"...)
}

// NestedJSON is n nested arrays inside a JSON Feed item.
func NestedJSON(n int) []byte {
	return join(`{"version":"https://jsonfeed.org/version/1.1","items":[{"id":"1","x":`, "[", n, "")
}

// JSONArrayValues is a JSON Feed item with n tags.
func JSONArrayValues(n int) []byte {
	return join(`{"version":"https://jsonfeed.org/version/1.1","items":[{"id":"1","tags":["a"`, `,"a"`, n, `]}]}`)
}

// LongDoctype is a valid RSS feed behind a DOCTYPE of about n bytes.
func LongDoctype(n int) []byte {
	return []byte(`<?xml version="1.0"?><!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "http://my.netscape.com/publish/formats/rss-0.91.dtd" [<!-- ` +
		strings.Repeat("x", n) + ` -->]><rss version="2.0"><channel><title>t</title><item><title>a</title><guid>1</guid></item></channel></rss>`)
}

// EntityBomb is the billion laughs: ten levels of entities, each ten of
// the one before. A parser that expanded it would build 3 GB.
func EntityBomb() []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol0 "lol">`)
	for i := 1; i < 10; i++ {
		b.WriteString(`<!ENTITY lol` + string(rune('0'+i)) + ` "`)
		for j := 0; j < 10; j++ {
			b.WriteString(`&lol` + string(rune('0'+i-1)) + `;`)
		}
		b.WriteString(`">`)
	}
	b.WriteString(`]><rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title><guid>1</guid></item></channel></rss>`)
	return []byte(b.String())
}

// All returns the review's documents at full size (~10 MB each).
func All() []Doc {
	return []Doc{
		{"nested rss 3.5M", NestedRSS(3_500_000)},
		{"nested atom 3.5M", NestedAtom(3_500_000)},
		{"unclosed x:a 1.9M", UnclosedPrefixed(1_900_000)},
		{"nested 900k", NestedRSS(900_000)},
		{"flat extensions 1.6M", FlatExtensions(1_600_000)},
		{"flat elements 2.4M", FlatElements(2_400_000)},
		{"attributes 1.9M", Attributes(1_900_000)},
		{"cdata fragments 500k", FragmentedText(500_000)},
		{"mixed text 800k", MixedText(800_000)},
		{"json items 3M", JSONItems(3_000_000)},
		{"nested json 10M", NestedJSON(10_000_000)},
		{"json array values 2.5M", JSONArrayValues(2_500_000)},
	}
}

func join(head, rep string, n int, tail string) []byte {
	b := make([]byte, len(head)+len(rep)*n+len(tail))
	k := copy(b, head)
	// Repeat by doubling copies: fast even under the race detector.
	end := k + len(rep)*n
	if n > 0 {
		copy(b[k:], rep)
		for done := len(rep); k+done < end; done *= 2 {
			copy(b[k+done:end], b[k:k+done])
		}
	}
	copy(b[end:], tail)
	return b
}
