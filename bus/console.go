package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier"
)

// What the web console reads: the hits stream from a time on (its
// in-memory index), single hits by sequence, the dead letters, and the
// mutes bucket.

// TailHits reads the last n messages of the hits stream, then follows it,
// calling fn with each message's stream sequence and body, until ctx ends.
// It reads through an ordered consumer: nothing durable is made on the
// server, and the client recreates it after a reconnect.
func (b *Bus) TailHits(ctx context.Context, n int, fn func(seq uint64, data []byte)) error {
	s, err := b.js.Stream(ctx, HitsStream)
	if err != nil {
		return fmt.Errorf("stream %s: %w", HitsStream, err)
	}
	// Hits only: a dead letter replayed to one notifier is the same hit
	// again, not a new one.
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy, FilterSubjects: []string{HitsSubjects}}
	if last := s.CachedInfo().State.LastSeq; n > 0 && last >= uint64(n) {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = last - uint64(n) + 1
	}
	c, err := s.OrderedConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("stream %s: follow: %w", HitsStream, err)
	}
	cc, err := c.Consume(func(m jetstream.Msg) {
		md, err := m.Metadata()
		if err != nil {
			return
		}
		fn(md.Sequence.Stream, m.Data())
	})
	if err != nil {
		return fmt.Errorf("stream %s: follow: %w", HitsStream, err)
	}
	<-ctx.Done()
	cc.Stop()
	return nil
}

// Hit reads one hit of the hits stream by its sequence.
func (b *Bus) Hit(ctx context.Context, seq uint64) (hit.Hit, error) {
	var h hit.Hit
	s, err := b.js.Stream(ctx, HitsStream)
	if err != nil {
		return h, fmt.Errorf("stream %s: %w", HitsStream, err)
	}
	m, err := s.GetMsg(ctx, seq)
	if err != nil {
		return h, fmt.Errorf("hit at %d: %w", seq, err)
	}
	if err := json.Unmarshal(m.Data, &h); err != nil {
		return h, fmt.Errorf("hit at %d: %w", seq, err)
	}
	return h, nil
}

// DeadBox lists, replays and drops dead letters for the web console,
// addressed by their sequence in the dead-letter stream. Replay and drop
// are the CLI's (ReplayDead, DropDead): a replayed hit goes back to its
// own notifier only.
type DeadBox struct{ b *Bus }

// DeadBox returns the dead-letter stream's reader.
func (b *Bus) DeadBox() *DeadBox { return &DeadBox{b: b} }

// List returns up to limit dead letters, newest first.
func (d *DeadBox) List(ctx context.Context, limit int) ([]DeadEntry, error) {
	s, err := d.b.js.Stream(ctx, DeadStream)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", DeadStream, err)
	}
	st := s.CachedInfo().State
	if st.Msgs == 0 {
		return nil, nil
	}
	var out []DeadEntry
	// Newest first, by sequence; dropped letters leave gaps.
	for seq := st.LastSeq; seq >= st.FirstSeq && seq > 0 && len(out) < limit; seq-- {
		e, err := d.get(ctx, s, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
	return out, nil
}

func (d *DeadBox) get(ctx context.Context, s jetstream.Stream, seq uint64) (DeadEntry, error) {
	m, err := s.GetMsg(ctx, seq)
	if err != nil {
		return DeadEntry{}, fmt.Errorf("dead letter %d: %w", seq, err)
	}
	e := DeadEntry{Seq: seq, Notifier: strings.TrimPrefix(m.Subject, DeadPrefix)}
	if err := json.Unmarshal(m.Data, &e.Letter); err != nil {
		e.Unreadable = true
		e.Letter = notifier.DeadLetter{Error: "unreadable dead letter: " + err.Error(), At: m.Time.UTC()}
	}
	e.Letter.Notifier = e.Notifier
	return e, nil
}

// Drop removes one dead letter.
func (d *DeadBox) Drop(ctx context.Context, seq uint64) error { return d.b.DropDead(ctx, seq) }

// Replay hands one dead letter back to its notifier and removes it.
func (d *DeadBox) Replay(ctx context.Context, seq uint64) error {
	s, err := d.b.js.Stream(ctx, DeadStream)
	if err != nil {
		return fmt.Errorf("stream %s: %w", DeadStream, err)
	}
	e, err := d.get(ctx, s, seq)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	return d.b.ReplayDead(ctx, e)
}

// MutesBucket holds each muted profile's mute end (key: the profile).
const MutesBucket = "feedwatch_mutes"

// Mutes are the profiles muted from the console, shared by every process
// through a KV bucket and kept in memory by a watch, so that asking costs
// nothing per hit.
type Mutes struct {
	kv jetstream.KeyValue

	mu    sync.Mutex
	until map[string]time.Time
	now   func() time.Time
}

// Mutes creates or updates the mutes bucket and starts watching it until
// ctx ends. A mute's record expires a week after it was set: no mute lasts
// longer (the hits stream keeps a week).
func (b *Bus) Mutes(ctx context.Context, now func() time.Time) (*Mutes, error) {
	kv, err := b.ensureBucket(ctx, jetstream.KeyValueConfig{
		Bucket:      MutesBucket,
		Description: "profiles muted from the web console, with when each mute ends",
		History:     1,
		TTL:         MaxMute + time.Hour,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("create bucket %s: %w", MutesBucket, err)
	}
	if now == nil {
		now = time.Now
	}
	m := &Mutes{kv: kv, until: map[string]time.Time{}, now: now}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("watch bucket %s: %w", MutesBucket, err)
	}
	go func() {
		defer func() { _ = w.Stop() }()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil {
					continue // the end of the initial values
				}
				m.apply(e)
			}
		}
	}()
	return m, nil
}

// MaxMute is the longest mute.
const MaxMute = 7 * 24 * time.Hour

func (m *Mutes) apply(e jetstream.KeyValueEntry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		delete(m.until, e.Key())
		return
	}
	t, err := time.Parse(time.RFC3339, string(e.Value()))
	if err != nil {
		delete(m.until, e.Key())
		return
	}
	m.until[e.Key()] = t
}

// Muted reports whether profile is muted now.
func (m *Mutes) Muted(profile string) bool {
	if m == nil {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.until[profile]
	return ok && m.now().Before(t)
}

// List returns the mutes in force, by profile.
func (m *Mutes) List() map[string]time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	out := map[string]time.Time{}
	for p, t := range m.until {
		if now.Before(t) {
			out[p] = t
		}
	}
	return out
}

// Mute mutes profile until the given time; a time not after now unmutes
// it. Profile names are [a-z0-9_-]+, valid keys as they are.
func (m *Mutes) Mute(ctx context.Context, profile string, until time.Time) error {
	if !m.now().Before(until) {
		if err := m.kv.Delete(ctx, profile); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("unmute profile %q: %w", profile, err)
		}
		m.mu.Lock()
		delete(m.until, profile)
		m.mu.Unlock()
		return nil
	}
	if _, err := m.kv.Put(ctx, profile, []byte(until.UTC().Format(time.RFC3339))); err != nil {
		return fmt.Errorf("mute profile %q: %w", profile, err)
	}
	// The watch applies it too; applying here makes the caller's next
	// read see it at once.
	m.mu.Lock()
	m.until[profile] = until
	m.mu.Unlock()
	return nil
}
