// Package mattermost delivers hits to a Mattermost channel through an
// incoming webhook (one JSON POST on net/http; the official Go client,
// github.com/mattermost/mattermost/server/public, is a large module for
// it).
//
// Feed text is untrusted: Markdown characters are backslash-escaped, & < >
// become entities (so neither HTML nor a Slack-style <url|label>, which
// Mattermost turns into a link, gets through), lines cannot start a
// heading, list, quote or table, and every "@" starting a word gets a
// zero-width space after it, so @channel, @all, @here and @someone
// mention nobody. The only link is the item's own (http(s) only).
package mattermost

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"text/template"
	"time"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier"
	"github.com/feedwatch/feedwatch/notifier/httppost"
	"github.com/feedwatch/feedwatch/notifier/render"
	"github.com/feedwatch/feedwatch/redact"
)

// Type is Mattermost's notifier type in the config file.
const Type = "mattermost"

const (
	defaultTimeout = 10 * time.Second
	// RateLimit is Mattermost's default API rate limit (10 requests a
	// second, when the server enables rate limiting).
	RateLimit = 10.0
)

// Settings are a mattermost notifier's own keys in the config file.
type Settings struct {
	WebhookURL string `mapstructure:"webhook_url"`
}

// Spec describes Mattermost to the notifier registry.
func Spec() notifier.Spec[Settings] {
	return notifier.Spec[Settings]{
		Type: Type,
		Keys: map[string]notifier.KeyDoc{
			"webhook_url": {Doc: "Mattermost incoming-webhook URL, like `https://chat.example.org/hooks/xxx` (secret). Required.", Secret: true},
		},
		// Posts in a channel keep the order they were sent in.
		InFlight:  1,
		RateLimit: RateLimit,
		Timeout:   defaultTimeout,
		Check: func(s Settings, c notifier.Common) []notifier.FieldError {
			var errs []notifier.FieldError
			if _, err := checkURL(s.WebhookURL); err != nil {
				errs = append(errs, err.(notifier.FieldError))
			}
			if c.Template != "" {
				errs = append(errs, notifier.Field("template", CheckTemplate(c.Template))...)
			}
			return errs
		},
		New: func(s Settings, c notifier.Common, env notifier.Env) (notifier.Notifier, error) {
			return New(Config{WebhookURL: s.WebhookURL, Template: c.Template, Timeout: c.Timeout}, env.Client)
		},
	}
}

// checkURL accepts an absolute http(s) URL and returns its host; its
// errors never quote the URL.
func checkURL(raw string) (string, error) {
	host, err := httppost.CheckURL(raw)
	if err != nil {
		return "", notifier.FieldError{Key: "webhook_url", Msg: err.Error()}
	}
	return host, nil
}

// Config is one Mattermost notifier.
type Config struct {
	WebhookURL string
	// Template, when set, renders each hit's body text under its title
	// (Markdown); its data is the hit with feed text already escaped and
	// the snippet's matched words already **bold**.
	Template string
	Timeout  time.Duration
}

// Mattermost posts hits to one incoming webhook.
type Mattermost struct {
	url     string
	host    string
	tmpl    *template.Template
	timeout time.Duration
	client  *http.Client
	secrets []string
}

var _ notifier.Notifier = (*Mattermost)(nil)

// New checks cfg and builds the channel. A nil client means a new
// http.Client; the timeout applies per send either way.
func New(cfg Config, client *http.Client) (*Mattermost, error) {
	host, err := checkURL(cfg.WebhookURL)
	if err != nil {
		return nil, err
	}
	m := &Mattermost{url: cfg.WebhookURL, host: host, timeout: cfg.Timeout, client: client,
		secrets: []string{cfg.WebhookURL}}
	if u, err := url.Parse(cfg.WebhookURL); err == nil {
		m.secrets = append(m.secrets, u.Path, u.RawQuery, strings.TrimPrefix(u.Path, "/hooks/"))
	}
	if m.timeout <= 0 {
		m.timeout = defaultTimeout
	}
	if m.client == nil {
		m.client = &http.Client{}
	}
	// A 3xx would turn the POST into a GET that "succeeds": an error.
	c := *m.client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	m.client = &c
	if cfg.Template != "" {
		if m.tmpl, err = parseTemplate(cfg.Template); err != nil {
			return nil, fmt.Errorf("template: %w", err)
		}
	}
	return m, nil
}

// Body is the webhook request for hits.
func (m *Mattermost) Body(hits []hit.Hit) ([]byte, error) {
	text, err := m.Text(hits)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(struct {
		Text string `json:"text"`
	}{text}); err != nil {
		return nil, err
	}
	return bytes.TrimSpace(b.Bytes()), nil
}

// Notify posts the hits as one message.
func (m *Mattermost) Notify(ctx context.Context, hits []hit.Hit) (bool, error) {
	if len(hits) == 0 {
		return false, nil
	}
	body, err := m.Body(hits)
	if err != nil {
		return false, m.errorf("%v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	ans, err := httppost.Post(ctx, m.client, m.url, nil, body)
	if err != nil {
		return true, m.errorf("%v", err)
	}
	raw, code := ans.Body, ans.Status
	if ans.Delivered() {
		return false, nil
	}
	// Mattermost answers {"id": "...", "message": "...", "status_code": n}.
	var me struct {
		ID      string `json:"id"`
		Message string `json:"message"`
	}
	msg := fmt.Sprintf("status %d", code)
	if json.Unmarshal(raw, &me) == nil && me.Message != "" {
		msg += ": " + m.excerpt(me.Message+" ("+me.ID+")")
	} else if e := m.excerpt(string(raw)); e != "" {
		msg += ": " + e
	}
	err = m.errorf("%s", msg)
	switch {
	case code == http.StatusTooManyRequests:
		after := notifier.ParseRetryAfter(ans.Header.Get("Retry-After"), time.Now())
		if after == 0 {
			// Mattermost's limiter says when its window resets.
			after = notifier.ParseRetryAfter(ans.Header.Get("X-Ratelimit-Reset"), time.Now())
		}
		return true, notifier.WithRetryAfter(err, after)
	case code >= 500 || code == http.StatusRequestTimeout:
		return true, notifier.WithRetryAfter(err, notifier.ParseRetryAfter(ans.Header.Get("Retry-After"), time.Now()))
	default:
		// 400 bad payload, 403 webhooks disabled, 404 unknown hook, 3xx.
		return false, err
	}
}

// excerpt is a server's text on one line, secrets redacted before the cut.
func (m *Mattermost) excerpt(s string) string {
	return render.Truncate(160, render.OneLine(redact.Secrets(s, m.secrets...)))
}

// errorf builds the channel's error as flat text naming the host only,
// secrets redacted from every layer of it.
func (m *Mattermost) errorf(format string, args ...any) error {
	return errors.New(redact.Secrets("mattermost webhook at "+m.host+": "+fmt.Sprintf(format, args...), m.secrets...))
}
