package bus

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedwatch/feedwatch/archive"
	"github.com/feedwatch/feedwatch/item"
)

// The archive. Since the one-message-per-poll format, a poll's new items
// of a feed are one message, a batch (archive.BatchWriter), on
// feedwatch.items.b.<token of the feed>. Archives written before hold one
// message per item (a record) on feedwatch.items.<identity>; they are
// still read, told apart by their subject.
const (
	ItemsStream = "FEEDWATCH_ITEMS"
	ItemsPrefix = "feedwatch.items."
	// ItemsBatchPrefix starts a batch's subject.
	ItemsBatchPrefix = ItemsPrefix + "b."
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
	log *slog.Logger
	w   *archive.BatchWriter
	// recent is what this process archived lately: an item two feeds
	// carry is written once (readers skip any later copy anyway).
	recent recentSet
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
		Description: "feedwatch archive: every new item, one message per poll, for backtests and catch-up",
		// Both subjects: batches, and per-item messages of archives written
		// before, kept until they expire.
		Subjects:  []string{ItemsPrefix + "*", ItemsBatchPrefix + "*"},
		Storage:   jetstream.FileStorage,
		Retention: jetstream.LimitsPolicy,
		// The SPEC's archive is a compressed stream, and S2 is what
		// JetStream offers. The client also compresses each batch (zstd,
		// which S2 cannot do for a message of its own): S2 then finds
		// little in a batch but the subjects and headers between them, and
		// it runs once per sealed block, off the poll (measured in
		// docs/design.md). Each block records its own compression, so a
		// stream made without it before still reads; the server applies the
		// change to blocks it writes after it next loads the stream.
		Compression: jetstream.S2Compression,
		MaxAge:      o.Retention,
		MaxBytes:    o.MaxBytes,
		Discard:     jetstream.DiscardOld,
		// A batch subject names a feed, not an item: no per-subject limit
		// (archives written before set 1).
		MaxMsgsPerSubject: -1,
		// Batches carry no message id; the window (the server's default,
		// which may not exceed MaxAge) is only for what others publish.
		Duplicates: min(2*time.Minute, o.Retention),
	})
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	if b.archiver.w == nil { // a bus opened read-only has none
		if b.archiver.w, err = archive.NewBatchWriter(); err != nil {
			return fmt.Errorf("archive: %w", err)
		}
	}
	b.archiver.recent.setRetention(o.Retention)
	b.archiver.on.Store(true)
	return nil
}

// Archiver returns the bus's archiver.
func (b *Bus) Archiver() *Archiver { return &b.archiver }

// On reports whether items are archived.
func (a *Archiver) On() bool { return a.on.Load() }

// Pending is an archiving in flight.
type Pending struct {
	a    *Archiver
	feed string
	msgs []pendingMsg
	err  error
}

type pendingMsg struct {
	fut jetstream.PubAckFuture
	ids []archive.ID
}

// archiveAckTimeout bounds the wait for the archive's acks.
const archiveAckTimeout = 10 * time.Second

// maxBatchPayload bounds a batch message below the server's max_payload
// (1 MB by default): the room left is for its subject and headers.
func (a *Archiver) maxBatchPayload() int {
	return max(int(a.js.Conn().MaxPayload())-4096, 4096)
}

// Put starts storing feed's new items of a poll, as one message (without
// waiting: Wait collects the ack). Items this process archived lately
// (another feed with the same article, a poll offered again) are left out;
// a copy that gets through anyway (another process, a restart) is skipped
// by readers, which keep an item's first copy.
func (a *Archiver) Put(feed item.Feed, items []item.Item) *Pending {
	p := &Pending{a: a, feed: feed.Name}
	if !a.on.Load() || len(items) == 0 {
		return p
	}
	now := a.now()
	recs := make([]archive.Record, 0, len(items))
	ids := make([]archive.ID, 0, len(items))
	for i := range items {
		it := &items[i]
		id := archive.IdentityOf(it)
		if a.recent.has(id, now) || slices.Contains(ids, id) {
			continue
		}
		ids = append(ids, id)
		recs = append(recs, archive.FromItem(feed, it, now))
	}
	if len(recs) == 0 {
		return p
	}
	subject := batchSubject(feed.Name)
	p.err = a.publish(p, subject, recs, ids, nil) // Wait names the feed
	return p
}

// batchSubject is the subject of a feed's batches: a token of its name
// (any name makes a valid subject; one subject per feed, whatever the
// number of polls, keeps the server's subject index small).
func batchSubject(feed string) string {
	sum := sha256.Sum256([]byte(feed))
	return ItemsBatchPrefix + base64.RawURLEncoding.EncodeToString(sum[:16])
}

// publish sends recs as one batch, or as several when its message would
// be too large for the server.
func (a *Archiver) publish(p *Pending, subject string, recs []archive.Record, ids []archive.ID, scratch []byte) error {
	data, scratch, err := a.w.AppendBatch(nil, scratch, recs, ids)
	if len(recs) == 1 && (errors.Is(err, archive.ErrBatchTooLarge) || err == nil && len(data) > a.maxBatchPayload()) {
		// One item too large for a message on its own: its text is cut
		// to fit (compressed, it takes no more than this, plus zstd's few
		// bytes of framing), so a huge entry cannot fail its feed's polls
		// for good.
		r := recs[0]
		if r.CutText(a.maxBatchPayload() - 1024) {
			a.log.Warn("archive: an item's text is too large for one message; only its start is stored",
				"feed", p.feed, "item", r.Link, "id", r.ID, "stored_bytes", len(r.Title)+len(r.Summary)+len(r.Content))
			return a.publish(p, subject, []archive.Record{r}, ids, scratch)
		}
	}
	if err != nil && len(recs) == 1 {
		return err
	}
	if err != nil || len(data) > a.maxBatchPayload() && len(recs) > 1 {
		h := len(recs) / 2
		if err := a.publish(p, subject, recs[:h], ids[:h], scratch); err != nil {
			return err
		}
		return a.publish(p, subject, recs[h:], ids[h:], scratch)
	}
	// No message id: the server's duplicate check would cost every poll
	// CPU and ~50 stored bytes (a tenth of a one-item poll's message) to
	// catch a poll retried after a lost ack, whose second copy readers
	// skip anyway.
	f, err := a.js.PublishMsgAsync(&nats.Msg{Subject: subject, Data: data})
	if err != nil {
		return err
	}
	p.msgs = append(p.msgs, pendingMsg{fut: f, ids: ids})
	return nil
}

// Wait waits until the archive stored (or already had) the poll's items,
// and returns how many it stored now.
func (p *Pending) Wait(ctx context.Context) (stored int, err error) {
	if p == nil {
		return 0, nil
	}
	ctx, cancel := context.WithTimeout(ctx, archiveAckTimeout)
	defer cancel()
	errs := []error{p.err}
	for _, m := range p.msgs {
		select {
		case ack := <-m.fut.Ok():
			if !ack.Duplicate {
				stored += len(m.ids)
			}
			p.a.recent.add(m.ids, p.a.now())
		case err := <-m.fut.Err():
			errs = append(errs, err)
		case <-ctx.Done():
			return stored, fmt.Errorf("archive items of feed %q: %w", p.feed, ctx.Err())
		}
	}
	if err := errors.Join(errs...); err != nil {
		return stored, fmt.Errorf("archive items of feed %q: %w", p.feed, err)
	}
	return stored, nil
}

// recentCap is how many identities a generation of recentSet holds: two
// generations of 16-byte identities, a few megabytes at most; and
// recentAge how long a generation is filled (the same article in two
// feeds comes within hours).
const (
	recentCap = 1 << 16
	recentAge = 6 * time.Hour
)

// recentSet is a bounded set of identities in two generations: when the
// current one is full or old it becomes the previous one and the previous
// one is dropped. An identity is dropped within twice a generation's age,
// below the archive's retention, so an item whose copy expired is written
// again if it comes back.
type recentSet struct {
	mu         sync.Mutex
	age        time.Duration // of a generation; 0: recentAge
	cur, prev  map[archive.ID]struct{}
	curT, prvT time.Time
}

func (s *recentSet) setRetention(r time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.age = min(recentAge, r/2)
}

// rotate drops what is too old at now. Lock held.
func (s *recentSet) rotate(now time.Time) {
	age := s.age
	if age <= 0 {
		age = recentAge
	}
	if s.cur != nil && (len(s.cur) >= recentCap || now.Sub(s.curT) >= age) {
		s.prev, s.prvT, s.cur = s.cur, s.curT, nil
	}
	if s.prev != nil && now.Sub(s.prvT) >= 2*age {
		s.prev = nil
	}
}

func (s *recentSet) has(id archive.ID, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rotate(now)
	if _, ok := s.cur[id]; ok {
		return true
	}
	_, ok := s.prev[id]
	return ok
}

func (s *recentSet) add(ids []archive.ID, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		s.rotate(now)
		if s.cur == nil {
			s.cur, s.curT = make(map[archive.ID]struct{}, 1024), now
		}
		s.cur[id] = struct{}{}
	}
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
	// Msgs counts the archive's messages: one per poll with new items
	// (archives written before: one per item).
	Msgs      uint64
	Bytes     uint64
	First     time.Time // archiving time of the oldest message
	Last      time.Time
	LastSeq   uint64
	Retention time.Duration
	MaxBytes  int64
	// Lost counts messages the server found damaged in its store and
	// dropped (a store damaged while stopped); they cannot be read.
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
		Msgs: st.State.Msgs, Bytes: st.State.Bytes, First: st.State.FirstTime, Last: st.State.LastTime,
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

// ArchiveMsg is one message of the archive.
type ArchiveMsg struct {
	// Seq is its stream sequence.
	Seq uint64
	// Batch: Data is a batch of records (archive.BatchReader); else one
	// record (archive.Decode), as archives written before hold.
	Batch bool
	// Data is a buffer of its own that nothing changes afterwards (records
	// may share it: archive.DecodeShared).
	Data []byte
}

// ReadArchive hands fn, in archive order, each message archived at from or
// later (zero: all) up to the last one archived when it started. It only
// reads: an ordered, ephemeral consumer. fn runs on one goroutine; an
// error from it stops the read and is returned. Decoding is the caller's
// (a backtest decodes in parallel).
func (b *Bus) ReadArchive(ctx context.Context, from time.Time, fn func(ArchiveMsg) error) error {
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
		err = fn(ArchiveMsg{Seq: seq, Batch: strings.HasPrefix(m.Subject(), ItemsBatchPrefix), Data: m.Data()})
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
