// Package webhook delivers hits as JSON to an HTTP endpoint, signed with
// HMAC-SHA256 when a secret is set.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/template"
	"time"

	"github.com/feedwatch/feedwatch/feedurl"
	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier"
	"github.com/feedwatch/feedwatch/notifier/httppost"
	"github.com/feedwatch/feedwatch/notifier/render"
	"github.com/feedwatch/feedwatch/redact"
)

// Headers the receiver can rely on.
const (
	HeaderSignature = "X-Feedwatch-Signature"
	HeaderHitID     = "X-Feedwatch-Hit-Id"
)

const defaultTimeout = 10 * time.Second

// Type is the webhook's notifier type in the config file.
const Type = "webhook"

// Settings are a webhook notifier's own keys in the config file.
type Settings struct {
	URL    string `mapstructure:"url"`
	Secret string `mapstructure:"secret"`
}

// Spec describes the webhook to the notifier registry.
func Spec() notifier.Spec[Settings] {
	return notifier.Spec[Settings]{
		Type: Type,
		Keys: map[string]notifier.KeyDoc{
			"url":    {Doc: "Where the hit JSON is POSTed (http or https; may hold a token, so treated as a secret in messages). Required."},
			"secret": {Doc: "HMAC-SHA256 key (secret): the body is signed in `X-Feedwatch-Signature: sha256=<hex>`.", Secret: true},
		},
		// Receivers take a few requests in parallel.
		InFlight: 4,
		Timeout:  defaultTimeout,
		Check: func(s Settings, c notifier.Common) []notifier.FieldError {
			var errs []notifier.FieldError
			var fe notifier.FieldError
			if _, err := checkURL(s.URL); errors.As(err, &fe) {
				errs = append(errs, fe)
			}
			if c.Template != "" {
				errs = append(errs, notifier.Field("template", CheckTemplate(c.Template))...)
			}
			return errs
		},
		New: func(s Settings, c notifier.Common, env notifier.Env) (notifier.Notifier, error) {
			return New(Config{URL: s.URL, Secret: s.Secret, Template: c.Template, Timeout: c.Timeout}, env.Client)
		},
	}
}

// Config is one webhook notifier.
type Config struct {
	URL    string
	Secret string
	// Template, when set, renders each hit's JSON body instead of the hit
	// envelope; it must produce valid JSON.
	Template string
	Timeout  time.Duration
}

// Webhook posts hits to one URL.
type Webhook struct {
	url     string
	host    string // what errors name: the URL may carry a token
	secret  []byte
	tmpl    *template.Template
	timeout time.Duration
	client  *http.Client
	redact  []string
}

var _ notifier.Notifier = (*Webhook)(nil)

// New checks cfg and builds the channel. A nil client means a new
// http.Client; the timeout applies per send either way.
func New(cfg Config, client *http.Client) (*Webhook, error) {
	host, err := checkURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	w := &Webhook{
		url: cfg.URL, host: host, secret: []byte(cfg.Secret),
		timeout: cfg.Timeout, client: client,
		redact: []string{cfg.URL, cfg.Secret, strings.TrimPrefix(cfg.URL, "https://"), strings.TrimPrefix(cfg.URL, "http://")},
	}
	if u, err := url.Parse(cfg.URL); err == nil {
		w.redact = append(w.redact, u.RawQuery, u.Path, u.User.String())
		// A server may echo one part alone: each token-like path segment
		// and each query value is a secret too.
		for _, seg := range strings.Split(u.Path, "/") {
			if feedurl.LooksLikeToken(seg) {
				w.redact = append(w.redact, seg)
			}
		}
		for _, vs := range u.Query() {
			w.redact = append(w.redact, vs...)
		}
	}
	if w.timeout <= 0 {
		w.timeout = defaultTimeout
	}
	if w.client == nil {
		w.client = &http.Client{}
	}
	// Never follow redirects: a 301/302 turns the POST into a GET, and a
	// login page's 200 would count as delivered. A 3xx is an error.
	c := *w.client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	w.client = &c
	if cfg.Template != "" {
		if w.tmpl, err = parseTemplate(cfg.Template); err != nil {
			return nil, fmt.Errorf("template: %w", err)
		}
	}
	return w, nil
}

// checkURL accepts absolute http(s) URLs and returns the host. Its errors
// never quote the URL.
func checkURL(raw string) (string, error) {
	host, err := httppost.CheckURL(raw)
	if err != nil {
		return "", notifier.FieldError{Key: "url", Msg: err.Error()}
	}
	return host, nil
}

// CheckURL validates a webhook URL without echoing it.
func CheckURL(raw string) error {
	_, err := checkURL(raw)
	return err
}

func parseTemplate(text string) (*template.Template, error) {
	t, err := render.Parse("template", text)
	if err != nil {
		return nil, err
	}
	out, err := render.ExecuteSample(t, render.SampleHit(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)))
	if err != nil {
		return nil, err
	}
	if !json.Valid([]byte(out)) {
		return nil, errors.New("output for the sample hit is not valid JSON")
	}
	return t, nil
}

// CheckTemplate parses a body template and renders it on the sample hit.
func CheckTemplate(text string) error {
	_, err := parseTemplate(text)
	return err
}

// Body is the request body for hits: the hit envelope for one, a JSON array
// for a digest. Each hit is as the stream holds it: the engine sends a
// webhook's hits one by one (PerHit), and the profiles list the engine
// gives a hit as delivered is left out when it names only the hit's own.
func (w *Webhook) Body(hits []hit.Hit) ([]byte, error) {
	if w.tmpl == nil {
		plain := make([]hit.Hit, len(hits))
		for i, h := range hits {
			if len(h.Profiles) == 1 && h.Profiles[0] == h.Profile {
				h.Profiles = nil
			}
			plain[i] = h
		}
		if len(plain) == 1 {
			return json.Marshal(plain[0])
		}
		return json.Marshal(plain)
	}
	parts := make([]string, len(hits))
	for i, h := range hits {
		s, err := render.Execute(w.tmpl, h)
		if err != nil {
			return nil, fmt.Errorf("render template: %w", err)
		}
		if !json.Valid([]byte(s)) {
			return nil, fmt.Errorf("render template: hit %s gives invalid JSON", h.ID)
		}
		parts[i] = s
	}
	if len(parts) == 1 {
		return []byte(parts[0]), nil
	}
	return []byte("[" + strings.Join(parts, ",") + "]"), nil
}

// Sign is the X-Feedwatch-Signature value for body.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Notify posts the hits as one request.
func (w *Webhook) Notify(ctx context.Context, hits []hit.Hit) (bool, error) {
	if len(hits) == 0 {
		return false, nil
	}
	body, err := w.Body(hits)
	if err != nil {
		return false, fmt.Errorf("webhook to %s: %w", w.host, err)
	}
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("webhook to %s: build request failed", w.host)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "feedwatch")
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.ID
	}
	req.Header.Set(HeaderHitID, strings.Join(ids, ","))
	if len(w.secret) > 0 {
		req.Header.Set(HeaderSignature, Sign(w.secret, body))
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return true, w.errorf("%s", notifier.TransportError(err))
	}
	defer resp.Body.Close()
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return false, nil
	}
	msg := fmt.Sprintf("status %d", code)
	// Redact before cutting: a secret echoed across the cut would leave a fragment.
	if s := render.Truncate(120, render.OneLine(redact.Secrets(string(excerpt), w.redact...))); s != "" {
		msg += ": " + s
	}
	err = w.errorf("%s", msg)
	switch {
	case code == http.StatusTooManyRequests || code == http.StatusRequestTimeout || code >= 500:
		return true, notifier.WithRetryAfter(err, notifier.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()))
	default:
		return false, err
	}
}

// errorf builds the channel's error as flat text, not wrapping the cause,
// so the secret redaction covers every layer of it.
func (w *Webhook) errorf(format string, args ...any) error {
	return errors.New(redact.Secrets(fmt.Sprintf("webhook to %s: "+format, append([]any{w.host}, args...)...), w.redact...))
}
