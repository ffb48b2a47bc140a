package bus

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedwatch/feedwatch/seenlog"
	"github.com/feedwatch/feedwatch/watcher"
)

// SeenStore is item seen-state: per feed, a seenlog (a snapshot plus a few
// deltas, one record per write) in the seen bucket under
// f.<feed token>.<slot>, slots s<i> for snapshot chunks and d<i> for
// deltas. The bucket's TTL is state_retention; entries carry the day they
// were last seen, and a snapshot drops those older than the retention.
//
// A feed's log is written by one watcher at a time (the one polling the
// feed): the store remembers where each feed's log stands, so a write needs
// no read except when it folds the deltas into a snapshot.
//
// Writes are fenced like feed state: each one expects the feed's newest
// record to be the one this store last read or wrote (JetStream's expected
// last sequence for the subjects f.<token>.*), so a watcher that lost the
// feed cannot append to a log its new owner has written (ErrStateChanged).
// The check needs the batched direct gets' server (2.11 or later); without
// them writes go unchecked, as before.
type SeenStore struct {
	kv jetstream.KeyValue
	js jetstream.JetStream
	nc *nats.Conn
	// direct is shared by every SeenStore of a Bus: true while batched
	// direct gets (multi_last) work, cleared for good when the server
	// turns one down.
	direct    *atomic.Bool
	logs      *logPositions
	retention *atomic.Int64 // the bus's state_retention, in nanoseconds
	now       func() time.Time
	log       *slog.Logger
}

var _ watcher.SeenStore = (*SeenStore)(nil)

// logPositions is where each feed's log stands (its highest sequence and
// the deltas since its snapshot), by feed token.
type logPositions struct {
	mu sync.Mutex
	m  map[string]logPosition
}

// logPosition is a feed's log as this store last read or wrote it.
type logPosition struct {
	log seenlog.Log
	// last is the stream sequence of the feed's newest KV record (0: none),
	// which the next write expects; fenced says it is known.
	last   uint64
	fenced bool
}

// liveSubjects are the KV subjects that hold the log at pos, its
// snapshot's chunks and the delta slots written since, and the slot the
// next delta goes to: any write after pos lands there or in chunk s0 (a
// fold), so a read of these sees it. A fold leaves the older deltas in
// their slots (they are reused), so a read of the whole feed
// (f.<token>.*) returns the snapshot and all Deltas slots, stale ones
// included: these are about half as many messages for the client and the
// server to handle. nil when pos does not tell them.
func liveSubjects(tok string, pos logPosition) []string {
	l := pos.log
	if !pos.fenced || l.Max == 0 || l.Pending >= seenlog.Deltas || (l.Snap > 0 && l.Chunks == 0) ||
		l.Max-l.Snap != uint64(l.Pending) {
		return nil
	}
	subs := make([]string, 0, int(l.Chunks)+l.Pending+1)
	if l.Snap > 0 {
		for i := range l.Chunks {
			subs = append(subs, seenSubjectPrefix+"f."+tok+".s"+strconv.FormatUint(uint64(i), 10))
		}
	}
	for seq := l.Snap + 1; seq <= l.Max+1; seq++ {
		subs = append(subs, seenSubjectPrefix+"f."+tok+".d"+strconv.FormatUint(seq%seenlog.Deltas, 10))
	}
	return subs
}

func (p *logPositions) get(tok string) (logPosition, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.m[tok]
	return l, ok
}

func (p *logPositions) set(tok string, pos logPosition) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := pos.log
	pos.log = seenlog.Log{Snap: l.Snap, Max: l.Max, Pending: l.Pending, Chunks: l.Chunks}
	p.m[tok] = pos
}

func (p *logPositions) forget(tok string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.m, tok)
}

// Seen returns the seen-state store.
func (b *Bus) Seen() *SeenStore {
	return &SeenStore{kv: b.seen, js: b.js, nc: b.nc, direct: &b.seenDirect, logs: &b.seenLogs,
		retention: &b.retention, now: time.Now, log: b.log}
}

// Seen reports which of keys the feed's log holds. It reads the log: one
// batched direct get.
func (s *SeenStore) Seen(ctx context.Context, feed string, keys []string) (map[string]bool, error) {
	out := make(map[string]bool, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	pos, err := s.load(ctx, feed)
	if err != nil {
		return nil, err
	}
	l := pos.log
	want := make(map[uint64]bool, len(keys))
	for _, k := range keys {
		want[seenlog.Hash(k)] = false
	}
	l.Contains(want)
	for _, k := range keys {
		if want[seenlog.Hash(k)] {
			out[k] = true
		}
	}
	return out, nil
}

// MarkSeen records keys as seen today in the feed's log: one KV put (a
// delta), or, once Deltas deltas are pending, a read and a new snapshot. It
// fails with ErrStateChanged when another store wrote the log since this
// one last read or wrote it.
func (s *SeenStore) MarkSeen(ctx context.Context, feed string, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	tok := feedToken(feed)
	today := seenlog.Day(s.now())
	add := make([]seenlog.Entry, len(keys))
	for i, k := range keys {
		add[i] = seenlog.Entry{Hash: seenlog.Hash(k), Day: today}
	}
	pos, ok := s.logs.get(tok)
	if kind, _ := pos.log.Next(); !ok || kind == seenlog.Snapshot {
		// Unknown position (first write since start) or a snapshot to
		// build: read the log as it is.
		var err error
		if pos, err = s.load(ctx, feed); err != nil {
			return fmt.Errorf("mark seen: %w", err)
		}
	}
	err := s.write(ctx, tok, &pos, add, today)
	if errors.Is(err, errWrongLast) {
		// Someone wrote the log since it was read (a new owner: its
		// record is newer), or its newest records expired meanwhile (the
		// feed's log is then older, and this write may go on). The whole
		// log is read: the position is in doubt.
		s.logs.forget(tok)
		cur, lerr := s.load(ctx, feed)
		switch {
		case lerr != nil:
			err = lerr
		case cur.last > pos.last && (cur.log.Max != pos.log.Max || cur.log.Snap != pos.log.Snap):
			err = fmt.Errorf("%w: seen-state written by another watcher", ErrStateChanged)
		default:
			// The log is where this store left it: the newer record is
			// none of its records (an unreadable one, which a read of the
			// live records alone does not see), or records expired.
			pos = cur
			err = s.write(ctx, tok, &pos, add, today)
			if errors.Is(err, errWrongLast) {
				err = fmt.Errorf("%w: seen-state written by another watcher", ErrStateChanged)
			}
		}
	}
	if err != nil {
		// The write may have landed anyway: read the position again
		// before the next one.
		s.logs.forget(tok)
		return fmt.Errorf("mark seen in feed %q: %w", feed, err)
	}
	s.logs.set(tok, pos)
	return nil
}

// write appends add to the log at pos (a delta, or a new snapshot once
// Deltas deltas are pending) and moves pos past it.
func (s *SeenStore) write(ctx context.Context, tok string, pos *logPosition, add []seenlog.Entry, today uint16) error {
	l := pos.log
	kind, seq := l.Next()
	if kind == seenlog.Delta {
		if err := s.put(ctx, tok, "d"+strconv.FormatUint(seq%seenlog.Deltas, 10), seenlog.Append(nil, seenlog.Delta, seq, 0, 1, add), pos); err != nil {
			return err
		}
		l.Max, l.Pending = seq, l.Pending+1
	} else {
		chunks := seenlog.EncodeSnapshot(seq, l.Merge(add, s.oldestDay(today)))
		for i, chunk := range chunks {
			if err := s.put(ctx, tok, "s"+strconv.Itoa(i), chunk, pos); err != nil {
				return err
			}
		}
		l = seenlog.Log{Snap: seq, Max: seq, Chunks: uint32(len(chunks))}
	}
	pos.log = l
	return nil
}

// errWrongLast means a fenced write found the feed's log changed.
var errWrongLast = errors.New("seen-state log changed since it was read")

// put writes one record of a feed's log. When pos is fenced, the write
// expects the log's newest record to be pos.last, and pos.last becomes
// this record.
func (s *SeenStore) put(ctx context.Context, tok, slot string, rec []byte, pos *logPosition) error {
	if !pos.fenced {
		_, err := s.kv.Put(ctx, "f."+tok+"."+slot, rec)
		return err
	}
	m := nats.NewMsg(seenSubjectPrefix + "f." + tok + "." + slot)
	m.Data = rec
	m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(pos.last, 10))
	m.Header.Set(expectedLastSubjSeqSubjHeader, seenSubjectPrefix+"f."+tok+".*")
	ack, err := s.js.PublishMsg(ctx, m)
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
		return fmt.Errorf("%w: %v", errWrongLast, err)
	}
	if err != nil {
		return err
	}
	pos.last = ack.Sequence
	return nil
}

// expectedLastSubjSeqSubjHeader makes the expected last subject sequence
// apply to the last message of a wildcard (nats-server 2.11 and later):
// here a feed's whole log.
const expectedLastSubjSeqSubjHeader = "Nats-Expected-Last-Subject-Sequence-Subject"

// oldestDay is the first day whose entries a snapshot keeps: the
// retention, rounded up, and one day of slack.
func (s *SeenStore) oldestDay(today uint16) uint16 {
	days := int((time.Duration(s.retention.Load())+24*time.Hour-1)/(24*time.Hour)) + 1
	return uint16(max(int(today)-days, 0))
}

// feedToken names a feed in KV keys: 22 base64url characters of its
// name's SHA-256.
func feedToken(feed string) string {
	h := sha256.Sum256([]byte(feed))
	return base64.RawURLEncoding.EncodeToString(h[:])[:22]
}

const (
	// seenTimeout bounds a read of a feed's log (the JetStream client's
	// default API timeout).
	seenTimeout = 5 * time.Second
	// logBatch is how many records one direct get asks for: a whole log
	// unless its snapshot has many chunks.
	logBatch = seenlog.Deltas + 16

	seenSubjectPrefix = "$KV." + SeenBucket + "."
	seenDirectSubject = "$JS.API.DIRECT.GET.KV_" + SeenBucket
)

// load reads a feed's log and notes its position.
func (s *SeenStore) load(ctx context.Context, feed string) (logPosition, error) {
	// Bounded even under a longer deadline: a request lost while a server
	// restarts gets no answer at all, and the poll should fail and retry
	// rather than wait out its whole timeout.
	ctx, cancel := context.WithTimeout(ctx, seenTimeout)
	defer cancel()
	tok := feedToken(feed)
	var recs []seenlog.Record
	add := func(data []byte) {
		r, err := seenlog.Parse(data)
		if err != nil {
			// Not ours, or damaged: its items may alert again.
			s.log.Warn("seen-state: skipping an unreadable record", "feed", feed, "err", err)
			return
		}
		recs = append(recs, r)
	}
	subject := seenSubjectPrefix + "f." + tok + ".*"
	var pos logPosition
	var err error
	if known, ok := s.logs.get(tok); ok && s.direct != nil && s.direct.Load() {
		// This process wrote or read the log last and has owned the feed
		// since (a change of owner forgets the position): read only the
		// records that hold it and the next slot. Used only when they give
		// back exactly the position known, newest record included;
		// anything else (another writer's record, an expired one) reads
		// the whole log, as before.
		if subs := liveSubjects(tok, known); subs != nil {
			var part []seenlog.Record
			last, perr := s.readDirect(ctx, subs, func(data []byte) {
				if r, err := seenlog.Parse(data); err == nil {
					part = append(part, r)
				}
			})
			if perr == nil && last == known.last {
				l := seenlog.Read(part)
				if l.Snap == known.log.Snap && l.Max == known.log.Max && l.Pending == known.log.Pending && l.Chunks == known.log.Chunks {
					pos = logPosition{log: l, last: last, fenced: true}
					s.logs.set(tok, pos)
					return pos, nil
				}
			}
		}
	}
	if s.direct != nil && s.direct.Load() {
		pos.last, err = s.readDirect(ctx, []string{subject}, add)
		pos.fenced = err == nil
		if errors.Is(err, errNoBatch) {
			if s.direct.CompareAndSwap(true, false) {
				s.log.Warn("seen-state: batched direct get refused, reading logs with a watcher", "err", err)
			}
			recs = nil
			err = s.readWatch(ctx, "f."+tok+".*", add)
		}
	} else {
		err = s.readWatch(ctx, "f."+tok+".*", add)
	}
	if err != nil {
		return logPosition{}, fmt.Errorf("read seen-state of feed %q: %w", feed, err)
	}
	pos.log = seenlog.Read(recs)
	s.logs.set(tok, pos)
	return pos, nil
}

// readWatch reads the last message of every key matching filter through a
// KV watcher: slower (it creates a consumer), for servers without batched
// direct gets.
func (s *SeenStore) readWatch(ctx context.Context, filter string, add func([]byte)) error {
	w, err := s.kv.Watch(ctx, filter, jetstream.IgnoreDeletes())
	if err != nil {
		return err
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("watcher closed")
			}
			if e == nil {
				return nil // the current values are all in
			}
			add(e.Value())
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// errNoBatch means the server does not do batched direct gets on the seen
// bucket (an older server, or direct gets off).
var errNoBatch = errors.New("batched direct get not available")

// multiLastRequest is the part of JetStream's JSApiMsgGetRequest a batched
// last-per-subject direct get uses.
type multiLastRequest struct {
	MultiLast []string `json:"multi_last"`
	Batch     int      `json:"batch,omitempty"`
	Seq       uint64   `json:"seq,omitempty"`
	UpToSeq   uint64   `json:"up_to_seq,omitempty"`
}

// readDirect passes the data of the last message of every subject matching
// one of subjects (wildcards allowed) that is a put to add, through batched
// direct gets,
// and returns the newest of those messages' stream sequences (deletes
// included; 0 when there is none).
func (s *SeenStore) readDirect(ctx context.Context, subjects []string, add func([]byte)) (last uint64, err error) {
	// An inbox of its own: each request's replies, and nothing else,
	// arrive on it (NewRespInbox would also feed the connection's shared
	// request mux). A channel sized for one batch and its end: requests go
	// one at a time, so no more are ever queued, and a sync subscription
	// would allocate a 64k-slot channel per call.
	ch := make(chan *nats.Msg, logBatch+1)
	sub, err := s.nc.ChanSubscribe(s.nc.NewInbox(), ch)
	if err != nil {
		return 0, fmt.Errorf("subscribe: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	req := multiLastRequest{MultiLast: subjects, Batch: logBatch}
	for {
		body, err := json.Marshal(req)
		if err != nil {
			return 0, fmt.Errorf("encode request: %w", err)
		}
		if err := s.nc.PublishRequest(seenDirectSubject, sub.Subject, body); err != nil {
			return 0, fmt.Errorf("request: %w", err)
		}
		more, err := readBatch(ctx, ch, &req, add, &last)
		if err != nil || !more {
			return last, err
		}
	}
}

// readBatch reads one batch's replies up to its end, raising *newest to the
// newest message's stream sequence. more is true when the server stopped
// early (the batch size or its byte limit) and req now asks for the rest.
func readBatch(ctx context.Context, ch <-chan *nats.Msg, req *multiLastRequest, add func([]byte), newest *uint64) (more bool, err error) {
	for {
		var m *nats.Msg
		select {
		case m = <-ch:
		case <-ctx.Done():
			return false, ctx.Err()
		}
		switch status := m.Header.Get("Status"); status {
		case "":
			if !strings.HasPrefix(m.Header.Get("Nats-Subject"), seenSubjectPrefix) {
				continue
			}
			if seq, err := strconv.ParseUint(m.Header.Get("Nats-Sequence"), 10, 64); err == nil {
				*newest = max(*newest, seq)
			}
			if !kvDeleted(m.Header) {
				add(m.Data)
			}
		case "204": // end of batch
			if np := m.Header.Get("Nats-Num-Pending"); np == "" || np == "0" {
				return false, nil
			}
			last, err1 := strconv.ParseUint(m.Header.Get("Nats-Last-Sequence"), 10, 64)
			upTo, err2 := strconv.ParseUint(m.Header.Get("Nats-UpTo-Sequence"), 10, 64)
			if err1 != nil || err2 != nil || last == 0 {
				return false, errors.New("batch ended early without a position")
			}
			req.Seq, req.UpToSeq = last+1, upTo
			return true, nil
		case "404": // no subject matches
			return false, nil
		case "408": // request not understood (before 2.11)
			return false, fmt.Errorf("%w: %s %s", errNoBatch, status, m.Header.Get("Description"))
		case "503":
			// No server answers direct gets for the bucket right now (its
			// servers are down or electing): Open checked that the bucket
			// allows them, so this passes; the poll is tried again.
			return false, errors.New("direct get: no server answers for the seen bucket")
		default:
			return false, fmt.Errorf("direct get: %s %s", status, m.Header.Get("Description"))
		}
	}
}

// kvDeleted reports whether a KV message is a delete or purge marker, as the
// KV client decides it.
func kvDeleted(h nats.Header) bool {
	if op := h.Get("KV-Operation"); op != "" {
		return op == "DEL" || op == "PURGE"
	}
	switch h.Get(jetstream.MarkerReasonHeader) {
	case "MaxAge", "Purge", "Remove":
		return true
	}
	return false
}
