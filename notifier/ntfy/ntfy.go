// Package ntfy delivers hits to an ntfy topic (ntfy.sh or a self-hosted
// server) by JSON publishing: title, plain-text message, click URL (the
// item's link), priority and tags from the config, and an access token as
// a Bearer header when set.
//
// The message is plain text (ntfy renders markdown only when asked, and
// we never ask), so feed text needs no escaping: control, bidi-override and
// invisible characters are stripped and one-line fields kept on one line.
// JSON publishing, not the X-Title headers, so titles in any script
// arrive intact and nothing in the feed can end a header.
package ntfy

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
	"unicode/utf8"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier"
	"github.com/feedwatch/feedwatch/notifier/httppost"
	"github.com/feedwatch/feedwatch/notifier/render"
	"github.com/feedwatch/feedwatch/redact"
)

// Type is ntfy's notifier type in the config file.
const Type = "ntfy"

// DefaultServer is the public ntfy server.
const DefaultServer = "https://ntfy.sh"

const (
	// RateLimit follows ntfy's default per-visitor limit (ntfy.sh's too):
	// a burst of 60 requests, then one every 5 seconds.
	RateLimit = 0.2
	// MaxMessage is the most bytes of message we send: ntfy's default
	// message-size-limit is 4,096 bytes, past which a server turns the
	// message into an attachment or refuses it.
	MaxMessage = 4000
	// MaxTitle is the most characters of a title.
	MaxTitle       = 250
	defaultTimeout = 10 * time.Second
)

// topicName is ntfy's rule for topic names.
var topicName = regexp.MustCompile(`^[-_A-Za-z0-9]{1,64}$`)

// Settings are an ntfy notifier's own keys in the config file.
type Settings struct {
	Server   string   `mapstructure:"server"`
	Topic    string   `mapstructure:"topic"`
	Token    string   `mapstructure:"token"`
	Priority int      `mapstructure:"priority"`
	Tags     []string `mapstructure:"tags"`
}

// Spec describes ntfy to the notifier registry.
func Spec() notifier.Spec[Settings] {
	return notifier.Spec[Settings]{
		Type: Type,
		Keys: map[string]notifier.KeyDoc{
			"server":   {Doc: "ntfy server's root URL (http or https, no path).", Default: "`" + DefaultServer + "`"},
			"topic":    {Doc: "Topic to publish to (letters, digits, `-`, `_`; at most 64); left out of error messages. On a public server anyone who knows the name can subscribe: pick a long random one, or protect it with a token. Required."},
			"token":    {Doc: "Access token (secret), sent as `Authorization: Bearer`; for protected topics.", Secret: true},
			"priority": {Doc: "Message priority: 1 (min), 2 (low), 3 (default), 4 (high), 5 (max/urgent).", Default: "the server's (3)"},
			"tags":     {Doc: "Tags on every message (emoji short codes like `warning` show as emoji)."},
		},
		InFlight:  1,
		RateLimit: RateLimit,
		Timeout:   defaultTimeout,
		Defaults: func(s *Settings) {
			if s.Server == "" {
				s.Server = DefaultServer
			}
		},
		Check: func(s Settings, c notifier.Common) []notifier.FieldError {
			errs := checkSettings(s)
			if c.Template != "" {
				errs = append(errs, notifier.Field("template", CheckTemplate(c.Template))...)
			}
			return errs
		},
		New: func(s Settings, c notifier.Common, env notifier.Env) (notifier.Notifier, error) {
			return New(Config{Server: s.Server, Topic: s.Topic, Token: s.Token, Priority: s.Priority, Tags: s.Tags, Template: c.Template, Timeout: c.Timeout}, env.Client)
		},
	}
}

// checkSettings validates the keys; it never quotes the topic or token.
func checkSettings(s Settings) []notifier.FieldError {
	var errs []notifier.FieldError
	add := func(key, msg string) { errs = append(errs, notifier.FieldError{Key: key, Msg: msg}) }
	u, err := url.Parse(s.Server)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || u.RawQuery != "":
		add("server", "not an absolute http(s) URL without a query")
	case strings.Trim(u.Path, "/") != "":
		// Usually the topic's URL pasted whole; ntfy serves from the root.
		add("server", "must be the server's root URL, without a path (the topic goes in topic)")
	}
	switch {
	case s.Topic == "":
		add("topic", "required")
	case !topicName.MatchString(s.Topic):
		add("topic", "only letters, digits, - and _, at most 64")
	}
	if s.Priority < 0 || s.Priority > 5 {
		add("priority", fmt.Sprintf("%d is not 1 to 5", s.Priority))
	}
	for i, tag := range s.Tags {
		if strings.TrimSpace(tag) == "" || strings.ContainsAny(tag, ",\r\n") {
			add(fmt.Sprintf("tags[%d]", i), "empty or holds a comma or newline")
		}
	}
	return errs
}

// Config is one ntfy notifier.
type Config struct {
	// Server is the server's base URL; "" is DefaultServer.
	Server   string
	Topic    string
	Token    string
	Priority int
	Tags     []string
	// Template, when set, renders each hit's message (plain text) from
	// the hit with its feed text cleaned.
	Template string
	Timeout  time.Duration
}

// Ntfy publishes hits to one topic.
type Ntfy struct {
	endpoint string // the server root, where JSON is published
	host     string
	topic    string
	token    string
	priority int
	tags     []string
	tmpl     *template.Template
	timeout  time.Duration
	client   *http.Client
	secrets  []string
}

var _ notifier.Notifier = (*Ntfy)(nil)

// New checks cfg and builds the channel. A nil client means a new
// http.Client; the timeout applies per send either way.
func New(cfg Config, client *http.Client) (*Ntfy, error) {
	if cfg.Server == "" {
		cfg.Server = DefaultServer
	}
	s := Settings{Server: cfg.Server, Topic: cfg.Topic, Token: cfg.Token, Priority: cfg.Priority, Tags: cfg.Tags}
	if errs := checkSettings(s); len(errs) > 0 {
		return nil, errs[0]
	}
	u, _ := url.Parse(cfg.Server) // checked
	n := &Ntfy{
		endpoint: u.Scheme + "://" + u.Host + "/",
		host:     u.Host,
		topic:    cfg.Topic, token: cfg.Token, priority: cfg.Priority,
		tags:    append([]string(nil), cfg.Tags...),
		timeout: cfg.Timeout, client: httppost.Client(client),
		secrets: []string{cfg.Token, cfg.Topic},
	}
	if n.timeout <= 0 {
		n.timeout = defaultTimeout
	}
	if cfg.Template != "" {
		t, err := parseTemplate(cfg.Template)
		if err != nil {
			return nil, fmt.Errorf("template: %w", err)
		}
		n.tmpl = t
	}
	return n, nil
}

func parseTemplate(text string) (*template.Template, error) {
	return render.ParseChecked(text, func(h hit.Hit) any { return clean(h) })
}

// CheckTemplate parses a message template and renders it on the sample hit.
func CheckTemplate(text string) error {
	_, err := parseTemplate(text)
	return err
}

// clean copies h with every feed string free of control, bidi-override and
// invisible characters, one-line fields on one line: what the message and
// a template see.
func clean(h hit.Hit) hit.Hit {
	return render.MapText(h, render.OneLineVisible, render.StripInvisible)
}

// Message is ntfy's JSON publishing body.
type Message struct {
	Topic    string   `json:"topic"`
	Title    string   `json:"title,omitempty"`
	Message  string   `json:"message"`
	Tags     []string `json:"tags,omitempty"`
	Priority int      `json:"priority,omitempty"`
	Click    string   `json:"click,omitempty"`
	// Markdown is always false: feed text is shown as typed.
	Markdown bool `json:"markdown"`
}

// Message renders hits as one ntfy message.
func (n *Ntfy) Message(hits []hit.Hit) (Message, error) {
	m := Message{Topic: n.topic, Tags: n.tags, Priority: n.priority}
	if len(hits) == 1 {
		h := clean(hits[0])
		m.Title = render.Truncate(MaxTitle, render.Title(h))
		m.Click = render.SafeLink(h.Item.Link)
		body, err := n.body(h, MaxMessage)
		if err != nil {
			return Message{}, err
		}
		m.Message = body
		return m, nil
	}
	m.Title = fmt.Sprintf("%d new hits", len(hits))
	var b strings.Builder
	for i, h := range hits {
		h = clean(h)
		var entry string
		if n.tmpl != nil {
			out, err := n.body(h, MaxMessage/4)
			if err != nil {
				return Message{}, err
			}
			entry = out
		} else {
			// Each part bounded, so an entry fits whole: a link is
			// shown whole or, absurdly long, not at all.
			entry = "• " + render.Truncate(MaxTitle, render.Title(h)) + "\n"
			if l := render.SafeLink(h.Item.Link); l != "" && len(l) < MaxMessage/4 {
				entry += l + "\n"
			}
			entry += CutBytes(render.Meta(h), MaxMessage/4)
		}
		sep := ""
		if i > 0 {
			sep = "\n\n"
		}
		// Whole entries only, so no link is cut, with room kept for the
		// line that counts the rest.
		after := more(len(hits) - i - 1)
		if b.Len()+len(sep)+len(entry)+len(after) > MaxMessage {
			if i > 0 {
				b.WriteString(more(len(hits) - i))
				break
			}
			entry = CutBytes(entry, MaxMessage-len(after))
		}
		b.WriteString(sep + entry)
	}
	m.Message = b.String()
	return m, nil
}

// more is the line that counts hits left out of a digest.
func more(n int) string {
	if n <= 0 {
		return ""
	}
	return fmt.Sprintf("\n\n…and %d more", n)
}

// body is one hit's message: the template's output, or the meta line and
// the snippet, then the link, within max bytes. The snippet is cut, never
// the link.
func (n *Ntfy) body(h hit.Hit, max int) (string, error) {
	if n.tmpl != nil {
		out, err := render.Execute(n.tmpl, h)
		if err != nil {
			return "", fmt.Errorf("render template: %w", err)
		}
		return CutBytes(render.StripInvisible(out), max), nil
	}
	head := render.Meta(h)
	tail := ""
	// A link too long to show still opens on a tap (click).
	if l := render.SafeLink(h.Item.Link); l != "" && len(l) < max/2 {
		tail = "\n\n" + l
	}
	head = CutBytes(head, max/4)
	ex := render.Excerpt(h)
	if ex == "" {
		return CutBytes(head+tail, max), nil
	}
	room := max - len(head) - len(tail) - 2
	return head + "\n\n" + CutBytes(ex, room) + tail, nil
}

// CutBytes shortens s to at most n bytes of whole characters, ending with
// "…" when it cut.
func CutBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ell = "…"
	if n < len(ell) {
		return ""
	}
	s = s[:n-len(ell)]
	// Drop the start of a character the cut split.
	for len(s) > 0 {
		if r, size := utf8.DecodeLastRuneInString(s); r != utf8.RuneError || size > 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return strings.TrimRight(s, " \n\t") + ell
}

// Notify publishes one message for the hits.
func (n *Ntfy) Notify(ctx context.Context, hits []hit.Hit) (bool, error) {
	if len(hits) == 0 {
		return false, nil
	}
	m, err := n.Message(hits)
	if err != nil {
		return false, n.errorf("%v", err)
	}
	body, err := json.Marshal(m)
	if err != nil {
		return false, n.errorf("encode message: %v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	header := http.Header{}
	if n.token != "" {
		header.Set("Authorization", "Bearer "+n.token)
	}
	a, err := httppost.Post(ctx, n.client, n.endpoint, header, body)
	if err != nil {
		return true, n.errorf("%v", err)
	}
	if a.Delivered() {
		return false, nil
	}
	msg := fmt.Sprintf("status %d", a.Status)
	if ex := a.Excerpt(); ex != "" {
		msg += ": " + ex
	}
	retry, after := a.Retry(time.Now())
	return retry, notifier.WithRetryAfter(n.errorf("%s", msg), after)
}

// errorf builds the channel's error as flat text naming the server, with
// the token and the topic (on a public server, the name is all it takes
// to subscribe) redacted.
func (n *Ntfy) errorf(format string, args ...any) error {
	return errors.New(redact.Secrets("ntfy to "+n.host+": "+fmt.Sprintf(format, args...), n.secrets...))
}
