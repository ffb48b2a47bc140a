package matcher

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/item"
)

// doc builds an item; the short form s(...) puts text in the summary.
type doc struct {
	title, summary, content, author, category, link string
}

func (d doc) item() *item.Item {
	it := &item.Item{Title: d.title, Summary: d.summary, Content: d.content, Link: d.link}
	if d.author != "" {
		it.Authors = []string{d.author}
	}
	if d.category != "" {
		it.Categories = []string{"Other", d.category}
	}
	return it
}

func s(text string) doc { return doc{summary: text} }

// matchCases covers every row of the SPEC's query table and every folding
// rule, with the negative cases beside the positive ones.
var matchCases = []struct {
	q    string
	d    doc
	want bool
}{
	// Words, on word boundaries.
	{`xinjiang`, s("News from Xinjiang today"), true},
	{`bill`, s("The Bill, passed."), true},
	{`bill`, s("a billing dispute"), false},
	{`bill`, s("Bill's fate"), true},
	{`bill`, s("they rebill"), false},
	{`bill`, s("BILL"), true},
	{`covid`, s("covid19 cases"), false},
	{`19`, s("covid-19 cases"), true},
	{`bill`, s("<b>Bill</b>ing"), false},
	{`bill`, doc{content: "<script>bill()</script><p>nothing</p>"}, false},
	// Phrases: punctuation, spacing and articles between the words do not matter.
	{`"trade bill"`, s("the trade bill passed"), true},
	{`"trade bill"`, s("trade, the bill"), true},
	{`"trade bill"`, s("trade deal bill"), false},
	{`"trade bill"`, s("bill trade"), false},
	{`"trade bill"`, s("Trade—Bill"), true},
	{`"trade bill"`, s("trade\n\n   bill"), true},
	{`"trade bill"`, s("trade a bill"), true},
	// Words that share length and first eight bytes share a hash.
	{`"of corantrival"`, s("of corantrivel"), false},
	{`"corantrival of"`, s("corantrivel of"), false},
	{`"of corantrival"`, s("Of Corantrivál"), true},
	{`"trade bill"`, s("Trade. An  bill"), true},
	{`"trade bill"`, s("trade <b>bill</b>"), true},
	{`"trade bill"`, s("trade<br/>bill"), true},
	{`"the bill"`, s("the bill"), true},
	{`"the bill"`, s("a bill"), false},
	{`"fish chips"`, s("fish &amp; chips"), true},
	{`"trade bill vote"`, s("trade bill, the vote"), true},
	{`"trade bill vote"`, s("trade bill no vote"), false},
	// Inner punctuation makes a phrase.
	{`re-education`, s("re-education camps"), true},
	{`re-education`, s("re education"), true},
	{`re-education`, s("reeducation"), false},
	{`re-education`, s("re–education"), true},
	{`u.s.`, s("U.S. sanctions"), true},
	{`u.s.`, s("US sanctions"), false},
	// Prefixes.
	{`uyghur*`, s("Uyghurs protest"), true},
	{`uyghur*`, s("Uyghur"), true},
	{`uyghur*`, s("pro-Uyghur"), true},
	{`uyghur*`, s("uygur"), false},
	{`uyg*`, s("Uyğur"), true},
	{`uyghur*`, s("nonuyghur"), false},
	// AND, OR, NOT, precedence and grouping.
	{`trade bill`, s("bill about trade"), true},
	{`trade bill`, s("trade only"), false},
	{`trade AND bill`, s("Bill then trade"), true},
	{`trade OR bill`, s("only bill"), true},
	{`trade OR bill`, s("nothing"), false},
	{`NOT cricket`, s("football"), true},
	{`NOT cricket`, s("cricket"), false},
	{`-cricket`, s("Cricket!"), false},
	{`bill -cricket`, s("bill and cricket"), false},
	{`bill -cricket`, s("bill alone"), true},
	{`trade OR bill cricket`, s("trade"), true},
	{`trade OR bill cricket`, s("bill"), false},
	{`(trade OR bill) cricket`, s("trade"), false},
	{`(trade OR bill) cricket`, s("bill cricket"), true},
	{`NOT trade OR bill`, s("trade bill"), true},
	{`NOT trade OR bill`, s("trade"), false},
	{`NOT (trade OR bill)`, s("bill"), false},
	{`trade AND NOT bill`, s("trade"), true},
	{`"trade bill" AND (genocide OR amendment) NOT title:cricket`, doc{title: "Cricket news", summary: "trade bill amendment"}, false},
	{`"trade bill" AND (genocide OR amendment) NOT title:cricket`, doc{title: "News", summary: "trade bill amendment, cricket"}, true},
	{`"trade bill" AND (genocide OR amendment) NOT title:cricket`, doc{title: "News", summary: "trade bill"}, false},
	// Field prefixes.
	{`title:cricket`, doc{title: "Cricket"}, true},
	{`title:cricket`, s("cricket"), false},
	{`summary:cricket`, s("cricket"), true},
	{`summary:cricket`, doc{content: "cricket"}, false},
	{`content:cricket`, doc{content: "<p>cricket</p>"}, true},
	{`author:smith`, doc{author: "Jane Smith"}, true},
	{`author:smith`, s("smith"), false},
	{`smith`, doc{author: "Smith"}, false},
	{`category:sport`, doc{category: "Sport"}, true},
	{`category:sport`, s("sport"), false},
	{`link:example`, doc{link: "https://example.org/a"}, true},
	{`link:"example.org"`, doc{link: "https://www.example.org/a"}, true},
	{`title:(trade OR bill)`, doc{title: "The bill"}, true},
	{`title:(trade OR bill)`, s("bill"), false},
	{`title:"trade bill"`, doc{title: "Trade Bill"}, true},
	{`title:uyghur*`, doc{title: "Uyghurs"}, true},
	{`title:uyghur*`, s("Uyghurs"), false},
	// Proximity: within N words, any order.
	{`"uyghur camps"~5`, s("camps holding many Uyghur people"), true},
	{`"uyghur camps"~1`, s("uyghur detention camps"), true},
	{`"uyghur camps"~1`, s("uyghur big detention camps"), false},
	{`"uyghur camps"~0`, s("camps uyghur"), true},
	{`"uyghur camps"~5`, s("uyghur a b c d e f g camps"), false},
	{`"uyghur camps"~2`, s("camps x uyghur"), true},
	// Regular expressions: RE2 over the field text, case-insensitive.
	{`/bil+/`, s("BILLING"), true},
	{`/\bbill\b/`, s("billing"), false},
	{`/^trade/`, s("trade x"), true},
	{`/^trade/`, s("fair trade"), false},
	{`title:/^breaking/`, doc{title: "Breaking: x"}, true},
	{`title:/^breaking/`, s("breaking"), false},
	{`/colou?r/ AND paint`, s("the colour of paint"), true},
	{`/colou?r/ AND paint`, s("the colour"), false},
	{`/ka\/s/`, s("KA/S"), true},
	// Folding: case, diacritics, full-width forms; Unicode-aware.
	{`uygur`, s("Uyğur"), true},
	{`çin`, s("ÇİN"), true},
	{`cin`, s("ÇİN"), true},
	{`CIN`, s("çin"), true},
	{`zurich`, s("Zürich"), true},
	{`zürich`, s("ZURICH"), true},
	{`trade`, s("ｔｒａｄｅ"), true},
	{`ｂｉｌｌ`, s("Bill"), true},
	{`2024`, s("２０２４"), true},
	{`strasse`, s("Straße"), true},
	{`lodz`, s("Łódź"), true},
	{`cafe`, s("cafe\u0301"), true},
	{`café`, s("CAFE"), true},
	{`москва`, s("МОСКВА"), true},
	{`σοφια`, s("ΣΟΦΊΑ"), true},
	{`ελλας`, s("Ἑλλάς"), true},
	// Invisible format characters inside a word do not split it.
	{`xinjiang`, s("Xin\u00ADjiang"), true},
	{`uyghur`, s("Uy\u200Bghur workers"), true},
	{`xinjiang`, s("Xin\u2060jiang"), true},
	{`"trade bill"`, s("Trade\u00AD \u200DBill"), true},
	{`xin`, s("Xin\u00ADjiang"), false},
	{`uygur`, s("uyghur"), false},
	// Scripts without spaces match without word boundaries.
	{`新疆`, s("新疆维吾尔自治区"), true},
	{`新疆`, s("新的疆"), false},
	{`维吾尔`, s("新疆维吾尔自治区"), true},
	{`東京`, s("東京都の"), true},
	{`カタカナ`, s("ｶﾀｶﾅ"), true},
	{`ガス`, s("カス"), false},
	{`กรุงเทพ`, s("ไปกรุงเทพมหานคร"), true},
	{`xinjiang 新疆`, s("Xinjiang (新疆)"), true},
}

func TestMatchTable(t *testing.T) {
	for i, tc := range matchCases {
		t.Run(fmt.Sprintf("%03d %s", i, tc.q), func(t *testing.T) {
			m, err := Compile([]Profile{{Name: "p", Query: tc.q}})
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			it := tc.d.item()
			got := len(m.Match(it)) == 1
			if got != tc.want {
				t.Errorf("query %q on %+v: match = %v, want %v", tc.q, tc.d, got, tc.want)
			}
			if ref := refMatch(Profile{Query: tc.q}, refPrepare(it)); ref != tc.want {
				t.Errorf("reference: query %q on %+v: match = %v, want %v", tc.q, tc.d, ref, tc.want)
			}
		})
	}
	if len(matchCases) < 80 {
		t.Errorf("only %d cases", len(matchCases))
	}
}

// TestMatchTableTogether compiles every case's query into one matcher, so
// that the shared dictionary serves them all at once.
func TestMatchTableTogether(t *testing.T) {
	var ps []Profile
	for i, tc := range matchCases {
		ps = append(ps, Profile{Name: fmt.Sprint(i), Query: tc.q})
	}
	m, err := Compile(ps)
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range matchCases {
		it := tc.d.item()
		ri := refPrepare(it)
		var want []int
		for j, p := range ps {
			if refMatch(p, ri) {
				want = append(want, j)
			}
		}
		var got []int
		for _, r := range m.Match(it) {
			got = append(got, r.Index)
		}
		if !slices.Equal(got, want) {
			t.Errorf("case %d (%q): matched profiles %v, reference %v", i, tc.d, got, want)
		}
		if !slices.Contains(got, i) == tc.want {
			t.Errorf("case %d (%q): own profile match = %v, want %v", i, tc.q, !tc.want, tc.want)
		}
	}
}

func TestKeywordLists(t *testing.T) {
	tests := []struct {
		name string
		p    Profile
		d    doc
		want bool
	}{
		{"any keyword", Profile{Keywords: []string{"Xinjiang", "Uyghur*", "re-education camps"}}, s("Uyghurs"), true},
		{"phrase keyword", Profile{Keywords: []string{"Xinjiang", "re-education camps"}}, s("re education, the camps"), true},
		{"no keyword", Profile{Keywords: []string{"Xinjiang", "Uyghur*"}}, s("nothing here"), false},
		{"keyword is a phrase", Profile{Keywords: []string{"trade bill"}}, s("bill on trade"), false},
		{"exclude", Profile{Keywords: []string{"bill"}, Exclude: []string{"cricket"}}, s("bill and Cricket"), false},
		{"exclude absent", Profile{Keywords: []string{"bill"}, Exclude: []string{"cricket"}}, s("bill"), true},
		{"exclude phrase", Profile{Keywords: []string{"bill"}, Exclude: []string{"test match"}}, s("bill test, match"), false},
		{"query and keywords", Profile{Query: "uk", Keywords: []string{"bill"}}, s("bill"), false},
		{"query and keywords both", Profile{Query: "uk", Keywords: []string{"bill"}}, s("UK bill"), true},
		{"query only pure not", Profile{Query: "NOT cricket"}, s("anything"), true},
		{"regexp only", Profile{Query: "/b.ll/"}, s("a ball"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.p.Name = "p"
			m, err := Compile([]Profile{tt.p})
			if err != nil {
				t.Fatal(err)
			}
			it := tt.d.item()
			if got := len(m.Match(it)) == 1; got != tt.want {
				t.Errorf("match = %v, want %v", got, tt.want)
			}
			if got := refMatch(tt.p, refPrepare(it)); got != tt.want {
				t.Errorf("reference = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		q      string
		column int
		msg    string
	}{
		{`trade bill)`, 11, `unexpected ")"`},
		{`"trade bill`, 1, `unterminated phrase`},
		{`(a OR b`, 1, `unclosed "("`},
		{`a AND`, 6, `unexpected end of query`},
		{`AND a`, 1, `unexpected "AND"`},
		{`a OR OR b`, 6, `unexpected "OR"`},
		{`title:`, 1, `expected a term after "title:"`},
		{`title: x`, 1, `expected a term after "title:"`},
		{`/[a/`, 1, `invalid regexp`},
		{`a /abc`, 3, `unterminated regexp`},
		{`"a b"~`, 6, `expected a number after "~"`},
		{`"a b"~5000`, 7, `proximity must be at most 1000 words`},
		{`re-edu*`, 1, `a trailing * needs a single word`},
		{`a &&&`, 3, `has no letters or digits`},
		{`a - b`, 3, `expected a term after "-"`},
		{`""`, 1, `phrase has no letters or digits`},
		{``, 1, `empty query`},
		{`a (b))`, 6, `unexpected ")"`},
		{`ürün çin )`, 10, `unexpected ")"`},
		{`"a *"`, 4, `* is not allowed inside a phrase`},
		{`NOT`, 4, `unexpected end of query`},
		{strings.Repeat("(", 200) + "a" + strings.Repeat(")", 200), 102, `nested too deeply`},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			err := ParseQuery(tt.q)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("ParseQuery(%q) = %v, want a *SyntaxError", tt.q, err)
			}
			if se.Column != tt.column || !strings.Contains(se.Msg, tt.msg) {
				t.Errorf("ParseQuery(%q) = %q, want %q at column %d", tt.q, se.Error(), tt.msg, tt.column)
			}
		})
	}
	if err := ParseQuery(`"trade bill" AND (genocide OR amendment) NOT title:cricket`); err != nil {
		t.Errorf("SPEC example: %v", err)
	}
}

func TestSyntaxErrorText(t *testing.T) {
	err := ParseQuery(`(trade bill))`)
	if err == nil || err.Error() != `unexpected ")" at column 13` {
		t.Errorf("got %v", err)
	}
}

func TestCheckProfile(t *testing.T) {
	tests := []struct {
		name string
		p    Profile
		want []string
	}{
		{"valid", Profile{Query: `"trade bill" NOT cricket`, Keywords: []string{"Uyghur*", "re-education camps"}, Exclude: []string{"test match"}}, nil},
		{"bad query", Profile{Query: `(a OR b))`}, []string{`query: unexpected ")" at column 9`}},
		{"operators in keywords", Profile{Keywords: []string{"ok", "fine", "a OR b", `"quoted"`, "-minus", "title:x", "(x)", "/re/"}},
			[]string{
				"keywords[2]: operators are not allowed in a keyword list",
				"keywords[3]: operators are not allowed in a keyword list",
				"keywords[4]: operators are not allowed in a keyword list",
				"keywords[5]: operators are not allowed in a keyword list",
				"keywords[6]: operators are not allowed in a keyword list",
				"keywords[7]: operators are not allowed in a keyword list",
			}},
		{"bad exclude", Profile{Keywords: []string{"x"}, Exclude: []string{"a AND b", "  ", "!!"}},
			[]string{
				"exclude[0]: operators are not allowed in a keyword list",
				"exclude[1]: empty keyword",
				`exclude[2]: "!!" has no letters or digits`,
			}},
		{"neither", Profile{Exclude: []string{"x"}}, []string{"a profile needs a query or keywords"}},
		{"prefix phrase keyword", Profile{Keywords: []string{"re-edu*"}}, []string{`keywords[0]: a trailing * needs a single word: "re-edu*"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, err := range CheckProfile(tt.p) {
				got = append(got, err.Error())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("CheckProfile = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	_, err := Compile([]Profile{
		{Name: "ok", Query: "a"},
		{Name: "bad", Query: "a)"},
		{Name: "worse", Keywords: []string{"a OR b"}},
	})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`profile "bad" (profiles[1]): query: unexpected ")" at column 2`, `profile "worse" (profiles[2]): keywords[0]: operators`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Errorf("error does not wrap a *SyntaxError")
	}
}

func TestResult(t *testing.T) {
	m, err := Compile([]Profile{
		{Name: "other", Query: "cricket"},
		{Name: "trade", Query: `("trade bill" OR uyghur* OR /parl[a-z]+/) NOT cricket NOT football`},
	})
	if err != nil {
		t.Fatal(err)
	}
	it := &item.Item{
		Title:   "Trade Bill news",
		Summary: "<p>In Parliament, the Trade, the Bill was debated &amp; Uyghurs spoke.</p>",
	}
	res := m.Match(it)
	if len(res) != 1 {
		t.Fatalf("results: %+v", res)
	}
	r := res[0]
	if r.Profile != "trade" || r.Index != 1 {
		t.Errorf("profile %q index %d", r.Profile, r.Index)
	}
	want := []hit.Match{
		{Field: "title", Text: "Trade Bill", Term: `"trade bill"`},
		{Field: "summary", Text: "Parliament", Term: `/parl[a-z]+/`},
		{Field: "summary", Text: "Trade, the Bill", Term: `"trade bill"`},
		{Field: "summary", Text: "Uyghurs", Term: "uyghur*"},
	}
	if !slices.Equal(r.Matches, want) {
		t.Errorf("matches:\n got %q\nwant %q", r.Matches, want)
	}
	wantSnippet := "In «Parliament», the «Trade, the Bill» was debated & «Uyghurs» spoke."
	if r.Snippet != wantSnippet {
		t.Errorf("snippet:\n got %q\nwant %q", r.Snippet, wantSnippet)
	}
}

func TestSnippetCut(t *testing.T) {
	long := strings.Repeat("lorem ipsum dolor sit amet ", 30)
	text := long + "the Trade Bill passed " + long
	m, err := Compile([]Profile{{Name: "p", Keywords: []string{"trade bill"}}})
	if err != nil {
		t.Fatal(err)
	}
	res := m.Match(&item.Item{Content: text})
	if len(res) != 1 {
		t.Fatal("no match")
	}
	sn := res[0].Snippet
	if !strings.HasPrefix(sn, "…") || !strings.HasSuffix(sn, "…") || !strings.Contains(sn, "«Trade Bill»") {
		t.Errorf("snippet %q", sn)
	}
	if n := len([]rune(sn)); n < 150 || n > 215 {
		t.Errorf("snippet has %d characters: %q", n, sn)
	}
	if strings.Contains(sn, "…"+"m ") || strings.HasPrefix(sn, "… ") {
		t.Errorf("snippet cut inside a word: %q", sn)
	}
}

func TestMatchesDedupedAndCapped(t *testing.T) {
	m, err := Compile([]Profile{{Name: "p", Query: "bill OR b*"}})
	if err != nil {
		t.Fatal(err)
	}
	var words []string
	for i := range 50 {
		words = append(words, fmt.Sprintf("b%d bill", i))
	}
	res := m.Match(&item.Item{Summary: strings.Join(words, " ")})
	if len(res) != 1 {
		t.Fatal("no match")
	}
	ms := res[0].Matches
	if len(ms) > maxMatches {
		t.Errorf("%d matches", len(ms))
	}
	for i, a := range ms {
		if slices.Contains(ms[i+1:], a) {
			t.Errorf("duplicate match %+v", a)
		}
	}
}

func TestNoProfiles(t *testing.T) {
	m, err := Compile(nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := m.Match(&item.Item{Title: "x"}); r != nil {
		t.Errorf("got %v", r)
	}
}

func TestConcurrentMatch(t *testing.T) {
	var ps []Profile
	for i, tc := range matchCases {
		ps = append(ps, Profile{Name: fmt.Sprint(i), Query: tc.q})
	}
	m, err := Compile(ps)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]int, len(matchCases))
	for i, tc := range matchCases {
		want[i] = len(m.Match(tc.d.item()))
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for round := range 20 {
				i := (g*7 + round*13) % len(matchCases)
				if got := len(m.Match(matchCases[i].d.item())); got != want[i] {
					t.Errorf("case %d: %d results, want %d", i, got, want[i])
				}
			}
		})
	}
	wg.Wait()
}

// TestResultsOutliveStrippedText: HTML fields are stripped into a buffer
// that the next Match call reuses; the results of a call must not change
// when later items are matched.
func TestResultsOutliveStrippedText(t *testing.T) {
	m, err := Compile([]Profile{{Name: "trade", Query: `"trade bill" OR uyghur*`}})
	if err != nil {
		t.Fatal(err)
	}
	res := m.Match(&item.Item{Summary: "<p>The <b>trade bill</b> passed &amp; Uyghurs spoke.</p>"})
	if len(res) != 1 {
		t.Fatalf("results: %+v", res)
	}
	want := slices.Clone(res[0].Matches)
	for i := range want {
		want[i].Text = strings.Clone(want[i].Text) // not the text under test
	}
	wantSnippet := strings.Clone(res[0].Snippet)
	for i := range 50 {
		m.Match(&item.Item{Summary: fmt.Sprintf("<p>xxxxx <i>yyyyyyyy</i> zzzzzzzzzz %d &amp; wwwwwwwwwwwwwwwwwwwww</p>", i)})
		m.Match(&item.Item{Summary: "<p>Another trade bill, other Uyghurs, 0123456789 0123456789</p>"})
	}
	if !slices.Equal(res[0].Matches, want) || res[0].Snippet != wantSnippet {
		t.Errorf("results changed by later calls:\n got %q %q\nwant %q %q", res[0].Matches, res[0].Snippet, want, wantSnippet)
	}
	if want[0].Text != "trade bill" {
		t.Errorf("first match %q", want[0].Text)
	}
}

// TestFieldRestrictedProfiles: when every profile looks at one field, the
// others (here HTML that would match) play no part.
func TestFieldRestrictedProfiles(t *testing.T) {
	m, err := Compile([]Profile{{Name: "t", Query: `title:"trade bill"`}, {Name: "s", Query: `summary:uyghur*`}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		it      *item.Item
		want    []string
		snippet string
	}{
		{"title only", &item.Item{Title: "<b>Trade</b> &amp; <i>Bill</i>", Content: "<p>trade bill, Uyghurs</p>"}, []string{"t"}, "«Trade & Bill»"},
		{"summary only", &item.Item{Title: "Uyghurs", Summary: "<p>The <b>Uyghurs</b></p>", Content: "<p>trade bill</p>"}, []string{"s"}, "The «Uyghurs»"},
		{"content ignored", &item.Item{Content: "<p>Trade bill and Uyghurs</p>"}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := m.Match(tt.it)
			var got []string
			for _, r := range res {
				got = append(got, r.Profile)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("profiles %q, want %q", got, tt.want)
			}
			if len(res) == 1 && res[0].Snippet != tt.snippet {
				t.Errorf("snippet %q, want %q", res[0].Snippet, tt.snippet)
			}
		})
	}
}

// TestPlacesKeptPerField: a word that fills its quota of places in one
// field still has its places in the others recorded, so a profile looking
// only at another field lists its match and snippet, and the snippet of
// an unrestricted one comes from the summary as documented.
func TestPlacesKeptPerField(t *testing.T) {
	m, err := Compile([]Profile{{Name: "any", Query: "bill"}, {Name: "link", Query: "link:bill"}, {Name: "author", Query: "author:bill"}})
	if err != nil {
		t.Fatal(err)
	}
	title := strings.Repeat("Bill ", maxOccPerTerm+2)
	res := m.Match(&item.Item{Title: title, Summary: "the trade bill", Link: "https://example.org/bill", Authors: []string{"Bill Smith"}})
	want := map[string]struct {
		last    hit.Match
		snippet string
	}{
		"any":    {hit.Match{Field: "summary", Text: "bill", Term: "bill"}, "the trade «bill»"},
		"link":   {hit.Match{Field: "link", Text: "bill", Term: "bill"}, "https://example.org/«bill»"},
		"author": {hit.Match{Field: "author", Text: "Bill", Term: "bill"}, "«Bill» Smith"},
	}
	if len(res) != len(want) {
		t.Fatalf("results %+v", res)
	}
	for _, r := range res {
		w := want[r.Profile]
		if len(r.Matches) == 0 || !slices.Contains(r.Matches, w.last) {
			t.Errorf("%s: matches %+v, want %+v among them", r.Profile, r.Matches, w.last)
		}
		if r.Snippet != w.snippet {
			t.Errorf("%s: snippet %q, want %q", r.Profile, r.Snippet, w.snippet)
		}
	}
}
