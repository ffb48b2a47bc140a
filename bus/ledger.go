package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedwatch/feedwatch/notifier"
)

// Ledger returns the per-notifier record of delivered hits.
func (b *Bus) Ledger() *Ledger { return &Ledger{kv: b.ledger} }

// Ledger implements notifier.Ledger over a KV bucket.
type Ledger struct{ kv jetstream.KeyValue }

var _ notifier.Ledger = (*Ledger)(nil)

// Delivered reports whether notifierName already delivered hitID.
func (l *Ledger) Delivered(ctx context.Context, notifierName, hitID string) (bool, error) {
	_, err := l.kv.Get(ctx, kvKey(notifierName)+"."+kvKey(hitID))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return false, nil
	default:
		return false, fmt.Errorf("ledger of notifier %q: %w", notifierName, err)
	}
}

// MarkDelivered records that notifierName delivered hitID.
func (l *Ledger) MarkDelivered(ctx context.Context, notifierName, hitID string) error {
	if _, err := l.kv.Put(ctx, kvKey(notifierName)+"."+kvKey(hitID), nil); err != nil {
		return fmt.Errorf("ledger of notifier %q: %w", notifierName, err)
	}
	return nil
}

// droppedMark is the ledger value of a hit whose dead letter was dropped
// (a delivered hit's value is empty): the notifier will never send it.
const droppedMark = "dropped"

// MarkDropped records that notifierName's dead letter of hitID was dropped.
// A hit already marked delivered stays so.
func (l *Ledger) MarkDropped(ctx context.Context, notifierName, hitID string) error {
	_, err := l.kv.Create(ctx, kvKey(notifierName)+"."+kvKey(hitID), []byte(droppedMark))
	if err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("ledger of notifier %q: %w", notifierName, err)
	}
	return nil
}

// mutedMark is the ledger value of a hit acked unsent because its profile
// was muted: the console shows it as muted after the mute ends.
const mutedMark = "muted"

// MarkMuted records that notifierName dropped hitID for a mute. A hit
// already marked stays as it is.
func (l *Ledger) MarkMuted(ctx context.Context, notifierName, hitID string) error {
	_, err := l.kv.Create(ctx, kvKey(notifierName)+"."+kvKey(hitID), []byte(mutedMark))
	if err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("ledger of notifier %q: %w", notifierName, err)
	}
	return nil
}

// clearDropped removes a dropped mark of hitID, leaving a delivered one.
func (l *Ledger) clearDropped(ctx context.Context, notifierName, hitID string) error {
	key := kvKey(notifierName) + "." + kvKey(hitID)
	e, err := l.kv.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("ledger of notifier %q: %w", notifierName, err)
	case string(e.Value()) != droppedMark:
		return nil
	}
	if err := l.kv.Delete(ctx, key, jetstream.LastRevision(e.Revision())); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("ledger of notifier %q: %w", notifierName, err)
	}
	return nil
}

// State says what became of hitID for notifierName, as far as the ledger
// knows: "delivered", "dropped" (its dead letter was dropped), "muted"
// (acked unsent during a mute), or "".
func (l *Ledger) State(ctx context.Context, notifierName, hitID string) (string, error) {
	e, err := l.kv.Get(ctx, kvKey(notifierName)+"."+kvKey(hitID))
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("ledger of notifier %q: %w", notifierName, err)
	case string(e.Value()) == droppedMark:
		return droppedMark, nil
	case string(e.Value()) == mutedMark:
		return mutedMark, nil
	}
	return "delivered", nil
}

// DigestLease is a notifier's digest lease in the lease bucket: the key
// digest.<notifier> holds the holder's id. Taking it is an atomic KV
// Create; renewing is an Update checked against the holder's last revision,
// so a holder whose lease expired and was taken cannot renew it; the
// bucket's TTL ends a lease whose holder stopped renewing.
type DigestLease struct {
	kv    jetstream.KeyValue
	key   string
	owner string

	mu  sync.Mutex
	rev uint64 // revision of our last write; 0 when not held
}

var _ notifier.Lease = (*DigestLease)(nil)

// DigestLease returns notifier's digest lease as seen by owner (a process's
// unique id).
func (b *Bus) DigestLease(notifierName, owner string) *DigestLease {
	return &DigestLease{kv: b.leases, key: "digest." + kvKey(notifierName), owner: owner}
}

// Hold takes or renews the lease and reports whether owner holds it.
func (l *DigestLease) Hold(ctx context.Context) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rev != 0 {
		rev, err := l.kv.Update(ctx, l.key, []byte(l.owner), l.rev)
		if err == nil {
			l.rev = rev
			return true, nil
		}
		l.rev = 0
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return false, fmt.Errorf("renew lease %s: %w", l.key, err)
		}
		// Expired, and perhaps taken: try to take it afresh.
	}
	rev, err := l.kv.Create(ctx, l.key, []byte(l.owner))
	switch {
	case err == nil:
		l.rev = rev
		return true, nil
	case errors.Is(err, jetstream.ErrKeyExists):
		// Ours still, when only our renewal's answer was lost.
		e, gerr := l.kv.Get(ctx, l.key)
		if gerr == nil && string(e.Value()) == l.owner {
			if rev, uerr := l.kv.Update(ctx, l.key, []byte(l.owner), e.Revision()); uerr == nil {
				l.rev = rev
				return true, nil
			}
		}
		return false, nil
	default:
		return false, fmt.Errorf("take lease %s: %w", l.key, err)
	}
}

// Release deletes the lease if owner still holds it.
func (l *DigestLease) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rev == 0 {
		return nil
	}
	rev := l.rev
	l.rev = 0
	if err := l.kv.Delete(ctx, l.key, jetstream.LastRevision(rev)); err != nil {
		return fmt.Errorf("release lease %s: %w", l.key, err)
	}
	return nil
}
