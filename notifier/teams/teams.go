// Package teams delivers hits to a Microsoft Teams channel through a
// workflow webhook (Power Automate's "Post to a channel when a webhook
// request is received"; legacy connector URLs take the same message), as
// an Adaptive Card: the title, profile, feed and date, the snippet with
// matched words in bold, and a button that opens the item.
//
// Feed text never goes through markdown: it is shown in RichTextBlock
// TextRuns, which Adaptive Cards render as plain text, so no feed
// character can format, link or mention (<at> needs an entity we never
// send). Control, bidi-override and invisible characters are stripped.
// The matched words are bold through the TextRun's weight, not markup.
package teams

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

// Type is Teams' notifier type in the config file.
const Type = "teams"

const (
	// MaxPayload is the most bytes of request body we send: Teams refuses
	// a message over about 28 KB, card included.
	MaxPayload = 26 << 10
	// MaxTitle and MaxSnippet bound one hit's title and text (characters).
	MaxTitle   = 250
	MaxSnippet = 2000
	// maxLink: a URL longer than this is no real item link; it would only
	// crowd the card out, so it is left out rather than cut.
	maxLink = 4 << 10
	// RateLimit: Teams holds a webhook to 4 requests a second and 60 per
	// 30 seconds (and fewer per hour); 429s carry Retry-After, which the
	// engine honours.
	RateLimit      = 1.0
	defaultTimeout = 10 * time.Second
)

// Settings are a teams notifier's own keys in the config file.
type Settings struct {
	WebhookURL string `mapstructure:"webhook_url"`
}

// Spec describes Teams to the notifier registry.
func Spec() notifier.Spec[Settings] {
	return notifier.Spec[Settings]{
		Type: Type,
		Keys: map[string]notifier.KeyDoc{
			"webhook_url": {Doc: "Teams workflow webhook URL (secret): the HTTP POST URL of a \"Post to a channel when a webhook request is received\" workflow. Required.", Secret: true},
		},
		InFlight:  1,
		RateLimit: RateLimit,
		Timeout:   defaultTimeout,
		Check: func(s Settings, c notifier.Common) []notifier.FieldError {
			errs := notifier.Field("webhook_url", checkURL(s.WebhookURL))
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

// checkURL accepts an absolute http(s) URL; its errors never quote it.
func checkURL(raw string) error {
	_, err := httppost.CheckURL(raw)
	return err
}

// Config is one Teams notifier.
type Config struct {
	WebhookURL string
	// Template, when set, renders each hit's text, shown as plain text
	// (no markdown) under the title.
	Template string
	Timeout  time.Duration
}

// Teams posts hits to one workflow webhook.
type Teams struct {
	url     string
	host    string
	tmpl    *template.Template
	timeout time.Duration
	client  *http.Client
	secrets []string
}

var _ notifier.Notifier = (*Teams)(nil)

// New checks cfg and builds the channel. A nil client means a new
// http.Client; the timeout applies per send either way.
func New(cfg Config, client *http.Client) (*Teams, error) {
	if err := checkURL(cfg.WebhookURL); err != nil {
		return nil, notifier.FieldError{Key: "webhook_url", Msg: err.Error()}
	}
	u, _ := url.Parse(cfg.WebhookURL) // checked
	t := &Teams{
		url: cfg.WebhookURL, host: u.Host, timeout: cfg.Timeout, client: httppost.Client(client),
		// The signature (sig) in the query is the credential; the path
		// names the workflow.
		secrets: []string{cfg.WebhookURL, u.RawQuery, u.Query().Get("sig"), u.Path, strings.TrimPrefix(cfg.WebhookURL, u.Scheme+"://")},
	}
	if t.timeout <= 0 {
		t.timeout = defaultTimeout
	}
	if cfg.Template != "" {
		tm, err := parseTemplate(cfg.Template)
		if err != nil {
			return nil, fmt.Errorf("template: %w", err)
		}
		t.tmpl = tm
	}
	return t, nil
}

func parseTemplate(text string) (*template.Template, error) {
	return render.ParseChecked(text, func(h hit.Hit) any { return clean(h) })
}

// CheckTemplate parses a text template and renders it on the sample hit.
func CheckTemplate(text string) error {
	_, err := parseTemplate(text)
	return err
}

// clean strips control, bidi-override and invisible characters from
// every feed string, one-line fields on one line: what cards and
// templates see.
func clean(h hit.Hit) hit.Hit {
	return render.MapText(h, render.OneLineVisible, render.StripInvisible)
}

// element is one Adaptive Card element or action.
type element = map[string]any

// run is a TextRun: plain text, never markdown.
func run(text string, props ...any) element {
	e := element{"type": "TextRun", "text": text}
	for i := 0; i+1 < len(props); i += 2 {
		e[props[i].(string)] = props[i+1]
	}
	return e
}

func richText(runs ...element) element {
	return element{"type": "RichTextBlock", "inlines": runs}
}

func openURL(title, link string) element {
	return element{"type": "Action.OpenUrl", "title": title, "url": link}
}

// snippetRuns is text with the «matched» words as bold runs.
func snippetRuns(text string) []element {
	var runs []element
	for text != "" {
		i := strings.Index(text, render.MarkOpen)
		j := -1
		if i >= 0 {
			j = strings.Index(text[i+len(render.MarkOpen):], render.MarkClose)
		}
		if i < 0 || j < 0 {
			runs = append(runs, run(text))
			break
		}
		if i > 0 {
			runs = append(runs, run(text[:i]))
		}
		word := text[i+len(render.MarkOpen) : i+len(render.MarkOpen)+j]
		if word != "" {
			runs = append(runs, run(word, "weight", "Bolder"))
		}
		text = text[i+len(render.MarkOpen)+j+len(render.MarkClose):]
	}
	return runs
}

// Message is the webhook request body: a message with one Adaptive Card.
type Message struct {
	Type        string       `json:"type"`
	Attachments []Attachment `json:"attachments"`
}

// Attachment carries the card.
type Attachment struct {
	ContentType string  `json:"contentType"`
	ContentURL  *string `json:"contentUrl"`
	Content     Card    `json:"content"`
}

// Card is an Adaptive Card.
type Card struct {
	Schema  string         `json:"$schema"`
	Type    string         `json:"type"`
	Version string         `json:"version"`
	MSTeams map[string]any `json:"msteams,omitempty"`
	Body    []element      `json:"body"`
	Actions []element      `json:"actions,omitempty"`
}

func message(body, actions []element) Message {
	return Message{Type: "message", Attachments: []Attachment{{
		ContentType: "application/vnd.microsoft.card.adaptive",
		Content: Card{
			Schema: "http://adaptivecards.io/schemas/adaptive-card.json",
			Type:   "AdaptiveCard",
			// 1.4: what workflows post in every Teams client.
			Version: "1.4",
			MSTeams: map[string]any{"width": "Full"},
			Body:    body, Actions: actions,
		},
	}}}
}

// item is one hit's elements: title (opening the link when titleLink),
// meta line, text within textMax characters; and its link ("" when
// unsafe or absurdly long).
func (t *Teams) item(raw hit.Hit, titleMax, textMax int, titleLink bool) ([]element, string, error) {
	h := clean(raw)
	link := render.SafeLink(h.Item.Link)
	if len(link) > maxLink {
		link = ""
	}
	title := run(render.Truncate(titleMax, render.Title(h)), "weight", "Bolder", "size", "Medium")
	if link != "" && titleLink {
		title["selectAction"] = openURL("Open item", link)
	}
	els := []element{richText(title), richText(run(render.Truncate(MaxTitle*2, render.Meta(h)), "isSubtle", true, "size", "Small"))}
	var runs []element
	switch {
	case t.tmpl != nil:
		out, err := render.Execute(t.tmpl, h)
		if err != nil {
			return nil, "", fmt.Errorf("render template: %w", err)
		}
		if out = render.Truncate(textMax, strings.TrimSpace(render.StripInvisible(out))); out != "" {
			runs = []element{run(out)}
		}
	case strings.TrimSpace(h.Snippet) != "":
		runs = snippetRuns(render.Truncate(textMax, h.Snippet))
	case strings.TrimSpace(h.Item.Summary) != "":
		runs = []element{run(render.Truncate(min(textMax, 500), h.Item.Summary))}
	}
	if len(runs) > 0 {
		els = append(els, richText(runs...))
	}
	return els, link, nil
}

// Message renders hits as one card within MaxPayload bytes: a single hit
// with an "Open item" button, or a digest of the hits that fit, each
// opening its item, and a line counting the rest. Text gives way first;
// links are never cut.
func (t *Teams) Message(hits []hit.Hit) (Message, error) {
	if len(hits) == 1 {
		for textMax, titleMax := MaxSnippet, MaxTitle; ; textMax /= 2 {
			if textMax < 50 {
				titleMax = 50
			}
			els, link, err := t.item(hits[0], titleMax, textMax, true)
			if err != nil {
				return Message{}, err
			}
			var actions []element
			if link != "" {
				actions = []element{openURL("Open item", link)}
			}
			m := message(els, actions)
			if size(m) <= MaxPayload || textMax == 0 {
				return m, nil
			}
		}
	}
	head := element{"type": "TextBlock", "text": fmt.Sprintf("%d new hits", len(hits)), "weight": "Bolder", "size": "Large", "wrap": true}
	body := []element{head}
	used := size(message(body, nil))
	for i, h := range hits {
		// The whole entry opens the item.
		els, link, err := t.item(h, MaxTitle, 300, false)
		if err != nil {
			return Message{}, err
		}
		c := element{"type": "Container", "separator": true, "spacing": "Medium", "items": els}
		if link != "" {
			c["selectAction"] = openURL("Open item", link)
		}
		more := element{"type": "TextBlock", "text": fmt.Sprintf("…and %d more", len(hits)-i), "isSubtle": true, "wrap": true}
		n := elementSize(c) + 1
		if used+n+elementSize(more)+1 > MaxPayload {
			body = append(body, more)
			break
		}
		body = append(body, c)
		used += n
	}
	return message(body, nil), nil
}

// Encode is the request body for m: JSON with <, > and & as they are
// (Go's \u003c escapes would only make the card bigger).
func Encode(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func size(m Message) int {
	b, _ := Encode(m) // strings, numbers, bools, maps and slices of them: cannot fail
	return len(b)
}

func elementSize(e element) int {
	b, _ := Encode(e)
	return len(b)
}

// Notify posts one card for the hits.
func (t *Teams) Notify(ctx context.Context, hits []hit.Hit) (bool, error) {
	if len(hits) == 0 {
		return false, nil
	}
	m, err := t.Message(hits)
	if err != nil {
		return false, t.errorf("%v", err)
	}
	body, err := Encode(m)
	if err != nil {
		return false, t.errorf("encode card: %v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	a, err := httppost.Post(ctx, t.client, t.url, nil, body)
	if err != nil {
		return true, t.errorf("%v", err)
	}
	// Workflows answer 202 Accepted; legacy connectors 200 "1".
	if a.Delivered() {
		return false, nil
	}
	msg := fmt.Sprintf("status %d", a.Status)
	if ex := a.Excerpt(); ex != "" {
		msg += ": " + ex
	}
	retry, after := a.Retry(time.Now())
	return retry, notifier.WithRetryAfter(t.errorf("%s", msg), after)
}

// errorf builds the channel's error as flat text naming the host, with
// the webhook's path and signature redacted.
func (t *Teams) errorf(format string, args ...any) error {
	return errors.New(redact.Secrets("teams webhook at "+t.host+": "+fmt.Sprintf(format, args...), t.secrets...))
}
