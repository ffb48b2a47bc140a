// Package matrix delivers hits to a Matrix room as m.notice events through
// the client-server API (PUT /_matrix/client/v3/rooms/{roomId}/send/
// m.room.message/{txnId}), on plain net/http: one request does it, and
// mautrix-go would bring a large dependency tree (crypto, database
// drivers) for it.
//
// The transaction id is derived from the notifier's name, the room and the
// hit ids, so a retry of a send whose answer was lost reuses it and the
// homeserver posts the event once; a digest retried with another set of
// hits first repeats the lost send as it was (pending.go). Feed text is untrusted: formatted_body
// is built by this package with every feed string HTML-escaped (the only
// link is the item's own, http(s) only); "m.mentions": {} says the event
// mentions nobody, and each "@" starting a word gets a zero-width space
// after it for servers and clients that still match @room in the body.
// The access token goes in the Authorization header and never appears in
// an error.
package matrix

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier"
	"github.com/feedwatch/feedwatch/notifier/render"
	"github.com/feedwatch/feedwatch/redact"
)

// Type is Matrix's notifier type in the config file.
const Type = "matrix"

const (
	defaultTimeout = 10 * time.Second
	// RateLimit is Synapse's default message rate for a user (rc_message:
	// 0.2/s); an account exempt from it can raise rate_limit.
	RateLimit = 0.2
)

// Settings are a matrix notifier's own keys in the config file.
type Settings struct {
	Homeserver  string `mapstructure:"homeserver"`
	AccessToken string `mapstructure:"access_token"`
	RoomID      string `mapstructure:"room_id"`
}

// Spec describes Matrix to the notifier registry.
func Spec() notifier.Spec[Settings] {
	return notifier.Spec[Settings]{
		Type: Type,
		Keys: map[string]notifier.KeyDoc{
			"homeserver":   {Doc: "Homeserver base URL, like `https://matrix.example.org` (the client-server API, not the server name). Required."},
			"access_token": {Doc: "Access token of the account that posts (secret); it must have joined the room. Required.", Secret: true},
			"room_id":      {Doc: "Room id like `!abcdef:example.org` (room settings, Advanced), not an alias. Required."},
		},
		// Events in a room keep the order they were sent in.
		InFlight:  1,
		RateLimit: RateLimit,
		Timeout:   defaultTimeout,
		Check: func(s Settings, c notifier.Common) []notifier.FieldError {
			errs := s.check()
			if c.Template != "" {
				errs = append(errs, notifier.Field("template", CheckTemplate(c.Template))...)
			}
			return errs
		},
		New: func(s Settings, c notifier.Common, env notifier.Env) (notifier.Notifier, error) {
			return New(Config{Settings: s, Name: env.Name, Template: c.Template, Timeout: c.Timeout}, env.Client)
		},
	}
}

var roomIDRE = regexp.MustCompile(`^![^:\s/]+:[^\s/]+$`)

func (s Settings) check() []notifier.FieldError {
	var errs []notifier.FieldError
	add := func(key, msg string) { errs = append(errs, notifier.FieldError{Key: key, Msg: msg}) }
	if s.Homeserver == "" {
		add("homeserver", "required")
	} else if u, err := url.Parse(s.Homeserver); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		add("homeserver", "not an absolute http(s) URL")
	}
	if s.AccessToken == "" {
		add("access_token", "required")
	}
	switch {
	case s.RoomID == "":
		add("room_id", "required")
	case strings.HasPrefix(s.RoomID, "#"):
		add("room_id", fmt.Sprintf("%q is a room alias: use the room id (!…:server, in the room's settings)", s.RoomID))
	case !roomIDRE.MatchString(s.RoomID):
		add("room_id", fmt.Sprintf("%q is not a room id like !abcdef:example.org", s.RoomID))
	}
	return errs
}

// Config is one Matrix notifier.
type Config struct {
	Settings
	// Name is the notifier's name; it scopes the transaction ids.
	Name string
	// Template, when set, renders each hit's body text under its title
	// (plain text; its data is the hit with mentions broken).
	Template string
	Timeout  time.Duration
}

// Matrix posts hits to one room.
type Matrix struct {
	base    string // {homeserver}/_matrix/client/v3/rooms/{roomId}/send/m.room.message/
	name    string
	roomID  string
	token   string
	tmpl    *template.Template
	timeout time.Duration
	client  *http.Client
	unsure  unsureSends
}

var _ notifier.Notifier = (*Matrix)(nil)

// New checks cfg and builds the channel. A nil client means a new
// http.Client; the timeout applies per send either way.
func New(cfg Config, client *http.Client) (*Matrix, error) {
	if errs := cfg.check(); len(errs) > 0 {
		return nil, errs[0]
	}
	m := &Matrix{
		base:   strings.TrimSuffix(cfg.Homeserver, "/") + "/_matrix/client/v3/rooms/" + url.PathEscape(cfg.RoomID) + "/send/m.room.message/",
		name:   cfg.Name,
		roomID: cfg.RoomID, token: cfg.AccessToken, timeout: cfg.Timeout, client: client,
	}
	if m.timeout <= 0 {
		m.timeout = defaultTimeout
	}
	if m.client == nil {
		m.client = &http.Client{}
	}
	// A redirect is an error, not a PUT replayed elsewhere.
	c := *m.client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	m.client = &c
	if cfg.Template != "" {
		t, err := parseTemplate(cfg.Template)
		if err != nil {
			return nil, fmt.Errorf("template: %w", err)
		}
		m.tmpl = t
	}
	return m, nil
}

// TxnID is the transaction id for a message of hits: the same notifier,
// room and set of hit ids always give the same id, whatever their order,
// so a retried send is one event.
func (m *Matrix) TxnID(hits []hit.Hit) string {
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.ID
	}
	slices.Sort(ids)
	sum := sha256.Sum256([]byte(m.name + "\x00" + m.roomID + "\x00" + strings.Join(ids, "\x00")))
	return "feedwatch-" + hex.EncodeToString(sum[:16])
}

// Notify sends the hits as one event. Hits that a send of unknown outcome
// carried are settled by that send, repeated under its transaction id,
// first (see unsure).
func (m *Matrix) Notify(ctx context.Context, hits []hit.Hit) (bool, error) {
	if len(hits) == 0 {
		return false, nil
	}
	hits, retry, err := m.resolve(ctx, hits)
	if err != nil || len(hits) == 0 {
		return retry, err
	}
	body, err := m.Body(hits)
	if err != nil {
		return false, m.errorf("%v", err)
	}
	txn := m.TxnID(hits)
	retry, err = m.put(ctx, txn, body)
	if err != nil && retry {
		// It may have been posted all the same.
		m.unsure.remember(txn, body, hits, time.Now())
	}
	return retry, err
}

// put sends one event under txn.
func (m *Matrix) put(ctx context.Context, txn string, body []byte) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, m.base+txn, bytes.NewReader(body))
	if err != nil {
		return false, m.errorf("build request failed")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "feedwatch")
	req.Header.Set("Authorization", "Bearer "+m.token)
	resp, err := m.client.Do(req)
	if err != nil {
		return true, m.errorf("%s", notifier.TransportError(err))
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	return m.classify(resp, raw)
}

// matrixError is the client-server API's error body.
type matrixError struct {
	ErrCode      string `json:"errcode"`
	Error        string `json:"error"`
	RetryAfterMS int64  `json:"retry_after_ms"`
}

// classify maps the answer to (retry, error): 429 (M_LIMIT_EXCEEDED) waits
// for the longer of Retry-After and retry_after_ms, 5xx retries, other
// 4xx (unknown token, not in the room, event too large) are for good.
func (m *Matrix) classify(resp *http.Response, raw []byte) (bool, error) {
	code := resp.StatusCode
	var me matrixError
	_ = json.Unmarshal(raw, &me)
	if code >= 200 && code < 300 {
		var ok struct {
			EventID string `json:"event_id"`
		}
		if json.Unmarshal(raw, &ok) == nil && ok.EventID != "" {
			return false, nil
		}
		// Not the homeserver's answer (a proxy's page): retry; the
		// transaction id keeps a repeat from posting twice.
		return true, m.errorf("status %d without an event id: %s", code, m.excerpt(string(raw)))
	}
	msg := fmt.Sprintf("status %d", code)
	switch {
	case me.ErrCode != "":
		msg += ": " + m.excerpt(me.ErrCode+" "+me.Error)
	case len(raw) > 0:
		msg += ": " + m.excerpt(string(raw))
	}
	err := m.errorf("%s", msg)
	header := notifier.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	switch {
	case code == http.StatusTooManyRequests || me.ErrCode == "M_LIMIT_EXCEEDED":
		if d := time.Duration(me.RetryAfterMS) * time.Millisecond; me.RetryAfterMS > 0 && me.RetryAfterMS < 24*3600*1000 && d > header {
			header = d
		}
		return true, notifier.WithRetryAfter(err, header)
	case code >= 500 || code == http.StatusRequestTimeout:
		return true, notifier.WithRetryAfter(err, header)
	default:
		return false, err
	}
}

// excerpt is a server's text on one line, the token redacted before the
// cut.
func (m *Matrix) excerpt(s string) string {
	return render.Truncate(160, render.OneLine(redact.Secrets(s, m.token)))
}

// errorf builds the channel's error as flat text, the token redacted from
// every layer of it.
func (m *Matrix) errorf(format string, args ...any) error {
	return errors.New(redact.Secrets("matrix to room "+m.roomID+": "+fmt.Sprintf(format, args...), m.token))
}
