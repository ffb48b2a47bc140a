package httppost

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestAnswerRetry(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		status     int
		retryAfter string
		wantRetry  bool
		wantAfter  time.Duration
	}{
		{429, "30", true, 30 * time.Second},
		{429, "", true, 0},
		{503, "5", true, 5 * time.Second},
		{500, "", true, 0},
		{408, "", true, 0},
		{400, "30", false, 0},
		{401, "", false, 0},
		{404, "", false, 0},
		{302, "", false, 0},
	}
	for _, tt := range tests {
		a := Answer{Status: tt.status, Header: http.Header{}}
		if tt.retryAfter != "" {
			a.Header.Set("Retry-After", tt.retryAfter)
		}
		retry, after := a.Retry(now)
		if retry != tt.wantRetry || after != tt.wantAfter || a.Delivered() {
			t.Errorf("%d %q: retry %v after %v, want %v %v", tt.status, tt.retryAfter, retry, after, tt.wantRetry, tt.wantAfter)
		}
	}
	for _, s := range []int{200, 202, 204} {
		if !(Answer{Status: s}).Delivered() {
			t.Errorf("%d not delivered", s)
		}
	}
}

// TestPostDoesNotFollowRedirects: a redirect is the answer, not a GET of
// somewhere else; the body's start is kept for the error.
func TestPostDoesNotFollowRedirects(t *testing.T) {
	var gets int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			gets++
		}
		if r.URL.Path == "/hook" {
			http.Redirect(w, r, "/login", http.StatusFound)
			return
		}
		_, _ = w.Write([]byte("login page"))
	}))
	defer srv.Close()
	a, err := Post(context.Background(), Client(nil), srv.URL+"/hook", http.Header{"X-Test": {"1"}}, []byte(`{}`))
	if err != nil || a.Status != http.StatusFound || gets != 0 || a.Delivered() {
		t.Fatalf("answer %d, err %v, %d GETs", a.Status, err, gets)
	}
}

func TestCheckURL(t *testing.T) {
	for _, tc := range []struct {
		raw, host, err string
	}{
		{"https://hooks.example.org/T0/B0/s3cret", "hooks.example.org", ""},
		{"http://127.0.0.1:8080/hook", "127.0.0.1:8080", ""},
		{"", "", "required"},
		{"hooks.example.org/s3cret", "", "not an absolute http(s) URL"},
		{"ftp://hooks.example.org/s3cret", "", "not an absolute http(s) URL"},
		{"https:///s3cret", "", "not an absolute http(s) URL"},
		{"https://exa mple.org/s3cret", "", "not an absolute http(s) URL"},
	} {
		host, err := CheckURL(tc.raw)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if host != tc.host || got != tc.err {
			t.Errorf("CheckURL(%q) = %q, %q; want %q, %q", tc.raw, host, got, tc.host, tc.err)
		}
		if strings.Contains(got, "s3cret") {
			t.Errorf("CheckURL(%q) quotes the URL: %s", tc.raw, got)
		}
	}
}
