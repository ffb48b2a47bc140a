package fetch

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const doc = `<rss version="2.0"><channel><title>x</title></channel></rss>`

func kindOf(err error) Kind {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Kind
	}
	return ""
}

func TestConditionalRequest(t *testing.T) {
	var gotINM, gotIMS, gotUA, gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotINM, gotIMS = r.Header.Get("If-None-Match"), r.Header.Get("If-Modified-Since")
		gotUA, gotAuth = r.Header.Get("User-Agent"), r.Header.Get("Authorization")
		if gotINM == `"abc"` {
			w.Header().Set("Cache-Control", "max-age=600")
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"abc"`)
		w.Header().Set("Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT")
		_, _ = io.WriteString(w, doc)
	}))
	defer srv.Close()
	f := newFetcher(t, Config{UserAgent: "ua/1"})
	resp, err := f.Fetch(context.Background(), Request{URL: srv.URL, Headers: map[string]string{"Authorization": "Bearer x"}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.NotModified || string(resp.Body) != doc || resp.ETag != `"abc"` || resp.LastModified == "" {
		t.Fatalf("first: %+v", resp)
	}
	if gotINM != "" || gotIMS != "" || gotUA != "ua/1" || gotAuth != "Bearer x" {
		t.Fatalf("first request headers: inm=%q ims=%q ua=%q auth=%q", gotINM, gotIMS, gotUA, gotAuth)
	}
	// An empty User-Agent sends none, not net/http's.
	if _, err := newFetcher(t, Config{}).Fetch(context.Background(), Request{URL: srv.URL}); err != nil || gotUA != "" {
		t.Fatalf("no User-Agent configured: sent %q (err %v)", gotUA, err)
	}
	resp, err = f.Fetch(context.Background(), Request{URL: srv.URL, ETag: resp.ETag, LastModified: resp.LastModified})
	if err != nil {
		t.Fatal(err)
	}
	if !resp.NotModified || resp.MaxAge != 10*time.Minute {
		t.Fatalf("second: %+v", resp)
	}
	if gotINM != `"abc"` || gotIMS != "Mon, 02 Jan 2006 15:04:05 GMT" {
		t.Fatalf("conditional headers: %q %q", gotINM, gotIMS)
	}
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

// bomb returns n MB of zeros as a multi-member gzip stream (one small
// member repeated, which gzip readers concatenate): cheap to build, ~1 KB
// per inflated MB.
func bomb(mb int) []byte {
	member := gz(make([]byte, 1<<20))
	return bytes.Repeat(member, mb)
}

func TestEncodings(t *testing.T) {
	var zl bytes.Buffer
	zw := zlib.NewWriter(&zl)
	_, _ = zw.Write([]byte(doc))
	_ = zw.Close()
	cases := []struct {
		name, enc string
		body      []byte
		kind      Kind
	}{
		{"gzip", "gzip", gz([]byte(doc)), ""},
		{"zlib deflate", "deflate", zl.Bytes(), ""},
		{"identity", "", []byte(doc), ""},
		{"broken gzip", "gzip", []byte("not gzip at all"), KindNetwork},
		{"unknown encoding", "br", []byte(doc), KindNetwork},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
					t.Errorf("no gzip in Accept-Encoding")
				}
				if c.enc != "" {
					w.Header().Set("Content-Encoding", c.enc)
				}
				_, _ = w.Write(c.body)
			}))
			defer srv.Close()
			resp, err := newFetcher(t, Config{}).Fetch(context.Background(), Request{URL: srv.URL})
			if c.kind != "" {
				if kindOf(err) != c.kind {
					t.Fatalf("err %v, want kind %s", err, c.kind)
				}
				return
			}
			if err != nil || string(resp.Body) != doc {
				t.Fatalf("err %v body %q", err, resp.Body)
			}
		})
	}
}

func TestHostileBodies(t *testing.T) {
	bomb1G := bomb(1 << 10) // 1 GB inflated, ~1 MB compressed
	big := bytes.Repeat([]byte("x"), 50<<20)
	cases := []struct {
		name    string
		handler http.HandlerFunc
		kind    Kind
		timeout time.Duration
	}{
		{"gzip bomb 1GB", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = w.Write(bomb1G)
		}, KindTooLarge, 0},
		{"50MB body with length", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(len(big)))
			_, _ = w.Write(big)
		}, KindTooLarge, 0},
		{"50MB body chunked", func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i < 50; i++ {
				if _, err := w.Write(big[:1<<20]); err != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
		}, KindTooLarge, 0},
		{"trickle", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(200)
			for i := 0; i < 100; i++ {
				if _, err := w.Write([]byte("<")); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		}, KindTimeout, 300 * time.Millisecond},
		{"slow headers", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, KindTimeout, 300 * time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(c.handler)
			defer srv.Close()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			timeout := c.timeout
			if timeout == 0 {
				timeout = 20 * time.Second
			}
			_, err := newFetcher(t, Config{MaxBody: 1 << 20, Timeout: timeout}).Fetch(context.Background(), Request{URL: srv.URL})
			if kindOf(err) != c.kind {
				t.Fatalf("err %v, want kind %s", err, c.kind)
			}
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			// Bounded memory: the body buffer may not grow past the cap.
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 24<<20 {
				t.Errorf("allocated %d MB", grew>>20)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	cases := []struct {
		code       int
		retryAfter string
		kind       Kind
		wantRetry  time.Duration
	}{
		{410, "", KindGone, 0},
		{404, "", KindStatus, 0},
		{500, "", KindStatus, 0},
		{429, "120", KindStatus, 2 * time.Minute},
		{503, "3600", KindStatus, time.Hour},
		{429, "garbage", KindStatus, 0},
	}
	for _, c := range cases {
		t.Run(strconv.Itoa(c.code)+c.retryAfter, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if c.retryAfter != "" {
					w.Header().Set("Retry-After", c.retryAfter)
				}
				w.WriteHeader(c.code)
			}))
			defer srv.Close()
			_, err := newFetcher(t, Config{}).Fetch(context.Background(), Request{URL: srv.URL})
			var fe *Error
			if !errors.As(err, &fe) || fe.Kind != c.kind || fe.Status != c.code || fe.RetryAfter != c.wantRetry {
				t.Fatalf("err %#v", err)
			}
		})
	}
}

func TestRetryAfterValues(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		"120":               2 * time.Minute,
		"-3":                0,
		"99999999999999999": 365 * 24 * time.Hour, // no overflow into a negative or tiny wait
		"soon":              0,
		now.Add(-time.Hour).Format(http.TimeFormat): 0,
	} {
		if d := retryAfter(v, now); d != want {
			t.Errorf("Retry-After %q: %v, want %v", v, d, want)
		}
	}
}

func TestRedirects(t *testing.T) {
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	mux.HandleFunc("/feed", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, doc) })
	mux.HandleFunc("/p301", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/p308", 301) })
	mux.HandleFunc("/p308", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/feed", 308) })
	mux.HandleFunc("/t302", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/feed", 302) })
	mux.HandleFunc("/mix", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/t302", 301) })
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", 302) })
	mux.HandleFunc("/chain/", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/chain/"))
		if n == 0 {
			_, _ = io.WriteString(w, doc)
			return
		}
		http.Redirect(w, r, "/chain/"+strconv.Itoa(n-1), 302)
	})
	mux.HandleFunc("/ftp", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "ftp://example.org/x", 302) })
	cases := []struct {
		path, moved string
		kind        Kind
	}{
		{"/p301", srv.URL + "/feed", ""},
		{"/t302", "", ""},
		{"/mix", "", ""},
		{"/loop", "", KindRedirect},
		{"/chain/5", "", ""},
		{"/chain/6", "", KindRedirect},
		{"/ftp", "", KindRedirect},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			resp, err := newFetcher(t, Config{}).Fetch(context.Background(), Request{URL: srv.URL + c.path})
			if c.kind != "" {
				if kindOf(err) != c.kind {
					t.Fatalf("err %v, want %s", err, c.kind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.MovedTo != c.moved {
				t.Fatalf("moved %q, want %q", resp.MovedTo, c.moved)
			}
		})
	}
}

func TestPrivateRedirect(t *testing.T) {
	private := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, doc) }))
	defer private.Close()
	public := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, private.URL+"/x", 302)
	}))
	defer public.Close()
	pubPort := netip.MustParseAddrPort(strings.TrimPrefix(public.URL, "http://")).Port()
	// Pretend the "public" server's port is a public address.
	isPrivate := func(ap netip.AddrPort) bool { return ap.Port() != pubPort && IsPrivate(ap) }

	t.Run("direct private feed works", func(t *testing.T) {
		if _, err := newFetcher(t, Config{IsPrivate: isPrivate}).Fetch(context.Background(), Request{URL: private.URL}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("public to private refused", func(t *testing.T) {
		_, err := newFetcher(t, Config{IsPrivate: isPrivate}).Fetch(context.Background(), Request{URL: public.URL})
		if kindOf(err) != KindRedirect {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("allowed when configured", func(t *testing.T) {
		if _, err := newFetcher(t, Config{IsPrivate: isPrivate, AllowPrivateRedirects: true}).Fetch(context.Background(), Request{URL: public.URL}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("private to private fine", func(t *testing.T) {
		if _, err := newFetcher(t, Config{}).Fetch(context.Background(), Request{URL: public.URL}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestIsPrivate(t *testing.T) {
	for s, want := range map[string]bool{
		"127.0.0.1:80": true, "10.1.2.3:80": true, "192.168.0.1:80": true, "172.16.0.1:80": true,
		"169.254.169.254:80": true, "[::1]:80": true, "[fe80::1]:80": true, "[fc00::1]:80": true,
		"100.64.0.1:80": true, "0.0.0.0:80": true, "[::ffff:127.0.0.1]:80": true,
		"93.184.216.34:80": false, "[2606:2800:220:1::1]:80": false,
	} {
		if got := IsPrivate(netip.MustParseAddrPort(s)); got != want {
			t.Errorf("%s: %v", s, got)
		}
	}
}

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.xml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	f := newFetcher(t, Config{BaseDir: dir, MaxBody: 100})
	for _, src := range []string{"a.xml", filepath.Join(dir, "a.xml"), "file://" + filepath.Join(dir, "a.xml")} {
		resp, err := f.Fetch(context.Background(), Request{URL: src})
		if err != nil || string(resp.Body) != doc {
			t.Fatalf("%s: %v", src, err)
		}
	}
	if _, err := f.Fetch(context.Background(), Request{URL: "missing.xml"}); kindOf(err) != KindFile {
		t.Fatalf("missing: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "big.xml"), bytes.Repeat([]byte("x"), 101), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Fetch(context.Background(), Request{URL: "big.xml"}); kindOf(err) != KindTooLarge {
		t.Fatalf("big: %v", err)
	}
	if _, err := f.Fetch(context.Background(), Request{URL: "gopher://x/y"}); kindOf(err) != KindBadSource {
		t.Fatalf("gopher: %v", err)
	}
}

func TestMaxAge(t *testing.T) {
	cases := []struct {
		h    http.Header
		want time.Duration
	}{
		{http.Header{"Cache-Control": {"public, max-age=3600"}}, time.Hour},
		{http.Header{"Cache-Control": {"no-cache, max-age=3600"}}, 0},
		{http.Header{"Expires": {"Thu, 01 Jan 2026 01:00:00 GMT"}, "Date": {"Thu, 01 Jan 2026 00:00:00 GMT"}}, time.Hour},
		{http.Header{"Expires": {"0"}}, 0},
		{http.Header{"Cache-Control": {"max-age=-5"}}, 0},
		{http.Header{"Cache-Control": {"max-age=99999999999999999"}}, 365 * 24 * time.Hour}, // no overflow
		{http.Header{}, 0},
	}
	for i, c := range cases {
		if got := maxAge(c.h); got != c.want {
			t.Errorf("%d: %v, want %v", i, got, c.want)
		}
	}
}

func TestErrorsHideURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	u := srv.URL + "/feed?token=s3cret"
	srv.Close() // connection refused
	_, err := newFetcher(t, Config{}).Fetch(context.Background(), Request{URL: u})
	if err == nil || strings.Contains(err.Error(), "s3cret") || kindOf(err) != KindNetwork {
		t.Fatalf("err %v", err)
	}
}

// recorder is a feed server that keeps the headers of the requests it got.
type recorder struct {
	*httptest.Server
	mu  sync.Mutex
	got []http.Header
}

func newRecorder(t *testing.T) *recorder {
	r := &recorder{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.got = append(r.got, req.Header.Clone())
		r.mu.Unlock()
		_, _ = io.WriteString(w, doc)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) last(t *testing.T) http.Header {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.got) == 0 {
		t.Fatal("target got no request")
	}
	return r.got[len(r.got)-1]
}

// TestRedirectCredentials: configured headers and userinfo belong to the
// origin they were configured for; no hop gets a Referer.
func TestRedirectCredentials(t *testing.T) {
	other := newRecorder(t) // another port: another origin
	same := http.NewServeMux()
	srv := httptest.NewServer(same)
	defer srv.Close()
	var mu sync.Mutex
	var sameGot http.Header
	var sameUser string
	same.HandleFunc("/feed", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		sameGot = r.Header.Clone()
		sameUser, _, _ = r.BasicAuth()
		mu.Unlock()
		_, _ = io.WriteString(w, doc)
	})
	for _, code := range []int{301, 302, 307, 308} {
		c := strconv.Itoa(code)
		same.HandleFunc("/away"+c, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, other.URL+"/x", code) })
		same.HandleFunc("/here"+c, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/feed", code) })
	}
	// A foreign hop that sends the chain back to the origin.
	bounce := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, srv.URL+"/feed", 302)
	}))
	defer bounce.Close()
	same.HandleFunc("/bounce", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, bounce.URL, 302) })

	headers := map[string]string{"X-Api-Key": "k-secret", "Authorization": "Bearer b-secret", "Cookie": "c=secret"}
	secretFree := func(t *testing.T, h http.Header) {
		t.Helper()
		for k, v := range h {
			if strings.Contains(strings.Join(v, " "), "secret") {
				t.Errorf("header %s: %q leaked", k, v)
			}
		}
		if h.Get("Referer") != "" {
			t.Errorf("Referer sent: %q", h.Get("Referer"))
		}
	}
	for _, code := range []string{"301", "302", "307", "308"} {
		t.Run("cross-origin "+code, func(t *testing.T) {
			hs := map[string]string{"User-Agent": "custom-secret-agent", "Accept": "text/secret"}
			for k, v := range headers {
				hs[k] = v
			}
			_, err := newFetcher(t, Config{UserAgent: "fw-test"}).Fetch(context.Background(), Request{URL: srv.URL + "/away" + code + "?token=q-secret", Headers: hs})
			if err != nil {
				t.Fatal(err)
			}
			h := other.last(t)
			secretFree(t, h)
			if h.Get("User-Agent") != "fw-test" || h.Get("Accept") != accept {
				t.Errorf("cross-origin hop: User-Agent %q, Accept %q; want the fetcher's", h.Get("User-Agent"), h.Get("Accept"))
			}
		})
		t.Run("same origin "+code, func(t *testing.T) {
			u := strings.Replace(srv.URL, "://", "://alice:pw-secret@", 1)
			_, err := newFetcher(t, Config{}).Fetch(context.Background(), Request{URL: u + "/here" + code + "?token=q-secret", Headers: headers})
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if sameGot.Get("X-Api-Key") != "k-secret" || sameGot.Get("Cookie") != "c=secret" {
				t.Errorf("same-origin hop lost the configured headers: %v", sameGot)
			}
			if sameGot.Get("Referer") != "" {
				t.Errorf("Referer sent: %q", sameGot.Get("Referer"))
			}
		})
	}
	t.Run("same origin keeps userinfo", func(t *testing.T) {
		u := strings.Replace(srv.URL, "://", "://alice:pw@", 1)
		if _, err := newFetcher(t, Config{}).Fetch(context.Background(), Request{URL: u + "/here302"}); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if sameUser != "alice" {
			t.Errorf("basic auth user %q on the same-origin hop, want alice", sameUser)
		}
	})
	t.Run("back to the origin through another", func(t *testing.T) {
		if _, err := newFetcher(t, Config{}).Fetch(context.Background(), Request{URL: srv.URL + "/bounce", Headers: headers}); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		secretFree(t, sameGot)
	})
}

func TestPermanentRedirectToHTTPRefused(t *testing.T) {
	plain := newRecorder(t)
	tls := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		http.Redirect(w, r, plain.URL+"/feed", code)
	}))
	defer tls.Close()
	for _, c := range []struct {
		code int
		kind Kind
	}{{301, KindRedirect}, {308, KindRedirect}, {302, ""}, {307, ""}} {
		t.Run(strconv.Itoa(c.code), func(t *testing.T) {
			resp, err := newFetcher(t, Config{Client: tls.Client()}).Fetch(context.Background(), Request{URL: tls.URL + "/" + strconv.Itoa(c.code)})
			if kindOf(err) != c.kind {
				t.Fatalf("err %v, want kind %q", err, c.kind)
			}
			if err != nil {
				if !strings.Contains(err.Error(), "https to http") {
					t.Errorf("err %q does not say why", err)
				}
				return
			}
			if resp.MovedTo != "" {
				t.Errorf("temporary redirect moved the feed to %q", resp.MovedTo)
			}
		})
	}
}
