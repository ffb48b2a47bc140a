package build

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier/console"
	"github.com/feedwatch/feedwatch/notifier/discord"
	"github.com/feedwatch/feedwatch/notifier/email"
	"github.com/feedwatch/feedwatch/notifier/notifiertest"
	"github.com/feedwatch/feedwatch/notifier/ntfy"
	"github.com/feedwatch/feedwatch/notifier/slack"
	"github.com/feedwatch/feedwatch/notifier/teams"
	"github.com/feedwatch/feedwatch/notifier/webhook"
)

const (
	hookURL  = "https://hooks.slack.com/services/T0/B0/s3cretHookPart"
	botToken = "xoxb-1-2-s3cretBotToken"
	smtpPass = "s3cret-smtp-pass"
	hookSec  = "s3cret-hmac"
	tokenURL = "https://example.org/hook?token=s3cretQueryToken"
)

var secrets = []string{hookURL, "s3cretHookPart", botToken, smtpPass, hookSec, tokenURL, "s3cretQueryToken", "s3cretTopic", "s3cretSig"}

func TestNewBuildsEachType(t *testing.T) {
	tests := []struct {
		cfg  config.Notifier
		want any
	}{
		{config.Notifier{Type: "console"}, &console.Console{}},
		{config.Notifier{Type: "slack", Settings: map[string]any{"webhook_url": hookURL}}, &slack.Slack{}},
		{config.Notifier{Type: "slack", Settings: map[string]any{"token": botToken, "channel": "#news"}}, &slack.Slack{}},
		{config.Notifier{Type: "email", Settings: map[string]any{"host": "smtp.example.org", "username": "u", "password": smtpPass, "from": "feedwatch <a@example.org>", "to": []string{"b@example.org"}}}, &email.Email{}},
		{config.Notifier{Type: "webhook", Timeout: config.Duration(time.Second), Settings: map[string]any{"url": tokenURL, "secret": hookSec}}, &webhook.Webhook{}},
		{config.Notifier{Type: "ntfy", Settings: map[string]any{"topic": "alerts", "token": "tk_s3cret", "priority": 4, "tags": []string{"warning"}}}, &ntfy.Ntfy{}},
		{config.Notifier{Type: "discord", Settings: map[string]any{"webhook_url": "https://discord.com/api/webhooks/1/s3cretDiscord"}}, &discord.Discord{}},
		{config.Notifier{Type: "teams", Settings: map[string]any{"webhook_url": "https://prod-00.westeurope.logic.azure.com/workflows/1/triggers/manual/paths/invoke?sig=s3cretSig"}}, &teams.Teams{}},
	}
	for _, tt := range tests {
		t.Run(tt.cfg.Type, func(t *testing.T) {
			n, err := New("x", tt.cfg, &strings.Builder{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := typeName(n), typeName(tt.want); got != want {
				t.Errorf("built %s, want %s", got, want)
			}
			if errs := Check(tt.cfg); len(errs) != 0 {
				t.Errorf("Check: %v", errs)
			}
		})
	}
}

func typeName(v any) string { return fmt.Sprintf("%T", v) }

func TestCheckReportsEveryProblem(t *testing.T) {
	tests := []struct {
		name string
		cfg  config.Notifier
		want []string
	}{
		{"no type", config.Notifier{}, []string{"type: required"}},
		{"unknown type", config.Notifier{Type: "pager"}, []string{`type: unknown notifier type "pager"`}},
		{"negative numbers", config.Notifier{Type: "console", MaxAttempts: -1, RateLimit: -2, Digest: -1},
			[]string{"max_attempts: -1 is negative", "rate_limit: -2 is negative", "digest: negative"}},
		{"console template", config.Notifier{Type: "console", Template: "{{.Profile"}, []string{"template: template: template:1: unclosed action"}},
		{"slack without destination", config.Notifier{Type: "slack"}, []string{"webhook_url: required"}},
		{"slack token without channel", config.Notifier{Type: "slack", Settings: map[string]any{"token": botToken}}, []string{"channel: required"}},
		{"slack bad url", config.Notifier{Type: "slack", Settings: map[string]any{"webhook_url": "hooks.slack.com/s3cretHookPart"}}, []string{"webhook_url: not an absolute"}},
		{"slack bad template", config.Notifier{Type: "slack", Template: "{{.Nope}}", Settings: map[string]any{"webhook_url": hookURL}}, []string{"template: "}},
		{"email missing", config.Notifier{Type: "email"}, []string{"host: required", "from: required", "to: at least one"}},
		{"email bad tls", config.Notifier{Type: "email", Settings: map[string]any{"host": "h", "tls": "ssl", "from": "a@b.c", "to": []string{"d@e.f"}, "password": smtpPass}},
			[]string{`tls: "ssl" is not`, "username: required with password"}},
		{"email bad templates", config.Notifier{Type: "email", Template: "{{", Settings: map[string]any{"host": "h", "from": "a@b.c", "to": []string{"d@e.f"}, "html_template": "{{.Hits.Nope}}"}},
			[]string{"template: template: template:1:", "html_template: "}},
		{"webhook missing url", config.Notifier{Type: "webhook"}, []string{"url: required"}},
		{"webhook bad url", config.Notifier{Type: "webhook", Settings: map[string]any{"url": "ftp://example.org/?token=s3cretQueryToken"}}, []string{"url: not an absolute"}},
		{"webhook template not json", config.Notifier{Type: "webhook", Template: "{{.ID}} x", Settings: map[string]any{"url": tokenURL}}, []string{"template: output for the sample hit is not valid JSON"}},
		{"template ranging billions of times", config.Notifier{Type: "console", Template: "{{range 3000000000}}{{end}}"}, []string{"template: line 1: range over 3000000000"}},
		{"template nested ranges", config.Notifier{Type: "slack", Template: "{{range 1000}}{{range 1000}}{{end}}{{end}}", Settings: map[string]any{"webhook_url": hookURL}}, []string{"template: line 1: range over 1000 inside ranges: 1000000 in all"}},
		{"template output too long", config.Notifier{Type: "webhook", Template: `{{range 5000}}{{json $.Item.Summary}}{{end}}`, Settings: map[string]any{"url": tokenURL}}, []string{"template: output is longer than 64 KB"}},
		{"email templates too big", config.Notifier{Type: "email", Template: "{{range 9000}}{{$.Item.Title}}{{end}}", Settings: map[string]any{"host": "h", "from": "a@b.c", "to": []string{"d@e.f"}, "html_template": "{{range 20000}}x{{end}}"}},
			[]string{"template: output is longer than 64 KB", "html_template: line 1: range over 20000"}},
		{"ntfy without topic", config.Notifier{Type: "ntfy"}, []string{"topic: required"}},
		{"ntfy topic URL as server", config.Notifier{Type: "ntfy", Settings: map[string]any{"server": "https://ntfy.sh/s3cretTopic", "topic": "s3cretTopic", "priority": 9, "tags": []string{"a,b"}}},
			[]string{"server: must be the server's root URL", "priority: 9 is not 1 to 5", "tags[0]: empty or holds a comma"}},
		{"ntfy priority as a word", config.Notifier{Type: "ntfy", Settings: map[string]any{"topic": "alerts", "priority": "high"}}, []string{"priority: cannot decode"}},
		{"discord without webhook", config.Notifier{Type: "discord", Template: "{{.Nope}}"}, []string{"webhook_url: required", "template: "}},
		{"teams bad url", config.Notifier{Type: "teams", Settings: map[string]any{"webhook_url": "prod-00.logic.azure.com/workflows/1?sig=s3cretSig", "topic": "x"}},
			[]string{"webhook_url: not an absolute", "topic: not used by type teams"}},
		{"fields of another type", config.Notifier{Type: "webhook", Settings: map[string]any{"url": tokenURL, "webhook_url": hookURL, "password": smtpPass}},
			[]string{"webhook_url: not used by type webhook", "password: not used by type webhook"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := Check(tt.cfg)
			var got []string
			for _, err := range errs {
				got = append(got, err.Error())
				notifiertest.NoSecretInError(t, err, secrets...)
			}
			all := strings.Join(got, "\n")
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("errors %q lack %q", got, w)
				}
			}
			if len(errs) != len(tt.want) {
				t.Errorf("got %d errors %q, want %d", len(errs), got, len(tt.want))
			}
			if _, err := New("n", tt.cfg, &strings.Builder{}, nil); err == nil {
				t.Errorf("New accepted a config Check rejects")
			} else {
				notifiertest.NoSecretInError(t, err, secrets...)
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	if got := RateLimit(config.Notifier{Type: "slack"}); got != slack.RateLimit {
		t.Errorf("slack default = %v", got)
	}
	if got := RateLimit(config.Notifier{Type: "slack", RateLimit: 5}); got != 5 {
		t.Errorf("slack configured = %v", got)
	}
	if got := RateLimit(config.Notifier{Type: "webhook"}); got != 0 {
		t.Errorf("webhook default = %v", got)
	}
}

// TestSendTestThroughWebhook is what send-test does: the sample hit through
// a built channel.
func TestSendTestThroughWebhook(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get(webhook.HeaderHitID)
	}))
	defer srv.Close()
	n, err := New("hook", config.Notifier{Type: "webhook", Settings: map[string]any{"url": srv.URL}}, nil, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	h := SampleHit(time.Now())
	if _, err := n.Notify(context.Background(), []hit.Hit{h}); err != nil {
		t.Fatal(err)
	}
	if got != h.ID {
		t.Errorf("hit id header = %q", got)
	}
}

// TestSendTestHitIsMarked checks that what send-test delivers says it is a
// test in the email subject and in the text of every channel.
func TestSendTestHitIsMarked(t *testing.T) {
	h := TestHit(time.Now())
	if s := email.Subject([]hit.Hit{h}); !strings.HasPrefix(s, "[feedwatch test]") {
		t.Errorf("email subject %q is not marked as a test", s)
	}
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		if _, err := io.Copy(&b, r.Body); err != nil {
			t.Error(err)
		}
		bodies = append(bodies, b.String())
	}))
	defer srv.Close()
	var out strings.Builder
	for _, cfg := range []config.Notifier{
		{Type: "console"},
		{Type: "slack", Settings: map[string]any{"webhook_url": srv.URL + "/slack"}},
		{Type: "webhook", Settings: map[string]any{"url": srv.URL + "/hook"}},
	} {
		n, err := New(cfg.Type, cfg, &out, srv.Client())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.Notify(context.Background(), []hit.Hit{h}); err != nil {
			t.Fatalf("%s: %v", cfg.Type, err)
		}
	}
	for i, text := range append([]string{out.String()}, bodies...) {
		if !strings.Contains(text, "[feedwatch test]") || !strings.Contains(text, "test message from feedwatch send-test") {
			t.Errorf("message %d is not marked as a test:\n%s", i, text)
		}
	}
	if len(bodies) != 2 {
		t.Errorf("%d requests, want 2", len(bodies))
	}
}
