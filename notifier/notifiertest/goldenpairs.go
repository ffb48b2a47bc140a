package notifiertest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier/render"
)

// ChatCases are the hits a renderer's golden pairs start from: the
// sample, hostile feed text of every kind, an unsafe link, a very long
// item and a digest.
func ChatCases() map[string][]hit.Hit {
	at := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	sample := render.SampleHit(at)
	hostile := HostileHit()
	hostile.Item.Title = "@everyone @here <@123456> <@&42> <#7> **bold** _it_ ~~x~~ `code` ||spoiler|| # Head [click](https://evil.example) <b>x</b> &amp; \u202eevil\u202c zero\u200bwidth"
	hostile.Snippet = "…«Xinjiang» @every\u200bone [forged](https://evil.example/«x») <at>General</at> \\*not bold\\* > quote\n# heading\n- list…"
	rtl := render.SampleHit(at)
	rtl.Item.Title = "\u202eخبر عاجل\u202c عن شينجيانغ \u2067isolate\u2069 \u200fمرحبا"
	rtl.Snippet = "…تقرير عن «شينجيانغ» ويغور…"
	unsafe := render.SampleHit(at)
	unsafe.Item.Link = "javascript:alert(1)"
	long := render.SampleHit(at)
	long.Item.Title = strings.Repeat("Very long title about Xinjiang ", 40)
	long.Snippet = strings.Repeat("…«Xinjiang» cotton and [link](https://evil.example) text ", 300)
	long.Item.Link = "https://news.example.org/world/asia/2026/xinjiang-cotton-report?a=(1)&b=[2]"
	second := render.SampleHit(at.Add(time.Minute))
	second.Item.Title = "Second item: trade bill passes"
	second.Item.Link = "https://news.example.org/trade"
	second.Profiles = []string{"xinjiang", "trade-bill"}
	return map[string][]hit.Hit{
		"sample":      {sample},
		"hostile":     {hostile},
		"rtl":         {rtl},
		"unsafe_link": {unsafe},
		"long":        {long},
		"digest":      {sample, hostile, second},
	}
}

// GoldenPairs renders each testdata/golden/<case>.in.json (a JSON array
// of hits) and compares the result, indented, with <case>.out.json. With
// update it rewrites the outputs, and writes the inputs from ChatCases
// where they are missing.
func GoldenPairs(t *testing.T, update bool, renderHits func([]hit.Hit) ([]byte, error)) {
	t.Helper()
	dir := filepath.Join("testdata", "golden")
	if update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, hits := range ChatCases() {
			path := filepath.Join(dir, name+".in.json")
			if _, err := os.Stat(path); err == nil {
				continue
			}
			b, err := json.MarshalIndent(hits, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	ins, err := filepath.Glob(filepath.Join(dir, "*.in.json"))
	if err != nil || len(ins) == 0 {
		t.Fatalf("no golden inputs in %s (%v): run the test with -update", dir, err)
	}
	for _, in := range ins {
		name := strings.TrimSuffix(filepath.Base(in), ".in.json")
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			var hits []hit.Hit
			if err := json.Unmarshal(b, &hits); err != nil {
				t.Fatal(err)
			}
			raw, err := renderHits(hits)
			if err != nil {
				t.Fatal(err)
			}
			got := readable(raw)
			out := strings.TrimSuffix(in, ".in.json") + ".out.json"
			if update {
				if err := os.WriteFile(out, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(out)
			if err != nil {
				t.Fatalf("%v: run the test with -update", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("%s differs from the rendering (run with -update if the change is meant):\n%s", out, got.String())
			}
		})
	}
}

// readable is JSON indented, keys sorted and <, >, & as they are; other
// text as it is, with a final newline.
func readable(raw []byte) *bytes.Buffer {
	var got bytes.Buffer
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		got.Write(raw)
		got.WriteByte('\n')
		return &got
	}
	enc := json.NewEncoder(&got)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		got.Reset()
		got.Write(raw)
		got.WriteByte('\n')
	}
	return &got
}
