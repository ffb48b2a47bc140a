package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedwatch/feedwatch/ownership"
)

// MembersBucket holds one record per running feedwatch process.
const MembersBucket = "feedwatch_members"

// MemberStore implements ownership.Store over the members bucket.
type MemberStore struct{ kv jetstream.KeyValue }

var _ ownership.Store = (*MemberStore)(nil)

// Members creates or updates the members bucket and returns its store.
// Records expire ttl after their last write, so a dead process's record
// goes away by itself (the others count it dead from ttl on anyway).
func (b *Bus) Members(ctx context.Context, ttl time.Duration) (*MemberStore, error) {
	kv, err := b.ensureBucket(ctx, membersConfig(ttl))
	if err != nil {
		return nil, fmt.Errorf("create bucket %s: %w", MembersBucket, err)
	}
	return &MemberStore{kv: kv}, nil
}

func membersConfig(ttl time.Duration) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      MembersBucket,
		Description: "feedwatch processes, renewed every few seconds",
		History:     1,
		TTL:         ttl,
		// Records live seconds and are rewritten as they go: memory is enough.
		Storage: jetstream.MemoryStorage,
	}
}

// Put writes a member's record.
func (s *MemberStore) Put(ctx context.Context, key string, value []byte) error {
	if _, err := s.kv.Put(ctx, key, value); err != nil {
		return fmt.Errorf("put member %s: %w", key, err)
	}
	return nil
}

// Delete removes a member's record.
func (s *MemberStore) Delete(ctx context.Context, key string) error {
	if err := s.kv.Delete(ctx, key); err != nil {
		return fmt.Errorf("delete member %s: %w", key, err)
	}
	return nil
}

// List returns every record.
func (s *MemberStore) List(ctx context.Context) ([]ownership.Entry, error) {
	w, err := s.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	defer func() { _ = w.Stop() }()
	var out []ownership.Entry
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("list members: watcher closed")
			}
			if e == nil {
				return out, nil
			}
			out = append(out, entry(e))
		case <-ctx.Done():
			return nil, fmt.Errorf("list members: %w", ctx.Err())
		}
	}
}

// Watch sends every change after the current records until ctx ends.
func (s *MemberStore) Watch(ctx context.Context) (<-chan ownership.Entry, error) {
	w, err := s.kv.WatchAll(ctx, jetstream.UpdatesOnly())
	if err != nil {
		return nil, fmt.Errorf("watch members: %w", err)
	}
	out := make(chan ownership.Entry, 16)
	go func() {
		defer close(out)
		defer func() { _ = w.Stop() }()
		for {
			select {
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil {
					continue
				}
				select {
				case out <- entry(e):
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

func entry(e jetstream.KeyValueEntry) ownership.Entry {
	return ownership.Entry{
		Key:      e.Key(),
		Value:    e.Value(),
		Revision: e.Revision(),
		Created:  e.Created(),
		Deleted:  e.Operation() != jetstream.KeyValuePut,
	}
}

// Forget drops what the store remembers of the feed's log position: a
// feed that another process may have written since (ownership moved) is
// read again before the next write.
func (s *SeenStore) Forget(feed string) { s.logs.forget(feedToken(feed)) }
