package render

import (
	"strings"
	"testing"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/feedwatch/feedwatch/hit"
)

func TestOneLine(t *testing.T) {
	tests := map[string]string{
		"plain":                      "plain",
		"  a\r\nb\tc  ":              "a b c",
		"x\x1b[31my\x00z":            "x[31myz",
		"bidi\u202eevil\u2028next":   "bidievilnext",
		"bad\xffutf8":                "badutf8",
		"\u00a0nbsp\u3000ideo space": "nbsp ideo space",
	}
	for in, want := range tests {
		if got := OneLine(in); got != want {
			t.Errorf("OneLine(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMarkers(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a «b» c «d»", "a [b] c [d]"},
		{"no markers", "no markers"},
		{"open «only", "open «only"},
		{"empty «» pair", "empty  pair"},
		{"close» first «x»", "close» first [x]"},
	}
	for _, tt := range tests {
		if got := Markers(tt.in, "[", "]"); got != tt.want {
			t.Errorf("Markers(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSafeLink(t *testing.T) {
	tests := map[string]string{
		"https://example.org/a?b=c": "https://example.org/a?b=c",
		" http://example.org ":      "http://example.org",
		"javascript:alert(1)":       "",
		"JAVASCRIPT:alert(1)":       "",
		"data:text/html,x":          "",
		"//example.org/x":           "",
		"/relative":                 "",
		"":                          "",
	}
	for in, want := range tests {
		if got := SafeLink(in); got != want {
			t.Errorf("SafeLink(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTruncate(t *testing.T) {
	if got := Truncate(5, "Xinjiang"); got != "Xinj…" || utf8.RuneCountInString(got) != 5 {
		t.Errorf("got %q", got)
	}
	if got := Truncate(5, "新疆维吾尔自治区"); got != "新疆维吾…" {
		t.Errorf("got %q", got)
	}
	if got := Truncate(10, "short"); got != "short" {
		t.Errorf("got %q", got)
	}
}

func TestCheck(t *testing.T) {
	if err := Check("x", "{{.Item.Title}} {{date .Item.Published}} {{json .Matches}}"); err != nil {
		t.Errorf("valid template: %v", err)
	}
	err := Check("x", "{{.Item.Title")
	if err == nil || !strings.Contains(err.Error(), "template: x:1:") {
		t.Errorf("err = %v", err)
	}
	if err := Check("x", "{{.Item.Nope}}"); err == nil {
		t.Error("missing field should fail")
	}
}

func TestSampleHitIsComplete(t *testing.T) {
	h := SampleHit(time.Now())
	if h.V != 1 || h.ID == "" || h.Item.Published == nil || h.Item.Title == "" || h.Snippet == "" ||
		len(h.Matches) == 0 || SafeLink(h.Item.Link) == "" || !strings.Contains(h.Snippet, "«Xinjiang»") {
		t.Errorf("sample hit lacks fields: %+v", h)
	}
}

func FuzzOneLine(f *testing.F) {
	f.Add("Xinjiang\r\nBcc: x")
	f.Add("\x1b]0;t\x07\u202e")
	f.Fuzz(func(t *testing.T, s string) {
		out := OneLine(s)
		if strings.ContainsAny(out, "\r\n\x00\x1b\u2028\u2029\u202e") || !utf8.ValidString(out) {
			t.Errorf("OneLine(%q) = %q", s, out)
		}
	})
}

// TestBoundedOutput: a render that writes without end fails at the cap
// instead of growing memory until the process dies.
func TestBoundedOutput(t *testing.T) {
	// Parsed without Parse's range check, as a template with a data-driven
	// loop would be.
	tm := template.Must(template.New("t").Parse("{{range 3000000000}}xxxxxxxx{{end}}"))
	if _, err := Bounded(tm, nil, 64<<10, time.Minute); err == nil || !strings.Contains(err.Error(), "output is longer than 64 KB") {
		t.Fatalf("err = %v", err)
	}
}

// TestBoundedTime: a render that does not finish in time is given up on
// (Go templates cannot be cancelled; the writer fails once time is up).
func TestBoundedTime(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	tm := template.Must(template.New("t").Funcs(template.FuncMap{"wait": func() string { <-release; return "" }}).Parse("{{wait}}"))
	if _, err := Bounded(tm, nil, 64<<10, 10*time.Millisecond); err == nil || !strings.Contains(err.Error(), "takes longer than") {
		t.Fatalf("err = %v", err)
	}
}

// TestExecuteLiveBound: a template that passed the sample check but grows
// with the hit (one block per match) is cut at MaxOutput at delivery.
func TestExecuteLiveBound(t *testing.T) {
	tm, err := Parse("t", `{{range .Matches}}{{range 10000}}xx{{end}}{{end}}`)
	if err != nil {
		t.Fatal(err)
	}
	h := SampleHit(time.Now())
	if _, err := ExecuteSample(tm, h); err != nil {
		t.Fatalf("sample render: %v", err)
	}
	for range 100 {
		h.Matches = append(h.Matches, hit.Match{Field: "title", Text: "x", Term: "x"})
	}
	if _, err := Execute(tm, h); err == nil || !strings.Contains(err.Error(), "output is longer than 1024 KB") {
		t.Fatalf("err = %v", err)
	}
}

func TestCheckRanges(t *testing.T) {
	tests := map[string]bool{ // template -> accepted
		"{{range 3}}x{{end}}":                                     true,
		"{{range 10000}}x{{end}}":                                 true,
		"{{range 10001}}x{{end}}":                                 false,
		"{{range $i := 3000000000}}{{end}}":                       false,
		"{{if .}}{{range 100}}{{range 200}}{{end}}{{end}}{{end}}": false,
		"{{range .Matches}}{{range 100}}{{end}}{{end}}":           true,
		`{{define "x"}}{{range 99999}}{{end}}{{end}}`:             false,
		"{{with .}}{{else}}{{range 20000}}{{end}}{{end}}":         false,
	}
	for text, ok := range tests {
		_, err := Parse("t", text)
		if (err == nil) != ok {
			t.Errorf("Parse(%q): %v", text, err)
		}
	}
}
