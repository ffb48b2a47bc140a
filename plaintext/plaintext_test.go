package plaintext

import (
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestFromHTML(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "Trade bill passes", "Trade bill passes"},
		{"empty", "", ""},
		{"tags", "<p>Trade <b>bill</b> passes</p>", "Trade bill passes"},
		{"inline joins", "<b>Bill</b>ing", "Billing"},
		{"block separates", "one<br>two<p>three</p>four", "one two three four"},
		{"entities", "Fish &amp; chips &lt;3 &eacute;t&#233; &#x4e2d;", "Fish & chips <3 été 中"},
		{"nbsp", "a&nbsp;&nbsp;b", "a b"},
		{"whitespace", "  a \n\t b  ", "a b"},
		{"script", "a<script>var x = '<b>';</script>b", "a b"},
		{"style upper", "a<STYLE type=text/css>p{}</STYLE >b", "a b"},
		{"comment", "a<!-- <b>hidden</b> -->b", "a b"},
		{"cdata", "<![CDATA[<p>inside</p>]]>", "inside"},
		{"stray cdata end", "a ]]> b", "a ]]> b"},
		{"control characters separate", "a\x00b\x1fc", "a b c"},
		{"invalid utf-8", "a\xffb", "a\uFFFDb"},
		{"attribute with >", `<a title="x > y" href="/">link</a>`, "link"},
		{"literal less-than", "x < y and 3<4", "x < y and 3<4"},
		{"double escaped", "&lt;p&gt;Hello &amp;amp; bye&lt;/p&gt;", "Hello & bye"},
		{"unterminated tag", "a <b c", "a ‹b c"},
		{"unterminated comment", "a <!-- never closed", "a"},
		{"doctype", "<!DOCTYPE html><html><body>x</body></html>", "x"},
		{"unicode space", "a\u2003\u3000b", "a b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FromHTML(tt.in); got != tt.want {
				t.Errorf("FromHTML(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if got := string(AppendFromHTML([]byte("pre "), tt.in)); got != "pre "+tt.want {
				t.Errorf("AppendFromHTML(%q) = %q, want %q", tt.in, got, "pre "+tt.want)
			}
		})
	}
}

// TestCorpus runs every document of the repository's feed corpus through
// FromHTML: no panic, no tag left.
func TestCorpus(t *testing.T) {
	root := filepath.Join("..", "testdata", "corpus", "feedparser")
	if _, err := os.Stat(root); err != nil {
		t.Fatalf("corpus missing (it is part of the repository): %v", err)
	}
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n++
		out := FromHTML(string(b))
		if want := refFromHTML(string(b)); out != want {
			t.Errorf("%s: FromHTML differs from the reference", path)
		}
		if hasTag(out) {
			i := strings.IndexByte(out, '<')
			t.Errorf("%s: tag left: %q", path, out[i:min(len(out), i+40)])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 100 {
		t.Errorf("read only %d corpus files", n)
	}
}

// TestAgainstReference compares FromHTML and AppendFromHTML with the
// implementation before the fast paths on strings built around the
// eight-byte chunks that visibleRun reads.
func TestAgainstReference(t *testing.T) {
	parts := []string{"a", "b ", " ", "  ", "\t", "\n", "\x7f", "<", "&", "&amp;", "é", "中", "\u00a0", "\u2003", "\xff", "\xe2\x80", "<p>", "</b>", "<br/>", `<a href="x>y">`, "<a title='q'>", "\"", "'", ">", "x", "yyyyyyy", "<!--c-->", "]]>"}
	n := 0
	for _, pre := range []string{"", "a", "<p>", "abcdefg", "abcdefgh", "abc defghijklmno"} {
		for _, p := range parts {
			for _, q := range parts {
				for _, suf := range []string{"", "z", "zz zzzzzzz", " "} {
					s := pre + p + q + suf
					n++
					want := refFromHTML(s)
					if got := FromHTML(s); got != want {
						t.Errorf("FromHTML(%q) = %q, the reference says %q", s, got, want)
					}
					if got := string(AppendFromHTML([]byte("pre"), s)); got != "pre"+want {
						t.Errorf("AppendFromHTML(pre, %q) = %q, want %q", s, got, "pre"+want)
					}
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no cases")
	}
}

func TestIsPlain(t *testing.T) {
	for _, s := range []string{"", "a", "a b", "abcdefgh ijklmnop", "Zürich and Straße — ok"} {
		if !isPlain(s) {
			t.Errorf("isPlain(%q) = false", s)
		}
	}
	for _, s := range []string{" a", "a ", "a  b", "abcdefgh  ijklmnop", "abcdefg\tb", "a<b", "a&b", "a\xffb", "abcdefg\u00a0b", "abcdefgh\x7fi", "abcdefg\u3000b", "abcdefghijklmno\n"} {
		if isPlain(s) {
			t.Errorf("isPlain(%q) = true", s)
		}
	}
}

// TestIsPlainOnePass compares the one-pass isPlain with the separate
// checks on strings built around chunk boundaries.
func TestIsPlainOnePass(t *testing.T) {
	parts := []string{"a", "b ", " ", "  ", "\t", "\n", "\x7f", "<", "&", "é", "中", "\u00a0", "\u0085", "\u2003", "\u3000", "\u1680", "\xff", "\xe2\x80", "\xc3", "\ufffd", "\xed\xa0\x80", "x", "yyyyyyy", "ǅ"}
	n := 0
	for _, pre := range []string{"", "a", "abc", "abcdefg", "abcdefgh", "abcdefghijklmno"} {
		for _, p := range parts {
			for _, q := range parts {
				for _, suf := range []string{"", "z", "zz zzzzzzz"} {
					s := pre + p + q + suf
					n++
					if got, want := isPlain(s), isPlainSlow(s); got != want {
						t.Errorf("isPlain(%q) = %v, separate checks say %v", s, got, want)
					}
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no cases")
	}
}

func FuzzFromHTML(f *testing.F) {
	for _, s := range []string{"<p>a &amp; b</p>", "<script>x</script>y", "&lt;b&gt;", "<a href='x>y'>z</a>", "<!--", "<![CDATA[x]]>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := isPlain(s), isPlainSlow(s); got != want {
			t.Errorf("isPlain(%q) = %v, separate checks say %v", s, got, want)
		}
		out := FromHTML(s)
		if want := refFromHTML(s); out != want {
			t.Errorf("FromHTML(%q) = %q, the reference says %q", s, out, want)
		}
		if got := string(AppendFromHTML([]byte("x"), s)); got != "x"+out {
			t.Errorf("AppendFromHTML(x, %q) = %q, want %q", s, got, "x"+out)
		}
		if hasTag(out) {
			t.Errorf("tag left in %q", out)
		}
		if !utf8.ValidString(out) {
			t.Errorf("invalid UTF-8 out of valid input %q", s)
		}
		if strings.HasPrefix(out, " ") || strings.HasSuffix(out, " ") || strings.Contains(out, "  ") {
			t.Errorf("whitespace not collapsed: %q", out)
		}
		if FromHTML(out) != out && !strings.ContainsAny(out, "&<") {
			t.Errorf("not idempotent on %q", out)
		}
	})
}

func BenchmarkFromHTML(b *testing.B) {
	doc := strings.Repeat("<p>The <b>trade bill</b> passed &amp; was signed, said the minister.</p>\n", 2000)
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		FromHTML(doc)
	}
}

// isPlainSlow is the definition isPlain implements in one pass: the
// separate checks it replaced.
func isPlainSlow(s string) bool {
	return strings.IndexByte(s, '<') < 0 && strings.IndexByte(s, '&') < 0 &&
		utf8.ValidString(s) && isCollapsed(s)
}

func TestIsCollapsed(t *testing.T) {
	slow := func(s string) bool { return collapseSpaceSlow(s) == s }
	cases := []string{"", "a", "a b", "a  b", " a", "a ", "abcdefg h", "abcdefgh  ijk", "abcdefg\tb", "abcdefghijklmnop q",
		"abcdefg\u00a0hijk", "é a", "é  a", "aaaaaaa \u3000b", "aaaaaaa\u2003", "aaaaaaa  ", "aaaaaaaa ", "aaaaaaa  b"}
	r := rand.New(rand.NewPCG(9, 10))
	alphabet := []string{"a", "b", " ", " ", "\n", "é", "\u00a0", "x", "\u2003", "—", "\u3000"}
	for range 2000 {
		var b []byte
		for range r.IntN(30) {
			b = append(b, alphabet[r.IntN(len(alphabet))]...)
		}
		cases = append(cases, string(b))
	}
	for _, c := range cases {
		if got, want := isCollapsed(c), slow(c); got != want {
			t.Errorf("isCollapsed(%q) = %v, want %v", c, got, want)
		}
	}
}

// collapseSpaceSlow is the obvious version of CollapseSpace.
func collapseSpaceSlow(s string) string {
	return strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ")
}

func TestCollapseSpace(t *testing.T) {
	for _, c := range []string{"", " ", "a", " a  b\n\tc ", "é  x", "a　", "abcdefg\x7fh", "a\x00 b"} {
		if got, want := CollapseSpace(c), collapseSpaceSlow(c); got != want {
			t.Errorf("CollapseSpace(%q) = %q, want %q", c, got, want)
		}
	}
}
