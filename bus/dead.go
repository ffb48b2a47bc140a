package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedwatch/feedwatch/notifier"
)

// ReplayPrefix starts the subject, in the hits stream, on which a dead
// letter is handed back to its notifier: feedwatch.replay.<notifier>. Each
// notifier's consumer takes its own replay subject besides its profiles'
// hits, so a replayed hit reaches that notifier alone, through its normal
// path (ledger, retries, rate limit). It lies outside feedwatch.hits.> so
// that other readers of hits do not see a replay as a new hit.
const ReplayPrefix = "feedwatch.replay."

// DeadEntry is one stored dead letter.
type DeadEntry struct {
	// Seq is its sequence in the dead-letter stream.
	Seq uint64
	// Notifier is the notifier it is for, from its subject.
	Notifier string
	// Letter is its body. A body that does not decode keeps the zero hit
	// and says why in Error.
	Letter notifier.DeadLetter
	// Unreadable is set when the body did not decode.
	Unreadable bool
}

// DeadCounts returns how many dead letters each notifier has.
func (b *Bus) DeadCounts(ctx context.Context) (map[string]uint64, error) {
	s, err := b.js.Stream(ctx, DeadStream)
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(DeadPrefix+">"))
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	out := make(map[string]uint64, len(info.State.Subjects))
	for subj, n := range info.State.Subjects {
		out[strings.TrimPrefix(subj, DeadPrefix)] += n
	}
	return out, nil
}

// ListDead returns the dead letters of notifierName (every notifier when
// empty), oldest first. It reads each with a direct "next on subject" get:
// dead letters are few, and this needs no consumer.
func (b *Bus) ListDead(ctx context.Context, notifierName string) ([]DeadEntry, error) {
	s, err := b.js.Stream(ctx, DeadStream)
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	subject := DeadPrefix + ">"
	if notifierName != "" {
		subject = DeadPrefix + notifierName
	}
	var out []DeadEntry
	for seq := uint64(1); ; {
		m, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("dead letters: read from sequence %d: %w", seq, err)
		}
		e := DeadEntry{Seq: m.Sequence, Notifier: strings.TrimPrefix(m.Subject, DeadPrefix)}
		if err := json.Unmarshal(m.Data, &e.Letter); err != nil {
			e.Unreadable = true
			e.Letter = notifier.DeadLetter{Error: fmt.Sprintf("unreadable dead letter: %v", err), At: m.Time.UTC()}
		}
		e.Letter.Notifier = e.Notifier
		out = append(out, e)
		seq = m.Sequence + 1
	}
	return out, nil
}

// DropDead removes dead letters by their sequence, and records each hit as
// dropped in its notifier's ledger, so that the web console says so instead
// of showing it pending for ever. One already gone (a drop or replay by
// someone else meanwhile) is not an error.
func (b *Bus) DropDead(ctx context.Context, seqs ...uint64) error {
	s, err := b.js.Stream(ctx, DeadStream)
	if err != nil {
		return fmt.Errorf("dead letters: %w", err)
	}
	for _, seq := range seqs {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("drop dead letter %d: %w", seq, err)
		}
		if err := b.deleteDead(ctx, s, seq); err != nil {
			return err
		}
		var l notifier.DeadLetter
		if json.Unmarshal(m.Data, &l) != nil || l.Hit.ID == "" || b.ledger == nil {
			continue
		}
		if err := b.Ledger().MarkDropped(ctx, strings.TrimPrefix(m.Subject, DeadPrefix), l.Hit.ID); err != nil {
			return fmt.Errorf("drop dead letter %d: removed, but %w", seq, err)
		}
	}
	return nil
}

// deleteDead removes one dead letter; one already gone is not an error.
func (b *Bus) deleteDead(ctx context.Context, s jetstream.Stream, seq uint64) error {
	err := s.DeleteMsg(ctx, seq)
	if err == nil {
		return nil
	}
	// The server answers a missing message with a generic "delete
	// failed": look whether it is there.
	if _, gerr := s.GetMsg(ctx, seq); errors.Is(gerr, jetstream.ErrMsgNotFound) {
		return nil
	}
	return fmt.Errorf("drop dead letter %d: %w", seq, err)
}

// ReplayDead hands the hit of e back to its notifier and then removes e and
// the other dead letters in also (the same hit, same notifier): the hit is
// stored on feedwatch.replay.<notifier> before anything is removed, so a
// failure in between leaves the dead letter to replay again, and the
// message id (the first dead letter's sequence) lets JetStream drop that
// second replay inside its duplicate window. The notifier's ledger drops it
// after that: a hit is delivered once.
func (b *Bus) ReplayDead(ctx context.Context, e DeadEntry, also ...uint64) error {
	if e.Unreadable || e.Letter.Hit.ID == "" {
		return fmt.Errorf("replay dead letter %d for notifier %q: it holds no hit to replay", e.Seq, e.Notifier)
	}
	data, err := json.Marshal(e.Letter.Hit)
	if err != nil {
		return fmt.Errorf("replay hit %s to notifier %q: encode: %w", e.Letter.Hit.ID, e.Notifier, err)
	}
	if b.ledger != nil {
		// Another dead letter of this hit may have been dropped: its mark
		// would make the notifier skip the replay as delivered.
		if err := b.Ledger().clearDropped(ctx, e.Notifier, e.Letter.Hit.ID); err != nil {
			return fmt.Errorf("replay hit %s to notifier %q: %w", e.Letter.Hit.ID, e.Notifier, err)
		}
	}
	id := "replay." + e.Notifier + "." + strconv.FormatUint(e.Seq, 10)
	if _, err := b.js.Publish(ctx, ReplayPrefix+e.Notifier, data, jetstream.WithMsgID(id)); err != nil {
		return fmt.Errorf("replay hit %s to notifier %q: %w", e.Letter.Hit.ID, e.Notifier, err)
	}
	s, err := b.js.Stream(ctx, DeadStream)
	if err != nil {
		return fmt.Errorf("replay hit %s to notifier %q: handed back, but dead letters: %w", e.Letter.Hit.ID, e.Notifier, err)
	}
	for _, seq := range append([]uint64{e.Seq}, also...) {
		if err := b.deleteDead(ctx, s, seq); err != nil {
			return fmt.Errorf("replay hit %s to notifier %q: handed back, but %w", e.Letter.Hit.ID, e.Notifier, err)
		}
	}
	return nil
}

// HasConsumer reports whether notifierName's durable consumer exists: a
// replay waits in the hits stream for it, and a consumer made after the
// replay starts at new hits and would never see it.
func (b *Bus) HasConsumer(ctx context.Context, notifierName string) (bool, error) {
	_, err := b.js.Consumer(ctx, HitsStream, ConsumerName(notifierName))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		return false, nil
	default:
		return false, fmt.Errorf("consumer of notifier %q: %w", notifierName, err)
	}
}

// redead stores a dead letter again when JetStream took it for a duplicate
// of one since removed: a replayed hit that fails again within the
// duplicate window of its first dead letter (same message id) must become
// a dead letter again, not vanish. A duplicate of a dead letter still
// stored is a true repeat (a crash between the dead letter and the Term)
// and is dropped. Each further try uses an id naming the sequence it
// collided with, so the chain of ids ends.
func (d *DeadLetters) redead(ctx context.Context, subject string, data []byte, id string, ack *jetstream.PubAck) error {
	s, err := d.js.Stream(ctx, DeadStream)
	if err != nil {
		return err
	}
	for range 100 {
		if !ack.Duplicate {
			return nil
		}
		_, err := s.GetMsg(ctx, ack.Sequence)
		if err == nil {
			return nil // still stored: a true repeat
		}
		if !errors.Is(err, jetstream.ErrMsgNotFound) {
			return err
		}
		ack, err = d.js.Publish(ctx, subject, data, jetstream.WithMsgID(id+".after."+strconv.FormatUint(ack.Sequence, 10)))
		if err != nil {
			return err
		}
	}
	return errors.New("too many removed dead letters of the same hit inside the duplicate window")
}
