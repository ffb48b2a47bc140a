package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{in: "90s", want: 90 * time.Second},
		{in: "5m", want: 5 * time.Minute},
		{in: "2h", want: 2 * time.Hour},
		{in: "1h30m", want: 90 * time.Minute},
		{in: "90d", want: 90 * 24 * time.Hour},
		{in: "1d12h", want: 36 * time.Hour},
		{in: "1.5d", want: 36 * time.Hour},
		{in: "0.1d", want: 144 * time.Minute},
		{in: "2d30m15s", want: 48*time.Hour + 30*time.Minute + 15*time.Second},
		{in: " 5m ", want: 5 * time.Minute},
		{in: "-1d", want: -24 * time.Hour},
		{in: "250ms", want: 250 * time.Millisecond},
		{in: "0", want: 0},
		{in: "0d", want: 0},
		{in: "", err: true},
		{in: "300", err: true},
		{in: "5", err: true},
		{in: "1w", err: true},
		{in: "d", err: true},
		{in: "5 minutes", err: true},
		{in: "1..5d", err: true},
		{in: "1d-5h", err: true},
		{in: "1dd", err: true},
		{in: "107000d", err: true}, // overflows int64 nanoseconds
		{in: "99999999999999999999999999999999999999999999d", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if (err != nil) != tt.err {
				t.Fatalf("ParseDuration(%q) error = %v, want error %v", tt.in, err, tt.err)
			}
			if err == nil && got.D() != tt.want {
				t.Errorf("ParseDuration(%q) = %v, want %v", tt.in, got.D(), tt.want)
			}
		})
	}
}

func TestDurationString(t *testing.T) {
	for d, want := range map[time.Duration]string{
		90 * 24 * time.Hour:                 "90d",
		36 * time.Hour:                      "1d12h0m0s",
		5 * time.Minute:                     "5m0s",
		0:                                   "0s",
		24*time.Hour + 500*time.Millisecond: "1d500ms",
	} {
		got := Duration(d).String()
		if got != want {
			t.Errorf("String(%v) = %q, want %q", d, got, want)
		}
		back, err := ParseDuration(got)
		if err != nil || back.D() != d {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", got, back.D(), err, d)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{in: "512", want: 512},
		{in: "0", want: 0},
		{in: "512B", want: 512},
		{in: "10KB", want: 10 << 10},
		{in: "10MB", want: 10 << 20},
		{in: "1GB", want: 1 << 30},
		{in: "2TB", want: 2 << 40},
		{in: "10MiB", want: 10 << 20},
		{in: "10mb", want: 10 << 20},
		{in: "10 MB", want: 10 << 20},
		{in: "10M", want: 10 << 20},
		{in: "64k", want: 64 << 10},
		{in: "1.5MB", want: 3 << 19},
		{in: "0.5KB", want: 512},
		{in: "1.0001B", want: 1},
		{in: "", err: true},
		{in: "MB", err: true},
		{in: "-1MB", err: true},
		{in: "10 MBs", err: true},
		{in: "10PB", err: true},
		{in: "lots", err: true},
		{in: "1..5MB", err: true},
		{in: "9999999999TB", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if (err != nil) != tt.err {
				t.Fatalf("ParseSize(%q) error = %v, want error %v", tt.in, err, tt.err)
			}
			if err == nil && got.Bytes() != tt.want {
				t.Errorf("ParseSize(%q) = %d, want %d", tt.in, got.Bytes(), tt.want)
			}
		})
	}
}

func TestSizeString(t *testing.T) {
	for n, want := range map[int64]string{10 << 20: "10MB", 512: "512", 1536: "1536", 3 << 30: "3GB", 0: "0"} {
		got := Size(n).String()
		if got != want {
			t.Errorf("Size(%d).String() = %q, want %q", n, got, want)
		}
		back, err := ParseSize(got)
		if err != nil || back.Bytes() != n {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", got, back, err, n)
		}
	}
}

func TestTextRoundTrip(t *testing.T) {
	var d Duration
	if err := d.UnmarshalText([]byte("1d2h")); err != nil || d.D() != 26*time.Hour {
		t.Errorf("UnmarshalText = %v, %v", d, err)
	}
	if err := d.UnmarshalText([]byte("soon")); err == nil {
		t.Error("want an error for a bad duration")
	}
	var s Size
	if err := s.UnmarshalText([]byte("2KB")); err != nil || s != 2048 {
		t.Errorf("UnmarshalText = %v, %v", s, err)
	}
	if b, _ := s.MarshalText(); string(b) != "2KB" {
		t.Errorf("MarshalText = %q", b)
	}
}

func TestDecodeHook(t *testing.T) {
	tests := []struct {
		to   reflect.Type
		in   any
		want any
		err  bool
	}{
		{to: durationType, in: "5m", want: Duration(5 * time.Minute)},
		{to: durationType, in: "", want: Duration(0)},
		{to: durationType, in: 0, want: Duration(0)},
		{to: durationType, in: 300, err: true},
		{to: durationType, in: "x", err: true},
		{to: sizeType, in: "1KB", want: Size(1024)},
		{to: sizeType, in: 512, want: Size(512)},
		{to: sizeType, in: int64(512), want: Size(512)},
		{to: sizeType, in: float64(512), want: Size(512)},
		{to: sizeType, in: -1, err: true},
		{to: reflect.TypeFor[string](), in: "5m", want: "5m"},
	}
	for _, tt := range tests {
		got, err := DecodeHook(reflect.TypeOf(tt.in), tt.to, tt.in)
		if (err != nil) != tt.err {
			t.Errorf("DecodeHook(%v -> %v) error = %v", tt.in, tt.to, err)
			continue
		}
		if err == nil && got != tt.want {
			t.Errorf("DecodeHook(%v -> %v) = %#v, want %#v", tt.in, tt.to, got, tt.want)
		}
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"keywords", "exclude", "query", "feeds", "notify", "name"}
	for in, want := range map[string]string{
		"keyword":  "keywords",
		"Keywords": "keywords",
		"qeury":    "query", // swapped neighbours cost 1
		"nmae":     "name",
		"notfy":    "notify",
		"colour":   "",
		"x":        "",
		"feed":     "feeds",
	} {
		if got := suggest(in, known); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
	if got := suggest("webhook", []string{"webhook_url", "token"}); got != "webhook_url" {
		t.Errorf("a prefix suggests its key, got %q", got)
	}
	if d := editDistance(strings.Repeat("a", 100), "a"); d < 10 {
		t.Errorf("long keys are far from everything, got %d", d)
	}
}
