package email

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/feedwatch/feedwatch/hit"
)

// TestSubjectNamesProfiles: an alert's subject says which profiles it is
// for, even after a long title is cut.
func TestSubjectNamesProfiles(t *testing.T) {
	long := sample()
	long.Item.Title = strings.Repeat("Xinjiang cotton ", 20)
	long.Profiles = []string{"xinjiang", "trade-bill"}
	two := sample()
	two.Profiles = []string{"xinjiang", "trade-bill"}
	tests := []struct {
		name string
		h    hit.Hit
		want string
	}{
		{"one profile", sample(), sample().Item.Title + " [xinjiang]"},
		{"two profiles", two, sample().Item.Title + " [xinjiang, trade-bill]"},
		{"long title", long, "[xinjiang, trade-bill]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Subject([]hit.Hit{tt.h})
			if !strings.HasSuffix(got, tt.want) || utf8.RuneCountInString(got) > maxSubject {
				t.Errorf("Subject = %q, want it to end %q within %d characters", got, tt.want, maxSubject)
			}
		})
	}
}

func TestBodiesNameProfiles(t *testing.T) {
	e := mustNew(t, Config{Host: "127.0.0.1", TLS: TLSNone, From: "a@example.org", To: []string{"b@example.org"}}, nil)
	h := sample()
	h.Profiles = []string{"xinjiang", "trade-bill"}
	_, text, html, err := e.Render([]hit.Hit{h})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "profiles xinjiang, trade-bill · feed") {
		t.Errorf("text part:\n%s", text)
	}
	if !strings.Contains(html, "profiles <b>xinjiang, trade-bill</b>") {
		t.Errorf("html part:\n%s", html)
	}
	_, text, html, err = e.Render([]hit.Hit{sample()})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "profile xinjiang · feed") || !strings.Contains(html, "profile <b>xinjiang</b>") {
		t.Errorf("one profile:\n%s\n%s", text, html)
	}
}
