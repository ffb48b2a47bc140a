// Package hit defines the hit message that flows from the matcher through
// NATS to the notifiers: the SPEC's JSON body, version 1.
package hit

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Version is the value of the "v" field this code writes and reads.
const Version = 1

// Hit is one (profile, item) match, as published on feedwatch.hits.<profile>.
type Hit struct {
	V          int       `json:"v"`
	ID         string    `json:"id"`
	Profile    string    `json:"profile"`
	DetectedAt time.Time `json:"detected_at"`
	Feed       Feed      `json:"feed"`
	Item       Item      `json:"item"`
	Matches    []Match   `json:"matches"`
	Snippet    string    `json:"snippet"`
	// Profiles is set on a hit as delivered, never on the stream: every
	// profile the item matched that this one message reports, Profile
	// first. The notifiers send one message per item, not one per profile.
	Profiles []string `json:"profiles,omitempty"`
}

// AllProfiles is Profiles, or Profile alone when Profiles is empty (a hit
// as published, or a sample).
func (h Hit) AllProfiles() []string {
	if len(h.Profiles) > 0 {
		return h.Profiles
	}
	return []string{h.Profile}
}

// Feed is the hit's source feed.
type Feed struct {
	Name  string `json:"name"`
	URL   string `json:"url"`
	Title string `json:"title"`
}

// Item is the matched entry. Summary is plain text, at most 1000 characters.
type Item struct {
	ID         string     `json:"id"`
	Title      string     `json:"title"`
	Link       string     `json:"link"`
	Published  *time.Time `json:"published"`
	Authors    []string   `json:"authors"`
	Categories []string   `json:"categories"`
	Summary    string     `json:"summary"`
}

// Match is one place a profile's term matched: the field, the article's own
// words there, and the term from the profile.
type Match struct {
	Field string `json:"field"`
	Text  string `json:"text"`
	Term  string `json:"term"`
}

// ID is the stable hit id for a profile and an item identity: the same pair
// always gives the same id, so JetStream drops a republished hit.
func ID(profile, itemKey string) string {
	h := sha256.New()
	h.Write([]byte(profile))
	h.Write([]byte{0})
	h.Write([]byte(itemKey))
	return hex.EncodeToString(h.Sum(nil)[:16])
}
