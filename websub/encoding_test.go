package websub

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
)

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// logBuf is a concurrency-safe log sink for the handler's warnings.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestGzipPush: a gzip push is inflated before the watcher sees it, its
// signature being over the bytes sent; a bomb is cut at MaxBody with a
// log naming the feed; other codings are 415.
func TestGzipPush(t *testing.T) {
	const maxBody = 4000
	logs := &logBuf{}
	e := start(t, nil, nil, func(o *Options) {
		o.MaxBody = maxBody
		o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	e.subscribe(t, "world")
	cb := e.hub.Subs()[0].Callback
	secret := []byte(e.hub.Subs()[0].Secret)
	doc := atomWithHub(e.hub.URL, e.feed)
	gz := gzipped(t, doc)
	bomb := gzipped(t, bytes.Repeat([]byte("<a/>"), 1<<19)) // 2 MiB inflated, ~2 KiB sent
	if len(bomb) > maxBody {
		t.Fatalf("bomb of %d bytes is over the wire cap itself", len(bomb))
	}

	post := func(t *testing.T, body []byte, enc, sig string) int {
		t.Helper()
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, cb, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/atom+xml")
		if enc != "" {
			req.Header.Set("Content-Encoding", enc)
		}
		if sig != "" {
			req.Header.Set("X-Hub-Signature", sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}

	tests := []struct {
		name   string
		body   []byte
		enc    string
		sig    string
		status int
		result string
		want   []byte // what the watcher gets; nil: nothing
	}{
		{"gzip, signed as sent", gz, "gzip", Sign("sha256", secret, gz), http.StatusAccepted, PushAccepted, doc},
		{"x-gzip", gz, "x-gzip", Sign("sha256", secret, gz), http.StatusAccepted, PushAccepted, doc},
		{"identity", doc, "identity", Sign("sha256", secret, doc), http.StatusAccepted, PushAccepted, doc},
		{"gzip, signed over the inflated body", gz, "gzip", Sign("sha256", secret, doc), http.StatusAccepted, PushBadSignature, nil},
		{"gzip bomb", bomb, "gzip", Sign("sha256", secret, bomb), http.StatusRequestEntityTooLarge, PushTooLarge, nil},
		{"not gzip", doc, "gzip", Sign("sha256", secret, doc), http.StatusBadRequest, PushBadEncoding, nil},
		{"truncated gzip", gz[:len(gz)/2], "gzip", Sign("sha256", secret, gz[:len(gz)/2]), http.StatusBadRequest, PushBadEncoding, nil},
		{"br", doc, "br", Sign("sha256", secret, doc), http.StatusUnsupportedMediaType, PushBadEncoding, nil},
		{"gzip twice", gzipped(t, gz), "gzip, gzip", Sign("sha256", secret, gzipped(t, gz)), http.StatusUnsupportedMediaType, PushBadEncoding, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, n := pushCount(e.m, tt.result), e.push.count()
			if got := post(t, tt.body, tt.enc, tt.sig); got != tt.status {
				t.Fatalf("status %d, want %d", got, tt.status)
			}
			if pushCount(e.m, tt.result)-before != 1 {
				t.Fatalf("%s not counted", tt.result)
			}
			if tt.want == nil {
				if e.push.count() != n {
					t.Fatal("a refused push reached the watcher")
				}
				return
			}
			<-e.push.ch
			e.push.mu.Lock()
			got := e.push.bodies[len(e.push.bodies)-1]
			e.push.mu.Unlock()
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("watcher got %q, want %q", clip(string(got), 80), clip(string(tt.want), 80))
			}
		})
	}
	if l := logs.String(); !strings.Contains(l, "inflates past watcher.max_body") || !strings.Contains(l, "feed=world") {
		t.Fatalf("no log naming the feed of the gzip bomb:\n%s", l)
	}
}

func TestPushEncoding(t *testing.T) {
	tests := []struct {
		in   []string
		want string
		ok   bool
	}{
		{nil, "", true},
		{[]string{""}, "", true},
		{[]string{"identity"}, "", true},
		{[]string{"GZIP"}, "gzip", true},
		{[]string{" x-gzip "}, "gzip", true},
		{[]string{"identity, gzip"}, "gzip", true},
		{[]string{"gzip", "gzip"}, "", false},
		{[]string{"deflate"}, "", false},
		{[]string{"gzip, br"}, "", false},
	}
	for _, tt := range tests {
		got, err := pushEncoding(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("pushEncoding(%q) = %q, %v; want %q, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
