package matcher

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"
	"gopkg.in/yaml.v3"

	"github.com/feedwatch/feedwatch/bench/feedgen"
	"github.com/feedwatch/feedwatch/item"
)

// feedgenData is the whole-daemon benchmark's text (bench/feedgen): items
// as the watcher makes them from the farm's documents, and its 1,000
// profiles. Their two-word phrases come from the same 3,500-word
// vocabulary as the text, so nearly every token is the rarer word of some
// pair: dense text, the matcher's hard case.
type feedgenData struct {
	items    []*item.Item
	bytes    int64 // title, summary and content
	profiles []Profile
}

var feedgenOnce = sync.OnceValues(func() (*feedgenData, error) {
	g := feedgen.New(1)
	var cfg struct {
		Profiles []struct {
			Name     string   `yaml:"name"`
			Keywords []string `yaml:"keywords"`
		} `yaml:"profiles"`
	}
	if err := yaml.Unmarshal([]byte("profiles:\n"+g.Profiles(1000, 2)), &cfg); err != nil {
		return nil, err
	}
	d := &feedgenData{}
	for _, p := range cfg.Profiles {
		d.profiles = append(d.profiles, Profile{Name: p.Name, Keywords: p.Keywords})
	}
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	p := gofeed.NewParser()
	for feed := range 100 {
		f, err := p.ParseString(string(g.Doc(feed, 1, now)))
		if err != nil {
			return nil, err
		}
		for _, gi := range f.Items {
			// As watcher/parse converts them.
			it := &item.Item{Title: strings.TrimSpace(gi.Title), Link: strings.TrimSpace(gi.Link), Summary: gi.Description, Content: gi.Content}
			d.items = append(d.items, it)
			d.bytes += int64(len(it.Title) + len(it.Summary) + len(it.Content))
		}
	}
	return d, nil
})

func loadFeedgen(b *testing.B) *feedgenData {
	d, err := feedgenOnce()
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// BenchmarkMatchFeedgen: the matcher over bench/feedgen's items (2,000
// items, each an 8-word title and a ~1.4 KB HTML summary) with its 1,000
// profiles, as the daemon benchmark runs it.
func BenchmarkMatchFeedgen(b *testing.B) {
	d := loadFeedgen(b)
	m, err := Compile(d.profiles)
	if err != nil {
		b.Fatal(err)
	}
	results := matchLoop(b, m, d.items, d.bytes)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(b.N*len(d.items)), "µs/item")
	b.ReportMetric(float64(results)/float64(len(d.items)), "hits/item")
}
