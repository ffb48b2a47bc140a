package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedwatch/feedwatch/ownership"
)

// MembersBucket holds one record per running feedwatch process.
const MembersBucket = "feedwatch_members"

// MemberStore implements ownership.Store over the members bucket.
type MemberStore struct {
	mu sync.Mutex
	kv jetstream.KeyValue
	// remake creates the bucket again: it is in memory, so a NATS server
	// that restarts (a single server, or every replica) comes back
	// without it, and no record could be written until it exists again.
	remake func(context.Context) (jetstream.KeyValue, error)
}

var _ ownership.Store = (*MemberStore)(nil)

// Members creates or updates the members bucket and returns its store.
// Records expire ttl after their last write, so a dead process's record
// goes away by itself (the others count it dead from ttl on anyway).
func (b *Bus) Members(ctx context.Context, ttl time.Duration) (*MemberStore, error) {
	remake := func(ctx context.Context) (jetstream.KeyValue, error) {
		kv, err := b.ensureBucket(ctx, membersConfig(ttl))
		if err != nil {
			return nil, fmt.Errorf("create bucket %s: %w", MembersBucket, err)
		}
		return kv, nil
	}
	kv, err := remake(ctx)
	if err != nil {
		return nil, err
	}
	return &MemberStore{kv: kv, remake: remake}, nil
}

func (s *MemberStore) bucket() jetstream.KeyValue {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.kv
}

// bucketGone reports whether err says the bucket's stream is not there
// (it answers nothing, or the server says so).
func bucketGone(err error) bool {
	return errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrBucketNotFound)
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

// Put writes a member's record. When the bucket is gone (a NATS restart
// emptied the server's memory), it is made again and the write retried.
func (s *MemberStore) Put(ctx context.Context, key string, value []byte) error {
	_, err := s.bucket().Put(ctx, key, value)
	if err != nil && bucketGone(err) && s.remake != nil {
		kv, rerr := s.remake(ctx)
		if rerr != nil {
			return fmt.Errorf("put member %s: %w (making the bucket again: %w)", key, err, rerr)
		}
		s.mu.Lock()
		s.kv = kv
		s.mu.Unlock()
		_, err = kv.Put(ctx, key, value)
	}
	if err != nil {
		return fmt.Errorf("put member %s: %w", key, err)
	}
	return nil
}

// Delete removes a member's record.
func (s *MemberStore) Delete(ctx context.Context, key string) error {
	if err := s.bucket().Delete(ctx, key); err != nil {
		return fmt.Errorf("delete member %s: %w", key, err)
	}
	return nil
}

// List returns every record.
func (s *MemberStore) List(ctx context.Context) ([]ownership.Entry, error) {
	w, err := s.bucket().WatchAll(ctx, jetstream.IgnoreDeletes())
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
	w, err := s.bucket().WatchAll(ctx, jetstream.UpdatesOnly())
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
