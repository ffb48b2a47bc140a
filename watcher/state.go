package watcher

import (
	"encoding/json"
	"time"
)

// feedState is what survives a restart, per feed (JSON in the StateStore).
type feedState struct {
	// ConfigURL is the configured URL this state belongs to; state for
	// another URL is ignored (the config changed while we were down).
	ConfigURL string `json:"config_url"`
	// MovedTo is the URL after a permanent redirect (301/308).
	MovedTo      string    `json:"moved_to,omitempty"`
	ETag         string    `json:"etag,omitempty"`
	LastModified string    `json:"last_modified,omitempty"`
	BodyHash     string    `json:"body_hash,omitempty"`
	LastPoll     time.Time `json:"last_poll,omitzero"`
	NextDue      time.Time `json:"next_due,omitzero"`
	Failures     int       `json:"failures,omitempty"`
	LastError    string    `json:"last_error,omitempty"`
	// LastResult is the result ("ok", "not_modified", "unchanged" or an
	// error kind) of the poll at LastPoll, for status after a restart. It
	// makes no write by itself (see saveState): like LastPoll, it is that
	// of the last poll that wrote the state, at most stateSaveEvery old.
	LastResult string `json:"last_result,omitempty"`
	Gone       bool   `json:"gone,omitempty"`
	// HintUntil is the earliest next poll a server asked for (max-age,
	// Expires, RSS ttl, Retry-After) when it lengthened the wait: a
	// shorter interval from a reload does not bring the poll before it.
	// Like NextDue it makes no write by itself.
	HintUntil time.Time `json:"hint_until,omitzero"`
	// Interval is the poll interval in force at LastPoll: a stored due
	// time is recomputed at load only when the interval is shorter now
	// (states written before it have none and keep their due time).
	Interval time.Duration `json:"interval,omitempty"`
	// Primed: the first successful parse (with backfill) happened.
	Primed bool `json:"primed,omitempty"`
	// Refreshed is when the seen keys of the items present were last
	// re-marked (see refresh policy in poll.go).
	Refreshed time.Time `json:"refreshed,omitzero"`
	// Aliased: the alias record of ConfigURL (rename.go) names this feed.
	// It is written once per feed and URL, not at every save.
	Aliased bool `json:"aliased,omitempty"`
	// MoveAliased: the alias record of MovedTo names this feed too, so a
	// config edited to the URL the feed moved to finds its state even
	// under another name (a feed without name: takes its URL's).
	MoveAliased bool `json:"move_aliased,omitempty"`
	// RenamedFrom are the feed's former names, the one whose state it
	// adopted first: until its first document is delivered, items seen
	// under them count as seen.
	RenamedFrom []string `json:"renamed_from,omitempty"`
	// Saved is when this state was last written.
	Saved time.Time `json:"saved,omitzero"`
}

func decodeState(b []byte) (feedState, error) {
	var st feedState
	if len(b) == 0 {
		return st, nil
	}
	err := json.Unmarshal(b, &st)
	return st, err
}

func (st feedState) encode() ([]byte, error) { return json.Marshal(st) }
