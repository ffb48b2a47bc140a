// Package build turns one configured notifier into its channel, and
// checks a notifier's config without connecting anywhere.
package build

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier"
	"github.com/feedwatch/feedwatch/notifier/console"
	"github.com/feedwatch/feedwatch/notifier/email"
	"github.com/feedwatch/feedwatch/notifier/render"
	"github.com/feedwatch/feedwatch/notifier/slack"
	"github.com/feedwatch/feedwatch/notifier/webhook"
)

// Notifier types.
const (
	TypeConsole = "console"
	TypeSlack   = "slack"
	TypeEmail   = "email"
	TypeWebhook = "webhook"
)

// SlackRateLimit is Slack's documented pace for incoming webhooks and
// chat.postMessage: about one message per second per destination.
const SlackRateLimit = 1.0

// New builds the channel for one configured notifier. out is where console
// writes (os.Stdout in production); client is shared by HTTP channels (nil:
// a new one). Errors name the notifier and never hold a secret.
func New(name string, cfg config.Notifier, out io.Writer, client *http.Client) (notifier.Notifier, error) {
	if errs := Check(cfg); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, err := range errs {
			msgs[i] = err.Error()
		}
		return nil, fmt.Errorf("notifier %q: %s", name, strings.Join(msgs, "; "))
	}
	n, err := newChannel(cfg, out, client)
	if err != nil {
		return nil, fmt.Errorf("notifier %q: %w", name, err)
	}
	return n, nil
}

func newChannel(cfg config.Notifier, out io.Writer, client *http.Client) (notifier.Notifier, error) {
	timeout := time.Duration(cfg.Timeout)
	switch cfg.Type {
	case TypeConsole:
		return console.New(out, cfg.Template)
	case TypeSlack:
		return slack.New(slack.Config{
			WebhookURL: cfg.WebhookURL, Token: cfg.Token, Channel: cfg.Channel,
			Template: cfg.Template, Timeout: timeout,
		}, client)
	case TypeEmail:
		return email.New(email.Config{
			Host: cfg.Host, Port: cfg.Port, TLS: cfg.TLS,
			Username: cfg.Username, Password: cfg.Password, From: cfg.From, To: cfg.To,
			Template: cfg.Template, HTMLTemplate: cfg.HTMLTemplate, Timeout: timeout,
		})
	case TypeWebhook:
		return webhook.New(webhook.Config{
			URL: cfg.URL, Secret: cfg.Secret, Template: cfg.Template, Timeout: timeout,
		}, client)
	case "":
		return nil, errors.New("type: required")
	default:
		return nil, fmt.Errorf("type: unknown notifier type %q (want console, slack, email or webhook)", cfg.Type)
	}
}

// RateLimit is the messages per second the engine should allow: the
// configured rate_limit, else the channel's default (Slack: 1/s; others
// unlimited).
func RateLimit(cfg config.Notifier) float64 {
	if cfg.RateLimit > 0 {
		return cfg.RateLimit
	}
	if cfg.Type == TypeSlack {
		return SlackRateLimit
	}
	return 0
}

// SampleHit is the hit send-test and template checks use.
func SampleHit(now time.Time) hit.Hit {
	return render.SampleHit(now)
}

// TestMarker starts the title of the hit send-test delivers.
const TestMarker = "[feedwatch test] "

// TestHit is the hit send-test delivers: the sample hit, marked as a test in
// its title (so in an email subject, a Slack message's link, a console
// line) and in its snippet and summary, so that nobody who receives it
// takes it for an alert.
func TestHit(now time.Time) hit.Hit {
	h := render.SampleHit(now)
	const note = "This is a test message from feedwatch send-test, not an alert: no feed published this item. "
	h.Item.Title = TestMarker + h.Item.Title
	h.Item.Summary = note + h.Item.Summary
	h.Snippet = note + h.Snippet
	return h
}

// Check validates one notifier config: the type is known, each type's
// required fields are set and well formed, fields of other types are not
// set, and templates render on the sample hit. Each error starts with the
// key it is about, relative to the notifier; none quotes a secret.
func Check(cfg config.Notifier) []error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	keyed := func(key string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
	}
	if cfg.MaxAttempts < 0 {
		add(fmt.Errorf("max_attempts: %d is negative", cfg.MaxAttempts))
	}
	if cfg.Digest < 0 {
		add(errors.New("digest: negative duration"))
	}
	if cfg.RateLimit < 0 {
		add(fmt.Errorf("rate_limit: %v is negative", cfg.RateLimit))
	}
	if cfg.Timeout < 0 {
		add(errors.New("timeout: negative duration"))
	}
	switch cfg.Type {
	case TypeConsole:
		if cfg.Template != "" {
			keyed("template", console.CheckTemplate(cfg.Template))
		}
	case TypeSlack:
		add(slack.CheckConfig(slack.Config{WebhookURL: cfg.WebhookURL, Token: cfg.Token, Channel: cfg.Channel}))
		if cfg.Template != "" {
			keyed("template", slack.CheckTemplate(cfg.Template))
		}
	case TypeEmail:
		errs = append(errs, email.CheckConfig(email.Config{
			Host: cfg.Host, Port: cfg.Port, TLS: cfg.TLS, Username: cfg.Username,
			Password: cfg.Password, From: cfg.From, To: cfg.To,
		})...)
		if cfg.Template != "" {
			keyed("template", email.CheckTemplate(cfg.Template))
		}
		if cfg.HTMLTemplate != "" {
			keyed("html_template", email.CheckHTMLTemplate(cfg.HTMLTemplate))
		}
	case TypeWebhook:
		add(webhook.CheckURL(cfg.URL))
		if cfg.Template != "" {
			keyed("template", webhook.CheckTemplate(cfg.Template))
		}
	case "":
		return append(errs, errors.New("type: required (console, slack, email or webhook)"))
	default:
		return append(errs, fmt.Errorf("type: unknown notifier type %q (want console, slack, email or webhook)", cfg.Type))
	}
	return append(errs, unused(cfg)...)
}

// unused reports fields set that the notifier's type ignores: usually a
// key meant for another type (url on slack, webhook_url on webhook).
func unused(cfg config.Notifier) []error {
	fields := []struct {
		key   string
		set   bool
		types []string
	}{
		{"webhook_url", cfg.WebhookURL != "", []string{TypeSlack}},
		{"token", cfg.Token != "", []string{TypeSlack}},
		{"channel", cfg.Channel != "", []string{TypeSlack}},
		{"host", cfg.Host != "", []string{TypeEmail}},
		{"port", cfg.Port != 0, []string{TypeEmail}},
		{"tls", cfg.TLS != "", []string{TypeEmail}},
		{"username", cfg.Username != "", []string{TypeEmail}},
		{"password", cfg.Password != "", []string{TypeEmail}},
		{"from", cfg.From != "", []string{TypeEmail}},
		{"to", len(cfg.To) > 0, []string{TypeEmail}},
		{"html_template", cfg.HTMLTemplate != "", []string{TypeEmail}},
		{"url", cfg.URL != "", []string{TypeWebhook}},
		{"secret", cfg.Secret != "", []string{TypeWebhook}},
		{"timeout", cfg.Timeout != 0, []string{TypeSlack, TypeEmail, TypeWebhook}},
	}
	var errs []error
	for _, f := range fields {
		if !f.set {
			continue
		}
		ok := false
		for _, t := range f.types {
			ok = ok || t == cfg.Type
		}
		if !ok {
			errs = append(errs, fmt.Errorf("%s: not used by type %s", f.key, cfg.Type))
		}
	}
	return errs
}
