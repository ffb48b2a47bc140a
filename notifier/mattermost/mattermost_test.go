package mattermost

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier"
	"github.com/feedwatch/feedwatch/notifier/notifiertest"
	"github.com/feedwatch/feedwatch/notifier/render"
)

const (
	hookID   = "LeakyMattermostHookId123"
	hookPath = "/hooks/" + hookID
)

// newServer is a Mattermost incoming webhook on 127.0.0.1 that checks each
// request's shape, then answers with answer ("ok" when nil).
func newServer(t *testing.T, answer http.HandlerFunc) (*notifiertest.Receiver, func() []string) {
	t.Helper()
	rc := notifiertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != hookPath || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("request %s %s %s", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
		}
		if answer != nil {
			answer(w, r)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	return rc, func() []string {
		var out []string
		for _, r := range rc.Requests() {
			var p struct {
				Text string `json:"text"`
			}
			dec := json.NewDecoder(strings.NewReader(string(r.Body)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&p); err != nil || p.Text == "" {
				t.Fatalf("body %s: %v", r.Body, err)
			}
			out = append(out, p.Text)
		}
		return out
	}
}

func newMattermost(t *testing.T, rc *notifiertest.Receiver, tmpl string) *Mattermost {
	t.Helper()
	m, err := New(Config{WebhookURL: rc.Server.URL + hookPath, Template: tmpl}, rc.Server.Client())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sample() hit.Hit { return render.SampleHit(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)) }

func TestMattermostPayload(t *testing.T) {
	rc, texts := newServer(t, nil)
	m := newMattermost(t, rc, "")
	if retry, err := m.Notify(context.Background(), []hit.Hit{sample()}); err != nil || retry {
		t.Fatalf("Notify = %v, %v", retry, err)
	}
	text := texts()[0]
	for _, w := range []string{
		"**[Forced labour fears over Xinjiang cotton in global supply chains](https://news.example.org/world/asia/2026/xinjiang-cotton-report)**",
		"_profile xinjiang · feed Example News – World (world) · published 2026-11-28 11:13 UTC_",
		"picked in **Xinjiang** through",
	} {
		if !strings.Contains(text, w) {
			t.Errorf("text lacks %q:\n%s", w, text)
		}
	}
}

func TestMattermostGolden(t *testing.T) {
	three := []hit.Hit{sample(), notifiertest.ChatHostileHit(), sample()}
	three[2].Item.Title, three[2].Item.Link, three[2].Profiles = "", "", []string{"xinjiang", "trade-bill"}
	for _, tc := range []struct {
		name string
		tmpl string
		hits []hit.Hit
	}{
		{"single", "", []hit.Hit{sample()}},
		{"hostile", "", []hit.Hit{notifiertest.ChatHostileHit()}},
		{"digest", "", three},
		{"template", "{{.Snippet}}\n_{{join .Item.Categories \", \"}}_ [source]({{.Item.Link}})", []hit.Hit{notifiertest.ChatHostileHit()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(Config{WebhookURL: "https://chat.example.org" + hookPath, Template: tc.tmpl}, nil)
			if err != nil {
				t.Fatal(err)
			}
			hits := notifiertest.GoldenHits(t, "mattermost-"+tc.name, tc.hits, notifiertest.Updating())
			body, err := m.Body(hits)
			if err != nil {
				t.Fatal(err)
			}
			notifiertest.GoldenJSON(t, "mattermost-"+tc.name, body, notifiertest.Updating())
		})
	}
}

// checkMarkdown fails when text holds a mention, markup feed text could
// have opened (an HTML or Slack-style tag, a link beyond links), or hidden
// or reversing characters.
func checkMarkdown(t *testing.T, text string, links int) {
	t.Helper()
	for _, m := range append(notifiertest.Mentions, "@someuser") {
		if strings.Contains(text, m) {
			t.Errorf("mentions %s:\n%s", m, text)
		}
	}
	if strings.ContainsAny(text, "<>") {
		t.Errorf("holds < or >:\n%s", text)
	}
	open := 0
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case '\\':
			i++ // an escaped character
		case '[':
			open++
		}
	}
	if open > links {
		t.Errorf("%d unescaped [ for %d links:\n%s", open, links, text)
	}
	if strings.ContainsAny(strings.ReplaceAll(text, "@"+render.ZWSP, ""), "\u202e\u202c\u200b") {
		t.Errorf("hides or reverses text: %q", text)
	}
}

func TestMattermostHostileText(t *testing.T) {
	m, err := New(Config{WebhookURL: "https://chat.example.org" + hookPath}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, hits := range map[string][]hit.Hit{"single": {notifiertest.ChatHostileHit()}, "digest": {notifiertest.ChatHostileHit(), notifiertest.HostileHit()}} {
		t.Run(name, func(t *testing.T) {
			text, err := m.Text(hits)
			if err != nil {
				t.Fatal(err)
			}
			checkMarkdown(t, text, len(hits))
			for _, line := range strings.Split(text, "\n") {
				if strings.HasPrefix(line, "#") || strings.HasPrefix(line, "- ") || strings.HasPrefix(line, "|") {
					t.Errorf("feed text starts a block: %q", line)
				}
			}
		})
	}
}

func TestMattermostLimits(t *testing.T) {
	m, err := New(Config{WebhookURL: "https://chat.example.org" + hookPath}, nil)
	if err != nil {
		t.Fatal(err)
	}
	long := notifiertest.LongHit()
	many := make([]hit.Hit, 200)
	for i := range many {
		many[i] = long
		many[i].Item.Link = fmt.Sprintf("https://news.example.org/%d", i)
	}
	for name, hits := range map[string][]hit.Hit{"single": {long}, "digest": many} {
		t.Run(name, func(t *testing.T) {
			text, err := m.Text(hits)
			if err != nil {
				t.Fatal(err)
			}
			if n := utf8.RuneCountInString(text); n > MaxText {
				t.Errorf("%d characters, limit %d", n, MaxText)
			}
			if !strings.Contains(text, "]("+hits[0].Item.Link+")") {
				t.Errorf("the link was cut")
			}
			if name == "digest" && !strings.Contains(text, "more") {
				t.Errorf("digest does not say how many it left out")
			}
		})
	}
}

func TestMattermostFailures(t *testing.T) {
	tests := []struct {
		name   string
		answer http.HandlerFunc
		retry  bool
		wait   time.Duration
		substr string
	}{
		{"429 Retry-After", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "3")
			w.Header().Set("X-Ratelimit-Reset", "9")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, "limit exceeded\n")
		}, true, 3 * time.Second, "status 429"},
		{"429 X-Ratelimit-Reset", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("X-Ratelimit-Reset", "8")
			w.WriteHeader(http.StatusTooManyRequests)
		}, true, 8 * time.Second, "status 429"},
		{"503", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
		}, true, 0, "status 503"},
		{"400 echoing the hook", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"id":"web.incoming_webhook.text.app_error","message":"Unable to parse %s","status_code":400}`, r.URL.Path)
		}, false, 0, "web.incoming_webhook.text.app_error"},
		{"404 unknown hook", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"id":"web.incoming_webhook.invalid.app_error","message":"Invalid webhook.","status_code":404}`)
		}, false, 0, "Invalid webhook"},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/login", http.StatusFound)
		}, false, 0, "status 302"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, _ := newServer(t, tt.answer)
			m := newMattermost(t, rc, "")
			retry, err := m.Notify(context.Background(), []hit.Hit{sample()})
			if err == nil || retry != tt.retry {
				t.Fatalf("Notify = %v, %v; want retry %v and an error", retry, err, tt.retry)
			}
			if !strings.Contains(err.Error(), tt.substr) || !strings.HasPrefix(err.Error(), "mattermost webhook at 127.0.0.1:") {
				t.Errorf("error %q lacks %q", err, tt.substr)
			}
			notifiertest.RetryAfter(t, err, tt.wait)
			notifiertest.NoSecretInError(t, err, rc.Server.URL+hookPath, hookPath, hookID)
		})
	}
}

func TestMattermostTransportError(t *testing.T) {
	rc, _ := newServer(t, nil)
	m := newMattermost(t, rc, "")
	rc.Server.Close()
	retry, err := m.Notify(context.Background(), []hit.Hit{sample()})
	if err == nil || !retry {
		t.Fatalf("Notify = %v, %v; want a retryable error", retry, err)
	}
	notifiertest.NoSecretInError(t, err, hookPath, hookID)
}

func TestMattermostCheck(t *testing.T) {
	spec := Spec()
	for _, tc := range []struct {
		name string
		s    Settings
		tmpl string
		want []string
	}{
		{"empty", Settings{}, "", []string{"webhook_url: required"}},
		{"bad", Settings{WebhookURL: "chat.example.org" + hookPath}, "{{.Nope}}", []string{"webhook_url: not an absolute", "template: "}},
		{"good", Settings{WebhookURL: "https://chat.example.org" + hookPath}, "{{.Snippet}}", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := spec.Check(tc.s, notifier.Common{Template: tc.tmpl})
			if len(errs) != len(tc.want) {
				t.Fatalf("Check = %v, want %q", errs, tc.want)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(errs[i].Error(), w) {
					t.Errorf("error %d = %q, want %q…", i, errs[i], w)
				}
				notifiertest.NoSecret(t, "check error", errs[i].Error(), hookID)
			}
		})
	}
}
