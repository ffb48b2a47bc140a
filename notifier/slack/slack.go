// Package slack delivers hits to Slack as Block Kit messages, through an
// incoming webhook or chat.postMessage with a bot token.
//
// Feed text is untrusted: &, < and > are escaped in everything taken from
// a feed, so it cannot mention @channel or forge <url|label> links; text
// objects are verbatim (no auto-linking of names), no link_names, no
// parse=full, and links are not unfurled.
package slack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier"
	"github.com/feedwatch/feedwatch/notifier/render"
	"github.com/feedwatch/feedwatch/redact"
)

const (
	defaultTimeout = 10 * time.Second
	defaultAPIURL  = "https://slack.com/api/"
	// MaxText is Slack's limit for a section's text; longer is a 400.
	MaxText = 3000
	// maxBlocks is Slack's limit per message.
	maxBlocks = 50
	maxTitle  = 250
)

// Type is Slack's notifier type in the config file.
const Type = "slack"

// RateLimit is Slack's documented pace for incoming webhooks and
// chat.postMessage: about one message per second per destination.
const RateLimit = 1.0

// Settings are a slack notifier's own keys in the config file.
type Settings struct {
	WebhookURL string `mapstructure:"webhook_url"`
	Token      string `mapstructure:"token"`
	Channel    string `mapstructure:"channel"`
}

// Spec describes Slack to the notifier registry.
func Spec() notifier.Spec[Settings] {
	return notifier.Spec[Settings]{
		Type: Type,
		Keys: map[string]notifier.KeyDoc{
			"webhook_url": {Doc: "Slack incoming-webhook URL (secret). Either this or `token` with `channel`.", Secret: true},
			"token":       {Doc: "Slack bot token (secret), with `channel`.", Secret: true},
			"channel":     {Doc: "Slack channel for a bot token, like `\"#news\"`."},
		},
		// Slack holds a destination to about a message a second anyway.
		InFlight:  1,
		RateLimit: RateLimit,
		Timeout:   defaultTimeout,
		Check: func(s Settings, c notifier.Common) []notifier.FieldError {
			errs := fieldErrors(CheckConfig(s.config(c)))
			if c.Template != "" {
				errs = append(errs, notifier.Field("template", CheckTemplate(c.Template))...)
			}
			return errs
		},
		New: func(s Settings, c notifier.Common, env notifier.Env) (notifier.Notifier, error) {
			return New(s.config(c), env.Client)
		},
	}
}

func (s Settings) config(c notifier.Common) Config {
	return Config{WebhookURL: s.WebhookURL, Token: s.Token, Channel: s.Channel, Template: c.Template, Timeout: c.Timeout}
}

// fieldErrors keeps CheckConfig's answer as data.
func fieldErrors(err error) []notifier.FieldError {
	var fe notifier.FieldError
	if errors.As(err, &fe) {
		return []notifier.FieldError{fe}
	}
	return notifier.Field("", err)
}

// Config is one Slack notifier: WebhookURL, or Token with Channel.
type Config struct {
	WebhookURL string
	Token      string
	Channel    string
	// Template, when set, renders each hit's body text (mrkdwn). Its data
	// is the hit with feed text already escaped and the snippet's matched
	// words already *bold*.
	Template string
	Timeout  time.Duration
	// APIURL is the Web API base for chat.postMessage; "" is Slack's.
	// For tests and API proxies.
	APIURL string
}

// Slack sends hits to one Slack destination.
type Slack struct {
	webhookURL string
	token      string
	channel    string
	apiURL     string // chat API base; tests point it at httptest
	tmpl       *template.Template
	timeout    time.Duration
	client     *http.Client
	secrets    []string
}

var _ notifier.Notifier = (*Slack)(nil)

// New checks cfg and builds the channel. A nil client means a new
// http.Client; the timeout applies per send either way.
func New(cfg Config, client *http.Client) (*Slack, error) {
	if err := CheckConfig(cfg); err != nil {
		return nil, err
	}
	s := &Slack{
		webhookURL: cfg.WebhookURL, token: cfg.Token, channel: cfg.Channel,
		apiURL: defaultAPIURL, timeout: cfg.Timeout, client: client,
		secrets: []string{cfg.WebhookURL, cfg.Token},
	}
	if u, err := url.Parse(cfg.WebhookURL); err == nil && cfg.WebhookURL != "" {
		s.secrets = append(s.secrets, u.Path, strings.TrimPrefix(u.Path, "/services/"))
		// The hook's last segment is its secret; a server may echo it alone.
		if i := strings.LastIndexByte(u.Path, '/'); i >= 0 {
			s.secrets = append(s.secrets, u.Path[i+1:])
		}
	}
	if cfg.APIURL != "" {
		s.apiURL = cfg.APIURL
	}
	if s.timeout <= 0 {
		s.timeout = defaultTimeout
	}
	if s.client == nil {
		s.client = &http.Client{}
	}
	if cfg.Template != "" {
		t, err := parseTemplate(cfg.Template)
		if err != nil {
			return nil, fmt.Errorf("template: %w", err)
		}
		s.tmpl = t
	}
	return s, nil
}

// CheckConfig validates the destination fields; errors name the key and
// never quote a secret.
func CheckConfig(cfg Config) error {
	switch {
	case cfg.WebhookURL == "" && cfg.Token == "":
		return notifier.FieldError{Key: "webhook_url", Msg: "required (or token with channel)"}
	case cfg.WebhookURL != "" && cfg.Token != "":
		return notifier.FieldError{Key: "token", Msg: "set webhook_url or token, not both"}
	case cfg.Token != "" && cfg.Channel == "":
		return notifier.FieldError{Key: "channel", Msg: "required with token"}
	case cfg.WebhookURL != "":
		u, err := url.Parse(cfg.WebhookURL)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return notifier.FieldError{Key: "webhook_url", Msg: "not an absolute http(s) URL"}
		}
	}
	return nil
}

func parseTemplate(text string) (*template.Template, error) {
	return render.ParseChecked(text, func(h hit.Hit) any { return escapeHit(h) })
}

// CheckTemplate parses a body template and renders it on the sample hit.
func CheckTemplate(text string) error {
	_, err := parseTemplate(text)
	return err
}

// Escape makes feed text inert in Slack mrkdwn and plain text: exactly
// &, < and >, as Slack documents (full HTML escaping shows &#39; to readers).
func Escape(s string) string {
	if !strings.ContainsAny(s, "&<>") {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// escapeHit copies h with every feed string escaped for mrkdwn (one-line
// fields on one line), the link made safe and the snippet's «matches» in
// bold: the data a template sees.
func escapeHit(h hit.Hit) hit.Hit {
	link := linkTarget(h.Item.Link)
	h = render.MapText(h,
		func(s string) string { return Escape(render.OneLine(s)) },
		func(s string) string { return Escape(render.StripControl(s)) })
	h.Item.Link = link
	h.Snippet = bold(h.Snippet)
	return h
}

func bold(escaped string) string {
	return render.Markers(escaped, "*", "*")
}

// linkTarget is a URL safe inside <url|label>: http(s) only, with the
// characters that end the target encoded. "" when unsafe.
func linkTarget(link string) string {
	l := render.SafeLink(link)
	if l == "" {
		return ""
	}
	l = strings.NewReplacer("|", "%7C", "<", "%3C", ">", "%3E", " ", "%20").Replace(l)
	return strings.ReplaceAll(l, "&", "&amp;")
}

// titleLink is *<link|title>*, or *title* when the link is unusable.
func titleLink(h hit.Hit) string {
	title := Escape(render.Truncate(maxTitle, render.Title(h)))
	if l := linkTarget(h.Item.Link); l != "" {
		return "*<" + l + "|" + title + ">*"
	}
	return "*" + title + "*"
}

// Cut shortens mrkdwn to at most n runes without splitting an escape
// (&amp;) or a <link|label>.
func Cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	rs := []rune(s)
	s = string(rs[:n-1])
	if i := strings.LastIndexByte(s, '&'); i >= 0 && !strings.Contains(s[i:], ";") {
		s = s[:i]
	}
	if i := strings.LastIndexByte(s, '<'); i >= 0 && !strings.Contains(s[i:], ">") {
		s = s[:i]
	}
	return s + "…"
}

func mrkdwn(s string) *slack.TextBlockObject {
	// verbatim: Slack must not turn names or bare URLs in feed text into
	// mentions or links.
	return slack.NewTextBlockObject(slack.MarkdownType, Cut(s, MaxText), false, true)
}

// Message is the Block Kit content for hits and the notification text.
func (s *Slack) Message(hits []hit.Hit) ([]slack.Block, string, error) {
	if len(hits) == 1 {
		return s.single(hits[0])
	}
	return s.digest(hits)
}

func meta(h hit.Hit) string {
	label := "Profile *"
	if len(h.AllProfiles()) > 1 {
		label = "Profiles *"
	}
	parts := []string{label + Escape(render.Profiles(h)) + "*"}
	if f := render.FeedName(h); f != "" {
		parts = append(parts, "Feed: "+Escape(f))
	}
	if d := render.Date(h.Item.Published); d != "" {
		parts = append(parts, d)
	} else if d := render.Date(h.DetectedAt); d != "" {
		parts = append(parts, "seen "+d)
	}
	return strings.Join(parts, " · ")
}

func (s *Slack) body(h hit.Hit) (string, error) {
	if s.tmpl != nil {
		out, err := render.Execute(s.tmpl, escapeHit(h))
		if err != nil {
			return "", fmt.Errorf("render template: %w", err)
		}
		return out, nil
	}
	if h.Snippet != "" {
		return bold(Escape(render.StripControl(h.Snippet))), nil
	}
	return Escape(render.Truncate(500, render.StripControl(h.Item.Summary))), nil
}

func (s *Slack) single(h hit.Hit) ([]slack.Block, string, error) {
	body, err := s.body(h)
	if err != nil {
		return nil, "", err
	}
	blocks := []slack.Block{
		slack.NewSectionBlock(mrkdwn(titleLink(h)), nil, nil),
		slack.NewContextBlock("", mrkdwn(meta(h))),
	}
	if strings.TrimSpace(body) != "" {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(body), nil, nil))
	}
	text := Escape(render.Truncate(300, render.Profiles(h)+": "+render.Title(h)))
	return blocks, text, nil
}

func (s *Slack) digest(hits []hit.Hit) ([]slack.Block, string, error) {
	head := fmt.Sprintf("*%d new hits*", len(hits))
	blocks := []slack.Block{slack.NewSectionBlock(mrkdwn(head), nil, nil)}
	shown := hits
	if len(shown) > maxBlocks-2 {
		shown = shown[:maxBlocks-2]
	}
	titles := make([]string, 0, 3)
	for i, h := range shown {
		body, err := s.body(h)
		if err != nil {
			return nil, "", err
		}
		if s.tmpl == nil {
			body = Cut(body, 300)
		}
		text := titleLink(h) + "\n" + meta(h)
		if strings.TrimSpace(body) != "" {
			text += "\n" + body
		}
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(text), nil, nil))
		if i < 3 {
			titles = append(titles, render.Title(h))
		}
	}
	if rest := len(hits) - len(shown); rest > 0 {
		blocks = append(blocks, slack.NewContextBlock("", mrkdwn(fmt.Sprintf("…and %d more", rest))))
	}
	text := Escape(render.Truncate(300, fmt.Sprintf("%d new hits: %s", len(hits), strings.Join(titles, "; "))))
	return blocks, text, nil
}

// Notify posts one message for the hits.
func (s *Slack) Notify(ctx context.Context, hits []hit.Hit) (bool, error) {
	if len(hits) == 0 {
		return false, nil
	}
	blocks, text, err := s.Message(hits)
	if err != nil {
		return false, s.errorf("%v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	rec := &recorder{base: s.client.Transport}
	client := *s.client
	client.Transport = rec
	if s.webhookURL != "" {
		no := false
		err = slack.PostWebhookCustomHTTPContext(ctx, s.webhookURL, &client, &slack.WebhookMessage{
			Text:        text,
			Blocks:      &slack.Blocks{BlockSet: blocks},
			UnfurlLinks: &no,
			UnfurlMedia: &no,
		})
	} else {
		api := slack.New(s.token, slack.OptionHTTPClient(&client), slack.OptionAPIURL(s.apiURL))
		_, _, err = api.PostMessageContext(ctx, s.channel,
			slack.MsgOptionText(text, false),
			slack.MsgOptionBlocks(blocks...),
			slack.MsgOptionDisableLinkUnfurl(),
			slack.MsgOptionDisableMediaUnfurl(),
		)
	}
	if err == nil {
		return false, nil
	}
	return s.classify(err, rec)
}

// apiRetryable are chat.postMessage error codes worth another try.
var apiRetryable = map[string]bool{
	"ratelimited": true, "rate_limited": true, "internal_error": true, "fatal_error": true,
	"service_unavailable": true, "request_timeout": true, "team_added_to_org": true,
}

// classify maps a failed post to (retry, error) from what the server
// actually answered: slack-go only types a 429 when Retry-After is present.
func (s *Slack) classify(err error, rec *recorder) (bool, error) {
	status, retryAfter, excerpt := rec.result(s.secrets)
	var rl *slack.RateLimitedError
	var apiErr slack.SlackErrorResponse
	switch {
	case status == http.StatusTooManyRequests || errors.As(err, &rl):
		after := notifier.ParseRetryAfter(retryAfter, time.Now())
		if rl != nil && rl.RetryAfter > after {
			after = rl.RetryAfter
		}
		return true, notifier.WithRetryAfter(s.errorf("status 429 rate limited"), after)
	case status >= 500:
		// A 503 may say when to come back, as the other channels honour.
		e := s.errorf("status %d%s", status, excerpt)
		if after := notifier.ParseRetryAfter(retryAfter, time.Now()); after > 0 {
			e = notifier.WithRetryAfter(e, after)
		}
		return true, e
	case status >= 400:
		return false, s.errorf("status %d%s", status, excerpt)
	case errors.As(err, &apiErr):
		return apiRetryable[apiErr.Err], s.errorf("%s", apiErr.Err)
	case status == 0:
		return true, s.errorf("%s", notifier.TransportError(err))
	default:
		// A 2xx the library could not read: the message may not be posted.
		return true, s.errorf("status %d: %s", status, notifier.TransportError(err))
	}
}

// errorf builds the channel's error as flat text, not wrapping the cause,
// so the secret redaction covers every layer of it.
func (s *Slack) errorf(format string, args ...any) error {
	dest := "slack webhook"
	if s.webhookURL == "" {
		dest = "slack chat.postMessage to " + s.channel
	}
	return errors.New(redact.Secrets(dest+": "+fmt.Sprintf(format, args...), s.secrets...))
}

// recorder is a RoundTripper that remembers the response status, its
// Retry-After and the start of its body, whatever the library makes of them.
type recorder struct {
	base http.RoundTripper

	mu         sync.Mutex
	status     int
	retryAfter string
	body       bytes.Buffer
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	base := r.base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.status, r.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
	r.body.Reset()
	r.mu.Unlock()
	resp.Body = &teeBody{ReadCloser: resp.Body, r: r}
	return resp, nil
}

// result redacts secrets from the body before cutting it, so a secret the
// server echoes across the cut cannot leave a fragment behind.
func (r *recorder) result(secrets []string) (status int, retryAfter, excerpt string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := render.Truncate(120, render.OneLine(redact.Secrets(r.body.String(), secrets...))); s != "" && r.status != http.StatusOK {
		excerpt = ": " + s
	}
	return r.status, r.retryAfter, excerpt
}

type teeBody struct {
	io.ReadCloser
	r *recorder
}

func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if n > 0 {
		t.r.mu.Lock()
		if room := 256 - t.r.body.Len(); room > 0 {
			t.r.body.Write(p[:min(n, room)])
		}
		t.r.mu.Unlock()
	}
	return n, err
}
