package slack

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier/notifiertest"
	"github.com/feedwatch/feedwatch/notifier/render"
)

const (
	hookPath = "/services/T000/B000/XXXXsecretXXXXhookXXXX"
	botToken = "xoxb-1234-5678-s3cretb0ttoken"
)

// payload is what a Slack receiver gets, in either mode.
type payload struct {
	Text        string            `json:"text"`
	Blocks      []json.RawMessage `json:"blocks"`
	UnfurlLinks *bool             `json:"unfurl_links"`
	UnfurlMedia *bool             `json:"unfurl_media"`
	Parse       string            `json:"parse"`
	LinkNames   any               `json:"link_names"`
	raw         string
}

// fakeSlack is a receiver that checks and decodes each payload.
type fakeSlack struct {
	*notifiertest.Receiver
	mu  sync.Mutex
	got []payload
}

// newFakeSlack serves an incoming webhook at hookPath and chat.postMessage
// at /api/chat.postMessage, checking each payload's shape.
func newFakeSlack(t *testing.T, answer http.HandlerFunc) *fakeSlack {
	t.Helper()
	f := &fakeSlack{}
	f.Receiver = notifiertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		var p payload
		switch r.URL.Path {
		case hookPath:
			b, _ := io.ReadAll(r.Body)
			if err := json.Unmarshal(b, &p); err != nil {
				t.Errorf("webhook body is not JSON: %v", err)
			}
			if r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("webhook Content-Type = %q", r.Header.Get("Content-Type"))
			}
			p.raw = string(b)
		case "/api/chat.postMessage":
			if err := r.ParseForm(); err != nil {
				t.Errorf("parse form: %v", err)
			}
			if r.Form.Get("token") != botToken && r.Header.Get("Authorization") != "Bearer "+botToken {
				t.Errorf("no bot token in the request")
			}
			if r.Form.Get("channel") != "#news" {
				t.Errorf("channel = %q", r.Form.Get("channel"))
			}
			p.Text = r.Form.Get("text")
			if err := json.Unmarshal([]byte(r.Form.Get("blocks")), &p.Blocks); err != nil {
				t.Errorf("blocks: %v", err)
			}
			f := false
			if r.Form.Get("unfurl_links") == "false" {
				p.UnfurlLinks = &f
			}
			if r.Form.Get("unfurl_media") == "false" {
				p.UnfurlMedia = &f
			}
			p.Parse = r.Form.Get("parse")
			if v := r.Form.Get("link_names"); v != "" {
				p.LinkNames = v
			}
			p.raw = r.Form.Get("text") + r.Form.Get("blocks")
		default:
			t.Errorf("unexpected path %s", r.URL.Path)
		}
		f.mu.Lock()
		f.got = append(f.got, p)
		f.mu.Unlock()
		if answer != nil {
			answer(w, r)
			return
		}
		if r.URL.Path == hookPath {
			_, _ = io.WriteString(w, "ok")
			return
		}
		_, _ = io.WriteString(w, `{"ok":true,"channel":"C1","ts":"1.2"}`)
	})
	return f
}

func (f *fakeSlack) payloads() []payload {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]payload(nil), f.got...)
}

type mode struct {
	name string
	make func(t *testing.T, f *fakeSlack, timeout time.Duration) *Slack
}

var modes = []mode{
	{"webhook", func(t *testing.T, f *fakeSlack, timeout time.Duration) *Slack {
		s, err := New(Config{WebhookURL: f.Server.URL + hookPath, Timeout: timeout}, f.Server.Client())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
	{"bot", func(t *testing.T, f *fakeSlack, timeout time.Duration) *Slack {
		s, err := New(Config{Token: botToken, Channel: "#news", Timeout: timeout}, f.Server.Client())
		if err != nil {
			t.Fatal(err)
		}
		s.apiURL = f.Server.URL + "/api/"
		return s
	}},
}

func secrets(f *fakeSlack) []string {
	return []string{f.Server.URL + hookPath, hookPath, "XXXXsecretXXXXhookXXXX", botToken}
}

func sample() hit.Hit {
	return render.SampleHit(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
}

// texts pulls every text string out of the blocks.
func texts(t *testing.T, p payload) []string {
	t.Helper()
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if s, ok := x["text"].(string); ok {
				out = append(out, s)
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	for _, b := range p.Blocks {
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		walk(v)
	}
	return out
}

func TestSlackMessageShape(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			f := newFakeSlack(t, nil)
			s := m.make(t, f, 0)
			if retry, err := s.Notify(context.Background(), []hit.Hit{sample()}); err != nil || retry {
				t.Fatalf("Notify = %v, %v", retry, err)
			}
			p := f.payloads()[0]
			if p.UnfurlLinks == nil || *p.UnfurlLinks || p.UnfurlMedia == nil || *p.UnfurlMedia {
				t.Errorf("links must not unfurl: %v %v", p.UnfurlLinks, p.UnfurlMedia)
			}
			if p.Parse != "" || p.LinkNames != nil {
				t.Errorf("parse=%q link_names=%v, want neither", p.Parse, p.LinkNames)
			}
			all := strings.Join(texts(t, p), "\n")
			h := sample()
			for _, want := range []string{
				"*<" + h.Item.Link + "|" + h.Item.Title + ">*",
				"Profile *xinjiang*",
				"Example News – World (world)",
				"2026-11-28 11:13 UTC",
				"picked in *Xinjiang* through",
				"say *Uyghur* workers",
			} {
				if !strings.Contains(all, want) {
					t.Errorf("blocks lack %q:\n%s", want, all)
				}
			}
			if !strings.Contains(p.Text, "xinjiang: Forced labour") {
				t.Errorf("fallback text = %q", p.Text)
			}
		})
	}
}

func TestSlackDigest(t *testing.T) {
	f := newFakeSlack(t, nil)
	s := modes[0].make(t, f, 0)
	hits := make([]hit.Hit, 60)
	for i := range hits {
		hits[i] = sample()
	}
	if _, err := s.Notify(context.Background(), hits); err != nil {
		t.Fatal(err)
	}
	p := f.payloads()[0]
	if len(p.Blocks) > maxBlocks {
		t.Errorf("%d blocks, Slack allows %d", len(p.Blocks), maxBlocks)
	}
	all := strings.Join(texts(t, p), "\n")
	if !strings.Contains(all, "*60 new hits*") || !strings.Contains(all, "…and 12 more") {
		t.Errorf("digest text:\n%.500s", all)
	}
	if !strings.HasPrefix(p.Text, "60 new hits: ") {
		t.Errorf("fallback = %q", p.Text)
	}
}

func TestSlackEscapesFeedText(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			f := newFakeSlack(t, nil)
			s := m.make(t, f, 0)
			h := notifiertest.HostileHit()
			h.Item.Link = "https://news.example.org/a?x=1&y=2|<b>"
			if _, err := s.Notify(context.Background(), []hit.Hit{h, notifiertest.HostileHit()}[:1]); err != nil {
				t.Fatal(err)
			}
			p := f.payloads()[0]
			all := p.Text + "\n" + strings.Join(texts(t, p), "\n")
			for _, bad := range []string{"<!channel>", "<!here>", "<!everyone>", "<@U123>", "<https://evil.example|click>", "<script>", "|<b>"} {
				if strings.Contains(all, bad) {
					t.Errorf("payload holds %q unescaped:\n%s", bad, all)
				}
			}
			for _, want := range []string{
				"Xinjiang &lt;!channel&gt; &lt;https://evil.example|click&gt; &amp; co",
				"Evil &lt;!here&gt; Feed &amp; &lt;@U123&gt;",
				"*Xinjiang* &lt;!everyone&gt;",
				"<https://news.example.org/a?x=1&amp;y=2%7C%3Cb%3E|",
			} {
				if !strings.Contains(all, want) {
					t.Errorf("payload lacks %q:\n%s", want, all)
				}
			}
			// Exactly one link target: the item's.
			if n := strings.Count(all, "<http"); n != 1 {
				t.Errorf("%d links in the payload, want 1:\n%s", n, all)
			}
			// Escaping is exactly & < >: quotes stay readable.
			if strings.Contains(all, "&#39;") || strings.Contains(all, "&quot;") {
				t.Errorf("over-escaped: %s", all)
			}
		})
	}
}

func TestSlackUnsafeLinkIsNotLinked(t *testing.T) {
	f := newFakeSlack(t, nil)
	s := modes[0].make(t, f, 0)
	h := sample()
	h.Item.Link = "javascript:alert(1)"
	if _, err := s.Notify(context.Background(), []hit.Hit{h}); err != nil {
		t.Fatal(err)
	}
	all := strings.Join(texts(t, f.payloads()[0]), "\n")
	if strings.Contains(all, "javascript:") || strings.Contains(all, "<") {
		t.Errorf("unsafe link shown: %s", all)
	}
}

func TestSlackCutsSections(t *testing.T) {
	f := newFakeSlack(t, nil)
	s := modes[0].make(t, f, 0)
	h := sample()
	h.Snippet = strings.Repeat("«Xinjiang» & <b> ", 1000)
	h.Item.Title = strings.Repeat("Very long title ", 100)
	if _, err := s.Notify(context.Background(), []hit.Hit{h}); err != nil {
		t.Fatal(err)
	}
	for _, txt := range texts(t, f.payloads()[0]) {
		if n := utf8.RuneCountInString(txt); n > MaxText {
			t.Errorf("section of %d characters", n)
		}
		if strings.HasSuffix(strings.TrimSuffix(txt, "…"), "&am") {
			t.Errorf("cut inside an escape: %q", txt[len(txt)-20:])
		}
	}
}

func TestSlackTemplate(t *testing.T) {
	f := newFakeSlack(t, nil)
	s, err := New(Config{WebhookURL: f.Server.URL + hookPath, Template: "New in _{{.Feed.Name}}_: {{.Item.Title}} — {{.Snippet}}"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Notify(context.Background(), []hit.Hit{notifiertest.HostileHit()}); err != nil {
		t.Fatal(err)
	}
	all := strings.Join(texts(t, f.payloads()[0]), "\n")
	if !strings.Contains(all, "New in _world_: Xinjiang &lt;!channel&gt;") || !strings.Contains(all, "*Xinjiang*") {
		t.Errorf("template output:\n%s", all)
	}
	if strings.Contains(all, "<!channel>") {
		t.Errorf("template data not escaped")
	}
}

func TestSlackFailures(t *testing.T) {
	tests := []struct {
		name       string
		answer     func(f *fakeSlack) http.HandlerFunc
		wantRetry  bool
		wantAfter  time.Duration
		wantInText string
	}{
		{"429 with Retry-After", func(*fakeSlack) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "30")
				w.WriteHeader(http.StatusTooManyRequests)
			}
		}, true, 30 * time.Second, "429"},
		{"429 without Retry-After", func(*fakeSlack) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTooManyRequests) }
		}, true, 0, "429"},
		{"429 with an HTTP-date Retry-After", func(*fakeSlack) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", time.Now().Add(2*time.Hour).UTC().Format(http.TimeFormat))
				w.WriteHeader(http.StatusTooManyRequests)
			}
		}, true, time.Hour, "429"},
		{"400 invalid_blocks", func(*fakeSlack) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { http.Error(w, "invalid_blocks", http.StatusBadRequest) }
		}, false, 0, "status 400"},
		{"404 no_service", func(*fakeSlack) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no_service", http.StatusNotFound) }
		}, false, 0, "status 404"},
		{"500", func(*fakeSlack) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) }
		}, true, 0, "status 500"},
		{"503 with Retry-After", func(*fakeSlack) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "6")
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		}, true, 6 * time.Second, "status 503"},
		{"hang", func(f *fakeSlack) http.HandlerFunc { return f.Hang }, true, 0, "timed out"},
	}
	for _, m := range modes {
		for _, tt := range tests {
			t.Run(m.name+"/"+tt.name, func(t *testing.T) {
				var f *fakeSlack
				f = newFakeSlack(t, func(w http.ResponseWriter, r *http.Request) { tt.answer(f)(w, r) })
				s := m.make(t, f, 100*time.Millisecond)
				retry, err := s.Notify(context.Background(), []hit.Hit{sample()})
				if err == nil || retry != tt.wantRetry {
					t.Fatalf("Notify = %v, %v; want retry=%v and an error", retry, err, tt.wantRetry)
				}
				if !strings.Contains(err.Error(), tt.wantInText) {
					t.Errorf("error %q lacks %q", err, tt.wantInText)
				}
				notifiertest.RetryAfter(t, err, tt.wantAfter)
				notifiertest.NoSecretInError(t, err, secrets(f)...)
			})
		}
	}
}

func TestSlackAPIErrors(t *testing.T) {
	tests := []struct {
		code      string
		wantRetry bool
	}{
		{"channel_not_found", false},
		{"invalid_auth", false},
		{"internal_error", true},
		{"ratelimited", true},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			f := newFakeSlack(t, func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, `{"ok":false,"error":"`+tt.code+`"}`)
			})
			s := modes[1].make(t, f, 0)
			retry, err := s.Notify(context.Background(), []hit.Hit{sample()})
			if err == nil || retry != tt.wantRetry || !strings.Contains(err.Error(), tt.code) {
				t.Fatalf("Notify = %v, %v; want retry=%v naming %s", retry, err, tt.wantRetry, tt.code)
			}
			notifiertest.NoSecretInError(t, err, secrets(f)...)
		})
	}
}

func TestSlackConnectionRefused(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			f := newFakeSlack(t, nil)
			s := m.make(t, f, 0)
			f.Server.Close()
			retry, err := s.Notify(context.Background(), []hit.Hit{sample()})
			if err == nil || !retry {
				t.Fatalf("Notify = %v, %v; want a retryable error", retry, err)
			}
			notifiertest.NoSecretInError(t, err, secrets(f)...)
			if strings.Contains(err.Error(), "/services/") {
				t.Errorf("error shows the webhook path: %v", err)
			}
		})
	}
}

func TestCheckConfig(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{}, "webhook_url: required"},
		{Config{WebhookURL: "https://hooks.slack.com/x", Token: botToken}, "token: set webhook_url or token"},
		{Config{Token: botToken}, "channel: required"},
		{Config{WebhookURL: "hooks.slack.com" + hookPath}, "webhook_url: not an absolute"},
		{Config{WebhookURL: "https://hooks.slack.com" + hookPath, Template: "{{"}, "template: "},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			_, err := New(tt.cfg, nil)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			notifiertest.NoSecretInError(t, err, hookPath, botToken, url.PathEscape(hookPath))
		})
	}
}

// A server that echoes the hook token just where the error excerpt is cut
// must not leave a fragment of it behind: redaction comes before the cut.
func TestSlackRedactsBeforeCutting(t *testing.T) {
	const token = "XXXXsecretXXXXhookXXXX"
	for pad := 100; pad <= 118; pad++ {
		f := newFakeSlack(t, func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, strings.Repeat("y", pad)+token, http.StatusBadRequest)
		})
		s := modes[0].make(t, f, time.Second)
		_, err := s.Notify(context.Background(), []hit.Hit{sample()})
		if err == nil {
			t.Fatal("Notify succeeded against a 400")
		}
		if strings.Contains(err.Error(), token[:8]) {
			t.Fatalf("pad %d: error keeps a fragment of the token: %v", pad, err)
		}
	}
}
