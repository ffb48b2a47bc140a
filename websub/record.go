package websub

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"time"
)

// State is where a feed's subscription stands.
type State string

// The states of a subscription. A feed with none has no hub (or WebSub is
// off).
const (
	StateNone    State = "none"
	StatePending State = "pending" // asked, not verified (yet): polled at the normal interval
	StateActive  State = "active"  // verified, lease running: polled at the fallback interval
	StateDenied  State = "denied"  // the hub said no; asked again a day later
)

// Record is one feed's subscription, as stored (JSON) so that a restart
// keeps it. Secret never leaves the process except to the hub.
type Record struct {
	Feed     string `json:"feed"`
	Hub      string `json:"hub"`
	Topic    string `json:"topic"`
	ID       string `json:"id"`       // last path element of Callback: 128 random bits
	Callback string `json:"callback"` // callback_url + "/" + ID
	Secret   string `json:"secret"`
	State    State  `json:"state"`
	// LeaseSeconds is what the hub granted at the last verification.
	LeaseSeconds int       `json:"lease_seconds,omitempty"`
	Expires      time.Time `json:"expires,omitzero"`
	// NextAttempt is when the next subscribe request goes out (first
	// request, retry after an error or an unanswered one, renewal).
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	Attempts    int       `json:"attempts,omitempty"`
	// Asked is when the last subscribe request went out: a verification
	// is answered only for a request made lately (askWindow), so nobody
	// can reset a lease with a verification we never asked for.
	Asked  time.Time `json:"asked,omitzero"`
	Reason string    `json:"reason,omitempty"` // the last error or denial, for status
	// PrivateFeed: the feed's URL is on a loopback or private address, so
	// its hub may be too.
	PrivateFeed bool `json:"private_feed,omitempty"`

	// Not stored: what happened since this process loaded it.
	lastPush time.Time
	inFlight bool
	// hubMasked is feedurl.Masked(Hub), for status pages.
	hubMasked string
}

// Store keeps records by feed (a KV bucket in the daemon).
type Store interface {
	Get(ctx context.Context, feed string) ([]byte, error) // nil, nil when absent
	Put(ctx context.Context, feed string, data []byte) error
	Delete(ctx context.Context, feed string) error
	List(ctx context.Context) ([][]byte, error)
}

func (r *Record) encode() ([]byte, error) { return json.Marshal(r) }

func decodeRecord(b []byte) (*Record, error) {
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// randomToken returns n random bytes, base64url: callback ids and secrets.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand panics rather than return an error)
	return base64.RawURLEncoding.EncodeToString(b)
}
