package discord

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
	hookPath  = "/api/webhooks/1234567890/s3cretWebhookTokenXYZ"
	hookToken = "s3cretWebhookTokenXYZ"
)

func sample() hit.Hit {
	return render.SampleHit(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
}

// receiver is a Discord webhook stand-in: it checks each request against
// the execute-webhook shape (JSON POST to the webhook with wait=true,
// allowed_mentions with an empty parse list) and answers with answer, or
// with the message as Discord does.
func receiver(t *testing.T, answer http.HandlerFunc) *notifiertest.Receiver {
	t.Helper()
	return notifiertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s with Content-Type %q, want a JSON POST", r.Method, r.Header.Get("Content-Type"))
		}
		if r.URL.Path != hookPath || r.URL.Query().Get("wait") != "true" {
			t.Errorf("posted to %s?%s", r.URL.Path, r.URL.RawQuery)
		}
		if answer != nil {
			answer(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"1","type":0,"channel_id":"2","content":""}`)
	})
}

func newDiscord(t *testing.T, rc *notifiertest.Receiver, mod func(*Config)) *Discord {
	t.Helper()
	cfg := Config{WebhookURL: rc.Server.URL + hookPath}
	if mod != nil {
		mod(&cfg)
	}
	d, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func secrets(rc *notifiertest.Receiver) []string {
	return []string{rc.Server.URL + hookPath, hookPath, hookToken}
}

// payload decodes a request body, checking the shape Discord documents.
func payload(t *testing.T, body []byte) Payload {
	t.Helper()
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatalf("body is not JSON: %v", err)
	}
	if string(raw["allowed_mentions"]) != `{"parse":[]}` {
		t.Errorf("allowed_mentions = %s, want an empty parse list", raw["allowed_mentions"])
	}
	var p Payload
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// unescaped lists the characters of set that s holds without a backslash
// before them.
func unescaped(s, set string) string {
	var out []rune
	esc := false
	for _, r := range s {
		switch {
		case esc:
			esc = false
		case r == '\\':
			esc = true
		case strings.ContainsRune(set, r):
			out = append(out, r)
		}
	}
	return string(out)
}

// checkLimits fails t when p breaks one of Discord's limits.
func checkLimits(t *testing.T, p Payload) {
	t.Helper()
	if n := utf8.RuneCountInString(p.Content); n > MaxContent {
		t.Errorf("content of %d characters", n)
	}
	if len(p.Embeds) == 0 || len(p.Embeds) > MaxEmbeds {
		t.Errorf("%d embeds", len(p.Embeds))
	}
	total := 0
	for _, e := range p.Embeds {
		if n := utf8.RuneCountInString(e.Title); n > MaxTitle {
			t.Errorf("title of %d characters", n)
		}
		if n := utf8.RuneCountInString(e.Description); n > MaxDescription {
			t.Errorf("description of %d characters", n)
		}
		if e.Footer != nil && utf8.RuneCountInString(e.Footer.Text) > MaxFooter {
			t.Errorf("footer too long")
		}
		total += e.Size()
	}
	if total > MaxEmbedTotal {
		t.Errorf("embeds of %d characters in all", total)
	}
}

// checkInert fails t when feed text in p could format, link or mention.
func checkInert(t *testing.T, p Payload) {
	t.Helper()
	for _, e := range p.Embeds {
		if u := unescaped(e.Title, special); u != "" {
			t.Errorf("title holds unescaped %q: %s", u, e.Title)
		}
		// The description's only markup is the bold of matched words.
		if u := unescaped(e.Description, strings.ReplaceAll(special, "*", "")); u != "" {
			t.Errorf("description holds unescaped %q: %s", u, e.Description)
		}
		if n := strings.Count(unescaped(e.Description, "*"), "*"); n%4 != 0 {
			t.Errorf("description has %d unescaped '*', not whole **pairs**: %s", n, e.Description)
		}
		if e.URL != "" && render.SafeLink(e.URL) == "" {
			t.Errorf("embed url %q", e.URL)
		}
		for _, s := range []string{e.Title, e.Description, e.Footer.Text} {
			if strings.ContainsAny(s, "\u202e\u2066\u2067\u200b\u2060\ufeff\x00\x1b") {
				t.Errorf("an override, invisible or control character survived: %q", s)
			}
		}
	}
	if u := unescaped(strings.ReplaceAll(p.Content, "**", ""), special); u != "" {
		t.Errorf("content holds unescaped %q: %s", u, p.Content)
	}
}

func TestDiscordMessageShape(t *testing.T) {
	rc := receiver(t, nil)
	d := newDiscord(t, rc, nil)
	if retry, err := d.Notify(context.Background(), []hit.Hit{sample()}); err != nil || retry {
		t.Fatalf("Notify = %v, %v", retry, err)
	}
	p := payload(t, rc.Requests()[0].Body)
	h := sample()
	if len(p.Embeds) != 1 {
		t.Fatalf("%d embeds", len(p.Embeds))
	}
	e := p.Embeds[0]
	if e.Title != h.Item.Title || e.URL != h.Item.Link || e.Timestamp != h.Item.Published.Format(time.RFC3339) {
		t.Errorf("embed %+v", e)
	}
	if !strings.Contains(e.Description, "picked in **Xinjiang** through") || !strings.Contains(e.Description, "say **Uyghur** workers") {
		t.Errorf("description = %q", e.Description)
	}
	if e.Footer == nil || e.Footer.Text != "profile xinjiang · Example News – World (world)" {
		t.Errorf("footer = %+v", e.Footer)
	}
	if p.Content != "**1 new hit** · profile xinjiang" {
		t.Errorf("content = %q", p.Content)
	}
	checkLimits(t, p)
}

func TestDiscordHostileText(t *testing.T) {
	for name, hits := range notifiertest.ChatCases() {
		t.Run(name, func(t *testing.T) {
			rc := receiver(t, nil)
			d := newDiscord(t, rc, nil)
			if _, err := d.Notify(context.Background(), hits); err != nil {
				t.Fatal(err)
			}
			p := payload(t, rc.Requests()[0].Body)
			checkLimits(t, p)
			checkInert(t, p)
			for i, e := range p.Embeds {
				if want := linkTarget(hits[i].Item.Link); e.URL != want {
					t.Errorf("embed url = %q, want %q", e.URL, want)
				}
			}
		})
	}
	// What the hostile title shows: the characters, escaped.
	rc := receiver(t, nil)
	d := newDiscord(t, rc, nil)
	if _, err := d.Notify(context.Background(), notifiertest.ChatCases()["hostile"]); err != nil {
		t.Fatal(err)
	}
	e := payload(t, rc.Requests()[0].Body).Embeds[0]
	for _, want := range []string{`\@everyone \@here \<\@123456\>`, `\[click\]\(https://evil.example\)`, `\*\*bold\*\*`, `\|\|spoiler\|\|`, "evil zerowidth"} {
		if !strings.Contains(e.Title, want) {
			t.Errorf("title lacks %q: %s", want, e.Title)
		}
	}
	if !strings.Contains(e.Description, `\@everyone \[forged\]\(https://evil.example/**x**\)`) {
		t.Errorf("description: %s", e.Description)
	}
}

// TestLinkTarget: the characters that end a masked link are encoded in
// the path; a host made of them gives no link, not a malformed embed URL
// that makes Discord refuse the message (found by FuzzDiscordMessage).
func TestLinkTarget(t *testing.T) {
	tests := []struct{ name, link, want string }{
		{"plain", "https://news.example.org/a?b=1", "https://news.example.org/a?b=1"},
		{"parens in path", "https://en.example.org/wiki/A_(b)", "https://en.example.org/wiki/A_%28b%29"},
		{"angle brackets in query", "https://x.example/?q=<a>", "https://x.example/?q=%3Ca%3E"},
		{"paren host", "http://(", ""},
		{"paren in host", "http://a(b).example/", ""},
		{"angle bracket host", "http://<x>/", ""},
		{"not http", "javascript:alert(1)", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := linkTarget(tt.link)
			if got != tt.want {
				t.Errorf("linkTarget(%q) = %q, want %q", tt.link, got, tt.want)
			}
			if got != "" && render.SafeLink(got) == "" {
				t.Errorf("linkTarget(%q) = %q: not a well-formed URL", tt.link, got)
			}
		})
	}
}

func TestDiscordLongTextCutNotLink(t *testing.T) {
	rc := receiver(t, nil)
	d := newDiscord(t, rc, nil)
	h := notifiertest.ChatCases()["long"][0]
	h.Snippet = strings.Repeat("«a» \\ ", 3000)
	if _, err := d.Notify(context.Background(), []hit.Hit{h}); err != nil {
		t.Fatal(err)
	}
	p := payload(t, rc.Requests()[0].Body)
	checkLimits(t, p)
	checkInert(t, p)
	e := p.Embeds[0]
	if e.URL != "https://news.example.org/world/asia/2026/xinjiang-cotton-report?a=%281%29&b=[2]" {
		t.Errorf("url = %q", e.URL)
	}
	if !strings.HasSuffix(e.Title, "…") || !strings.HasSuffix(e.Description, "…") {
		t.Errorf("not cut: %q\n%q", e.Title, e.Description)
	}
}

func TestDiscordDigest(t *testing.T) {
	rc := receiver(t, nil)
	d := newDiscord(t, rc, nil)
	hits := make([]hit.Hit, 25)
	for i := range hits {
		hits[i] = notifiertest.ChatCases()["long"][0]
	}
	hits[3].Profiles = []string{"trade-bill"}
	if _, err := d.Notify(context.Background(), hits); err != nil {
		t.Fatal(err)
	}
	p := payload(t, rc.Requests()[0].Body)
	checkLimits(t, p)
	checkInert(t, p)
	if len(p.Embeds) != MaxEmbeds || p.Content != "**25 new hits** · profiles xinjiang, trade-bill · 10 shown" {
		t.Errorf("%d embeds, content %q", len(p.Embeds), p.Content)
	}
}

func TestDiscordTemplate(t *testing.T) {
	rc := receiver(t, nil)
	d := newDiscord(t, rc, func(c *Config) {
		c.Template = "New in _{{.Feed.Name}}_: [{{.Item.Title}}]({{.Item.Link}}) — {{.Snippet}}"
	})
	h := notifiertest.ChatCases()["hostile"][0]
	h.Item.Link = "https://news.example.org/a_(b)"
	if _, err := d.Notify(context.Background(), []hit.Hit{h}); err != nil {
		t.Fatal(err)
	}
	desc := payload(t, rc.Requests()[0].Body).Embeds[0].Description
	for _, want := range []string{"New in _world_: [\\@everyone", "](https://news.example.org/a_%28b%29) — ", "**Xinjiang**"} {
		if !strings.Contains(desc, want) {
			t.Errorf("description lacks %q:\n%s", want, desc)
		}
	}
}

func TestDiscordFailures(t *testing.T) {
	tests := []struct {
		name      string
		answer    func(rc **notifiertest.Receiver) http.HandlerFunc
		wantRetry bool
		wantAfter time.Duration
		wantText  string
	}{
		{"429 with Retry-After and retry_after", func(**notifiertest.Receiver) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "2")
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusTooManyRequests)
				_, _ = io.WriteString(w, `{"message":"You are being rate limited.","retry_after":2.5,"global":false}`)
			}
		}, true, 2500 * time.Millisecond, "status 429"},
		{"429 header only", func(**notifiertest.Receiver) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "7")
				w.WriteHeader(http.StatusTooManyRequests)
			}
		}, true, 7 * time.Second, "status 429"},
		{"502", func(**notifiertest.Receiver) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) }
		}, true, 0, "status 502"},
		{"400 echoing the webhook", func(**notifiertest.Receiver) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, `{"code":50006,"message":"Cannot send an empty message","url":"`+r.URL.String()+`"}`, http.StatusBadRequest)
			}
		}, false, 0, "status 400: {\"code\":50006"},
		{"404 unknown webhook", func(**notifiertest.Receiver) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, `{"message": "Unknown Webhook", "code": 10015}`, http.StatusNotFound)
			}
		}, false, 0, "Unknown Webhook"},
		{"hang", func(rc **notifiertest.Receiver) http.HandlerFunc { return (*rc).Hang }, true, 0, "timed out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rc *notifiertest.Receiver
			rc = receiver(t, func(w http.ResponseWriter, r *http.Request) { tt.answer(&rc)(w, r) })
			d := newDiscord(t, rc, func(c *Config) {
				// Only the hang waits for the timeout: a short one elsewhere
				// would fail on a loaded machine.
				if tt.name == "hang" {
					c.Timeout = 100 * time.Millisecond
				}
			})
			retry, err := d.Notify(context.Background(), []hit.Hit{sample()})
			if err == nil || retry != tt.wantRetry {
				t.Fatalf("Notify = %v, %v; want retry=%v and an error", retry, err, tt.wantRetry)
			}
			if !strings.Contains(err.Error(), tt.wantText) || !strings.HasPrefix(err.Error(), "discord webhook to 127.0.0.1:") {
				t.Errorf("error %q lacks %q", err, tt.wantText)
			}
			notifiertest.RetryAfter(t, err, tt.wantAfter)
			notifiertest.NoSecretInError(t, err, secrets(rc)...)
		})
	}
}

func TestDiscordConnectionRefused(t *testing.T) {
	rc := receiver(t, nil)
	d := newDiscord(t, rc, nil)
	rc.Server.Close()
	retry, err := d.Notify(context.Background(), []hit.Hit{sample()})
	if err == nil || !retry {
		t.Fatalf("Notify = %v, %v; want a retryable error", retry, err)
	}
	notifiertest.NoSecretInError(t, err, secrets(rc)...)
}

// TestDiscordRetryThroughEngine: a 503, then a 429 with Retry-After, then
// success is one message delivered, after the server's wait.
func TestDiscordRetryThroughEngine(t *testing.T) {
	var calls atomic.Int32
	rc := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		case 2:
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			_, _ = io.WriteString(w, `{"id":"1"}`)
		}
	})
	d := newDiscord(t, rc, nil)
	recs, dead := notifiertest.RunEngine(t, d, 5, sample())
	if len(dead) != 0 || !recs[0].Acked || len(recs[0].Naks) != 2 || recs[0].Naks[1] < time.Second {
		t.Fatalf("record %+v, dead letters %v", recs[0], dead)
	}
	if got := len(rc.Requests()); got != 3 {
		t.Errorf("%d requests, want 3", got)
	}
}

// TestDiscordRefusalIsDeadLettered: a 400 is not retried.
func TestDiscordRefusalIsDeadLettered(t *testing.T) {
	rc := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"code":50035,"message":"Invalid Form Body"}`, http.StatusBadRequest)
	})
	d := newDiscord(t, rc, nil)
	recs, dead := notifiertest.RunEngine(t, d, 5, sample())
	if len(dead) != 1 || !recs[0].Termed || len(rc.Requests()) != 1 {
		t.Fatalf("record %+v, dead letters %v, %d requests", recs[0], dead, len(rc.Requests()))
	}
	notifiertest.NoSecret(t, "dead letter", dead[0].Error, secrets(rc)...)
}

func TestDiscordGolden(t *testing.T) {
	d, err := New(Config{WebhookURL: "https://discord.com" + hookPath}, nil)
	if err != nil {
		t.Fatal(err)
	}
	notifiertest.GoldenPairs(t, notifiertest.Updating(), func(hits []hit.Hit) ([]byte, error) {
		p, err := d.Payload(hits)
		if err != nil {
			return nil, err
		}
		return json.Marshal(p)
	})
}

func TestCheckConfig(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{}, "webhook_url: required"},
		{Config{WebhookURL: "discord.com" + hookPath}, "webhook_url: not an absolute"},
		{Config{WebhookURL: "https://discord.com" + hookPath, Template: "{{.Nope}}"}, "template: "},
		{Config{WebhookURL: "https://discord.com" + hookPath, Template: "{{"}, "template: "},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			_, err := New(tt.cfg, nil)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			notifiertest.NoSecretInError(t, err, hookPath, hookToken)
		})
	}
}

func TestEscape(t *testing.T) {
	tests := map[string]string{
		"plain words":             "plain words",
		"@everyone":               `\@everyone`,
		"<@123> <#4> </a:1>":      `\<\@123\> \<\#4\> \</a:1\>`,
		"[x](https://e.x)":        `\[x\]\(https://e.x\)`,
		`a\*b`:                    `a\\\*b`,
		"# h\n> q\n-# s ||x|| ~y": "\\# h\n\\> q\n-\\# s \\|\\|x\\|\\| \\~y",
	}
	for in, want := range tests {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
	if got := EscapeCut("ab**cd", 5); got != `ab\*…` {
		t.Errorf("EscapeCut = %q", got)
	}
	if got := cut(`abc\\\`+"x", 5); got != `abc…` {
		t.Errorf("cut = %q", got)
	}
}

// TestDiscordDigestThroughEngine: hits gathered by digest go out as one
// message, an embed each.
func TestDiscordDigestThroughEngine(t *testing.T) {
	rc := receiver(t, nil)
	d := newDiscord(t, rc, nil)
	hits := notifiertest.DigestHits(3)
	_, dead := notifiertest.RunEngineWith(t, d, func(o *notifier.EngineOptions) { o.Digest = 50 * time.Millisecond }, hits...)
	if len(dead) != 0 || len(rc.Requests()) != 1 {
		t.Fatalf("%d dead letters, %d requests, want one message", len(dead), len(rc.Requests()))
	}
	p := payload(t, rc.Requests()[0].Body)
	if len(p.Embeds) != 3 || p.Content != "**3 new hits** · profile xinjiang" {
		t.Fatalf("%d embeds, content %q", len(p.Embeds), p.Content)
	}
	for i, e := range p.Embeds {
		if e.URL != hits[i].Item.Link {
			t.Errorf("embed %d links %q", i, e.URL)
		}
	}
}
