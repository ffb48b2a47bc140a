package webhook

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier/notifiertest"
	"github.com/feedwatch/feedwatch/notifier/render"
)

const (
	secret    = "hmac-s3cret-value"
	pathToken = "T0k3nInP4th"
)

func hookURL(rc *notifiertest.Receiver) string {
	return rc.Server.URL + "/hook/" + pathToken + "?key=" + pathToken
}

func sample(i int) hit.Hit {
	h := render.SampleHit(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
	h.ID = h.ID[:30] + string(rune('a'+i)) + "0"
	return h
}

func TestWebhookDelivers(t *testing.T) {
	rc := notifiertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	w, err := New(Config{URL: hookURL(rc), Secret: secret}, rc.Server.Client())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		hits []hit.Hit
	}{
		{"one hit", []hit.Hit{sample(0)}},
		{"digest", []hit.Hit{sample(1), sample(2), sample(3)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			retry, err := w.Notify(context.Background(), tt.hits)
			if err != nil || retry {
				t.Fatalf("Notify = %v, %v", retry, err)
			}
			reqs := rc.Requests()
			req := reqs[len(reqs)-1]
			if ct := req.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if sig := req.Header.Get(HeaderSignature); sig != Sign([]byte(secret), req.Body) || !strings.HasPrefix(sig, "sha256=") {
				t.Errorf("signature %q does not match the body", sig)
			}
			var ids []string
			if len(tt.hits) == 1 {
				var got hit.Hit
				if err := json.Unmarshal(req.Body, &got); err != nil {
					t.Fatal(err)
				}
				if got.ID != tt.hits[0].ID || got.V != 1 || got.Item.Title != tt.hits[0].Item.Title {
					t.Errorf("body = %+v", got)
				}
				ids = []string{got.ID}
			} else {
				var got []hit.Hit
				if err := json.Unmarshal(req.Body, &got); err != nil {
					t.Fatalf("digest body is not a JSON array: %v", err)
				}
				if len(got) != len(tt.hits) {
					t.Errorf("array of %d, want %d", len(got), len(tt.hits))
				}
				for _, h := range got {
					ids = append(ids, h.ID)
				}
			}
			if h := req.Header.Get(HeaderHitID); h != strings.Join(ids, ",") {
				t.Errorf("%s = %q, want %q", HeaderHitID, h, strings.Join(ids, ","))
			}
		})
	}
}

func TestWebhookNoSignatureWithoutSecret(t *testing.T) {
	rc := notifiertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) {})
	w, err := New(Config{URL: hookURL(rc)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Notify(context.Background(), []hit.Hit{sample(0)}); err != nil {
		t.Fatal(err)
	}
	if sig := rc.Requests()[0].Header.Get(HeaderSignature); sig != "" {
		t.Errorf("signature without a secret: %q", sig)
	}
}

func TestWebhookFailures(t *testing.T) {
	tests := []struct {
		name       string
		answer     func(rc *notifiertest.Receiver) http.HandlerFunc
		wantRetry  bool
		wantAfter  time.Duration
		wantInText string
	}{
		{"429 with Retry-After", func(*notifiertest.Receiver) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "17")
				w.WriteHeader(http.StatusTooManyRequests)
			}
		}, true, 17 * time.Second, "status 429"},
		{"429 without Retry-After", func(*notifiertest.Receiver) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTooManyRequests) }
		}, true, 0, "status 429"},
		{"400", func(*notifiertest.Receiver) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { http.Error(w, "bad payload", http.StatusBadRequest) }
		}, false, 0, "status 400: bad payload"},
		{"404 echoing the URL", func(*notifiertest.Receiver) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "no route "+r.URL.String(), http.StatusNotFound)
			}
		}, false, 0, "status 404"},
		{"302 to a login page", func(*notifiertest.Receiver) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost {
					return // the login page answers 200 to the GET
				}
				http.Redirect(w, r, "/login", http.StatusFound)
			}
		}, false, 0, "status 302"},
		{"500", func(*notifiertest.Receiver) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) }
		}, true, 0, "status 500"},
		{"503 with Retry-After date", func(*notifiertest.Receiver) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		}, true, 50 * time.Minute, "status 503"},
		{"hang", func(rc *notifiertest.Receiver) http.HandlerFunc { return rc.Hang }, true, 0, "timed out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rc *notifiertest.Receiver
			rc = notifiertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) { tt.answer(rc)(w, r) })
			w, err := New(Config{URL: hookURL(rc), Secret: secret, Timeout: 100 * time.Millisecond}, rc.Server.Client())
			if err != nil {
				t.Fatal(err)
			}
			retry, err := w.Notify(context.Background(), []hit.Hit{sample(0)})
			if err == nil || retry != tt.wantRetry {
				t.Fatalf("Notify = %v, %v; want retry=%v and an error", retry, err, tt.wantRetry)
			}
			if !strings.Contains(err.Error(), tt.wantInText) || !strings.Contains(err.Error(), "127.0.0.1") {
				t.Errorf("error %q should name the host and contain %q", err, tt.wantInText)
			}
			notifiertest.RetryAfter(t, err, tt.wantAfter)
			notifiertest.NoSecretInError(t, err, hookURL(rc), pathToken, secret)
		})
	}
}

func TestWebhookConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL + "/hook/" + pathToken
	srv.Close()
	w, err := New(Config{URL: u, Secret: secret}, nil)
	if err != nil {
		t.Fatal(err)
	}
	retry, err := w.Notify(context.Background(), []hit.Hit{sample(0)})
	if err == nil || !retry {
		t.Fatalf("Notify = %v, %v; want a retryable error", retry, err)
	}
	notifiertest.NoSecretInError(t, err, u, pathToken, secret)
}

func TestWebhookTemplate(t *testing.T) {
	rc := notifiertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) {})
	w, err := New(Config{URL: hookURL(rc), Template: `{"text": {{printf "%s: %s" .Profile .Item.Title | json}}}`}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := sample(0)
	h.Item.Title = `quote " and <tag>`
	if _, err := w.Notify(context.Background(), []hit.Hit{h}); err != nil {
		t.Fatal(err)
	}
	var got struct{ Text string }
	if err := json.Unmarshal(rc.Requests()[0].Body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Text != "xinjiang: "+h.Item.Title {
		t.Errorf("text = %q", got.Text)
	}
}

func TestNewRejects(t *testing.T) {
	tests := map[string]Config{
		"no url":            {},
		"relative url":      {URL: "/hook"},
		"ftp url":           {URL: "ftp://example.org/" + pathToken},
		"bad template":      {URL: "https://example.org/", Template: "{{.Nope"},
		"missing field":     {URL: "https://example.org/", Template: "{{.Nope}}"},
		"template not json": {URL: "https://example.org/", Template: "hello {{.ID}}"},
	}
	for name, cfg := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := New(cfg, nil)
			if err == nil {
				t.Fatal("want an error")
			}
			notifiertest.NoSecretInError(t, err, pathToken)
		})
	}
}

// A server that echoes the path token just where the error excerpt is cut
// must not leave a fragment of it behind: redaction comes before the cut.
func TestWebhookRedactsBeforeCutting(t *testing.T) {
	for pad := 100; pad <= 118; pad++ {
		rc := notifiertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, strings.Repeat("x", pad)+pathToken, http.StatusBadRequest)
		})
		w, err := New(Config{URL: hookURL(rc), Secret: secret, Timeout: time.Second}, rc.Server.Client())
		if err != nil {
			t.Fatal(err)
		}
		_, err = w.Notify(context.Background(), []hit.Hit{sample(0)})
		if err == nil {
			t.Fatal("Notify succeeded against a 400")
		}
		if strings.Contains(err.Error(), pathToken[:5]) {
			t.Fatalf("pad %d: error keeps a fragment of the token: %v", pad, err)
		}
	}
}
