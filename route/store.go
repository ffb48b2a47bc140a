package route

import (
	"context"

	"github.com/feedwatch/feedwatch/hit"
)

// Alerted tells whether a hit was already published (SPEC: each
// (profile, item) pair alerts once).
type Alerted interface {
	Alerted(ctx context.Context, hitID string) (bool, error)
}

// LinkClaimer records, atomically, the first feed to alert a profile to a
// link and returns the owner: feed itself when the claim is new or already
// its own.
type LinkClaimer interface {
	ClaimLink(ctx context.Context, key, feed string) (owner string, err error)
}

// Publisher stores a hit for delivery.
type Publisher interface {
	PublishHit(ctx context.Context, h hit.Hit) error
}

// Store is what a Router needs of the state kept outside the process; the
// bus implements it over JetStream.
type Store interface {
	Alerted
	LinkClaimer
	Publisher
}

// DryRun is a Store that remembers nothing and claims nothing: every hit is
// new, every link its feed's own, and each hit goes to Emit (nil drops it).
// It serves a backtest, which must send nothing and change no state.
type DryRun struct {
	Emit func(ctx context.Context, h hit.Hit) error
}

var _ Store = DryRun{}

// Alerted reports false: a dry run has no history.
func (DryRun) Alerted(context.Context, string) (bool, error) { return false, nil }

// ClaimLink records nothing and reports the asking feed as the owner.
func (DryRun) ClaimLink(_ context.Context, _, feed string) (string, error) { return feed, nil }

// PublishHit hands h to Emit.
func (d DryRun) PublishHit(ctx context.Context, h hit.Hit) error {
	if d.Emit == nil {
		return nil
	}
	return d.Emit(ctx, h)
}
