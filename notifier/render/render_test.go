package render

import (
	"net/url"
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
		// Hosts no service can open (Discord refused such a message).
		"http://(":                      "",
		"http://<x>/a":                  "",
		"http://a b/":                   "",
		"http://exa\"mple.org/":         "",
		"http://example.org:80x/":       "",
		"http://example.org:/a":         "http://example.org:/a",
		"https://example.org:8443/a(b)": "https://example.org:8443/a(b)",
		"http://[::1]:8080/x":           "http://[::1]:8080/x",
		"http://127.0.0.1/x":            "http://127.0.0.1/x",
		"https://news_site.example/x":   "https://news_site.example/x",
		"https://例え.jp/記事":              "https://xn--r8jz45g.jp/%E8%A8%98%E4%BA%8B",
		"https://user:pw@example.org/":  "https://user:pw@example.org/",
		"https://bücher.de:8080/x":      "https://xn--bcher-kva.de:8080/x",
		"https://xn--bcher-kva.de/x":    "https://xn--bcher-kva.de/x",
		"https://a​b.example/":          "",
		"https://́.example/":            "",
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

// FuzzSafeLink: a link SafeLink keeps is an http(s) URL whose host is
// plain ASCII (a name, an IPv4 address or a bracketed IPv6 one), and
// keeping it again changes nothing.
func FuzzSafeLink(f *testing.F) {
	for _, s := range []string{"https://example.org/a?b=c", "http://(", "https://bücher.de:8080/x",
		"http://[::1]:80/", "javascript:alert(1)", "http://a b/", "https://例え.jp/記事"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l := SafeLink(s)
		if l == "" {
			return
		}
		u, err := url.Parse(l)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			t.Fatalf("SafeLink(%q) = %q: %v", s, l, err)
		}
		if !strings.HasPrefix(u.Host, "[") && strings.Trim(u.Host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:") != "" {
			t.Fatalf("SafeLink(%q) = %q: host %q", s, l, u.Host)
		}
		if again := SafeLink(l); again != l {
			t.Fatalf("SafeLink(%q) = %q, again %q", s, l, again)
		}
	})
}
