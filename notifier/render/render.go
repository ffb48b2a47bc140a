// Package render holds what every channel shares to turn a hit into text:
// the text/template helpers, the cleaning of untrusted feed text, and the
// sample hit that config checks and send-test render.
package render

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync/atomic"
	"text/template"
	"text/template/parse"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"github.com/feedwatch/feedwatch/hit"
)

// Snippet markers: the matcher wraps matched words in «…».
const (
	MarkOpen  = "«"
	MarkClose = "»"
)

// Funcs are the helpers available to every notifier template.
func Funcs() template.FuncMap {
	return template.FuncMap{
		"date":     Date,
		"truncate": Truncate,
		"join":     strings.Join,
		"json":     jsonString,
		"oneline":  OneLine,
		"upper":    strings.ToUpper,
		"lower":    strings.ToLower,
	}
}

// Parse parses a text template with the shared helpers. Missing map keys
// are errors so a typo fails at config check, not silently at send time.
func Parse(name, text string) (*template.Template, error) {
	t, err := template.New(name).Funcs(Funcs()).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, err
	}
	for _, tt := range t.Templates() {
		if err := CheckRanges(tt.Tree); err != nil {
			return nil, err
		}
		Interruptible(tt.Tree)
	}
	return t, nil
}

// Bounds on one template execution. Go templates cannot be cancelled, but
// a write that fails aborts the execution: the writer fails past the
// output cap, and once the time is up.
const (
	// MaxOutput and RenderTimeout bound a render at delivery (an email
	// digest of many hits is the largest).
	MaxOutput     = 1 << 20
	RenderTimeout = 10 * time.Second
	// SampleOutput and SampleTimeout bound the render of the sample hit
	// that proves a template at config check.
	SampleOutput  = 64 << 10
	SampleTimeout = 2 * time.Second
	// MaxRange is the largest number a template may range over
	// ({{range 3000000000}} writes nothing and would spin for minutes).
	MaxRange = 10000
)

// Executor is a text or HTML template.
type Executor interface {
	Execute(w io.Writer, data any) error
}

// Execute renders t with the hit as its data, within MaxOutput and
// RenderTimeout.
func Execute(t *template.Template, h hit.Hit) (string, error) {
	return Bounded(t, h, MaxOutput, RenderTimeout)
}

// ExecuteSample renders t on a sample hit, within SampleOutput and
// SampleTimeout: a template that needs more is a config error.
func ExecuteSample(t Executor, data any) (string, error) {
	return Bounded(t, data, SampleOutput, SampleTimeout)
}

// Bounded renders t with data, failing once the output passes maxOut bytes
// or the render takes longer than timeout. Go templates cannot be
// cancelled: a render that times out is abandoned, and its goroutine ends
// at its next write, which fails. A template made Interruptible (Parse
// does it) writes at every loop iteration and template call, so it ends
// within one of them.
func Bounded(t Executor, data any, maxOut int, timeout time.Duration) (string, error) {
	w := &capWriter{max: maxOut}
	done := make(chan error, 1)
	go func() { done <- t.Execute(w, data) }()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case err := <-done:
		if err != nil {
			return "", err
		}
		return w.b.String(), nil
	case <-timer.C:
		w.stop.Store(true)
		return "", fmt.Errorf("rendering takes longer than %v", timeout)
	}
}

// capWriter fails writes past max bytes, or after stop.
type capWriter struct {
	b    strings.Builder
	max  int
	stop atomic.Bool
}

func (w *capWriter) Write(p []byte) (int, error) {
	if w.stop.Load() {
		return 0, errors.New("rendering took too long")
	}
	if w.b.Len()+len(p) > w.max {
		return 0, fmt.Errorf("output is longer than %d KB", w.max>>10)
	}
	return w.b.Write(p)
}

// CheckRanges refuses a range over a number larger than MaxRange, or
// nested ranges over numbers whose product is: such a loop can spin for
// minutes without writing, which no output cap stops.
func CheckRanges(tree *parse.Tree) error {
	if tree == nil || tree.Root == nil {
		return nil
	}
	return checkRanges(tree.Root, 1)
}

func checkRanges(n parse.Node, outer int64) error {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkRanges(c, outer); err != nil {
				return err
			}
		}
	case *parse.IfNode:
		return checkBranches(&n.BranchNode, outer)
	case *parse.WithNode:
		return checkBranches(&n.BranchNode, outer)
	case *parse.RangeNode:
		count := outer
		if k, ok := rangeCount(n.Pipe); ok {
			if k > MaxRange {
				return fmt.Errorf("line %d: range over %d: at most %d", n.Line, k, MaxRange)
			}
			if count*k > MaxRange {
				return fmt.Errorf("line %d: range over %d inside ranges: %d in all, at most %d", n.Line, k, count*k, MaxRange)
			}
			count *= max(k, 1)
		}
		return checkBranches(&n.BranchNode, count)
	}
	return nil
}

func checkBranches(b *parse.BranchNode, outer int64) error {
	if err := checkRanges(b.List, outer); err != nil {
		return err
	}
	if b.ElseList != nil {
		return checkRanges(b.ElseList, outer)
	}
	return nil
}

// rangeCount is the number a range pipeline iterates over when it is an
// integer literal.
func rangeCount(p *parse.PipeNode) (int64, bool) {
	if p == nil || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return 0, false
	}
	num, ok := p.Cmds[0].Args[0].(*parse.NumberNode)
	if !ok || !num.IsInt {
		return 0, false
	}
	return num.Int64, true
}

// Check parses text and renders it on the sample hit, the config-time proof
// that a template works. The error is the template package's own message.
func Check(name, text string) error {
	t, err := Parse(name, text)
	if err != nil {
		return err
	}
	_, err = ExecuteSample(t, SampleHit(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)))
	return err
}

// Date formats a time (or *time.Time; nil gives "") in UTC, minute precision.
func Date(v any) string {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case *time.Time:
		if x == nil {
			return ""
		}
		t = *x
	default:
		return ""
	}
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func jsonString(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// StripControl removes control characters (C0, C1, DEL) except newline and
// tab, and invalid UTF-8: feed text must not move a terminal cursor, end a
// mail header, or carry escape sequences.
func StripControl(s string) string {
	if !needsStrip(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n <= 1 {
				continue
			}
		}
		if r == '\n' || r == '\t' || !isControl(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func needsStrip(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for _, r := range s {
		if r != '\n' && r != '\t' && isControl(r) {
			return true
		}
	}
	return false
}

func isControl(r rune) bool {
	// Bidi overrides and line/paragraph separators also break one-line
	// fields (subjects, headers) and can disguise text.
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' ||
		(r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069')
}

// OneLine strips control characters, turns any whitespace run (newlines
// included) into one space and trims: for subjects, headers and titles.
func OneLine(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range StripControl(s) {
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// Truncate cuts s to at most n runes, ending with "…" when it cut.
func Truncate(n int, s string) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	rs := []rune(s)
	return strings.TrimRightFunc(string(rs[:n-1]), unicode.IsSpace) + "…"
}

// Markers replaces the snippet's «…» pairs with open and close. An unpaired
// marker is left as it is.
func Markers(s, open, close string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, MarkOpen)
		if i < 0 {
			break
		}
		j := strings.Index(s[i+len(MarkOpen):], MarkClose)
		if j < 0 {
			break
		}
		word := s[i+len(MarkOpen) : i+len(MarkOpen)+j]
		b.WriteString(s[:i])
		if strings.TrimSpace(word) == "" {
			b.WriteString(word)
		} else {
			b.WriteString(open + word + close)
		}
		s = s[i+len(MarkOpen)+j+len(MarkClose):]
	}
	b.WriteString(s)
	return b.String()
}

// SafeLink returns link when it is an absolute http(s) URL with a real
// host, else "": feed links may be javascript: or data: URLs, and
// net/url takes hosts such as "(" or "<x>" that no service can open and
// some (Discord) answer by refusing the whole message.
func SafeLink(link string) string {
	link = strings.TrimSpace(link)
	u, err := url.Parse(link)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return ""
	}
	host, ok := linkHost(u)
	if !ok {
		return ""
	}
	u.Host = host
	return u.String()
}

// linkHost is u's host when it is an IP literal or a name of letters,
// digits, '-', '_' and '.', with an all-digit port; a name in another
// script is given in its ASCII (punycode) form, which every service
// reads, where net/url would percent-encode it.
func linkHost(u *url.URL) (string, bool) {
	if p := u.Port(); p != "" && strings.Trim(p, "0123456789") != "" {
		return "", false
	}
	h := u.Hostname()
	if h == "" {
		return "", false
	}
	if strings.HasPrefix(u.Host, "[") {
		// net/url has checked the brackets' content is an IPv6 address
		// (with an optional zone).
		return u.Host, true
	}
	ascii := true
	for _, r := range h {
		switch {
		case r < utf8.RuneSelf && (r == '-' || r == '_' || r == '.' || unicode.IsLetter(r) || unicode.IsDigit(r)):
		case r >= utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)):
			ascii = false
		default:
			return "", false
		}
	}
	if !ascii {
		a, err := idna.Lookup.ToASCII(h)
		if err != nil {
			return "", false
		}
		h = a
	}
	// The port as written (":8080", a bare ":" or nothing).
	return h + u.Host[len(u.Hostname()):], true
}

// Title is the hit's display title: its item title on one line, or a
// stand-in when the feed gave none.
func Title(h hit.Hit) string {
	if t := OneLine(h.Item.Title); t != "" {
		return t
	}
	if l := SafeLink(h.Item.Link); l != "" {
		return l
	}
	return fmt.Sprintf("untitled item in %s", OneLine(FeedName(h)))
}

// FeedName is the feed's title when known, else its configured name.
func FeedName(h hit.Hit) string {
	if h.Feed.Title != "" && h.Feed.Name != "" && h.Feed.Title != h.Feed.Name {
		return OneLine(h.Feed.Title) + " (" + OneLine(h.Feed.Name) + ")"
	}
	if h.Feed.Title != "" {
		return OneLine(h.Feed.Title)
	}
	return OneLine(h.Feed.Name)
}

// SampleHit is a realistic hit for template checks and send-test.
func SampleHit(now time.Time) hit.Hit {
	now = now.UTC().Truncate(time.Second)
	published := now.Add(-47 * time.Minute)
	itemID := "https://news.example.org/world/asia/2026/xinjiang-cotton-report"
	return hit.Hit{
		V:          hit.Version,
		ID:         hit.ID("xinjiang", "world\x00"+itemID),
		Profile:    "xinjiang",
		DetectedAt: now,
		Feed: hit.Feed{
			Name:  "world",
			URL:   "https://news.example.org/world/rss",
			Title: "Example News – World",
		},
		Item: hit.Item{
			ID:         itemID,
			Title:      "Forced labour fears over Xinjiang cotton in global supply chains",
			Link:       "https://news.example.org/world/asia/2026/xinjiang-cotton-report",
			Published:  &published,
			Authors:    []string{"A. Reporter"},
			Categories: []string{"Asia", "Human rights"},
			Summary: "A new report traces cotton picked in Xinjiang through spinning mills " +
				"to garments sold in Europe, as campaigners say Uyghur workers are " +
				"transferred to factories under state labour programmes.",
		},
		Matches: []hit.Match{
			{Field: "title", Text: "Xinjiang", Term: "xinjiang"},
			{Field: "summary", Text: "Uyghur", Term: "uyghur*"},
		},
		Snippet: "…traces cotton picked in «Xinjiang» through spinning mills to garments " +
			"sold in Europe, as campaigners say «Uyghur» workers are transferred…",
		// As the engine delivers it: templates may use .Profiles.
		Profiles: []string{"xinjiang"},
	}
}

// ParseChecked parses a channel's template and renders it once on the
// sample hit, as data(hit) gives it to the template (nil: the hit as it
// is), so a template that fails on real data fails at load instead.
func ParseChecked(text string, data func(hit.Hit) any) (*template.Template, error) {
	t, err := Parse("template", text)
	if err != nil {
		return nil, err
	}
	var d any = SampleHit(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	if data != nil {
		d = data(d.(hit.Hit))
	}
	if _, err := ExecuteSample(t, d); err != nil {
		return nil, err
	}
	return t, nil
}
