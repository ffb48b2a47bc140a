package bus

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// WebSubBucket holds one WebSub subscription record per feed (package
// websub), so that a restart keeps its subscriptions and, in a cluster, a
// feed's new owner finds its previous owner's.
const WebSubBucket = "feedwatch_websub"

// WebSubStore keeps subscription records by feed name.
type WebSubStore struct{ kv jetstream.KeyValue }

// WebSub creates or updates the subscriptions bucket (with nats.replicas)
// and returns its store.
func (b *Bus) WebSub(ctx context.Context) (*WebSubStore, error) {
	kv, err := b.ensureBucket(ctx, jetstream.KeyValueConfig{
		Bucket:      WebSubBucket,
		Description: "WebSub subscriptions, one per feed",
		History:     1,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, err
	}
	return &WebSubStore{kv: kv}, nil
}

// Get returns feed's record, nil when it has none.
func (s *WebSubStore) Get(ctx context.Context, feed string) ([]byte, error) {
	e, err := s.kv.Get(ctx, kvKey(feed))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get websub subscription of feed %q: %w", feed, err)
	}
	return e.Value(), nil
}

// Put writes feed's record.
func (s *WebSubStore) Put(ctx context.Context, feed string, data []byte) error {
	if _, err := s.kv.Put(ctx, kvKey(feed), data); err != nil {
		return fmt.Errorf("put websub subscription of feed %q: %w", feed, err)
	}
	return nil
}

// Delete removes feed's record.
func (s *WebSubStore) Delete(ctx context.Context, feed string) error {
	if err := s.kv.Delete(ctx, kvKey(feed)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("delete websub subscription of feed %q: %w", feed, err)
	}
	return nil
}

// List returns every record.
func (s *WebSubStore) List(ctx context.Context) ([][]byte, error) {
	w, err := s.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("list websub subscriptions: %w", err)
	}
	defer func() { _ = w.Stop() }()
	var out [][]byte
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("list websub subscriptions: watcher closed")
			}
			if e == nil {
				return out, nil
			}
			out = append(out, e.Value())
		case <-ctx.Done():
			return nil, fmt.Errorf("list websub subscriptions: %w", ctx.Err())
		}
	}
}
