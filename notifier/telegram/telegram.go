// Package telegram delivers hits to a Telegram chat through a bot's
// sendMessage (Bot API, plain net/http: the call is one JSON POST, and the
// client libraries pull in far more than they would save).
//
// Feed text is untrusted: in HTML mode &, < and > are escaped so it cannot
// open a tag or forge a link, the one link is the item's own (http(s)
// only), and every "@" that starts a word gets a zero-width space after it
// so no group member is mentioned. Link previews are off unless
// link_preview is set. The token is in the request path: it never appears
// in an error.
package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"text/template"
	"time"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier"
	"github.com/feedwatch/feedwatch/notifier/httppost"
	"github.com/feedwatch/feedwatch/notifier/render"
	"github.com/feedwatch/feedwatch/redact"
)

// Type is Telegram's notifier type in the config file.
const Type = "telegram"

const (
	// DefaultAPIURL is the public Bot API.
	DefaultAPIURL  = "https://api.telegram.org"
	defaultTimeout = 10 * time.Second
	// MaxText is Telegram's limit on a message's text after entity
	// parsing (the tags do not count, their text does), in UTF-16 units.
	MaxText  = 4096
	maxTitle = 250
	// RateLimit keeps under Telegram's documented 20 messages a minute in
	// a group (about one a second in a private chat).
	RateLimit = 0.33
)

// Parse modes.
const (
	ModeHTML = "html"
	ModeText = "text"
)

// Settings are a telegram notifier's own keys in the config file.
type Settings struct {
	Token       string `mapstructure:"token"`
	ChatID      string `mapstructure:"chat_id"`
	APIURL      string `mapstructure:"api_url"`
	ParseMode   string `mapstructure:"parse_mode"`
	LinkPreview bool   `mapstructure:"link_preview"`
}

// Spec describes Telegram to the notifier registry.
func Spec() notifier.Spec[Settings] {
	return notifier.Spec[Settings]{
		Type: Type,
		Keys: map[string]notifier.KeyDoc{
			"token":        {Doc: "Telegram bot token from @BotFather, like `123456:ABC-…` (secret). Required.", Secret: true},
			"chat_id":      {Doc: "Chat to post to: a numeric id (groups and channels are negative, `-100…`) or `@channelusername`. Required."},
			"api_url":      {Doc: "Bot API base URL, for a local Bot API server or a proxy.", Default: "`" + DefaultAPIURL + "`"},
			"parse_mode":   {Doc: "`html` (bold title linked to the item, matched words in bold; feed text escaped) or `text` (plain text, link on its own line).", Default: "`html`"},
			"link_preview": {Doc: "Let Telegram show a preview of the item's page under the message.", Default: "`false`"},
		},
		// One chat takes about a message a second: sends in order.
		InFlight:  1,
		RateLimit: RateLimit,
		Timeout:   defaultTimeout,
		Defaults: func(s *Settings) {
			if s.APIURL == "" {
				s.APIURL = DefaultAPIURL
			}
			if s.ParseMode == "" {
				s.ParseMode = ModeHTML
			}
		},
		Check: func(s Settings, c notifier.Common) []notifier.FieldError {
			errs := s.check()
			if c.Template != "" && s.ParseMode != "" {
				errs = append(errs, notifier.Field("template", CheckTemplate(c.Template, s.ParseMode))...)
			}
			return errs
		},
		New: func(s Settings, c notifier.Common, env notifier.Env) (notifier.Notifier, error) {
			return New(Config{Settings: s, Template: c.Template, Timeout: c.Timeout}, env.Client)
		},
	}
}

var (
	tokenRE    = regexp.MustCompile(`^[0-9]+:[A-Za-z0-9_-]+$`)
	numericRE  = regexp.MustCompile(`^-?[0-9]{1,20}$`)
	usernameRE = regexp.MustCompile(`^@[A-Za-z][A-Za-z0-9_]{3,31}$`)
)

// check validates the settings; no message quotes the token.
func (s Settings) check() []notifier.FieldError {
	var errs []notifier.FieldError
	add := func(key, msg string) { errs = append(errs, notifier.FieldError{Key: key, Msg: msg}) }
	switch {
	case s.Token == "":
		add("token", "required")
	case !tokenRE.MatchString(s.Token):
		add("token", "not a bot token (digits, a colon, then letters, digits, - and _)")
	}
	switch {
	case s.ChatID == "":
		add("chat_id", "required")
	case !numericRE.MatchString(s.ChatID) && !usernameRE.MatchString(s.ChatID):
		add("chat_id", fmt.Sprintf("%q is neither a numeric chat id nor @channelusername", s.ChatID))
	}
	if u, err := url.Parse(s.APIURL); s.APIURL != "" && (err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http")) {
		add("api_url", "not an absolute http(s) URL")
	}
	if s.ParseMode != "" && s.ParseMode != ModeHTML && s.ParseMode != ModeText {
		add("parse_mode", fmt.Sprintf("%q is not html or text", s.ParseMode))
	}
	return errs
}

// Config is one Telegram notifier.
type Config struct {
	Settings
	// Template, when set, renders each hit's body under its title: in html
	// mode its data is the hit with feed text escaped and the snippet's
	// matched words in <b>, and it may use Telegram's tags; in text mode
	// its data is the hit as plain text.
	Template string
	Timeout  time.Duration
}

// Telegram posts hits to one chat.
type Telegram struct {
	endpoint string // {api}/bot{token}/sendMessage
	chatID   string
	html     bool
	preview  bool
	tmpl     *template.Template
	timeout  time.Duration
	client   *http.Client
	secrets  []string
}

var _ notifier.Notifier = (*Telegram)(nil)

// New checks cfg and builds the channel. A nil client means a new
// http.Client; the timeout applies per send either way.
func New(cfg Config, client *http.Client) (*Telegram, error) {
	s := cfg.Settings
	if s.APIURL == "" {
		s.APIURL = DefaultAPIURL
	}
	if s.ParseMode == "" {
		s.ParseMode = ModeHTML
	}
	if errs := s.check(); len(errs) > 0 {
		return nil, errs[0]
	}
	t := &Telegram{
		endpoint: strings.TrimSuffix(s.APIURL, "/") + "/bot" + s.Token + "/sendMessage",
		chatID:   s.ChatID, html: s.ParseMode == ModeHTML, preview: s.LinkPreview,
		timeout: cfg.Timeout, client: client,
	}
	_, secretPart, _ := strings.Cut(s.Token, ":")
	t.secrets = []string{s.Token, secretPart}
	if t.timeout <= 0 {
		t.timeout = defaultTimeout
	}
	if t.client == nil {
		t.client = &http.Client{}
	}
	// A redirect would resend the token elsewhere, or turn the POST into
	// a GET that "succeeds": a 3xx is an error.
	c := *t.client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	t.client = &c
	if cfg.Template != "" {
		tm, err := parseTemplate(cfg.Template, t.html)
		if err != nil {
			return nil, fmt.Errorf("template: %w", err)
		}
		t.tmpl = tm
	}
	return t, nil
}

// request is sendMessage's body.
type request struct {
	ChatID      any          `json:"chat_id"`
	Text        string       `json:"text"`
	ParseMode   string       `json:"parse_mode,omitempty"`
	LinkPreview *linkPreview `json:"link_preview_options,omitempty"`
}

type linkPreview struct {
	IsDisabled bool `json:"is_disabled"`
}

// Body is the sendMessage request for hits.
func (t *Telegram) Body(hits []hit.Hit) ([]byte, error) {
	text, err := t.Text(hits)
	if err != nil {
		return nil, err
	}
	req := request{ChatID: t.chatID, Text: text}
	if numericRE.MatchString(t.chatID) {
		req.ChatID = json.Number(t.chatID)
	}
	if t.html {
		req.ParseMode = "HTML"
	}
	if !t.preview {
		req.LinkPreview = &linkPreview{IsDisabled: true}
	}
	return json.Marshal(req)
}

// Notify sends the hits as one message.
func (t *Telegram) Notify(ctx context.Context, hits []hit.Hit) (bool, error) {
	if len(hits) == 0 {
		return false, nil
	}
	body, err := t.Body(hits)
	if err != nil {
		return false, t.errorf("%v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	a, err := httppost.Post(ctx, t.client, t.endpoint, nil, body)
	if err != nil {
		return true, t.errorf("%v", err)
	}
	return t.classify(a)
}

// answer is the Bot API's reply.
type answer struct {
	OK          bool   `json:"ok"`
	ErrorCode   int    `json:"error_code"`
	Description string `json:"description"`
	Parameters  struct {
		RetryAfter      int   `json:"retry_after"`
		MigrateToChatID int64 `json:"migrate_to_chat_id"`
	} `json:"parameters"`
}

// classify maps the reply to (retry, error): 429 waits for the longer of
// Retry-After and parameters.retry_after, 5xx retries, other 4xx are for
// good (bad token, chat not found, bot blocked, text refused).
func (t *Telegram) classify(ans httppost.Answer) (bool, error) {
	var a answer
	raw := ans.Body
	jsonErr := json.Unmarshal(raw, &a)
	code := ans.Status
	if code >= 200 && code < 300 {
		if jsonErr == nil && a.OK {
			return false, nil
		}
		// A proxy's page or a refusal with 200: maybe not posted.
		return true, t.errorf("status %d without ok: %s", code, t.excerpt(string(raw), 120))
	}
	msg := fmt.Sprintf("status %d", code)
	if a.Description != "" {
		msg += ": " + t.excerpt(a.Description, 200)
	} else if e := t.excerpt(string(raw), 120); e != "" {
		msg += ": " + e
	}
	if a.Parameters.MigrateToChatID != 0 {
		msg += fmt.Sprintf(" (the group became a supergroup: set chat_id to %d)", a.Parameters.MigrateToChatID)
	}
	err := t.errorf("%s", msg)
	switch {
	case code == http.StatusTooManyRequests:
		after := notifier.ParseRetryAfter(ans.Header.Get("Retry-After"), time.Now())
		if body := time.Duration(a.Parameters.RetryAfter) * time.Second; body > after && body <= 24*time.Hour {
			after = body
		}
		return true, notifier.WithRetryAfter(err, after)
	case code >= 500:
		return true, notifier.WithRetryAfter(err, notifier.ParseRetryAfter(ans.Header.Get("Retry-After"), time.Now()))
	default:
		return false, err
	}
}

// excerpt is the start of a server's text on one line, the token redacted
// before the cut (a cut token would escape its redaction).
func (t *Telegram) excerpt(s string, n int) string {
	return render.Truncate(n, render.OneLine(redact.Secrets(s, t.secrets...)))
}

// errorf builds the channel's error as flat text, the token redacted from
// every layer of it.
func (t *Telegram) errorf(format string, args ...any) error {
	return errors.New(redact.Secrets("telegram to chat "+t.chatID+": "+fmt.Sprintf(format, args...), t.secrets...))
}
