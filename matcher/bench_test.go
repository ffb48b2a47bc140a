package matcher

import (
	"bufio"
	"flag"
	"fmt"
	"html"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/item"
	"github.com/mmcdole/gofeed"
)

// Benchmark inputs. With no flags the benchmark generates a news-like text
// and keyword sets of 10, 1,000 and 100,000 profiles; with -text and
// -keywords it runs on any files (one item per line; one keyword or phrase
// per line, each one profile), so the same inputs can go through other
// tools (see bench/grep.sh).
var (
	benchText     = flag.String("text", "", "benchmark text: one item per line")
	benchKeywords = flag.String("keywords", "", "benchmark keywords: one keyword or phrase per line, each one profile")
	benchGen      = flag.String("gen", "", "TestGenerateBenchFiles writes the generated benchmark files into this directory")
)

// Sizes of the generated inputs.
const (
	genTextBytes = 24 << 20
	genSeed      = 20261128
)

var genKeywordSets = []int{10, 1000, 100000}

// TestGenerateBenchFiles writes the generated text and keyword files into
// the directory given by -gen; without -gen it does nothing.
func TestGenerateBenchFiles(t *testing.T) {
	if *benchGen == "" {
		t.Skip("no -gen directory")
	}
	if err := writeBenchFiles(*benchGen); err != nil {
		t.Fatal(err)
	}
}

func writeBenchFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	lines, vocab := generateText()
	if err := os.WriteFile(filepath.Join(dir, "text.txt"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	for _, n := range genKeywordSets {
		kws := generateKeywords(lines, vocab, n)
		name := filepath.Join(dir, fmt.Sprintf("keywords-%d.txt", n))
		if err := os.WriteFile(name, []byte(strings.Join(kws, "\n")+"\n"), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// commonWords give the generated text the look of English news.
var commonWords = strings.Fields(`the of and to a in that is for on it with as was he be by at
from his an have are this not but had they has were which or she their been its would will
said one who more after there all about also new up two when her year over than people first
government minister president police state country week report told last could other years
into some out no what out just them against city public court law security military official
trade bill vote election party talks deal talks policy economy market prices oil energy war
talks border region rights human camps camp education china chinese russia ukraine europe
united nations council leaders support plan foreign world national local health workers`)

// generateText returns lines of news-like text (about genTextBytes in all)
// and the vocabulary they were drawn from, most frequent first.
func generateText() (lines []string, vocab []string) {
	r := rand.New(rand.NewPCG(genSeed, 1))
	vocab = append(vocab, commonWords...)
	seen := map[string]bool{}
	for _, w := range commonWords {
		seen[w] = true
	}
	syll := strings.Fields("ka ri to mel an sur ve lo pra din gor ta ne shi mu bel cor val tri ston ex per al im ra ba ul ze qua fin dor")
	accented := []string{"ü", "é", "ğ", "ø", "ç", "á", "ñ"}
	for len(vocab) < 60000 {
		n := 2 + r.IntN(3)
		var b strings.Builder
		for range n {
			b.WriteString(syll[r.IntN(len(syll))])
		}
		w := b.String()
		if r.IntN(30) == 0 {
			w = w[:1] + accented[r.IntN(len(accented))] + w[1:]
		}
		if !seen[w] {
			seen[w] = true
			vocab = append(vocab, w)
		}
	}
	zipf := rand.NewZipf(r, 1.07, 2, uint64(len(vocab)-1))
	total := 0
	var b strings.Builder
	for total < genTextBytes {
		b.Reset()
		size := 300 + r.IntN(2500)
		start := true
		for b.Len() < size {
			w := vocab[zipf.Uint64()]
			if start || r.IntN(25) == 0 {
				w = strings.ToUpper(w[:1]) + w[1:]
			}
			b.WriteString(w)
			start = false
			switch x := r.IntN(100); {
			case x < 6:
				b.WriteString(". ")
				start = true
			case x < 12:
				b.WriteString(", ")
			default:
				b.WriteByte(' ')
			}
		}
		lines = append(lines, strings.TrimSpace(b.String()))
		total += b.Len() + 1
	}
	return lines, vocab
}

// generateKeywords draws n keywords: mostly two- and three-word phrases
// taken from the text with at least one uncommon word (so they occur, but
// rarely), some single uncommon words, some phrases that never occur.
func generateKeywords(lines []string, vocab []string, n int) []string {
	r := rand.New(rand.NewPCG(genSeed, uint64(n)))
	rank := make(map[string]int, len(vocab))
	for i, w := range vocab {
		rank[w] = i
	}
	seen := map[string]bool{}
	var out []string
	for len(out) < n {
		var kw string
		switch x := r.IntN(10); {
		case x < 7:
			ws := strings.FieldsFunc(lines[r.IntN(len(lines))], func(c rune) bool { return c == ' ' || c == ',' || c == '.' })
			k := 2 + r.IntN(2)
			if len(ws) < k {
				continue
			}
			i := r.IntN(len(ws) - k + 1)
			kw = strings.ToLower(strings.Join(ws[i:i+k], " "))
			// Real profiles name something specific: keep phrases with
			// at least one word outside the 2,000 most frequent.
			rare := false
			for _, w := range strings.Fields(kw) {
				rare = rare || rank[w] >= 2000
			}
			if !rare {
				continue
			}
		case x < 9:
			kw = vocab[10000+r.IntN(len(vocab)-10000)]
		default:
			kw = vocab[r.IntN(len(vocab))] + " " + vocab[r.IntN(len(vocab))]
		}
		if !seen[kw] {
			seen[kw] = true
			out = append(out, kw)
		}
	}
	return out
}

// matchLoop matches items b.N times and reports the CPU figures; it
// returns the results of one pass.
func matchLoop(b *testing.B, m *Matcher, items []*item.Item, bytes int64) int {
	b.SetBytes(bytes)
	b.ResetTimer()
	results := 0
	cpu0 := cpuSeconds()
	for b.Loop() {
		results = 0
		for _, it := range items {
			results += len(m.Match(it))
		}
	}
	reportCPU(b, cpu0, bytes)
	return results
}

// benchInputs loads or generates the benchmark's items and keyword sets.
type benchSet struct {
	name     string
	keywords []string
}

type benchData struct {
	items []*item.Item
	bytes int64
	sets  []benchSet
}

func loadBenchData(b *testing.B) *benchData {
	d, err := benchDataOnce()
	if err != nil {
		b.Fatal(err)
	}
	return d
}

var benchDataOnce = sync.OnceValues(func() (*benchData, error) {
	d := &benchData{}
	var lines []string
	if *benchText != "" {
		var err error
		lines, err = readLines(*benchText)
		if err != nil {
			return nil, err
		}
	} else {
		var vocab []string
		lines, vocab = generateText()
		if *benchKeywords == "" {
			for _, n := range genKeywordSets {
				d.sets = append(d.sets, benchSet{fmt.Sprintf("profiles=%d", n), generateKeywords(lines, vocab, n)})
			}
		}
	}
	if *benchKeywords != "" {
		kws, err := readLines(*benchKeywords)
		if err != nil {
			return nil, err
		}
		d.sets = []benchSet{{fmt.Sprintf("profiles=%d", len(kws)), kws}}
	}
	if len(d.sets) == 0 {
		return nil, fmt.Errorf("-text given without -keywords")
	}
	for _, l := range lines {
		d.items = append(d.items, &item.Item{Summary: l})
		d.bytes += int64(len(l))
	}
	return d, nil
})

func readLines(name string) ([]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out, sc.Err()
}

// keywordProfiles makes one profile per keyword line. A line that is not
// a valid keyword (operators, no letters) is dropped, as other tools would
// treat it as a literal.
func keywordProfiles(kws []string) []Profile {
	ps := make([]Profile, 0, len(kws))
	for i, k := range kws {
		p := Profile{Name: fmt.Sprintf("k%d", i), Keywords: []string{k}}
		if len(CheckProfile(p)) == 0 {
			ps = append(ps, p)
		}
	}
	return ps
}

// BenchmarkMatch: the compiled matcher over the whole text, per keyword set.
func BenchmarkMatch(b *testing.B) {
	d := loadBenchData(b)
	for _, set := range d.sets {
		b.Run(set.name, func(b *testing.B) {
			m, err := Compile(keywordProfiles(set.keywords))
			if err != nil {
				b.Fatal(err)
			}
			results := matchLoop(b, m, d.items, d.bytes)
			b.ReportMetric(float64(len(d.items))*float64(b.N)/b.Elapsed().Seconds(), "items/s")
			b.ReportMetric(float64(results)/float64(len(d.items)), "hits/item")
		})
	}
}

// BenchmarkCompile: compile time (wall and CPU, without the GC runs that
// measure the heap) and the heap the matcher holds.
func BenchmarkCompile(b *testing.B) {
	d := loadBenchData(b)
	for _, set := range d.sets {
		b.Run(set.name, func(b *testing.B) {
			ps := keywordProfiles(set.keywords)
			sharedFoldTable()
			var heap, alloc uint64
			var wall time.Duration
			var cpu float64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				t0, c0 := time.Now(), cpuSeconds()
				m, err := Compile(ps)
				if err != nil {
					b.Fatal(err)
				}
				wall += time.Since(t0)
				cpu += cpuSeconds() - c0
				runtime.GC()
				runtime.ReadMemStats(&after)
				heap = after.HeapAlloc - before.HeapAlloc
				alloc = after.TotalAlloc - before.TotalAlloc
				runtime.KeepAlive(m)
			}
			b.ReportMetric(float64(heap)/(1<<20), "heap-MB")
			b.ReportMetric(float64(alloc)/(1<<20), "alloc-MB")
			b.ReportMetric(float64(wall.Microseconds())/1000/float64(b.N), "ms/compile")
			b.ReportMetric(cpu*1000/float64(b.N), "cpu-ms/compile")
		})
	}
}

// BenchmarkNaive: the baseline, each profile evaluated on its own by the
// reference evaluator (the item tokenized once, then every profile's tree
// walked over the tokens), on the first items of the text.
func BenchmarkNaive(b *testing.B) {
	d := loadBenchData(b)
	items := d.items[:min(len(d.items), 100)]
	var bytes int64
	for _, it := range items {
		bytes += int64(len(it.Summary))
	}
	for _, set := range d.sets {
		if len(set.keywords) > 1000 {
			continue // hours per pass
		}
		b.Run(set.name, func(b *testing.B) {
			var trees []*node
			for _, p := range keywordProfiles(set.keywords) {
				n, _ := buildProfile(sharedFoldTable(), p)
				trees = append(trees, n)
			}
			b.SetBytes(bytes)
			b.ResetTimer()
			cpu0 := cpuSeconds()
			for b.Loop() {
				for _, it := range items {
					ri := refPrepare(it)
					for _, n := range trees {
						refEval(n, ri)
					}
				}
			}
			reportCPU(b, cpu0, bytes)
			b.ReportMetric(float64(len(items))*float64(b.N)/b.Elapsed().Seconds(), "items/s")
		})
	}
}

// cpuSeconds is the process's CPU time: on a shared machine it measures
// the work better than the wall clock does.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// reportCPU adds MB per CPU second next to the wall-clock MB/s.
func reportCPU(b *testing.B, cpu0 float64, bytes int64) {
	if cpu := cpuSeconds() - cpu0; cpu > 0 {
		b.ReportMetric(float64(bytes)*float64(b.N)/cpu/1e6, "MB/cpu-s")
	}
}

// BenchmarkFeed compares parsing a feed document with gofeed against
// parsing it and matching every item with the 1,000-profile set: the
// matcher must never be the daemon's bottleneck.
func BenchmarkFeed(b *testing.B) {
	d := loadBenchData(b)
	set := d.sets[0]
	for _, s := range d.sets {
		if len(s.keywords) == 1000 {
			set = s
		}
	}
	m, err := Compile(keywordProfiles(set.keywords))
	if err != nil {
		b.Fatal(err)
	}
	const n = 50
	var doc strings.Builder
	doc.WriteString(`<?xml version="1.0"?><rss version="2.0"><channel><title>bench</title><link>https://example.org/</link>`)
	for i, it := range d.items[:min(n, len(d.items))] {
		title, _, _ := strings.Cut(it.Summary, ". ")
		fmt.Fprintf(&doc, "<item><title>%s</title><link>https://example.org/%d</link><guid>%d</guid><description>&lt;p&gt;%s&lt;/p&gt;</description></item>",
			html.EscapeString(title), i, i, html.EscapeString(html.EscapeString(it.Summary)))
	}
	doc.WriteString("</channel></rss>")
	body := doc.String()
	run := func(b *testing.B, match bool) {
		p := gofeed.NewParser()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			f, err := p.ParseString(body)
			if err != nil {
				b.Fatal(err)
			}
			if match {
				for _, fi := range f.Items {
					m.Match(&item.Item{Title: fi.Title, Link: fi.Link, Summary: fi.Description, Content: fi.Content})
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/item")
	}
	b.Run("parse", func(b *testing.B) { run(b, false) })
	b.Run("parse+match", func(b *testing.B) { run(b, true) })
}
