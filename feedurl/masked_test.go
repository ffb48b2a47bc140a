package feedurl

import "testing"

func TestMasked(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://example.org/world/rss", "https://example.org/world/rss"},
		{"https://u:p@example.org/rss?token=abc", "https://example.org/rss?redacted"},
		{"https://example.org/2024-05-01-uyghur-camps/feed.xml", "https://example.org/2024-05-01-uyghur-camps/feed.xml"},
		{"https://example.org/feeds/internationalrelations/rss", "https://example.org/feeds/internationalrelations/rss"},
		{"https://example.org/feeds/a8Kq2mZ9xLp4Rt7wVb3n/rss", "https://example.org/feeds/redacted/rss"},
		{"https://example.org/private/0123456789abcdef0123/atom", "https://example.org/private/redacted/atom"},
		{"https://example.org/rss/token/short1/all", "https://example.org/rss/token/redacted/all"},
		{"https://example.org/KEY/x/feed", "https://example.org/KEY/redacted/feed"},
		{"https://hooks.example.org/feed/T0123ABC/B0456DEF/xYz123abcDEF456ghiJKL789", "https://hooks.example.org/feed/T0123ABC/B0456DEF/redacted"},
		{"https://example.org/u/tok%2Fen_a8Kq2mZ9xLp4Rt7wVb3n.xml", "https://example.org/u/redacted"},
	}
	for _, tt := range tests {
		if got := Masked(tt.in); got != tt.want {
			t.Errorf("Masked(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
