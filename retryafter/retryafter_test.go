package retryafter

import (
	"net/http"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	const day = 24 * time.Hour
	tests := []struct {
		in   string
		most time.Duration
		want time.Duration
	}{
		{"", day, 0},
		{"30", day, 30 * time.Second},
		{" 7 ", day, 7 * time.Second},
		{"0", day, 0},
		{"-5", day, 0},
		{"-99999999999999999999", day, 0},
		{"soon", day, 0},
		{"1.5", day, 0},
		{"99999999999", day, day}, // capped, no overflow
		{"99999999999999999999", day, day},
		{"99999999999999999", 365 * day, 365 * day},
		{"86400", day, day},
		{now.Add(90 * time.Second).Format(http.TimeFormat), day, 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), day, 0},
		{now.Format(http.TimeFormat), day, 0},
		{now.Add(72 * time.Hour).Format(http.TimeFormat), day, day},
		{now.Add(72 * time.Hour).Format(http.TimeFormat), 365 * day, 72 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := Parse(tt.in, now, tt.most); got != tt.want {
				t.Errorf("Parse(%q, %v) = %v, want %v", tt.in, tt.most, got, tt.want)
			}
		})
	}
}

// FuzzParse: any header value gives a wait in [0, most].
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "30", "-1", "99999999999999999999", "Wed, 21 Oct 2015 07:28:00 GMT", "soon"} {
		f.Add(s)
	}
	now := time.Date(2015, 10, 21, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		if d := Parse(v, now, time.Hour); d < 0 || d > time.Hour {
			t.Fatalf("Parse(%q) = %v, outside [0, 1h]", v, d)
		}
	})
}
