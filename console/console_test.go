package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/hit"
)

var now = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

// fakeSearcher answers every query with its hits, or its error.
type fakeSearcher struct {
	hits  []hit.Hit
	err   error
	asked []string
}

func (f *fakeSearcher) Search(_ context.Context, q string, since time.Duration, limit int) ([]hit.Hit, error) {
	f.asked = append(f.asked, fmt.Sprintf("%s|%s|%d", q, since, limit))
	return f.hits, f.err
}

// onOffSearcher says whether the archive is on.
type onOffSearcher struct {
	fakeSearcher
	on bool
}

func (s *onOffSearcher) On() bool { return s.on }

// memHits is the hits stream as a map by sequence.
type memHits map[uint64]hit.Hit

func (m memHits) Hit(_ context.Context, seq uint64) (hit.Hit, error) {
	h, ok := m[seq]
	if !ok {
		return h, errors.New("no such hit")
	}
	return h, nil
}

func sampleHit(i int, profile, feed string) hit.Hit {
	return hit.Hit{V: 1, ID: fmt.Sprintf("id%04d", i), Profile: profile, DetectedAt: now.Add(-time.Duration(i) * time.Minute),
		Feed: hit.Feed{Name: feed}, Item: hit.Item{ID: fmt.Sprint(i), Title: fmt.Sprintf("Xinjiang report %d", i), Link: fmt.Sprintf("https://news.example.org/%d", i)},
		Matches: []hit.Match{{Field: "title", Text: "Xinjiang", Term: "xinjiang"}},
		Snippet: "…camps in the «Xinjiang» region…"}
}

func newTest(t *testing.T, s Searcher, hits int) *Console {
	t.Helper()
	idx := NewIndex(0)
	mem := memHits{}
	for i := hits; i >= 1; i-- {
		h := sampleHit(i, "xinjiang", "world")
		mem[uint64(hits-i+1)] = h
		idx.Add(uint64(hits-i+1), h)
	}
	c, err := New(Options{
		Status: func() Status {
			return Status{Mode: "run", Ready: true, Feeds: []Feed{{Name: "world", URL: "https://example.org/rss", LastPoll: now, Result: "ok"}},
				Profiles: []Profile{{Name: "xinjiang", Query: "xinjiang", Notifiers: []string{"console"}}}}
		},
		Index: idx, Hits: mem, Searcher: s, Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func get(t *testing.T, h http.Handler, target string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

func TestQueryBox(t *testing.T) {
	t.Run("archive off", func(t *testing.T) {
		code, body := get(t, newTest(t, nil, 0), "/search?q=xinjiang")
		if code != 200 || !strings.Contains(body, "archive off") {
			t.Fatalf("%d: no 'archive off' in\n%s", code, body)
		}
	})
	t.Run("matches with highlights", func(t *testing.T) {
		s := &fakeSearcher{hits: []hit.Hit{sampleHit(1, "adhoc", "world"), sampleHit(2, "adhoc", "asia")}}
		code, body := get(t, newTest(t, s, 0), "/search?q="+url.QueryEscape(`xinjiang AND camps`)+"&since=30d")
		if code != 200 {
			t.Fatalf("status %d", code)
		}
		for _, want := range []string{"2 matches", "<mark>Xinjiang</mark> report 1", `href="https://news.example.org/2"`, "camps in the <mark>Xinjiang</mark> region", "asia", "2026-12-06 11:59 UTC"} {
			if !strings.Contains(body, want) {
				t.Errorf("page lacks %q", want)
			}
		}
		if len(s.asked) != 1 || s.asked[0] != "xinjiang AND camps|720h0m0s|100" {
			t.Errorf("searcher asked %v", s.asked)
		}
	})
	t.Run("published date shown", func(t *testing.T) {
		h := sampleHit(1, "adhoc", "world")
		pub := time.Date(2021, 1, 19, 16, 5, 0, 0, time.UTC)
		h.Item.Published = &pub
		_, body := get(t, newTest(t, &fakeSearcher{hits: []hit.Hit{h}}, 0), "/search?q=xinjiang")
		if !strings.Contains(body, "2021-01-19 16:05 UTC") {
			t.Errorf("the published date is not shown:\n%s", body)
		}
	})
	t.Run("a searcher that says the archive is off", func(t *testing.T) {
		s := &onOffSearcher{}
		_, body := get(t, newTest(t, s, 0), "/search?q=xinjiang")
		if !strings.Contains(body, "archive off") || len(s.asked) != 0 {
			t.Errorf("off: asked %v\n%s", s.asked, body)
		}
		s.on = true
		_, body = get(t, newTest(t, s, 0), "/search?q=xinjiang")
		if strings.Contains(body, "archive off") || len(s.asked) != 1 {
			t.Errorf("on: asked %v\n%s", s.asked, body)
		}
	})
	t.Run("error shown", func(t *testing.T) {
		s := &fakeSearcher{err: errors.New(`query: unexpected ")"`)}
		_, body := get(t, newTest(t, s, 0), "/search?q=a)")
		if !strings.Contains(body, "query: unexpected &#34;)&#34;") {
			t.Errorf("error not shown:\n%s", body)
		}
	})
	t.Run("bad since", func(t *testing.T) {
		s := &fakeSearcher{}
		_, body := get(t, newTest(t, s, 0), "/search?q=a&since=forever")
		if !strings.Contains(body, "want a duration") || len(s.asked) != 0 {
			t.Errorf("bad since not refused: %v\n%s", s.asked, body)
		}
	})
}

func TestMarkWords(t *testing.T) {
	for _, tc := range []struct {
		text  string
		words []string
		want  string
	}{
		{"Xinjiang camps", []string{"xinjiang"}, "[Xinjiang] camps"},
		{"billing bill", []string{"bill"}, "billing [bill]"},
		{"Trade Bill, trade bill", []string{"trade bill"}, "[Trade Bill], [trade bill]"},
		{"nothing here", []string{"x"}, "nothing here"},
		{"ÇİN", []string{"çin"}, "ÇİN"},
	} {
		var b strings.Builder
		for _, s := range markWords(tc.text, tc.words) {
			if s.Mark {
				b.WriteString("[" + s.Text + "]")
			} else {
				b.WriteString(s.Text)
			}
		}
		if b.String() != tc.want {
			t.Errorf("markWords(%q, %q) = %q, want %q", tc.text, tc.words, b.String(), tc.want)
		}
	}
}

func TestSnippetSegs(t *testing.T) {
	got := snippetSegs("…a «b» c «d»")
	want := []seg{{"…a ", false}, {"b", true}, {" c ", false}, {"d", true}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if got := snippetSegs("«unclosed"); len(got) != 1 || got[0].Mark {
		t.Fatalf("unclosed: %v", got)
	}
}

func TestIndexBounded(t *testing.T) {
	x := NewIndex(100)
	for i := 1; i <= 1000; i++ {
		p := "a"
		if i%2 == 0 {
			p = "b"
		}
		x.Add(uint64(i), hit.Hit{Profile: p, Feed: hit.Feed{Name: fmt.Sprint("f", i%3)}, DetectedAt: now.Add(time.Duration(i-1000) * time.Minute)})
	}
	if x.Len() != 100 {
		t.Fatalf("len %d", x.Len())
	}
	refs, total := x.Recent(Filter{Profile: "a"}, 0, 10)
	if total != 50 || len(refs) != 10 || refs[0].Seq != 999 || refs[9].Seq != 981 {
		t.Fatalf("profile a: total %d, %v", total, refs)
	}
	refs, total = x.Recent(Filter{}, 95, 10)
	if total != 100 || len(refs) != 5 || refs[4].Seq != 901 {
		t.Fatalf("all, skip 95: total %d, %v", total, refs)
	}
	refs, total = x.Recent(Filter{Profile: "b", Feed: "f1"}, 0, 100)
	for _, r := range refs {
		if r.Profile != "b" || r.Feed != "f1" {
			t.Fatalf("filter leaked %v", r)
		}
	}
	if total != len(refs) || total == 0 {
		t.Fatalf("b/f1 total %d, %d refs", total, len(refs))
	}
	if got := x.Since(now.Add(-10 * time.Minute)); got["a"]+got["b"] != 11 {
		t.Fatalf("since: %v", got)
	}
	days := x.PerDay("a", now, 3)
	if days[0]+days[1]+days[2] != 50 {
		t.Fatalf("per day %v", days)
	}
	// Re-reading after a consumer restart adds nothing.
	x.Add(500, hit.Hit{Profile: "a"})
	if _, total := x.Recent(Filter{Profile: "a"}, 0, 1); total != 50 {
		t.Fatalf("old sequence re-added: %d", total)
	}
}
