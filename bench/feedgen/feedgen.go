// Package feedgen makes the benchmark's feed documents and profiles: a
// vocabulary of pseudo-words, ~30 KB 20-item RSS documents written from it,
// and keyword profiles whose two-word phrases hit a few percent of items.
// Everything is deterministic for a seed, so a farm process and a benchmark
// in another process agree on the documents without sharing files.
package feedgen

import (
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Gen holds a vocabulary and a pool of item texts built from it.
type Gen struct {
	words []string
	texts []itemText
}

type itemText struct{ title, desc string }

const (
	// vocab is sized so that 1,000 profiles of two two-word phrases hit
	// about 3 % of ~215-word items (1-exp(-215*2000/vocab^2)).
	vocab     = 3500
	poolSize  = 512
	descWords = 205
)

// New builds the vocabulary and the item text pool for seed.
func New(seed uint64) *Gen {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	cons, vows := "bcdfghklmnprstvz", "aeiou"
	seen := map[string]bool{}
	g := &Gen{}
	for len(g.words) < vocab {
		n := 2 + r.IntN(2)
		var b strings.Builder
		for range n {
			b.WriteByte(cons[r.IntN(len(cons))])
			b.WriteByte(vows[r.IntN(len(vows))])
		}
		w := b.String()
		if !seen[w] {
			seen[w] = true
			g.words = append(g.words, w)
		}
	}
	for range poolSize {
		g.texts = append(g.texts, itemText{title: g.sentence(r, 8), desc: g.sentence(r, descWords)})
	}
	return g
}

func (g *Gen) sentence(r *rand.Rand, n int) string {
	var b strings.Builder
	for i := range n {
		w := g.words[r.IntN(len(g.words))]
		if i == 0 || r.IntN(12) == 0 {
			w = strings.ToUpper(w[:1]) + w[1:]
		}
		b.WriteString(w)
		switch {
		case i == n-1:
			b.WriteByte('.')
		case r.IntN(10) == 0:
			b.WriteString(", ")
		default:
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// Profiles returns n profiles as YAML list entries (indented for a
// top-level "profiles:" key), each with two two-word keyword phrases.
func (g *Gen) Profiles(n int, seed uint64) string {
	r := rand.New(rand.NewPCG(seed, 7))
	var b strings.Builder
	for i := range n {
		p := func() string { return g.words[r.IntN(len(g.words))] + " " + g.words[r.IntN(len(g.words))] }
		fmt.Fprintf(&b, "  - name: p%d\n    keywords: [%q, %q]\n", i, p(), p())
	}
	return b.String()
}

// Doc writes feed's document for poll number poll: 20 items whose GUIDs
// and links are unique to (feed, poll), so every item of every poll is new,
// dated just before now.
func (g *Gen) Doc(feed, poll int, now time.Time) []byte {
	return g.doc(feed, now, func(j int) string { return strconv.Itoa(poll) + "/" + strconv.Itoa(j) })
}

// Window writes feed's document for poll number poll as a sliding window,
// as real feeds change: items poll ... poll+19, so each poll adds one new
// item and keeps 19 already seen.
func (g *Gen) Window(feed, poll int, now time.Time) []byte {
	return g.doc(feed, now, func(j int) string { return "w" + strconv.Itoa(poll+19-j) })
}

func (g *Gen) doc(feed int, now time.Time, itemID func(j int) string) []byte {
	var b strings.Builder
	b.Grow(32 << 10)
	fs := strconv.Itoa(feed)
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<rss version="2.0"><channel><title>Farm feed %s</title><link>https://news.example/%s/</link><description>benchmark farm</description>`+"\n", fs, fs)
	for j := range 20 {
		id := fs + "/" + itemID(j)
		t := g.texts[int(crc32.ChecksumIEEE([]byte(id))%poolSize)]
		fmt.Fprintf(&b, "<item><title>%s</title><link>https://news.example/%s</link><guid isPermaLink=\"false\">urn:farm:%s</guid><pubDate>%s</pubDate><description><![CDATA[<p>%s</p>]]></description></item>\n",
			t.title, id, id, now.Add(-time.Duration(j)*time.Minute).UTC().Format(time.RFC1123Z), t.desc)
	}
	b.WriteString("</channel></rss>\n")
	return []byte(b.String())
}
