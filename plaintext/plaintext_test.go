package plaintext

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
		})
	}
}

// TestCorpus runs every document of the shared feed corpus through
// FromHTML: no panic, no tag left.
func TestCorpus(t *testing.T) {
	root := filepath.Join("..", "..", "shared", "corpus", "feedparser")
	if _, err := os.Stat(root); err != nil {
		t.Skipf("corpus not present: %v", err)
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

func FuzzFromHTML(f *testing.F) {
	for _, s := range []string{"<p>a &amp; b</p>", "<script>x</script>y", "&lt;b&gt;", "<a href='x>y'>z</a>", "<!--", "<![CDATA[x]]>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := FromHTML(s)
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
