package console

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/feedwatch/feedwatch/hit"
)

//go:embed templates/*.html static/*
var assets embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"ago":      ago,
	"until":    until,
	"stamp":    stamp,
	"link":     safeLink,
	"count":    count,
	"rate":     func(f float64) string { return strconv.FormatFloat(math.Round(f*10)/10, 'f', -1, 64) },
	"pathesc":  url.PathEscape,
	"truncate": truncate,
	"list":     func(s ...string) []string { return s },
}).ParseFS(assets, "templates/*.html"))

// page is what every template gets.
type page struct {
	Title string
	Nav   string // the menu entry to mark
	CSRF  string // the form token; "" when actions are off
	Admin bool
	Flash string
	Now   time.Time
	D     any
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	if d < 0 {
		return "in " + short(-d)
	}
	return short(d) + " ago"
}

func until(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := t.Sub(now)
	if d <= 0 {
		return "due"
	}
	return "in " + short(d)
}

func short(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func count(n int) string {
	s := strconv.Itoa(n)
	if n < 10000 {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// safeLink passes only http and https links: an item's link is feed text,
// and html/template would let other schemes through in some forms (and
// blanks the rest to "#ZgotmplZ", a broken link).
func safeLink(s string) string {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return u.String()
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// seg is a run of text, marked when it is a matched word.
type seg struct {
	Text string
	Mark bool
}

// snippetSegs splits a hit snippet, where the matched words stand in
// «guillemets», into marked and plain runs.
func snippetSegs(s string) []seg {
	var out []seg
	for s != "" {
		i := strings.Index(s, "«")
		if i < 0 {
			break
		}
		j := strings.Index(s[i:], "»")
		if j < 0 {
			break
		}
		if i > 0 {
			out = append(out, seg{Text: s[:i]})
		}
		out = append(out, seg{Text: s[i+len("«") : i+j], Mark: true})
		s = s[i+j+len("»"):]
	}
	if s != "" {
		out = append(out, seg{Text: s})
	}
	return out
}

// markWords splits text into runs, marking each case-insensitive
// occurrence of one of words that stands on word boundaries.
func markWords(text string, words []string) []seg {
	if text == "" {
		return nil
	}
	lower := strings.ToLower(text)
	if len(lower) != len(text) {
		// Lower-casing changed byte lengths (rare scripts): mark nothing
		// rather than mark the wrong bytes.
		return []seg{{Text: text}}
	}
	var ws []string
	for _, w := range words {
		if w = strings.ToLower(strings.TrimSpace(w)); w != "" {
			ws = append(ws, w)
		}
	}
	var out []seg
	plain := 0
	for i := 0; i < len(lower); {
		best := ""
		if i == 0 || !wordByte(lower, i-1) {
			for _, w := range ws {
				if strings.HasPrefix(lower[i:], w) && len(w) > len(best) && (i+len(w) == len(lower) || !wordByte(lower, i+len(w))) {
					best = w
				}
			}
		}
		if best == "" {
			_, n := utf8.DecodeRuneInString(lower[i:])
			i += n
			continue
		}
		if plain < i {
			out = append(out, seg{Text: text[plain:i]})
		}
		out = append(out, seg{Text: text[i : i+len(best)], Mark: true})
		i += len(best)
		plain = i
	}
	if plain < len(text) {
		out = append(out, seg{Text: text[plain:]})
	}
	return out
}

// wordByte reports whether the rune around byte i is a letter or digit.
func wordByte(s string, i int) bool {
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// hitView is a hit as a row shows it.
type hitView struct {
	Seq     uint64
	ID      string
	Profile string
	Feed    string
	Title   []seg
	Link    string
	When    time.Time
	Snippet []seg
	// Delivery is each routed notifier's state: delivered, dead, muted,
	// pending.
	Delivery []delivery
	Err      string
}

type delivery struct{ Notifier, State string }

func viewHit(h hit.Hit) hitView {
	words := make([]string, 0, len(h.Matches))
	for _, m := range h.Matches {
		words = append(words, m.Text)
	}
	v := hitView{ID: h.ID, Profile: h.Profile, Feed: h.Feed.Name, Title: markWords(h.Item.Title, words),
		Link: safeLink(h.Item.Link), When: h.DetectedAt, Snippet: snippetSegs(h.Snippet)}
	if h.Item.Published != nil && v.When.IsZero() {
		v.When = *h.Item.Published
	}
	if len(v.Snippet) == 0 && h.Item.Summary != "" {
		v.Snippet = markWords(truncate(h.Item.Summary, 300), words)
	}
	if len(v.Title) == 0 {
		v.Title = []seg{{Text: "(no title)"}}
	}
	return v
}

// chart is a bar chart of counts per day, drawn as inline SVG by the
// template: numbers only, no text from feeds.
type chart struct {
	W, H int
	Bars []bar
	Max  int
}

type bar struct {
	X, Y, W, H int
	Label      string
}

func dayChart(counts []int, today time.Time) chart {
	const w, h = 300, 60
	c := chart{W: w, H: h}
	for _, n := range counts {
		c.Max = max(c.Max, n)
	}
	bw := w / max(len(counts), 1)
	for i, n := range counts {
		bh := 0
		if c.Max > 0 {
			bh = int(math.Ceil(float64(n) / float64(c.Max) * float64(h-2)))
		}
		day := today.UTC().AddDate(0, 0, i-len(counts)+1).Format("2006-01-02")
		c.Bars = append(c.Bars, bar{X: i * bw, Y: h - bh, W: max(bw-1, 1), H: bh, Label: fmt.Sprintf("%s: %d", day, n)})
	}
	return c
}

// sparkline is dayChart at the size of a table cell.
func sparkline(counts []int, today time.Time) chart {
	c := dayChart(counts, today)
	const w, h = 70, 16
	scaleX, scaleY := float64(w)/float64(c.W), float64(h)/float64(c.H)
	for i, b := range c.Bars {
		c.Bars[i] = bar{X: int(float64(b.X) * scaleX), W: max(int(float64(b.W)*scaleX), 1), H: int(math.Ceil(float64(b.H) * scaleY)), Label: b.Label}
		c.Bars[i].Y = h - c.Bars[i].H
	}
	c.W, c.H = w, h
	return c
}

// render executes a page template into a buffer first, so that an error
// does not leave half a page.
func render(name string, p page) ([]byte, error) {
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, name, p); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	return b.Bytes(), nil
}
