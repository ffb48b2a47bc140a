package archive

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/feedwatch/feedwatch/item"
	"github.com/feedwatch/feedwatch/plaintext"
)

func sample() Record {
	p := time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC)
	return Record{
		Feed: item.Feed{Name: "world", URL: "https://example.org/rss", Title: "World", Tags: []string{"uk", "news"}},
		Key:  "g_abc", ID: "guid-1", Title: "Trade <Bill> & more", Link: "https://example.org/a?b=1",
		Published: &p, Authors: []string{"A. Writer"}, Categories: []string{"politics", ""},
		Summary: "plain summary", Content: "", ArchivedAt: time.Date(2026, 3, 4, 6, 0, 0, 0, time.UTC),
	}
}

func TestRoundTrip(t *testing.T) {
	undated := sample()
	undated.Published, undated.Authors, undated.Feed.Tags = nil, nil, nil
	for name, r := range map[string]Record{"full": sample(), "undated": undated, "empty": {ArchivedAt: time.Unix(0, 0).UTC()}} {
		t.Run(name, func(t *testing.T) {
			got, err := Decode(r.Encode(nil))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, r) {
				t.Errorf("got %+v\nwant %+v", got, r)
			}
		})
	}
}

func TestDecodeCorrupt(t *testing.T) {
	good := func() []byte { r := sample(); return r.Encode(nil) }
	tests := map[string][]byte{
		"empty":     nil,
		"version":   append([]byte{9}, good()[1:]...),
		"truncated": good()[:len(good())-3],
		"trailing":  append(good(), 0),
		"huge len":  {1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := Decode(b); !errors.Is(err, ErrCorrupt) {
				t.Errorf("err = %v, want ErrCorrupt", err)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	r := sample()
	f.Add(r.Encode(nil))
	f.Add([]byte{1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Decode(b)
		if err != nil {
			return
		}
		// What decodes encodes back to a record that decodes the same.
		again, err := Decode(r.Encode(nil))
		if err != nil || !reflect.DeepEqual(again, r) {
			t.Fatalf("re-encoded record differs: %v", err)
		}
	})
}

// The plain texts a record stores read back, through the matcher's own
// HTML stripping, as the same texts.
func TestItemTextsRoundTrip(t *testing.T) {
	inputs := []string{
		"a < b && c > d", "AT&amp;T &lt;script&gt;alert(1)&lt;/script&gt;", "<p>Trade <b>Bill</b></p> &amp; more",
		"&#x3C;p&#x3E; not a tag", "x &lt;!-- y --&gt; z", "<![CDATA[ <b>x</b> ]]>", "tab\tand\nnew line  spaces",
		"Uyğur &nbsp; ÇİN", "&amp;amp;", "<a href=x>link</a>&lt;", "1 &lt 2", "&lt;/p&gt;&lt;p&gt;",
	}
	for _, in := range inputs {
		want := plaintext.FromHTML(in)
		r := FromItem(item.Feed{}, &item.Item{Title: in, Summary: in, Content: in}, time.Now())
		it := r.Item(item.Feed{})
		for _, got := range []string{plaintext.FromHTML(it.Title), plaintext.FromHTML(it.Summary), plaintext.FromHTML(it.Content)} {
			if got != want {
				t.Errorf("%q: read back as %q, want %q", in, got, want)
			}
		}
	}
}

func TestIdentity(t *testing.T) {
	a := item.Item{Key: "g_feed1", Link: "https://Example.org/story?utm_source=x#top"}
	b := item.Item{Key: "g_feed2", Link: "https://example.org/story"}
	if Identity(&a) != Identity(&b) {
		t.Error("the same article link through two feeds has two identities")
	}
	root1 := item.Item{Key: "g_1", Link: "https://example.org/"}
	root2 := item.Item{Key: "g_2", Link: "https://example.org/"}
	if Identity(&root1) == Identity(&root2) {
		t.Error("two items linking to a site root share an identity")
	}
	none := item.Item{Key: "h_x"}
	if len(Identity(&none)) != 22 {
		t.Errorf("identity %q is not 22 characters", Identity(&none))
	}
}

func TestCutText(t *testing.T) {
	for _, tc := range []struct {
		name                    string
		title, summary, content string
		room                    int // for the text, beyond the record's other fields
		want                    [3]int
		cut                     bool
	}{
		{name: "fits", title: "t", summary: "s", content: "c", room: 3, want: [3]int{1, 1, 1}},
		{name: "content cut", title: "title", summary: "sum", content: strings.Repeat("x", 100), room: 58, want: [3]int{5, 3, 50}, cut: true},
		{name: "shared", title: "title", summary: strings.Repeat("s", 100), content: strings.Repeat("c", 100), room: 45, want: [3]int{5, 20, 20}, cut: true},
		{name: "character boundary", content: strings.Repeat("é", 10), room: 7, want: [3]int{0, 0, 6}, cut: true},
		{name: "nothing left", title: "title", content: "content", room: 0, want: [3]int{0, 0, 0}, cut: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Record{Title: tc.title, Summary: tc.summary, Content: tc.content}
			base := (&Record{}).Size()
			// Size counts each field's length prefix at its widest.
			got := r.CutText(base + tc.room)
			if got != tc.cut || [3]int{len(r.Title), len(r.Summary), len(r.Content)} != tc.want {
				t.Errorf("cut %v to %d/%d/%d, want %v to %v", got, len(r.Title), len(r.Summary), len(r.Content), tc.cut, tc.want)
			}
			if !strings.HasPrefix(tc.content, r.Content) || !utf8.ValidString(r.Content) {
				t.Errorf("content %q", r.Content)
			}
		})
	}
}
