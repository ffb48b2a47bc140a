package opml

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParse: no input panics, hangs or yields a feed Parse's own rules
// reject; whatever parses survives Write and Parse again with the same
// feeds. The seed corpus is testdata/*.opml plus testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.opml"))
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("<opml><body><outline text='a'><outline xmlUrl='https://e.org/f' category='/x/y,z'/></outline></body></opml>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := Parse(data)
		if err != nil {
			if doc != nil {
				t.Fatal("a document with an error")
			}
			return
		}
		var exp []ExportFeed
		urls := map[string]bool{}
		for _, fd := range doc.Feeds {
			if checkURL(fd.XMLURL) != "" {
				t.Fatalf("bad URL accepted")
			}
			if fd.Line < 1 {
				t.Fatalf("feed without a line")
			}
			for _, c := range fd.Categories {
				if c == "" || c != clean(c) {
					t.Fatalf("category %q not clean", c)
				}
			}
			exp = append(exp, ExportFeed{Name: fd.Title, XMLURL: fd.XMLURL, HTMLURL: fd.HTMLURL, Tags: fd.Categories})
			urls[fd.XMLURL] = true
		}
		var buf bytes.Buffer
		if err := Write(&buf, "fuzz", time.Unix(0, 0), exp); err != nil {
			t.Fatal(err)
		}
		back, err := Parse(buf.Bytes())
		if err != nil {
			t.Fatalf("export does not parse: %v\n%s", err, buf.String())
		}
		for _, fd := range back.Feeds {
			if !urls[fd.XMLURL] {
				t.Fatalf("export changed a URL to %q", fd.XMLURL)
			}
		}
	})
}
