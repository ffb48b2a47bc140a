// Package discord delivers hits to a Discord channel through a webhook,
// as embeds: the item's title linking to it, the snippet with matched
// words in bold, profile and feed in the footer, the date as the embed's
// timestamp.
//
// Feed text is untrusted: every Discord markdown character (\ * _ ~ ` | >
// # [ ] ( ) < @) in it is escaped with a backslash, so it cannot format,
// forge a masked link [text](url), write a mention <@id> or @everyone, or
// hide text as a spoiler; control, bidi-override and invisible characters
// are stripped first, so none can split a word the escaping looks for.
// allowed_mentions has an empty parse list, so even a mention that got
// through would not ping anyone.
package discord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
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

// Type is Discord's notifier type in the config file.
const Type = "discord"

// Discord's limits on a message (longer is a 400).
const (
	MaxContent     = 2000
	MaxTitle       = 256
	MaxDescription = 4096
	MaxFooter      = 2048
	MaxEmbeds      = 10
	// MaxEmbedTotal bounds the title, description and footer of all the
	// embeds of a message together.
	MaxEmbedTotal = 6000
)

const (
	// RateLimit: Discord allows a webhook about 5 requests per 2 seconds
	// and a channel about 30 webhook messages a minute; 429s carry
	// Retry-After, which the engine honours.
	RateLimit      = 0.5
	defaultTimeout = 10 * time.Second
	// color is the embeds' side bar (Discord blurple).
	color = 0x5865F2
)

// Settings are a discord notifier's own keys in the config file.
type Settings struct {
	WebhookURL string `mapstructure:"webhook_url"`
}

// Spec describes Discord to the notifier registry.
func Spec() notifier.Spec[Settings] {
	return notifier.Spec[Settings]{
		Type: Type,
		Keys: map[string]notifier.KeyDoc{
			"webhook_url": {Doc: "Discord webhook URL (secret), `https://discord.com/api/webhooks/<id>/<token>`. Required.", Secret: true},
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

// Config is one Discord notifier.
type Config struct {
	WebhookURL string
	// Template, when set, renders each embed's description (Discord
	// markdown) from the hit with its feed text already escaped and the
	// snippet's matched words already **bold**.
	Template string
	Timeout  time.Duration
}

// Discord posts hits to one webhook.
type Discord struct {
	postURL string // the webhook with ?wait=true
	host    string
	tmpl    *template.Template
	timeout time.Duration
	client  *http.Client
	secrets []string
}

var _ notifier.Notifier = (*Discord)(nil)

// New checks cfg and builds the channel. A nil client means a new
// http.Client; the timeout applies per send either way.
func New(cfg Config, client *http.Client) (*Discord, error) {
	if err := checkURL(cfg.WebhookURL); err != nil {
		return nil, notifier.FieldError{Key: "webhook_url", Msg: err.Error()}
	}
	u, _ := url.Parse(cfg.WebhookURL) // checked
	d := &Discord{
		host: u.Host, timeout: cfg.Timeout, client: httppost.Client(client),
		secrets: []string{cfg.WebhookURL, u.Path, u.RawQuery},
	}
	// The token is the last segment of /api/webhooks/<id>/<token>.
	if i := strings.LastIndexByte(u.Path, '/'); i >= 0 {
		d.secrets = append(d.secrets, u.Path[i+1:])
	}
	// wait=true: Discord answers once the message is posted, with its
	// error if it was not.
	q := u.Query()
	q.Set("wait", "true")
	u.RawQuery = q.Encode()
	d.postURL = u.String()
	if d.timeout <= 0 {
		d.timeout = defaultTimeout
	}
	if cfg.Template != "" {
		t, err := parseTemplate(cfg.Template)
		if err != nil {
			return nil, fmt.Errorf("template: %w", err)
		}
		d.tmpl = t
	}
	return d, nil
}

func parseTemplate(text string) (*template.Template, error) {
	return render.ParseChecked(text, func(h hit.Hit) any { return escapeHit(h) })
}

// CheckTemplate parses a description template and renders it on the
// sample hit.
func CheckTemplate(text string) error {
	_, err := parseTemplate(text)
	return err
}

// special are Discord's markdown characters, and < and @ that start a
// mention, a channel link, a timestamp or @everyone.
const special = "\\*_~`|>#[]()<@"

// Escape makes feed text inert in Discord markdown: a backslash before
// each special character (Discord shows the character, not the
// backslash). Strip control and invisible characters first (clean).
func Escape(s string) string {
	if !strings.ContainsAny(s, special) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s {
		if r < utf8.RuneSelf && strings.IndexByte(special, byte(r)) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// EscapeCut is Escape(s) in at most n characters, cut between whole
// characters of s (never inside an escape), ending with "…" when cut.
func EscapeCut(s string, n int) string {
	if n < 1 {
		return ""
	}
	b := make([]byte, 0, min(len(s)+8, 4*n))
	count, cutAt := 0, -1
	for _, r := range s {
		w := 1
		if r < utf8.RuneSelf && strings.IndexByte(special, byte(r)) >= 0 {
			w = 2
		}
		if cutAt < 0 && count+w > n-1 {
			cutAt = len(b) // where the text ends if the rest does not fit
		}
		if count+w > n {
			return strings.TrimRight(string(b[:cutAt]), " \n\t") + "…"
		}
		if w == 2 {
			b = append(b, '\\')
		}
		b = utf8.AppendRune(b, r)
		count += w
	}
	return string(b)
}

// cut shortens markdown to at most n characters without ending on a lone
// backslash, ending with "…" when cut.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n < 1 {
		return ""
	}
	s = string([]rune(s)[:n-1])
	// An odd run of backslashes at the end would escape the "…".
	k := len(s) - len(strings.TrimRight(s, "\\"))
	if k%2 == 1 {
		s = s[:len(s)-1]
	}
	return s + "…"
}

// clean strips control, bidi-override and invisible characters from
// every feed string, one-line fields on one line.
func clean(h hit.Hit) hit.Hit {
	return render.MapText(h, render.OneLineVisible, render.StripInvisible)
}

// escapeHit is the data a template sees: feed text cleaned and escaped,
// the link safe inside (…) of a masked link, matched words in bold.
func escapeHit(h hit.Hit) hit.Hit {
	link := linkTarget(render.OneLineVisible(h.Item.Link))
	h = render.MapText(h,
		func(s string) string { return Escape(render.OneLineVisible(s)) },
		func(s string) string { return Escape(render.StripInvisible(s)) })
	h.Item.Link = link
	h.Snippet = bold(h.Snippet)
	return h
}

func bold(escaped string) string { return render.Markers(escaped, "**", "**") }

// linkTarget is an http(s) URL safe as a masked link's target and an
// embed URL: the characters that end the target encoded. "" when unsafe
// (render.SafeLink refuses hosts holding them: encoded there they would
// make the URL malformed, which Discord answers by refusing the message).
func linkTarget(link string) string {
	l := render.SafeLink(link)
	if l == "" {
		return ""
	}
	return strings.NewReplacer("(", "%28", ")", "%29", " ", "%20", "<", "%3C", ">", "%3E").Replace(l)
}

// Payload is the body of an execute-webhook request.
type Payload struct {
	Content         string          `json:"content,omitempty"`
	Embeds          []Embed         `json:"embeds"`
	AllowedMentions AllowedMentions `json:"allowed_mentions"`
}

// AllowedMentions with an empty (not absent) Parse list: nobody is pinged.
type AllowedMentions struct {
	Parse []string `json:"parse"`
}

// Embed is one Discord embed.
type Embed struct {
	Title       string  `json:"title,omitempty"`
	URL         string  `json:"url,omitempty"`
	Description string  `json:"description,omitempty"`
	Color       int     `json:"color,omitempty"`
	Timestamp   string  `json:"timestamp,omitempty"`
	Footer      *Footer `json:"footer,omitempty"`
}

// Footer is an embed's footer: plain text, no markdown.
type Footer struct {
	Text string `json:"text"`
}

// Size is what Discord counts toward MaxEmbedTotal for e.
func (e Embed) Size() int {
	n := utf8.RuneCountInString(e.Title) + utf8.RuneCountInString(e.Description)
	if e.Footer != nil {
		n += utf8.RuneCountInString(e.Footer.Text)
	}
	return n
}

// Payload renders hits as one message: one embed per hit, at most
// MaxEmbeds; the content says how many hits and which profiles.
func (d *Discord) Payload(hits []hit.Hit) (Payload, error) {
	p := Payload{AllowedMentions: AllowedMentions{Parse: []string{}}}
	shown := hits
	if len(shown) > MaxEmbeds {
		shown = shown[:MaxEmbeds]
	}
	// Each embed gets an equal share of the total; a single hit, all of it.
	share := MaxEmbedTotal / max(len(shown), 1)
	for _, h := range shown {
		e, err := d.embed(h, share)
		if err != nil {
			return Payload{}, err
		}
		p.Embeds = append(p.Embeds, e)
	}
	p.Content = content(hits, len(shown))
	return p, nil
}

// content is "**1 new hit** · profile xinjiang", or for a digest "**60 new
// hits** · profiles a, b · 10 shown".
func content(hits []hit.Hit, shown int) string {
	var profiles []string
	for _, h := range hits {
		for _, p := range h.AllProfiles() {
			p = render.OneLineVisible(p)
			if !slices.Contains(profiles, p) {
				profiles = append(profiles, p)
			}
		}
	}
	head := "**1 new hit**"
	if len(hits) != 1 {
		head = fmt.Sprintf("**%d new hits**", len(hits))
	}
	label := " · profile "
	if len(profiles) > 1 {
		label = " · profiles "
	}
	tail := ""
	if shown < len(hits) {
		tail = fmt.Sprintf(" · %d shown", shown)
	}
	room := MaxContent - utf8.RuneCountInString(head+label+tail)
	return head + label + EscapeCut(strings.Join(profiles, ", "), room) + tail
}

// embed is one hit's embed in at most size characters (title, description
// and footer together). The description gives way first: the link is the
// embed's URL, never cut.
func (d *Discord) embed(raw hit.Hit, size int) (Embed, error) {
	h := clean(raw)
	e := Embed{Color: color, URL: linkTarget(h.Item.Link)}
	e.Title = EscapeCut(render.Title(h), min(MaxTitle, size/4))
	footer := render.ProfileLabel(h)
	if f := render.FeedName(h); f != "" {
		footer += " · " + f
	}
	e.Footer = &Footer{Text: render.Truncate(min(MaxFooter, size/4), footer)}
	if t := h.Item.Published; t != nil && !t.IsZero() {
		e.Timestamp = t.UTC().Format(time.RFC3339)
	} else if !h.DetectedAt.IsZero() {
		e.Timestamp = h.DetectedAt.UTC().Format(time.RFC3339)
	}
	room := min(MaxDescription, size-e.Size())
	if d.tmpl != nil {
		out, err := render.Execute(d.tmpl, escapeHit(raw))
		if err != nil {
			return Embed{}, fmt.Errorf("render template: %w", err)
		}
		e.Description = cut(strings.TrimSpace(out), room)
		return e, nil
	}
	text := h.Snippet
	if strings.TrimSpace(text) == "" {
		text = render.Truncate(500, h.Item.Summary)
	}
	// Bold markers add two characters per matched word: cut shorter
	// until the bolded text fits.
	var desc string
	for r := room; ; {
		desc = bold(EscapeCut(strings.TrimSpace(text), r))
		over := utf8.RuneCountInString(desc) - room
		if over <= 0 || r <= 0 {
			break
		}
		r -= over
	}
	e.Description = cut(desc, room)
	return e, nil
}

// Notify posts one message for the hits.
func (d *Discord) Notify(ctx context.Context, hits []hit.Hit) (bool, error) {
	if len(hits) == 0 {
		return false, nil
	}
	p, err := d.Payload(hits)
	if err != nil {
		return false, d.errorf("%v", err)
	}
	body, err := json.Marshal(p)
	if err != nil {
		return false, d.errorf("encode message: %v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	a, err := httppost.Post(ctx, d.client, d.postURL, nil, body)
	if err != nil {
		return true, d.errorf("%v", err)
	}
	if a.Delivered() {
		return false, nil
	}
	msg := fmt.Sprintf("status %d", a.Status)
	if ex := a.Excerpt(); ex != "" {
		msg += ": " + ex
	}
	retry, after := a.Retry(time.Now())
	if a.Status == http.StatusTooManyRequests {
		after = max(after, bodyRetryAfter(a.Body))
	}
	return retry, notifier.WithRetryAfter(d.errorf("%s", msg), after)
}

// bodyRetryAfter reads the retry_after seconds (a fraction) of Discord's
// 429 body, more precise than the header's whole seconds; a day at most.
func bodyRetryAfter(body []byte) time.Duration {
	var v struct {
		RetryAfter float64 `json:"retry_after"`
	}
	if json.Unmarshal(body, &v) != nil || !(v.RetryAfter > 0) || math.IsInf(v.RetryAfter, 0) {
		return 0
	}
	return time.Duration(min(v.RetryAfter, 86400) * float64(time.Second))
}

// errorf builds the channel's error as flat text naming the host, with
// the webhook's path and token redacted.
func (d *Discord) errorf(format string, args ...any) error {
	return errors.New(redact.Secrets("discord webhook to "+d.host+": "+fmt.Sprintf(format, args...), d.secrets...))
}
