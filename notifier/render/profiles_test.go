package render

import (
	"testing"
	"time"
)

func TestProfileLabel(t *testing.T) {
	h := SampleHit(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	for _, tt := range []struct {
		name     string
		profiles []string
		want     string
	}{
		{"as published", nil, "profile xinjiang"},
		{"one", []string{"xinjiang"}, "profile xinjiang"},
		{"two", []string{"xinjiang", "trade-bill"}, "profiles xinjiang, trade-bill"},
		{"control characters", []string{"xinjiang", "a\nb"}, "profiles xinjiang, a b"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h.Profiles = tt.profiles
			if got := ProfileLabel(h); got != tt.want {
				t.Errorf("ProfileLabel = %q, want %q", got, tt.want)
			}
			if got := Clean(h).Profiles; len(got) == 0 {
				t.Errorf("template data has no profiles")
			}
		})
	}
}
