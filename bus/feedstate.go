package bus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedwatch/feedwatch/watcher"
)

// StateStore keeps per-feed state as opaque bytes. Writes are fenced: a
// feed's state is written with the revision this store last read or wrote
// (Create when it read none), so a watcher that lost the feed to another
// cannot overwrite what the new owner wrote (ErrStateChanged).
type StateStore struct {
	kv   jetstream.KeyValue
	mu   sync.Mutex
	revs map[string]uint64 // by feed, after a Load or Save; 0: absent
}

// ErrStateChanged means a feed's state was written by someone else since
// this store read it. It is the watcher's error, so the watcher knows to
// read the state again.
var ErrStateChanged = watcher.ErrStateChanged

var _ watcher.StateStore = (*StateStore)(nil)

// staleRev marks a feed whose state must be read again before a write.
const staleRev = ^uint64(0)

// FeedState returns the per-feed state store.
func (b *Bus) FeedState() *StateStore { return &StateStore{kv: b.feeds, revs: map[string]uint64{}} }

// Load returns the feed's state, or nil when it has none.
func (s *StateStore) Load(ctx context.Context, feed string) ([]byte, error) {
	e, err := s.kv.Get(ctx, kvKey(feed))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		s.setRev(feed, 0, true)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load state of feed %q: %w", feed, err)
	}
	s.setRev(feed, e.Revision(), true)
	return e.Value(), nil
}

// Save stores the feed's state: an Update against the revision last seen,
// or a plain Put for a feed this store never read.
func (s *StateStore) Save(ctx context.Context, feed string, data []byte) error {
	s.mu.Lock()
	rev, known := s.revs[feed]
	s.mu.Unlock()
	var err error
	var nrev uint64
	switch {
	case known && rev == staleRev:
		return fmt.Errorf("save state of feed %q: %w", feed, ErrStateChanged)
	case !known:
		nrev, err = s.kv.Put(ctx, kvKey(feed), data)
	case rev == 0:
		nrev, err = s.kv.Create(ctx, kvKey(feed), data)
	default:
		nrev, err = s.kv.Update(ctx, kvKey(feed), data, rev)
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		// Until the next Load, nothing is written for this feed.
		s.setRev(feed, staleRev, true)
		return fmt.Errorf("save state of feed %q: %w", feed, ErrStateChanged)
	}
	if err != nil {
		// The revision stays: if the write landed after all, the next
		// Update fails as changed and the state is read again.
		return fmt.Errorf("save state of feed %q: %w", feed, err)
	}
	// An alias record is read before each write (watcher/rename.go): its
	// revision need not be kept, which saves an entry per feed.
	s.setRev(feed, nrev, !watcher.IsAliasName(feed))
	return nil
}

func (s *StateStore) setRev(feed string, rev uint64, known bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if known {
		s.revs[feed] = rev
	} else {
		delete(s.revs, feed)
	}
}

// kvKey maps a name to the KV key alphabet ([-_=./a-zA-Z0-9]), keeping it
// readable and unique: other bytes become =XX.
func kvKey(s string) string {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
			sb.WriteByte(c)
		default:
			fmt.Fprintf(&sb, "=%02X", c)
		}
	}
	return sb.String()
}

// nameOfKey is kvKey's inverse; false for a key kvKey does not make.
func nameOfKey(k string) (string, bool) {
	if !strings.Contains(k, "=") {
		return k, true
	}
	var sb strings.Builder
	for i := 0; i < len(k); i++ {
		if k[i] != '=' {
			sb.WriteByte(k[i])
			continue
		}
		if i+2 >= len(k) {
			return "", false
		}
		v, err := strconv.ParseUint(k[i+1:i+3], 16, 8)
		if err != nil {
			return "", false
		}
		sb.WriteByte(byte(v))
		i += 2
	}
	return sb.String(), true
}

// WatchFeedStates hands fn every feed's stored state, then each change
// as it is written (nil: deleted), until ctx ends or the watch breaks;
// fn runs on one goroutine. initial is called once the states stored
// when the watch began have all been handed over. Status pages use it to
// show the feeds other processes poll.
func (b *Bus) WatchFeedStates(ctx context.Context, fn func(feed string, state []byte), initial func()) error {
	w, err := b.feeds.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch feed states: %w", err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("watch feed states: the watch ended")
			}
			if e == nil {
				if initial != nil {
					initial()
				}
				continue
			}
			feed, ok := nameOfKey(e.Key())
			if !ok {
				continue
			}
			if e.Operation() != jetstream.KeyValuePut {
				fn(feed, nil)
				continue
			}
			fn(feed, e.Value())
		}
	}
}
