package render

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
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
