package watcher

import (
	"bufio"
	"bytes"
	"context"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// corpusDir is the repository's copy of the feedparser corpus (BSD-2).
const corpusDir = "../testdata/corpus/feedparser"

// corpusMeta reads the Header: and Expect: lines of a corpus document's
// leading comment.
func corpusMeta(b []byte) (headers [][2]string, expect string) {
	end := bytes.Index(b, []byte("-->"))
	if end < 0 || end > 4096 {
		return nil, ""
	}
	sc := bufio.NewScanner(bytes.NewReader(b[:end]))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "Header:"):
			k, v, ok := strings.Cut(strings.TrimSpace(strings.TrimPrefix(line, "Header:")), ":")
			if ok {
				headers = append(headers, [2]string{strings.TrimSpace(k), strings.TrimSpace(v)})
			}
		case strings.HasPrefix(line, "Expect:"):
			expect = strings.TrimSpace(strings.TrimPrefix(line, "Expect:"))
		}
	}
	return headers, expect
}

var expectRE = regexp.MustCompile(`^(?:not bozo and )?(feed|entries\[0\])\['(title|description|summary)'\] == u?'((?:[^'\\]|\\.)*)'$`)

// pyString decodes the escapes of a Python string literal body.
func pyString(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(s) {
			return "", false
		}
		hex := 0
		switch s[i] {
		case 'x':
			hex = 2
		case 'u':
			hex = 4
		case 'U':
			hex = 8
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '\\', '\'', '"':
			b.WriteByte(s[i])
		default:
			return "", false
		}
		if hex > 0 {
			if i+hex >= len(s)+0 && i+hex > len(s)-1+1 {
				return "", false
			}
			v, err := strconv.ParseUint(s[i+1:i+1+hex], 16, 32)
			if err != nil {
				return "", false
			}
			b.WriteRune(rune(v))
			i += hex
		}
	}
	return b.String(), true
}

// knownDiff lists encoding/ expectations we deliberately do not meet.
var knownDiff = map[string]string{
	// feedparser rewrites escaped references &#128;-&#159; inside HTML
	// text; we pass item HTML through as the feed wrote it.
	"encoding/demoronize-3.xml": "escaped C1 character reference",
}

// TestCorpus serves every corpus document over HTTP with its Header:
// lines: each parses or fails with a classified error, never panics. Where
// the Expect line is a simple title/description literal, encoding/ cases
// must match exactly; elsewhere mismatches are only counted (feedparser
// normalises text in ways we do not copy, e.g. sanitising).
func TestCorpus(t *testing.T) {
	if _, err := os.Stat(corpusDir); err != nil {
		t.Fatalf("corpus missing (it is part of the repository): %v", err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := os.ReadFile(filepath.Join(corpusDir, filepath.FromSlash(strings.TrimPrefix(r.URL.Path, "/"))))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		hs, _ := corpusMeta(b)
		w.Header()["Content-Type"] = nil // no sniffing: only the document's own headers
		for _, h := range hs {
			w.Header().Set(h[0], h[1])
		}
		_, _ = w.Write(b)
	}))
	defer srv.Close()
	var files []string
	err := filepath.WalkDir(corpusDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".xml") || strings.HasSuffix(p, ".json")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	opts := testOptions(Options{Timeout: 10 * time.Second})
	var parsed, failed, checked, mismatched int
	kinds := map[string]int{}
	for _, p := range files {
		rel, _ := filepath.Rel(corpusDir, p)
		rel = filepath.ToSlash(rel)
		b, _ := os.ReadFile(p)
		_, expect := corpusMeta(b)
		fi, items, err := Fetch(context.Background(), srv.URL+"/"+rel, opts)
		if err != nil {
			k := errKind(err)
			if os.Getenv("CORPUS_VERBOSE") != "" {
				t.Logf("%s: %v", rel, err)
			}
			kinds[k]++
			failed++
			if k == "error" || k == "canceled" {
				t.Errorf("%s: unclassified error %v", rel, err)
			}
			if !strings.Contains(err.Error(), "fetch \"") {
				t.Errorf("%s: error does not name the feed: %v", rel, err)
			}
			continue
		}
		parsed++
		for _, it := range items {
			if it.Key == "" || len(it.Key) > 64 || !utf8.ValidString(it.Title) {
				t.Errorf("%s: bad item %+v", rel, it)
			}
		}
		m := expectRE.FindStringSubmatch(expect)
		if m == nil {
			continue
		}
		want, ok := pyString(m[3])
		if !ok {
			continue
		}
		var got string
		switch {
		case m[1] == "feed" && m[2] == "title":
			got = fi.Title
		case m[1] == "entries[0]" && len(items) > 0 && m[2] == "title":
			got = items[0].Title
		case m[1] == "entries[0]" && len(items) > 0:
			got = items[0].Summary
			if got == "" {
				got = items[0].Content
			}
		default:
			continue
		}
		checked++
		if got != want {
			mismatched++
			if os.Getenv("CORPUS_VERBOSE") != "" {
				t.Logf("%s: %s[%s] = %q, want %q", rel, m[1], m[2], got, want)
			}
			if strings.HasPrefix(rel, "encoding/") && knownDiff[rel] == "" {
				t.Errorf("%s: %s[%s] = %q, want %q", rel, m[1], m[2], got, want)
			}
		}
	}
	t.Logf("corpus: %d documents, %d parsed, %d failed %v; %d literal expectations checked, %d differ", len(files), parsed, failed, kinds, checked, mismatched)
}
