package ntfy

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier"
	"github.com/feedwatch/feedwatch/notifier/notifiertest"
	"github.com/feedwatch/feedwatch/notifier/render"
)

const (
	token = "tk_s3cretAccessTokenXYZ"
	topic = "feedwatch-s3cret-topic"
)

func sample() hit.Hit {
	return render.SampleHit(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
}

// receiver is an ntfy server stand-in: it checks each request against
// ntfy's JSON publishing (POST to the server root, JSON body with the
// topic, Bearer token) and answers with answer, or as ntfy does.
func receiver(t *testing.T, answer http.HandlerFunc) *notifiertest.Receiver {
	t.Helper()
	return notifiertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s with Content-Type %q, want a JSON POST", r.Method, r.Header.Get("Content-Type"))
		}
		if answer != nil {
			answer(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"hwQ2YpKdmg","time":1700000000,"event":"message","topic":"`+topic+`","message":"x"}`)
	})
}

func newNtfy(t *testing.T, server string, mod func(*Config)) *Ntfy {
	t.Helper()
	cfg := Config{Server: server, Topic: topic, Token: token, Priority: 4, Tags: []string{"newspaper", "xinjiang"}}
	if mod != nil {
		mod(&cfg)
	}
	n, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func decode(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, body)
	}
	return m
}

func TestNtfyPublishesJSON(t *testing.T) {
	rc := receiver(t, nil)
	n := newNtfy(t, rc.Server.URL+"/", nil)
	if retry, err := n.Notify(context.Background(), []hit.Hit{sample()}); err != nil || retry {
		t.Fatalf("Notify = %v, %v", retry, err)
	}
	reqs := rc.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.Path != "/" || r.RawQuery != "" {
		t.Errorf("published to %s?%s, want the server root", r.Path, r.RawQuery)
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+token {
		t.Errorf("Authorization = %q", got)
	}
	m := decode(t, r.Body)
	h := sample()
	want := map[string]any{
		"topic": topic, "title": h.Item.Title, "click": h.Item.Link,
		"priority": 4.0, "markdown": false,
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %#v, want %#v", k, m[k], v)
		}
	}
	if tags, _ := m["tags"].([]any); len(tags) != 2 || tags[0] != "newspaper" {
		t.Errorf("tags = %v", m["tags"])
	}
	msg, _ := m["message"].(string)
	for _, w := range []string{"profile xinjiang", "feed Example News – World (world)", "«Xinjiang»", "\n\n" + h.Item.Link} {
		if !strings.Contains(msg, w) {
			t.Errorf("message lacks %q:\n%s", w, msg)
		}
	}
}

func TestNtfyWithoutToken(t *testing.T) {
	rc := receiver(t, nil)
	n := newNtfy(t, rc.Server.URL, func(c *Config) { c.Token, c.Priority, c.Tags = "", 0, nil })
	if _, err := n.Notify(context.Background(), []hit.Hit{sample()}); err != nil {
		t.Fatal(err)
	}
	r := rc.Requests()[0]
	if r.Path != "/" {
		t.Errorf("path = %q, want /", r.Path)
	}
	if _, ok := r.Header["Authorization"]; ok {
		t.Errorf("Authorization sent without a token")
	}
	m := decode(t, r.Body)
	if _, ok := m["priority"]; ok {
		t.Errorf("priority sent though unset: %v", m["priority"])
	}
	if _, ok := m["tags"]; ok {
		t.Errorf("tags sent though unset")
	}
}

func TestNtfyHostileText(t *testing.T) {
	for name, hits := range notifiertest.ChatCases() {
		t.Run(name, func(t *testing.T) {
			rc := receiver(t, nil)
			n := newNtfy(t, rc.Server.URL, nil)
			if _, err := n.Notify(context.Background(), hits); err != nil {
				t.Fatal(err)
			}
			m := decode(t, rc.Requests()[0].Body)
			title, _ := m["title"].(string)
			msg, _ := m["message"].(string)
			if m["markdown"] != false {
				t.Errorf("markdown = %v", m["markdown"])
			}
			if n := utf8.RuneCountInString(title); n > MaxTitle {
				t.Errorf("title of %d characters", n)
			}
			if len(msg) > MaxMessage {
				t.Errorf("message of %d bytes", len(msg))
			}
			if strings.Contains(title, "\n") {
				t.Errorf("title on two lines: %q", title)
			}
			for _, bad := range []string{"\u202e", "\u2067", "\u200b", "javascript:"} {
				if strings.Contains(title+msg, bad) {
					t.Errorf("payload holds %q:\n%s\n%s", bad, title, msg)
				}
			}
			click, _ := m["click"].(string)
			if len(hits) == 1 && click != render.SafeLink(hits[0].Item.Link) {
				t.Errorf("click = %q", click)
			}
			if len(hits) == 1 && click != "" && !strings.HasSuffix(msg, "\n\n"+click) {
				t.Errorf("the link is not whole at the end:\n%s", msg)
			}
		})
	}
}

func TestNtfyDigestFits(t *testing.T) {
	rc := receiver(t, nil)
	n := newNtfy(t, rc.Server.URL, nil)
	hits := make([]hit.Hit, 200)
	for i := range hits {
		hits[i] = sample()
	}
	if _, err := n.Notify(context.Background(), hits); err != nil {
		t.Fatal(err)
	}
	m := decode(t, rc.Requests()[0].Body)
	msg, _ := m["message"].(string)
	if m["title"] != "200 new hits" || len(msg) > MaxMessage || !strings.Contains(msg, " more") {
		t.Errorf("digest: title %v, %d bytes:\n%s", m["title"], len(msg), msg[max(0, len(msg)-200):])
	}
	if _, ok := m["click"]; ok {
		t.Errorf("a digest has no single click URL")
	}
	if strings.Count(msg, sample().Item.Link) != strings.Count(msg, "• ") {
		t.Errorf("a digest entry lost its link")
	}
}

func TestNtfyTemplate(t *testing.T) {
	rc := receiver(t, nil)
	n := newNtfy(t, rc.Server.URL, func(c *Config) { c.Template = "{{.Feed.Name}}: {{.Item.Title}} — {{.Snippet}}" })
	if _, err := n.Notify(context.Background(), []hit.Hit{notifiertest.ChatCases()["hostile"][0]}); err != nil {
		t.Fatal(err)
	}
	msg, _ := decode(t, rc.Requests()[0].Body)["message"].(string)
	if !strings.HasPrefix(msg, "world: @everyone") || strings.ContainsAny(msg, "\u202e\u200b") {
		t.Errorf("template output: %q", msg)
	}
}

func TestNtfyFailures(t *testing.T) {
	tests := []struct {
		name      string
		answer    func(rc **notifiertest.Receiver) http.HandlerFunc
		wantRetry bool
		wantAfter time.Duration
		wantText  string
	}{
		{"429 with Retry-After", func(**notifiertest.Receiver) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "17")
				http.Error(w, `{"code":42901,"http":429,"error":"limit reached: too many requests"}`, http.StatusTooManyRequests)
			}
		}, true, 17 * time.Second, "status 429: {\"code\":42901"},
		{"429 bare", func(**notifiertest.Receiver) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTooManyRequests) }
		}, true, 0, "status 429"},
		{"500", func(**notifiertest.Receiver) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) }
		}, true, 0, "status 500"},
		{"507 storage", func(**notifiertest.Receiver) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInsufficientStorage) }
		}, true, 0, "status 507"},
		{"403 echoing the request", func(**notifiertest.Receiver) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, `{"code":40301,"http":403,"error":"forbidden","topic":"`+topic+`","auth":"`+r.Header.Get("Authorization")+`"}`, http.StatusForbidden)
			}
		}, false, 0, "status 403"},
		{"400", func(**notifiertest.Receiver) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadRequest) }
		}, false, 0, "status 400"},
		{"redirect", func(**notifiertest.Receiver) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/login", http.StatusFound) }
		}, false, 0, "status 302"},
		{"hang", func(rc **notifiertest.Receiver) http.HandlerFunc { return (*rc).Hang }, true, 0, "timed out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rc *notifiertest.Receiver
			rc = receiver(t, func(w http.ResponseWriter, r *http.Request) { tt.answer(&rc)(w, r) })
			n := newNtfy(t, rc.Server.URL, func(c *Config) {
				// Only the hang waits for the timeout: a short one elsewhere
				// would fail on a loaded machine.
				if tt.name == "hang" {
					c.Timeout = 100 * time.Millisecond
				}
			})
			retry, err := n.Notify(context.Background(), []hit.Hit{sample()})
			if err == nil || retry != tt.wantRetry {
				t.Fatalf("Notify = %v, %v; want retry=%v and an error", retry, err, tt.wantRetry)
			}
			if !strings.Contains(err.Error(), tt.wantText) || !strings.HasPrefix(err.Error(), "ntfy to 127.0.0.1:") {
				t.Errorf("error %q lacks %q", err, tt.wantText)
			}
			notifiertest.RetryAfter(t, err, tt.wantAfter)
			notifiertest.NoSecretInError(t, err, token, topic)
		})
	}
}

func TestNtfyConnectionRefused(t *testing.T) {
	rc := receiver(t, nil)
	n := newNtfy(t, rc.Server.URL, nil)
	rc.Server.Close()
	retry, err := n.Notify(context.Background(), []hit.Hit{sample()})
	if err == nil || !retry {
		t.Fatalf("Notify = %v, %v; want a retryable error", retry, err)
	}
	notifiertest.NoSecretInError(t, err, token, topic)
}

// TestNtfyRetryThroughEngine: a 429 then a 200 is one message delivered,
// after the server's Retry-After.
func TestNtfyRetryThroughEngine(t *testing.T) {
	var calls atomic.Int32
	rc := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		_, _ = io.WriteString(w, `{"id":"x","event":"message"}`)
	})
	n := newNtfy(t, rc.Server.URL, nil)
	recs, dead := notifiertest.RunEngine(t, n, 5, sample())
	if len(dead) != 0 || !recs[0].Acked || len(recs[0].Naks) != 1 || recs[0].Naks[0] < time.Second {
		t.Fatalf("record %+v, dead letters %v", recs[0], dead)
	}
	if got := len(rc.Requests()); got != 2 {
		t.Errorf("%d requests, want 2 (one refused, one delivered)", got)
	}
}

func TestNtfyGolden(t *testing.T) {
	n := newNtfy(t, "https://ntfy.example.org", nil)
	notifiertest.GoldenPairs(t, notifiertest.Updating(), func(hits []hit.Hit) ([]byte, error) {
		m, err := n.Message(hits)
		if err != nil {
			return nil, err
		}
		return json.Marshal(m)
	})
}

func TestCheckConfig(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{}, "topic: required"},
		{Config{Topic: "a/b"}, "topic: only letters"},
		{Config{Topic: topic, Server: "ntfy.sh"}, "server: not an absolute"},
		{Config{Topic: topic, Server: "https://ntfy.sh/?t=" + token}, "server: not an absolute"},
		{Config{Topic: topic, Server: "https://ntfy.sh/" + topic}, "server: must be the server's root URL"},
		{Config{Topic: topic, Priority: 6}, "priority: 6 is not 1 to 5"},
		{Config{Topic: topic, Tags: []string{"ok", " "}}, "tags[1]: empty"},
		{Config{Topic: topic, Template: "{{.Nope}}"}, "template: "},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			_, err := New(tt.cfg, nil)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			notifiertest.NoSecretInError(t, err, token, topic)
		})
	}
	if n, err := New(Config{Topic: topic}, nil); err != nil || n.endpoint != DefaultServer+"/" {
		t.Errorf("default server: %v, %v", n, err)
	}
}

// TestNtfyDigestThroughEngine: hits gathered by digest go out as one
// message listing each.
func TestNtfyDigestThroughEngine(t *testing.T) {
	rc := receiver(t, nil)
	n := newNtfy(t, rc.Server.URL, nil)
	hits := notifiertest.DigestHits(3)
	recs, dead := notifiertest.RunEngineWith(t, n, func(o *notifier.EngineOptions) { o.Digest = 50 * time.Millisecond }, hits...)
	if len(dead) != 0 || len(rc.Requests()) != 1 {
		t.Fatalf("%d dead letters, %d requests, want one message", len(dead), len(rc.Requests()))
	}
	for _, r := range recs {
		if !r.Acked {
			t.Errorf("%s not acked", r.ID)
		}
	}
	m := decode(t, rc.Requests()[0].Body)
	msg, _ := m["message"].(string)
	if m["title"] != "3 new hits" {
		t.Errorf("title = %v", m["title"])
	}
	for _, h := range hits {
		if !strings.Contains(msg, h.Item.Title) || !strings.Contains(msg, h.Item.Link) {
			t.Errorf("digest lacks %q", h.Item.Title)
		}
	}
}
