package teams

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
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
	flowPath  = "/workflows/0a1b2c3d4e5f/triggers/manual/paths/invoke"
	flowQuery = "api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=S3cretSignatureXYZ123"
	flowSig   = "S3cretSignatureXYZ123"
)

func sample() hit.Hit {
	return render.SampleHit(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
}

// receiver is a Teams workflow stand-in: it checks each request (JSON POST
// to the workflow URL, query and all) and answers with answer, or 202
// Accepted as workflows do.
func receiver(t *testing.T, answer http.HandlerFunc) *notifiertest.Receiver {
	t.Helper()
	return notifiertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s with Content-Type %q, want a JSON POST", r.Method, r.Header.Get("Content-Type"))
		}
		if r.URL.Path != flowPath || r.URL.RawQuery != flowQuery {
			t.Errorf("posted to %s?%s", r.URL.Path, r.URL.RawQuery)
		}
		if answer != nil {
			answer(w, r)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
}

func newTeams(t *testing.T, rc *notifiertest.Receiver, mod func(*Config)) *Teams {
	t.Helper()
	cfg := Config{WebhookURL: rc.Server.URL + flowPath + "?" + flowQuery}
	if mod != nil {
		mod(&cfg)
	}
	tm, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func secrets(rc *notifiertest.Receiver) []string {
	return []string{rc.Server.URL + flowPath + "?" + flowQuery, flowQuery, flowSig, flowPath}
}

// card is what a test reads of a posted card.
type card struct {
	raw      []byte
	runs     []string // every TextRun's text
	blocks   []string // every TextBlock's text
	urls     []string // every Action.OpenUrl's url
	boldRuns []string
}

var ownBlock = regexp.MustCompile(`^(\d+ new hits|…and \d+ more)$`)

// decodeCard checks body against the documented shape of a workflow
// message with an Adaptive Card, and collects its texts and links.
func decodeCard(t *testing.T, body []byte) card {
	t.Helper()
	var m struct {
		Type        string `json:"type"`
		Attachments []struct {
			ContentType string          `json:"contentType"`
			ContentURL  *string         `json:"contentUrl"`
			Content     json.RawMessage `json:"content"`
		} `json:"attachments"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body is not JSON: %v", err)
	}
	if m.Type != "message" || len(m.Attachments) != 1 || m.Attachments[0].ContentType != "application/vnd.microsoft.card.adaptive" || m.Attachments[0].ContentURL != nil {
		t.Fatalf("not a message with one Adaptive Card: %.300s", body)
	}
	var content map[string]any
	if err := json.Unmarshal(m.Attachments[0].Content, &content); err != nil {
		t.Fatal(err)
	}
	if content["type"] != "AdaptiveCard" || content["version"] != "1.4" || content["$schema"] != "http://adaptivecards.io/schemas/adaptive-card.json" {
		t.Errorf("card header: %v %v %v", content["type"], content["version"], content["$schema"])
	}
	c := card{raw: body}
	known := map[string]bool{"TextRun": true, "RichTextBlock": true, "TextBlock": true, "Container": true, "Action.OpenUrl": true}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			typ, _ := x["type"].(string)
			if typ != "" && typ != "AdaptiveCard" && !known[typ] {
				t.Errorf("unexpected element type %q", typ)
			}
			switch typ {
			case "TextRun":
				s, _ := x["text"].(string)
				c.runs = append(c.runs, s)
				if x["weight"] == "Bolder" {
					c.boldRuns = append(c.boldRuns, s)
				}
			case "TextBlock":
				s, _ := x["text"].(string)
				c.blocks = append(c.blocks, s)
			case "Action.OpenUrl":
				s, _ := x["url"].(string)
				c.urls = append(c.urls, s)
			}
			for _, v := range x {
				walk(v)
			}
		case []any:
			for _, v := range x {
				walk(v)
			}
		}
	}
	walk(content)
	return c
}

// checkCard fails t when a card could carry feed markup or is too big.
func checkCard(t *testing.T, c card) {
	t.Helper()
	if len(c.raw) > MaxPayload {
		t.Errorf("card of %d bytes", len(c.raw))
	}
	// Markdown is only in TextBlocks, and those hold only our own words.
	for _, b := range c.blocks {
		if !ownBlock.MatchString(b) {
			t.Errorf("a TextBlock (markdown) holds %q", b)
		}
	}
	for _, u := range c.urls {
		if render.SafeLink(u) != u {
			t.Errorf("action url %q", u)
		}
	}
	for _, r := range c.runs {
		if strings.ContainsAny(r, "\u202e\u2066\u2067\u200b\u2060\ufeff\x00\x1b") {
			t.Errorf("an override, invisible or control character survived: %q", r)
		}
	}
}

func TestTeamsCardShape(t *testing.T) {
	rc := receiver(t, nil)
	tm := newTeams(t, rc, nil)
	if retry, err := tm.Notify(context.Background(), []hit.Hit{sample()}); err != nil || retry {
		t.Fatalf("Notify = %v, %v", retry, err)
	}
	c := decodeCard(t, rc.Requests()[0].Body)
	checkCard(t, c)
	h := sample()
	all := strings.Join(c.runs, "|")
	for _, want := range []string{h.Item.Title, "profile xinjiang · feed Example News – World (world) · published 2026-11-28 11:13 UTC", "|Xinjiang|", "|Uyghur|"} {
		if !strings.Contains(all, want) {
			t.Errorf("runs lack %q: %s", want, all)
		}
	}
	if strings.Join(c.boldRuns, "|") != h.Item.Title+"|Xinjiang|Uyghur" {
		t.Errorf("bold runs = %q", c.boldRuns)
	}
	if len(c.urls) != 2 || c.urls[0] != h.Item.Link || c.urls[1] != h.Item.Link {
		t.Errorf("links = %q", c.urls)
	}
}

func TestTeamsHostileText(t *testing.T) {
	for name, hits := range notifiertest.ChatCases() {
		t.Run(name, func(t *testing.T) {
			rc := receiver(t, nil)
			tm := newTeams(t, rc, nil)
			if _, err := tm.Notify(context.Background(), hits); err != nil {
				t.Fatal(err)
			}
			c := decodeCard(t, rc.Requests()[0].Body)
			checkCard(t, c)
			for _, u := range c.urls {
				if strings.Contains(u, "evil") || strings.HasPrefix(u, "javascript") {
					t.Errorf("feed text made a link: %q", u)
				}
			}
			for _, r := range c.runs {
				if n := utf8.RuneCountInString(r); n > MaxSnippet+MaxTitle*2 {
					t.Errorf("run of %d characters", n)
				}
			}
		})
	}
	// The hostile title is shown as typed, as plain text.
	rc := receiver(t, nil)
	tm := newTeams(t, rc, nil)
	if _, err := tm.Notify(context.Background(), notifiertest.ChatCases()["hostile"]); err != nil {
		t.Fatal(err)
	}
	c := decodeCard(t, rc.Requests()[0].Body)
	if !strings.HasPrefix(c.runs[0], "@everyone @here <@123456>") || !strings.Contains(c.runs[0], "[click](https://evil.example) <b>x</b> &amp; evil zerowidth") {
		t.Errorf("title run = %q", c.runs[0])
	}
}

func TestTeamsLongTextCutNotLink(t *testing.T) {
	rc := receiver(t, nil)
	tm := newTeams(t, rc, nil)
	h := notifiertest.ChatCases()["long"][0]
	h.Item.Link = "https://news.example.org/" + strings.Repeat("a&b=c", 700)
	if _, err := tm.Notify(context.Background(), []hit.Hit{h}); err != nil {
		t.Fatal(err)
	}
	c := decodeCard(t, rc.Requests()[0].Body)
	checkCard(t, c)
	if len(c.urls) != 2 || c.urls[1] != h.Item.Link {
		t.Errorf("link cut or lost: %d urls", len(c.urls))
	}
	if n := utf8.RuneCountInString(c.runs[0]); n > MaxTitle || !strings.HasSuffix(c.runs[0], "…") {
		t.Errorf("title of %d characters: %q", n, c.runs[0])
	}
}

func TestTeamsDigestFits(t *testing.T) {
	rc := receiver(t, nil)
	tm := newTeams(t, rc, nil)
	hits := make([]hit.Hit, 300)
	for i := range hits {
		hits[i] = notifiertest.ChatCases()["long"][0]
	}
	if _, err := tm.Notify(context.Background(), hits); err != nil {
		t.Fatal(err)
	}
	c := decodeCard(t, rc.Requests()[0].Body)
	checkCard(t, c)
	if len(c.blocks) != 2 || c.blocks[0] != "300 new hits" || !strings.HasPrefix(c.blocks[1], "…and ") {
		t.Errorf("blocks = %q", c.blocks)
	}
	t.Logf("%d bytes, %d hits shown", len(c.raw), len(c.urls))
	if len(c.urls) < 10 {
		t.Errorf("only %d hits shown", len(c.urls))
	}
}

func TestTeamsTemplate(t *testing.T) {
	rc := receiver(t, nil)
	tm := newTeams(t, rc, func(c *Config) { c.Template = "**{{.Feed.Name}}**: {{.Item.Title}} — {{.Snippet}}" })
	if _, err := tm.Notify(context.Background(), notifiertest.ChatCases()["hostile"]); err != nil {
		t.Fatal(err)
	}
	c := decodeCard(t, rc.Requests()[0].Body)
	checkCard(t, c)
	last := c.runs[len(c.runs)-1]
	if !strings.HasPrefix(last, "**world**: @everyone @here") {
		t.Errorf("template run = %q", last)
	}
}

func TestTeamsFailures(t *testing.T) {
	tests := []struct {
		name      string
		answer    func(rc **notifiertest.Receiver) http.HandlerFunc
		wantRetry bool
		wantAfter time.Duration
		wantText  string
	}{
		{"429 with Retry-After", func(**notifiertest.Receiver) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "12")
				w.WriteHeader(http.StatusTooManyRequests)
			}
		}, true, 12 * time.Second, "status 429"},
		{"503", func(**notifiertest.Receiver) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }
		}, true, 0, "status 503"},
		{"400 echoing the URL", func(**notifiertest.Receiver) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, `{"error":{"code":"InvalidRequestContent","message":"bad request to `+r.URL.String()+`"}}`, http.StatusBadRequest)
			}
		}, false, 0, "InvalidRequestContent"},
		{"401 bad signature", func(**notifiertest.Receiver) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, `{"error":{"code":"DirectApiAuthorizationRequired","message":"sig `+r.URL.Query().Get("sig")+` invalid"}}`, http.StatusUnauthorized)
			}
		}, false, 0, "status 401"},
		{"hang", func(rc **notifiertest.Receiver) http.HandlerFunc { return (*rc).Hang }, true, 0, "timed out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rc *notifiertest.Receiver
			rc = receiver(t, func(w http.ResponseWriter, r *http.Request) { tt.answer(&rc)(w, r) })
			tm := newTeams(t, rc, func(c *Config) {
				// Only the hang waits for the timeout: a short one elsewhere
				// would fail on a loaded machine.
				if tt.name == "hang" {
					c.Timeout = 100 * time.Millisecond
				}
			})
			retry, err := tm.Notify(context.Background(), []hit.Hit{sample()})
			if err == nil || retry != tt.wantRetry {
				t.Fatalf("Notify = %v, %v; want retry=%v and an error", retry, err, tt.wantRetry)
			}
			if !strings.Contains(err.Error(), tt.wantText) || !strings.HasPrefix(err.Error(), "teams webhook at 127.0.0.1:") {
				t.Errorf("error %q lacks %q", err, tt.wantText)
			}
			notifiertest.RetryAfter(t, err, tt.wantAfter)
			notifiertest.NoSecretInError(t, err, secrets(rc)...)
		})
	}
}

func TestTeamsConnectionRefused(t *testing.T) {
	rc := receiver(t, nil)
	tm := newTeams(t, rc, nil)
	rc.Server.Close()
	retry, err := tm.Notify(context.Background(), []hit.Hit{sample()})
	if err == nil || !retry {
		t.Fatalf("Notify = %v, %v; want a retryable error", retry, err)
	}
	notifiertest.NoSecretInError(t, err, secrets(rc)...)
}

// TestTeamsRetryThroughEngine: a 502 then a 202 is one card delivered.
func TestTeamsRetryThroughEngine(t *testing.T) {
	var calls atomic.Int32
	rc := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	tm := newTeams(t, rc, nil)
	recs, dead := notifiertest.RunEngine(t, tm, 5, sample())
	if len(dead) != 0 || !recs[0].Acked || len(recs[0].Naks) != 1 {
		t.Fatalf("record %+v, dead letters %v", recs[0], dead)
	}
	if got := len(rc.Requests()); got != 2 {
		t.Errorf("%d requests, want 2", got)
	}
}

func TestTeamsGolden(t *testing.T) {
	tm, err := New(Config{WebhookURL: "https://prod-00.westeurope.logic.azure.com" + flowPath + "?" + flowQuery}, nil)
	if err != nil {
		t.Fatal(err)
	}
	notifiertest.GoldenPairs(t, notifiertest.Updating(), func(hits []hit.Hit) ([]byte, error) {
		m, err := tm.Message(hits)
		if err != nil {
			return nil, err
		}
		return Encode(m)
	})
}

func TestCheckConfig(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{}, "webhook_url: required"},
		{Config{WebhookURL: "prod-00.logic.azure.com" + flowPath + "?" + flowQuery}, "webhook_url: not an absolute"},
		{Config{WebhookURL: "https://prod-00.logic.azure.com" + flowPath, Template: "{{.Nope}}"}, "template: "},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			_, err := New(tt.cfg, nil)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			notifiertest.NoSecretInError(t, err, flowSig, flowQuery)
		})
	}
}

// TestSnippetRuns: matched words become bold runs, unpaired markers stay.
func TestSnippetRuns(t *testing.T) {
	got := snippetRuns("a «b» c «» d «e")
	var parts []string
	for _, r := range got {
		s := r["text"].(string)
		if r["weight"] == "Bolder" {
			s = "*" + s + "*"
		}
		parts = append(parts, s)
	}
	if j := strings.Join(parts, "|"); j != "a |*b*| c | d «e" {
		t.Errorf("runs = %q", j)
	}
}

// TestTeamsDigestThroughEngine: hits gathered by digest go out as one
// card, each hit opening its item.
func TestTeamsDigestThroughEngine(t *testing.T) {
	rc := receiver(t, nil)
	tm := newTeams(t, rc, nil)
	hits := notifiertest.DigestHits(3)
	_, dead := notifiertest.RunEngineWith(t, tm, func(o *notifier.EngineOptions) { o.Digest = 50 * time.Millisecond }, hits...)
	if len(dead) != 0 || len(rc.Requests()) != 1 {
		t.Fatalf("%d dead letters, %d requests, want one card", len(dead), len(rc.Requests()))
	}
	c := decodeCard(t, rc.Requests()[0].Body)
	checkCard(t, c)
	if len(c.blocks) != 1 || c.blocks[0] != "3 new hits" || len(c.urls) != 3 {
		t.Fatalf("blocks %q, urls %q", c.blocks, c.urls)
	}
}
