package watcher

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// FuzzFetchParse serves arbitrary bodies (optionally gzipped, with an
// arbitrary Content-Type) and runs the fetch-and-parse path: no panics,
// every error classified, every item keyed.
func FuzzFetchParse(f *testing.F) {
	f.Add([]byte(`<rss version="2.0"><channel><title>t</title><item><guid>1</guid><title>a</title></item></channel></rss>`), "application/rss+xml", false)
	f.Add([]byte(`<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>x</id></entry></feed>`), "text/xml; charset=iso-8859-1", true)
	f.Add([]byte(`{"version":"https://jsonfeed.org/version/1","items":[{"id":"1","url":"http://x/"}]}`), "application/feed+json", false)
	f.Add([]byte("<html><body>not a feed</body></html>"), "text/html", true)
	var mu sync.Mutex
	var body []byte
	var ctype string
	var zip bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		b, ct, z := body, ctype, zip
		mu.Unlock()
		w.Header()["Content-Type"] = nil
		// Only printable header values: net/http refuses others, which
		// would test the test server, not us.
		if ct != "" && strings.IndexFunc(ct, func(r rune) bool { return r < 0x20 || r > 0x7e }) < 0 {
			w.Header().Set("Content-Type", ct)
		}
		if z {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			_, _ = zw.Write(b)
			_ = zw.Close()
			b = buf.Bytes()
			w.Header().Set("Content-Encoding", "gzip")
		}
		_, _ = w.Write(b)
	}))
	defer srv.Close()
	// The timeout is far past what a 1 MB body from a local server takes
	// to fetch and parse: reaching it means a hang, which is a finding.
	opts := testOptions(Options{Timeout: 20 * time.Second, MaxBody: 1 << 20, MaxItems: 100})
	f.Fuzz(func(t *testing.T, b []byte, ct string, z bool) {
		mu.Lock()
		body, ctype, zip = b, ct, z
		mu.Unlock()
		_, items, err := Fetch(context.Background(), srv.URL, opts)
		if err != nil {
			switch k := errKind(err); k {
			case "error", "canceled":
				t.Fatalf("unclassified: %v", err)
			case "timeout", "network":
				// The test server answers every request at once.
				t.Fatalf("fetch and parse did not finish: %v", err)
			}
			return
		}
		if len(items) > 100 {
			t.Fatalf("%d items", len(items))
		}
		for _, it := range items {
			if it.Key == "" || len(it.Key) > 64 {
				t.Fatalf("bad key %q", it.Key)
			}
		}
	})
}
