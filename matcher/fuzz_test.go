package matcher

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/feedwatch/feedwatch/item"
	"github.com/feedwatch/feedwatch/plaintext"
)

// Random queries and texts over a small vocabulary, so that terms do occur
// and the compiled matcher and the reference evaluator have something to
// disagree about.

// genWords are the vocabulary of the texts, in several spellings each.
var genWords = [][]string{
	{"trade", "Trade", "TRADE", "ｔｒａｄｅ"},
	{"bill", "Bill", "BILL"},
	{"billing", "Billing"},
	{"the", "The"},
	{"a", "A"},
	{"uyghur", "Uyghur", "Uyghurs", "uyghurs"},
	{"uygur", "Uyğur"},
	{"camps", "Camps", "camp"},
	{"re-education", "re education", "Re-Education", "reeducation"},
	{"zürich", "Zurich", "ZÜRICH"},
	{"çin", "ÇİN", "cin"},
	{"新疆", "新", "疆", "维吾尔"},
	{"cricket", "Cricket"},
	{"vote", "votes", "voting"},
}

var genSeps = []string{" ", " ", " ", ", ", ". ", " - ", "\n", " <b>", "</b> ", " &amp; ", "", "—"}

func genText(r *rand.Rand) string {
	var b strings.Builder
	n := r.IntN(14)
	for range n {
		forms := genWords[r.IntN(len(genWords))]
		b.WriteString(forms[r.IntN(len(forms))])
		b.WriteString(genSeps[r.IntN(len(genSeps))])
	}
	return b.String()
}

// genQueryWords are the words queries use (some never in the texts).
var genQueryWords = []string{"trade", "bill", "Bill", "billing", "the", "a", "uyghur", "uygur", "uyğur", "camps",
	"re-education", "zurich", "Zürich", "çin", "新疆", "维吾尔", "cricket", "vote", "absent"}

var genRegexps = []string{`/bil+/`, `/^trade/`, `/\bvot/`, `/c[a-z]+ket/`, `/新/`, `/ka\/s/`, `/Ü/`}

func genQuery(r *rand.Rand, depth int) string {
	if depth > 3 || r.IntN(3) == 0 {
		return genLeaf(r)
	}
	a, b := genQuery(r, depth+1), genQuery(r, depth+1)
	switch r.IntN(7) {
	case 0:
		return a + " " + b
	case 1:
		return a + " AND " + b
	case 2:
		return a + " OR " + b
	case 3:
		return "NOT " + a
	case 4:
		return "-" + a
	case 5:
		return "(" + a + " OR " + b + ")"
	default:
		return fieldNames[r.IntN(numFields)] + ":(" + a + ")"
	}
}

func genLeaf(r *rand.Rand) string {
	w := func() string { return genQueryWords[r.IntN(len(genQueryWords))] }
	switch r.IntN(8) {
	case 0, 1, 2:
		return w()
	case 3:
		x := w()
		if strings.ContainsAny(x, "-新维") {
			return x
		}
		rs := []rune(x)
		return string(rs[:1+r.IntN(len(rs))]) + "*"
	case 4:
		return fmt.Sprintf("%q", w()+" "+w())
	case 5:
		return fmt.Sprintf("%q", w()+" the "+w()+" "+w())
	case 6:
		return fmt.Sprintf("%q~%d", w()+" "+w(), r.IntN(4))
	default:
		return genRegexps[r.IntN(len(genRegexps))]
	}
}

// genItem fills every field a query can name: a term shared by profiles
// that look at different fields once lost its places in all but one.
func genItem(r *rand.Rand) *item.Item {
	return &item.Item{Title: genText(r), Summary: genText(r), Content: genText(r),
		Authors: []string{genText(r), genText(r)}, Categories: []string{genText(r)}, Link: "https://example.org/" + genText(r)}
}

// checkAgainstReference compiles the queries into one matcher and compares
// its verdicts on the item with the reference evaluator's.
func checkAgainstReference(t *testing.T, queries []string, it *item.Item) {
	t.Helper()
	var ps []Profile
	for i, q := range queries {
		if ParseQuery(q) != nil {
			continue
		}
		ps = append(ps, Profile{Name: fmt.Sprint(i), Query: q})
	}
	m, err := Compile(ps)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	ri := refPrepare(it)
	var want []int
	for i, p := range ps {
		if refMatch(p, ri) {
			want = append(want, i)
		}
	}
	var got []int
	for _, res := range m.Match(it) {
		got = append(got, res.Index)
		// The match list names exactly the positive terms (outside NOT)
		// that hold, in the fields where they hold, unless it is full.
		// (A profile matching through NOT alone lists nothing.)
		q := ps[res.Index].Query
		n, _ := buildProfile(sharedFoldTable(), ps[res.Index])
		want := map[string]bool{}
		refPositive(n, ri, false, want)
		have := map[string]bool{}
		for _, hm := range res.Matches {
			k := hm.Field + ":" + hm.Term
			if !want[k] {
				t.Errorf("query %q: match %+v is no positive term that holds (those: %v)", q, hm, want)
			}
			have[k] = true
		}
		if len(res.Matches) < maxMatches {
			for k := range want {
				if !have[k] {
					t.Errorf("query %q: %s holds, not in the matches %+v", q, k, res.Matches)
				}
			}
		}
	}
	// Fields go into Match raw and are checked for plainness on the way:
	// the results must be those of the text stripped beforehand.
	pre := &item.Item{Title: plaintext.FromHTML(it.Title), Summary: plaintext.FromHTML(it.Summary), Content: plaintext.FromHTML(it.Content),
		Authors: it.Authors, Categories: it.Categories, Link: it.Link}
	if pre.Title == plaintext.FromHTML(pre.Title) && pre.Summary == plaintext.FromHTML(pre.Summary) && pre.Content == plaintext.FromHTML(pre.Content) {
		if a, b := m.Match(it), m.Match(pre); !reflect.DeepEqual(a, b) {
			t.Errorf("title %q summary %q content %q: raw %+v, stripped first %+v", it.Title, it.Summary, it.Content, a, b)
		}
	}
	if !slices.Equal(got, want) {
		for i, p := range ps {
			if slices.Contains(got, i) != slices.Contains(want, i) {
				t.Errorf("query %q on title %q summary %q content %q: matcher %v, reference %v",
					p.Query, it.Title, it.Summary, it.Content, slices.Contains(got, i), slices.Contains(want, i))
			}
		}
	}
}

// TestAgainstReference: thousands of random queries and texts, compiled
// together, agree with the reference evaluator.
func TestAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	rounds := 300
	if testing.Short() {
		rounds = 50
	}
	for range rounds {
		var qs []string
		for range 20 {
			qs = append(qs, genQuery(r, 0))
		}
		for range 5 {
			checkAgainstReference(t, qs, genItem(r))
		}
	}
}

// FuzzAgainstReference: the fuzzer's own queries and texts.
func FuzzAgainstReference(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 40 {
		f.Add(genQuery(r, 0), genText(r))
	}
	f.Fuzz(func(t *testing.T, q, text string) {
		if len(q) > 300 || len(text) > 3000 || ParseQuery(q) != nil {
			return
		}
		// The text in the fields that are not stripped of HTML too, and
		// twice in content so that per-field limits are reached.
		checkAgainstReference(t, []string{q, `trade`, `"trade bill"`}, &item.Item{Title: text, Content: text + " " + text,
			Authors: []string{text}, Link: text})
	})
}

// FuzzParseQuery: the parser never panics and every error has a position
// inside (or just after) the query.
func FuzzParseQuery(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 30 {
		f.Add(genQuery(r, 0))
	}
	for _, q := range []string{`(a OR b))`, `"a b"~`, `title:`, `/[/`, `-`, `NOT`, `a "`, `((((`, `/a\/b/`, `ü)`} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		err := ParseQuery(q)
		if err == nil {
			return
		}
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Fatalf("ParseQuery(%q): %T %v, want *SyntaxError", q, err, err)
		}
		if se.Column < 1 || se.Column > utf8.RuneCountInString(q)+1 {
			t.Errorf("ParseQuery(%q): column %d outside the query", q, se.Column)
		}
		if se.Msg == "" {
			t.Errorf("ParseQuery(%q): empty message", q)
		}
	})
}

// refPositive adds "field:term" for each leaf outside NOT that holds in a
// field, per the reference.
func refPositive(n *node, ri *refItem, neg bool, out map[string]bool) {
	switch n.kind {
	case kAnd, kOr:
		for _, k := range n.kids {
			refPositive(k, ri, neg, out)
		}
		return
	case kNot:
		refPositive(n.kids[0], ri, !neg, out)
		return
	}
	if neg {
		return
	}
	for f := range numFields {
		if n.fields&(1<<f) != 0 && refLeaf(n, ri.toks[f], ri.texts[f]) {
			out[fieldNames[f]+":"+n.text] = true
		}
	}
}
