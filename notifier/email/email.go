// Package email delivers hits by SMTP as multipart text + HTML mail.
//
// Feed text is untrusted: the HTML part escapes it (html/template) and runs
// the snippet and summary through a bluemonday policy that keeps simple
// formatting and http(s) links only: no scripts, event handlers, styles,
// images, iframes or objects, so nothing remote loads when the mail opens.
// The subject is the title with control characters removed.
package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net"
	"net/mail"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"
	gomail "github.com/wneessen/go-mail"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier"
	"github.com/feedwatch/feedwatch/notifier/render"
	"github.com/feedwatch/feedwatch/redact"
)

const (
	defaultTimeout = 30 * time.Second
	maxSubject     = 150
)

// TLS modes.
const (
	TLSStartTLS = "starttls" // STARTTLS required (the default)
	TLSImplicit = "tls"      // TLS from the first byte (port 465)
	TLSNone     = "none"     // plain text; auth only to localhost
)

// Type is email's notifier type in the config file.
const Type = "email"

// Settings are an email notifier's own keys in the config file.
type Settings struct {
	Host         string   `mapstructure:"host"`
	Port         int      `mapstructure:"port"`
	TLS          string   `mapstructure:"tls"`
	Username     string   `mapstructure:"username"`
	Password     string   `mapstructure:"password"`
	From         string   `mapstructure:"from"`
	To           []string `mapstructure:"to"`
	HTMLTemplate string   `mapstructure:"html_template"`
}

// Spec describes email to the notifier registry.
func Spec() notifier.Spec[Settings] {
	return notifier.Spec[Settings]{
		Type: Type,
		Keys: map[string]notifier.KeyDoc{
			"host":          {Doc: "SMTP server host. Required."},
			"port":          {Doc: "SMTP port.", Default: "`587`, or `465` with `tls: tls`"},
			"tls":           {Doc: "`starttls` (STARTTLS required), `tls` (implicit TLS) or `none`.", Default: "`starttls`"},
			"username":      {Doc: "SMTP user name."},
			"password":      {Doc: "SMTP password (secret).", Secret: true},
			"from":          {Doc: "Sender address, like `feedwatch <alerts@example.org>`. Required."},
			"to":            {Doc: "Recipient addresses. Required."},
			"html_template": {Doc: "Go html/template for the HTML part of the email.", Default: "built in"},
		},
		// Mail servers take a few messages in parallel.
		InFlight: 4,
		Timeout:  defaultTimeout,
		Defaults: func(s *Settings) {
			if s.TLS == "" {
				s.TLS = TLSStartTLS
			}
			if s.Port == 0 {
				// Submission ports; even without TLS, 25 is rarely open
				// to a client.
				s.Port = 587
				if s.TLS == TLSImplicit {
					s.Port = 465
				}
			}
		},
		Check: func(s Settings, c notifier.Common) []notifier.FieldError {
			var out []notifier.FieldError
			for _, err := range CheckConfig(s.config(c)) {
				var fe notifier.FieldError
				if errors.As(err, &fe) {
					out = append(out, fe)
				}
			}
			if c.Template != "" {
				out = append(out, notifier.Field("template", CheckTemplate(c.Template))...)
			}
			if s.HTMLTemplate != "" {
				out = append(out, notifier.Field("html_template", CheckHTMLTemplate(s.HTMLTemplate))...)
			}
			return out
		},
		New: func(s Settings, c notifier.Common, _ notifier.Env) (notifier.Notifier, error) {
			return New(s.config(c))
		},
	}
}

func (s Settings) config(c notifier.Common) Config {
	return Config{
		Host: s.Host, Port: s.Port, TLS: s.TLS, Username: s.Username, Password: s.Password,
		From: s.From, To: s.To, Template: c.Template, HTMLTemplate: s.HTMLTemplate, Timeout: c.Timeout,
	}
}

// Config is one email notifier.
type Config struct {
	Host     string
	Port     int    // 0: 587, 465 or 25 by TLS mode
	TLS      string // starttls (default) | tls | none
	Username string
	Password string
	From     string
	To       []string
	// Template renders each hit's plain-text part (text/template, the
	// hit as data); HTMLTemplate renders the whole HTML part
	// (html/template, an HTMLData as data).
	Template     string
	HTMLTemplate string
	Timeout      time.Duration
}

// Email sends hits to fixed recipients through one SMTP server.
type Email struct {
	cfg    Config
	addr   string // host:port, what errors name
	opts   []gomail.Option
	text   *texttemplate.Template
	html   *htmltemplate.Template
	policy *bluemonday.Policy
	// secrets are the password and the base64 forms of what AUTH sends
	// (servers echo it in their 535 replies), for scrub.
	secrets []string
}

var _ notifier.Notifier = (*Email)(nil)

// New checks cfg and builds the channel; it does not connect.
func New(cfg Config) (*Email, error) {
	return newEmail(cfg, nil)
}

// newEmail takes a TLS config so tests can trust their own server.
func newEmail(cfg Config, tlsConf *tls.Config) (*Email, error) {
	if errs := CheckConfig(cfg); len(errs) > 0 {
		return nil, errs[0]
	}
	if cfg.TLS == "" {
		cfg.TLS = TLSStartTLS
	}
	if cfg.Port == 0 {
		cfg.Port = DefaultPort(cfg.TLS)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	e := &Email{cfg: cfg, addr: net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)), policy: Policy(),
		secrets: authSecrets(cfg.Username, cfg.Password)}
	var err error
	if cfg.Template != "" {
		if e.text, err = parseText(cfg.Template); err != nil {
			return nil, fmt.Errorf("template: %w", err)
		}
	}
	htmlText := cfg.HTMLTemplate
	if htmlText == "" {
		htmlText = defaultHTML
	}
	if e.html, err = parseHTML(htmlText, e.policy); err != nil {
		return nil, fmt.Errorf("html_template: %w", err)
	}
	if tlsConf == nil {
		tlsConf = &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12}
	}
	opts := []gomail.Option{
		gomail.WithPort(cfg.Port),
		gomail.WithTimeout(cfg.Timeout),
		gomail.WithTLSConfig(tlsConf),
	}
	switch cfg.TLS {
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL(), gomail.WithTLSPolicy(gomail.NoTLS))
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if cfg.Username != "" {
		auth := gomail.SMTPAuthAutoDiscover
		if cfg.TLS == TLSNone {
			// PLAIN, which the SMTP package only sends to localhost
			// without TLS.
			auth = gomail.SMTPAuthPlain
		}
		opts = append(opts, gomail.WithSMTPAuth(auth),
			gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password))
	}
	// A client per send: go-mail's Client caches auth state as it dials,
	// which is not safe for sends running in parallel.
	e.opts = opts
	if _, err := e.newClient(); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *Email) newClient() (*gomail.Client, error) {
	c, err := gomail.NewClient(e.cfg.Host, e.opts...)
	if err != nil {
		return nil, fmt.Errorf("smtp client for %s: %s", e.addr, e.scrub(err.Error()))
	}
	return c, nil
}

// DefaultPort is the submission port for a TLS mode.
func DefaultPort(mode string) int {
	switch mode {
	case TLSImplicit:
		return 465
	case TLSNone:
		return 25
	default:
		return 587
	}
}

// CheckConfig validates the connection and address fields; each error
// starts with the key it is about.
func CheckConfig(cfg Config) []error {
	var errs []error
	add := func(key, msg string) { errs = append(errs, notifier.FieldError{Key: key, Msg: msg}) }
	if strings.TrimSpace(cfg.Host) == "" {
		add("host", "required")
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		add("port", "not a port number")
	}
	switch cfg.TLS {
	case "", TLSStartTLS, TLSImplicit, TLSNone:
	default:
		add("tls", fmt.Sprintf("%q is not starttls, tls or none", cfg.TLS))
	}
	if cfg.Password != "" && cfg.Username == "" {
		add("username", "required with password")
	}
	if cfg.From == "" {
		add("from", "required")
	} else if _, err := mail.ParseAddress(cfg.From); err != nil {
		add("from", notAddress(cfg.From))
	}
	if len(cfg.To) == 0 {
		add("to", "at least one address required")
	}
	for i, to := range cfg.To {
		if _, err := mail.ParseAddress(to); err != nil {
			add(fmt.Sprintf("to[%d]", i), notAddress(to))
		}
	}
	return errs
}

// notAddress says in plain words what net/mail calls "no angle-addr" or
// "missing '@' or angle-addr".
func notAddress(s string) string {
	return fmt.Sprintf(`not an email address: %q (want me@example.org or "Name <me@example.org>")`, s)
}

// Policy is the sanitizer for feed HTML in mail. Build it once: building
// is not safe for concurrent use, Sanitize is.
func Policy() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements("b", "strong", "i", "em", "u", "s", "p", "br", "ul", "ol", "li",
		"blockquote", "code", "pre", "q", "sub", "sup", "small", "span", "div")
	p.AllowAttrs("href").OnElements("a")
	p.AllowURLSchemes("http", "https", "mailto")
	p.RequireParseableURLs(true)
	p.RequireNoFollowOnLinks(true)
	p.RequireNoReferrerOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	return p
}

// HTMLData is what the HTML template renders.
type HTMLData struct {
	Subject string
	Hits    []HTMLHit
}

// HTMLHit is one hit made ready for HTML: strings are escaped by the
// template; Snippet and Summary are already sanitized HTML.
type HTMLHit struct {
	Hit       hit.Hit // control characters stripped; escaped when printed
	Title     string
	Link      string // http(s) only, else ""
	Feed      string
	Published string
	Snippet   htmltemplate.HTML // matched words in <b>
	Summary   htmltemplate.HTML
}

const defaultHTML = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;font-size:15px;line-height:1.4;color:#222">
{{if gt (len .Hits) 1}}<h2 style="font-size:18px">{{len .Hits}} new hits</h2>
{{end}}{{range .Hits}}<div style="margin:0 0 22px 0">
<div style="font-size:16px;font-weight:bold">{{if .Link}}<a href="{{.Link}}">{{.Title}}</a>{{else}}{{.Title}}{{end}}</div>
<div style="color:#666;font-size:13px">{{if gt (len .Hit.Profiles) 1}}profiles{{else}}profile{{end}} <b>{{join .Hit.Profiles ", "}}</b>{{with .Feed}} · {{.}}{{end}}{{with .Published}} · {{.}}{{end}}</div>
{{if .Snippet}}<p style="margin:6px 0">{{.Snippet}}</p>{{else if .Summary}}<p style="margin:6px 0">{{.Summary}}</p>{{end}}
</div>
{{end}}<p style="color:#999;font-size:12px">Sent by feedwatch.</p>
</body></html>
`

func parseText(text string) (*texttemplate.Template, error) {
	t, err := render.Parse("template", text)
	if err != nil {
		return nil, err
	}
	if _, err := render.ExecuteSample(t, render.Clean(sampleHit())); err != nil {
		return nil, err
	}
	return t, nil
}

func parseHTML(text string, p *bluemonday.Policy) (*htmltemplate.Template, error) {
	t, err := htmltemplate.New("html_template").Funcs(htmltemplate.FuncMap(render.Funcs())).
		Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, err
	}
	for _, tt := range t.Templates() {
		if err := render.CheckRanges(tt.Tree); err != nil {
			return nil, err
		}
		render.Interruptible(tt.Tree)
	}
	if _, err := render.ExecuteSample(t, htmlData(p, []hit.Hit{sampleHit()})); err != nil {
		return nil, err
	}
	return t, nil
}

func sampleHit() hit.Hit { return render.SampleHit(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) }

// CheckTemplate parses a text template and renders it on the sample hit.
func CheckTemplate(text string) error {
	_, err := parseText(text)
	return err
}

// CheckHTMLTemplate parses an HTML template and renders it on the sample hit.
func CheckHTMLTemplate(text string) error {
	_, err := parseHTML(text, Policy())
	return err
}

func htmlData(p *bluemonday.Policy, hits []hit.Hit) HTMLData {
	d := HTMLData{Subject: Subject(hits), Hits: make([]HTMLHit, len(hits))}
	for i, h := range hits {
		d.Hits[i] = HTMLHit{
			Hit:       render.Clean(h),
			Title:     render.Title(h),
			Link:      render.SafeLink(h.Item.Link),
			Feed:      render.FeedName(h),
			Published: render.Date(h.Item.Published),
			Snippet:   SanitizeSnippet(p, h.Snippet),
			Summary:   htmltemplate.HTML(p.Sanitize(render.StripControl(h.Item.Summary))),
		}
	}
	return d
}

// SanitizeSnippet escapes the snippet, bolds its «matches» and runs the
// result through the policy.
func SanitizeSnippet(p *bluemonday.Policy, snippet string) htmltemplate.HTML {
	s := htmltemplate.HTMLEscapeString(render.StripControl(snippet))
	return htmltemplate.HTML(p.Sanitize(render.Markers(s, "<b>", "</b>")))
}

// Subject is the title and "[profiles]" (or "N new hits: title; …" for a
// digest) on one line, without control characters, at most 150 characters.
func Subject(hits []hit.Hit) string {
	if len(hits) == 1 {
		// The title, then the profiles in brackets, which always show: they
		// tell apart alerts about similar stories.
		tag := " [" + render.Truncate(maxSubject/2, render.Profiles(hits[0])) + "]"
		return render.Truncate(maxSubject-utf8.RuneCountInString(tag), render.Title(hits[0])) + tag
	}
	titles := make([]string, 0, 3)
	for _, h := range hits[:min(3, len(hits))] {
		titles = append(titles, render.Title(h))
	}
	return render.Truncate(maxSubject, fmt.Sprintf("%d new hits: %s", len(hits), strings.Join(titles, "; ")))
}

// Render returns the subject, plain-text and HTML parts for hits.
func (e *Email) Render(hits []hit.Hit) (subject, text, html string, err error) {
	subject = Subject(hits)
	var tb strings.Builder
	if len(hits) > 1 {
		fmt.Fprintf(&tb, "%d new hits\n\n", len(hits))
	}
	for i, h := range hits {
		if i > 0 {
			tb.WriteString("\n----\n\n")
		}
		if e.text == nil {
			tb.WriteString(render.Block(h))
			continue
		}
		s, err := render.Execute(e.text, render.Clean(h))
		if err != nil {
			return "", "", "", fmt.Errorf("render template: %w", err)
		}
		tb.WriteString(s)
	}
	html, err = render.Bounded(e.html, htmlData(e.policy, hits), render.MaxOutput, render.RenderTimeout)
	if err != nil {
		return "", "", "", fmt.Errorf("render html_template: %w", err)
	}
	return subject, tb.String(), html, nil
}

// Notify sends one mail for the hits.
func (e *Email) Notify(ctx context.Context, hits []hit.Hit) (bool, error) {
	if len(hits) == 0 {
		return false, nil
	}
	subject, text, html, err := e.Render(hits)
	if err != nil {
		return false, e.errorf("%v", err)
	}
	m := gomail.NewMsg()
	if err := m.From(e.cfg.From); err != nil {
		return false, e.errorf("from: %v", err)
	}
	if err := m.To(e.cfg.To...); err != nil {
		return false, e.errorf("to: %v", err)
	}
	m.Subject(subject)
	m.SetDate()
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.ID
	}
	// A stable Message-ID for one hit lets mail systems drop a repeat.
	if len(hits) == 1 && validID.MatchString(hits[0].ID) {
		m.SetMessageIDWithValue(hits[0].ID + ".feedwatch@" + msgIDHost(e.cfg.From))
	} else {
		m.SetMessageID()
	}
	m.SetGenHeader(gomail.Header("X-Feedwatch-Hit-Id"), strings.Join(ids, ","))
	m.SetBodyString(gomail.TypeTextPlain, text)
	m.AddAlternativeString(gomail.TypeTextHTML, html)

	client, err := e.newClient()
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	if err := client.DialAndSendWithContext(ctx, m); err != nil {
		return Classify(err), e.errorf("%v", describe(err))
	}
	return false, nil
}

var validID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

func msgIDHost(from string) string {
	if a, err := mail.ParseAddress(from); err == nil {
		if i := strings.LastIndexByte(a.Address, '@'); i >= 0 && validID.MatchString(a.Address[i+1:]) {
			return a.Address[i+1:]
		}
	}
	return "feedwatch.invalid"
}

// errorf builds the channel's error as flat text, not wrapping the cause,
// so the secret redaction covers every layer of it.
func (e *Email) errorf(format string, args ...any) error {
	msg := fmt.Sprintf("send mail via %s: ", e.addr) + fmt.Sprintf(format, args...)
	return errors.New(e.scrub(msg))
}

// scrub removes the password from msg, raw, URL-escaped and base64 (the
// forms AUTH PLAIN and LOGIN send, and any base64 word that decodes to it).
func (e *Email) scrub(msg string) string {
	if e.cfg.Password == "" {
		return msg
	}
	return redact.Encoded(redact.Secrets(msg, e.secrets...), e.cfg.Password)
}

// authSecrets lists what AUTH may put on the wire about the credentials:
// the password, and the base64 of the username and password (LOGIN sends
// each on its own) and of the PLAIN strings, with and without an
// authorization identity.
func authSecrets(user, pass string) []string {
	if pass == "" {
		return nil
	}
	return append([]string{pass}, redact.Base64Forms(pass, user,
		"\x00"+user+"\x00"+pass, user+"\x00"+user+"\x00"+pass)...)
}

// describe is err on one line, marked when it was a timeout.
func describe(err error) string {
	msg := render.OneLine(err.Error())
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) ||
		strings.Contains(msg, "i/o timeout") {
		return "timed out: " + msg
	}
	return msg
}

var replyCode = regexp.MustCompile(`(?:^|: )([45][0-9][0-9])[ -]`)

// Classify reports whether an SMTP failure is worth retrying: only a 5xx
// reply is permanent. 4xx, dial failures, timeouts and dropped connections
// retry (go-mail calls only replies starting with 4 temporary).
func Classify(err error) bool {
	code := 0
	var tpe *textproto.Error
	var se *gomail.SendError
	switch {
	case errors.As(err, &tpe):
		code = tpe.Code
	case errors.As(err, &se) && se.ErrorCode() != 0:
		code = se.ErrorCode()
	default:
		if m := replyCode.FindStringSubmatch(err.Error()); m != nil {
			code, _ = strconv.Atoi(m[1])
		}
	}
	return code < 500 || code > 599
}
