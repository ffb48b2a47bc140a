package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/route"
)

// The bus keeps what routing needs across processes and restarts.
var _ route.Store = (*Bus)(nil)

// Alerted reports whether a hit id was already published.
func (b *Bus) Alerted(ctx context.Context, hitID string) (bool, error) {
	_, err := b.alerted.Get(ctx, hitID)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return false, nil
	default:
		return false, fmt.Errorf("alerted %s: %w", hitID, err)
	}
}

// ClaimLink records feed as the first to alert key (a profile and a
// normalised link) and returns the feed that holds the claim: feed itself,
// or the one that claimed it before. KV Create makes the claim atomic, so two
// feeds polled at once cannot both win.
func (b *Bus) ClaimLink(ctx context.Context, key, feed string) (string, error) {
	_, err := b.alerted.Create(ctx, key, []byte(feed))
	if err == nil {
		return feed, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return "", fmt.Errorf("claim link %s: %w", key, err)
	}
	e, err := b.alerted.Get(ctx, key)
	if err != nil {
		return "", fmt.Errorf("claim link %s: %w", key, err)
	}
	return string(e.Value()), nil
}

// PublishHit stores h in the hits stream (waiting for JetStream's ack) and
// then records its id as alerted.
func (b *Bus) PublishHit(ctx context.Context, h hit.Hit) error {
	data, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("encode hit %s: %w", h.ID, err)
	}
	if _, err := b.js.Publish(ctx, HitsPrefix+h.Profile, data, jetstream.WithMsgID(h.ID)); err != nil {
		return fmt.Errorf("publish hit %s for profile %q: %w", h.ID, h.Profile, err)
	}
	if _, err := b.alerted.Put(ctx, h.ID, nil); err != nil {
		return fmt.Errorf("record hit %s: %w", h.ID, err)
	}
	return nil
}
