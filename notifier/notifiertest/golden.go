package notifiertest

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier/render"
)

// update is -update for every test binary that imports this package (all
// of notifier/...): `go test ./notifier/... -run Golden -update` rewrites
// the renderers' golden files.
var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// Updating reports -update, for golden helpers that take it as a value.
func Updating() bool { return *update }

// Golden compares got with testdata/<name>.golden byte for byte, or
// rewrites that file under -update.
func Golden(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `go test -run Golden -update` to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the rendering (rerun with -update if the change is meant):\n%s", path, firstDiff(want, got))
	}
}

// firstDiff shows the first differing line of want and got.
func firstDiff(want, got []byte) string {
	wl, gl := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g || i >= len(wl) || i >= len(gl) {
			return fmt.Sprintf("line %d:\nwant %q\ngot  %q", i+1, w, g)
		}
	}
	return "(same lines; bytes differ)"
}

// GoldenCase is one input of the renderers' golden tests: one hit, or
// several for a digest.
type GoldenCase struct {
	Name string
	Hits []hit.Hit
}

// goldenTime fixes every date of the golden inputs.
var goldenTime = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// GoldenCases are the hits every renderer's golden tests render: an
// ordinary hit, a grouped one, a bare one, hostile feed text of each kind,
// long and non-Latin text, and digests.
func GoldenCases() []GoldenCase {
	plain := render.SampleHit(goldenTime)

	grouped := render.SampleHit(goldenTime)
	grouped.Profiles = []string{"xinjiang", "trade-bill", "supply-chains"}

	bare := hit.Hit{V: hit.Version, ID: hit.ID("bare", "feed\x00x"), Profile: "bare", DetectedAt: goldenTime,
		Feed:    hit.Feed{Name: "bare-feed", URL: "https://bare.example/feed"},
		Item:    hit.Item{ID: "x", Summary: "Only a summary mentions Xinjiang here."},
		Matches: []hit.Match{{Field: "summary", Text: "Xinjiang", Term: "xinjiang"}}}

	html := HostileHit()
	html.Item.Link = "javascript:alert(document.cookie)"
	html.Item.Authors = []string{`<img src=x onerror=alert(1)>`}
	html.Item.Categories = []string{`"><svg onload=alert(1)>`}

	control := render.SampleHit(goldenTime)
	control.Item.Title = "Xinjiang\r\nBcc: victim@example.org\x1b[31m red\x1b[0m \u202eevil\u202c\x00nul \xff bad\u2028sep"
	control.Feed.Title = "Feed\x1b]0;title\x07 \x1b[2J"
	control.Snippet = "…line one\n\x1b[1mbold\x1b[0m «Xinjiang»\r\nline two\t\x08\x7f…"
	control.Item.Summary = "Summary\x1b[5m blink \u2066isolate\u2069"
	control.Matches = []hit.Match{{Field: "title", Text: "Xinjiang\x1b[0m", Term: "xinjiang"}}

	mrkdwn := render.SampleHit(goldenTime)
	mrkdwn.Item.Title = "*Xinjiang* _news_ ~gone~ `code` <@U0123|admin> <#C0123> <!subteam^S1> &amp; &lt;tag&gt;"
	mrkdwn.Snippet = "…```block``` «Xinjiang» > quote <https://evil.example|https://news.example.org> @here…"
	mrkdwn.Item.Link = "https://news.example.org/a|b>c?x=<y>&z=1"
	mrkdwn.Profile = "xinjiang"
	mrkdwn.Profiles = []string{"xinjiang"}

	long := render.SampleHit(goldenTime)
	long.Item.Title = strings.Repeat("Xinjiang cotton supply chain report ", 20)
	long.Snippet = "…" + strings.Repeat("campaigners say «Uyghur» workers are transferred ", 120) + "…"
	long.Item.Summary = strings.Repeat("A long summary about Xinjiang. ", 40)

	unicode := render.SampleHit(goldenTime)
	unicode.Item.Title = "新疆维吾尔自治区 — Uyğur Çin ÇİN 🇨🇳 مرحبا e\u0301"
	unicode.Snippet = "…关于«新疆»的报道，«Uyğur» 工人…"
	unicode.Feed.Title = "Ｆｕｌｌ-width Ｆｅｅｄ"

	return []GoldenCase{
		{"plain", []hit.Hit{plain}},
		{"grouped", []hit.Hit{grouped}},
		{"bare", []hit.Hit{bare}},
		{"hostile-html", []hit.Hit{html}},
		{"hostile-control", []hit.Hit{control}},
		{"hostile-mrkdwn", []hit.Hit{mrkdwn}},
		{"long", []hit.Hit{long}},
		{"unicode", []hit.Hit{unicode}},
		{"digest", []hit.Hit{plain, html, bare}},
		{"digest-many", manyHits(55)},
	}
}

// manyHits are n distinct hits, for digests past a channel's limits.
func manyHits(n int) []hit.Hit {
	out := make([]hit.Hit, n)
	for i := range out {
		h := render.SampleHit(goldenTime.Add(-time.Duration(i) * time.Minute))
		h.ID = hit.ID("xinjiang", fmt.Sprintf("world\x00%d", i))
		h.Item.Title = fmt.Sprintf("Xinjiang story %d", i+1)
		h.Item.Link = fmt.Sprintf("https://news.example.org/%d", i+1)
		out[i] = h
	}
	return out
}
