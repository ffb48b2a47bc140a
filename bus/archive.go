package bus

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedwatch/feedwatch/archive"
	"github.com/feedwatch/feedwatch/item"
)

// The archive: every new item, one message per item identity
// (archive.Identity) on feedwatch.items.<identity>.
const (
	ItemsStream = "FEEDWATCH_ITEMS"
	ItemsPrefix = "feedwatch.items."
)

// ArchiveOptions shape the archive stream (archive.* in the config).
type ArchiveOptions struct {
	// Retention is how long an item is kept; 0 stops archiving (a stream
	// made before is kept, for backtests, until its items expire).
	Retention time.Duration
	// MaxBytes caps the stream; the oldest items go first.
	MaxBytes int64
}

// Archiver stores new items in the archive. Its zero archiving flag (the
// archive off) makes Put a no-op.
type Archiver struct {
	js  jetstream.JetStream
	on  atomic.Bool
	now func() time.Time
	// firstCopy asks the server to store a message only if its subject
	// holds none (what jetstream.WithExpectLastSequencePerSubject(0)
	// sets). One map for every message, only ever read: a map per item
	// was a third of Put's allocations.
	firstCopy nats.Header
}

// SetArchive creates or updates the archive stream to o (nats.replicas
// applies, through ensureStream) and turns archiving on or off.
func (b *Bus) SetArchive(ctx context.Context, o ArchiveOptions) error {
	if o.Retention <= 0 {
		b.archiver.on.Store(false)
		return nil
	}
	_, err := b.ensureStream(ctx, jetstream.StreamConfig{
		Name:        ItemsStream,
		Description: "feedwatch archive: every new item, once, for backtests and catch-up",
		Subjects:    []string{ItemsPrefix + "*"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Compression: jetstream.S2Compression,
		MaxAge:      o.Retention,
		MaxBytes:    o.MaxBytes,
		Discard:     jetstream.DiscardOld,
		// One message per item: the subject is its identity. Put's
		// expected-last-sequence-0 keeps the first copy; this is the
		// backstop should anything publish without it.
		MaxMsgsPerSubject: 1,
		// Items are never republished on purpose: a short window is enough
		// for a poll retried after a lost ack (and it may not exceed MaxAge).
		Duplicates: min(2*time.Minute, o.Retention),
	})
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	b.archiver.on.Store(true)
	return nil
}

// Archiver returns the bus's archiver.
func (b *Bus) Archiver() *Archiver { return &b.archiver }

// On reports whether items are archived.
func (a *Archiver) On() bool { return a.on.Load() }

// Pending is an archiving in flight.
type Pending struct {
	feed string
	futs []jetstream.PubAckFuture
	err  error
}

// archiveAckTimeout bounds the wait for the archive's acks.
const archiveAckTimeout = 10 * time.Second

// Put starts storing items of feed (without waiting: Wait collects the
// acks). An item already in the archive (from this feed, an earlier poll
// or another feed with the same article) is not stored again: the
// message asks for its subject to be empty, so a second copy is refused.
func (a *Archiver) Put(feed item.Feed, items []item.Item) *Pending {
	p := &Pending{feed: feed.Name}
	if !a.on.Load() || len(items) == 0 {
		return p
	}
	now := a.now()
	// One buffer for the poll's records (each message keeps its slice of
	// it until acked): a poll allocates once, not per item and growth.
	var buf []byte
	for i := range items {
		it := &items[i]
		rec := archive.FromItem(feed, it, now)
		if cap(buf)-len(buf) < rec.Size() {
			buf = make([]byte, 0, max(rec.Size(), (len(items)-i)*rec.Size()))
		}
		start := len(buf)
		buf = rec.Encode(buf)
		m := &nats.Msg{Subject: ItemsPrefix + archive.Identity(it), Data: buf[start:len(buf):len(buf)], Header: a.firstCopy}
		f, err := a.js.PublishMsgAsync(m)
		if err != nil {
			p.err = fmt.Errorf("archive items of feed %q: %w", feed.Name, err)
			break
		}
		p.futs = append(p.futs, f)
	}
	return p
}

// Wait waits until the archive stored (or already had) every item, and
// returns how many it stored now.
func (p *Pending) Wait(ctx context.Context) (stored int, err error) {
	if p == nil {
		return 0, nil
	}
	ctx, cancel := context.WithTimeout(ctx, archiveAckTimeout)
	defer cancel()
	errs := []error{p.err}
	for _, f := range p.futs {
		select {
		case ack := <-f.Ok():
			if !ack.Duplicate {
				stored++
			}
		case err := <-f.Err():
			if !alreadyArchived(err) {
				errs = append(errs, err)
			}
		case <-ctx.Done():
			return stored, fmt.Errorf("archive items of feed %q: %w", p.feed, ctx.Err())
		}
	}
	if err := errors.Join(errs...); err != nil {
		return stored, fmt.Errorf("archive items of feed %q: %w", p.feed, err)
	}
	return stored, nil
}

// alreadyArchived reports whether a publish was refused because the item's
// subject holds a message: it is archived.
func alreadyArchived(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}

// ErrNoArchive means there is no archive stream.
var ErrNoArchive = errors.New("no archive")

// noArchive is the error for a missing archive stream: ErrNoArchive, or
// ErrArchiveDamaged when the embedded server's store has the stream's
// folder but the server could not load it.
func (b *Bus) noArchive() error {
	if b.storeDir != "" {
		dir := filepath.Join(b.storeDir, "jetstream", server.DEFAULT_GLOBAL_ACCOUNT, "streams", ItemsStream)
		if _, err := os.Stat(dir); err == nil {
			return fmt.Errorf("%w: the store in data_dir has stream %s, but the NATS server could not load it", ErrArchiveDamaged, ItemsStream)
		}
	}
	return ErrNoArchive
}

// ArchiveInfo is what the archive holds now.
type ArchiveInfo struct {
	Items     uint64
	Bytes     uint64
	First     time.Time // archiving time of the oldest item
	Last      time.Time
	LastSeq   uint64
	Retention time.Duration
	MaxBytes  int64
	// Lost counts items the server found damaged in its store and dropped
	// (a store damaged while stopped); they cannot be read.
	Lost int
}

// ArchiveInfo describes the archive, or returns ErrNoArchive.
func (b *Bus) ArchiveInfo(ctx context.Context) (ArchiveInfo, error) {
	s, err := b.js.Stream(ctx, ItemsStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return ArchiveInfo{}, b.noArchive()
	}
	if err != nil {
		return ArchiveInfo{}, fmt.Errorf("archive: %w", err)
	}
	st := s.CachedInfo()
	info := ArchiveInfo{
		Items: st.State.Msgs, Bytes: st.State.Bytes, First: st.State.FirstTime, Last: st.State.LastTime,
		LastSeq: st.State.LastSeq, Retention: st.Config.MaxAge, MaxBytes: st.Config.MaxBytes,
	}
	if l := st.State.Lost; l != nil {
		info.Lost = len(l.Msgs)
	}
	return info, nil
}

// archiveIdle is how long ReadArchive waits for the next item before it
// takes the rest as unreadable (damage in the store).
const archiveIdle = 5 * time.Second

// ErrArchiveDamaged means items the archive counts could not be read.
var ErrArchiveDamaged = errors.New("archive damaged")

// ReadArchive hands fn, in archive order, each item archived at from or
// later (zero: all) up to the last one archived when it started; data is
// the record's encoding (archive.Decode), a buffer of its own that fn may
// keep and nothing changes afterwards (archive.DecodeShared). It only reads: an ordered,
// ephemeral consumer. fn runs on one goroutine; an error from it stops
// the read and is returned.
func (b *Bus) ReadArchive(ctx context.Context, from time.Time, fn func(seq uint64, data []byte) error) error {
	s, err := b.js.Stream(ctx, ItemsStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return b.noArchive()
	}
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	st := s.CachedInfo().State
	if st.Msgs == 0 || !from.IsZero() && st.LastTime.Before(from) {
		return nil
	}
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if !from.IsZero() && from.After(st.FirstTime) {
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &from
	}
	c, err := s.OrderedConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("archive: read: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct{ err error }
	done := make(chan result, 1)
	finish := func(err error) {
		select {
		case done <- result{err}:
		default:
		}
		cancel()
	}
	var got atomic.Uint64 // the last stream sequence handed to fn
	var inFn atomic.Bool  // fn is running: a slow fn is not a stalled read
	cc, err := c.Consume(func(m jetstream.Msg) {
		if ctx.Err() != nil {
			return
		}
		md, err := m.Metadata()
		if err != nil {
			return
		}
		seq := md.Sequence.Stream
		got.Store(seq)
		inFn.Store(true)
		err = fn(seq, m.Data())
		inFn.Store(false)
		if err != nil {
			finish(err)
			return
		}
		if md.NumPending == 0 || seq >= st.LastSeq {
			finish(nil)
		}
	}, jetstream.PullMaxMessages(1024))
	if err != nil {
		return fmt.Errorf("archive: read: %w", err)
	}
	defer cc.Stop()
	wait := archiveIdle
	if b.archiveIdle > 0 {
		wait = b.archiveIdle
	}
	idle := time.NewTicker(wait)
	defer idle.Stop()
	last := got.Load()
	for {
		select {
		case r := <-done:
			return r.err
		case <-ctx.Done():
			select {
			case r := <-done:
				return r.err
			default:
			}
			return fmt.Errorf("archive: read: %w", ctx.Err())
		case <-idle.C:
			now := got.Load()
			if now == last && !inFn.Load() {
				return fmt.Errorf("%w: nothing could be read past sequence %d of %d for %s", ErrArchiveDamaged, now, st.LastSeq, wait)
			}
			last = now
		}
	}
}
