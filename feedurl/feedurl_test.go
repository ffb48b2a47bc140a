package feedurl

import (
	"net/url"
	"strings"
	"testing"
)

func TestPublic(t *testing.T) {
	tests := []struct {
		name, in string
		secrets  []string
		want     string
	}{
		{"plain", "https://example.org/world/rss?lang=en&page=2", nil, "https://example.org/world/rss?lang=en&page=2"},
		{"userinfo", "https://alice:pw@example.org/rss", nil, "https://example.org/rss"},
		{"secret names", "https://example.org/rss?token=t1&api_key=k2&X-Amz-Signature=s3&lang=en&sig=s4&Password=p5&access_token=a6&author=bob&apiKey=k7",
			nil, "https://example.org/rss?token=REDACTED&api_key=REDACTED&X-Amz-Signature=REDACTED&lang=en&sig=REDACTED&Password=REDACTED&access_token=REDACTED&author=bob&apiKey=REDACTED"},
		{"from ${VAR}", "https://example.org/rss?u=abcd1234&lang=en", []string{"abcd1234"}, "https://example.org/rss?u=REDACTED&lang=en"},
		{"from ${VAR} inside a value", "https://example.org/rss?q=x-abcd1234-y", []string{"abcd1234"}, "https://example.org/rss?q=REDACTED"},
		{"short ${VAR} only whole", "https://example.org/rss?lang=en&q=green", []string{"en"}, "https://example.org/rss?lang=REDACTED&q=green"},
		{"escaped ${VAR}", "https://example.org/rss?u=a%2Bb%2Fc%3D", []string{"a+b/c="}, "https://example.org/rss?u=REDACTED"},
		{"bare query", "https://example.org/rss?abcd1234", []string{"abcd1234"}, "https://example.org/rss?REDACTED"},
		{"path ${VAR}", "https://example.org/feeds/abcd1234/rss", []string{"abcd1234"}, "https://example.org/feeds/REDACTED/rss"},
		{"path token", "https://example.org/private/9f86d081884c7d659a2feaa0c55ad015/atom", nil, "https://example.org/private/REDACTED/atom"},
		{"path uuid with suffix", "https://example.org/f/123e4567-e89b-12d3-a456-426614174000.rss", nil, "https://example.org/f/REDACTED"},
		{"path uuid segment", "https://example.org/f/123e4567-e89b-12d3-a456-426614174000", nil, "https://example.org/f/REDACTED"},
		{"path words stay", "https://example.org/2024/05/uyghur-camps-report-final/internationalization2024", nil, "https://example.org/2024/05/uyghur-camps-report-final/internationalization2024"},
		{"escaped path stays escaped", "https://example.org/a%2Fb/rss?token=x", nil, "https://example.org/a%2Fb/rss?token=REDACTED"},
		{"fragment and port", "http://u:p@127.0.0.1:8080/rss?key=1#top", nil, "http://127.0.0.1:8080/rss?key=REDACTED#top"},
		{"file", "feeds/world.xml", nil, "feeds/world.xml"},
		{"unparseable", "http://a b.example/%zz", nil, Redacted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Public(tt.in, tt.secrets...); got != tt.want {
				t.Errorf("Public(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSecretName(t *testing.T) {
	for _, n := range []string{"token", "key", "apikey", "api_key", "API-KEY", "secret", "client_secret", "password", "passwd", "sig", "signature", "auth", "auth_token", "authorization", "access_token", "sessionid", "X-Amz-Credential", "private_key", "feedkey"} {
		if !SecretName(n) {
			t.Errorf("%q not taken for a secret", n)
		}
	}
	for _, n := range []string{"lang", "page", "author", "authors", "q", "format", "category", "id", "feed"} {
		if SecretName(n) {
			t.Errorf("%q taken for a secret", n)
		}
	}
}

// FuzzPublic: no input panics, and userinfo and a token parameter never
// survive.
func FuzzPublic(f *testing.F) {
	for _, s := range []string{"https://a:b@example.org/x?token=1", "feeds/x.xml", "http://[::1]:80/%41?a=b&&=&token", "https://example.org/" + strings.Repeat("a1", 20)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil || strings.Contains(raw, "fuzz") {
			return
		}
		u.User = url.UserPassword("fuzzuser", "fuzz-pass-word")
		q := u.Query()
		q.Set("token", "fuzz-token-value")
		u.RawQuery = q.Encode()
		out := Public(u.String())
		for _, s := range []string{"fuzz-pass-word", "fuzzuser", "fuzz-token-value"} {
			if strings.Contains(out, s) {
				t.Fatalf("Public(%q) = %q keeps %q", u.String(), out, s)
			}
		}
	})
}

func BenchmarkPublic(b *testing.B) {
	const u = "https://alice:pw@example.org/feeds/9f86d081884c7d659a2feaa0c55ad015/rss?token=abc&lang=en&page=2"
	for b.Loop() {
		_ = Public(u, "abc")
	}
}
