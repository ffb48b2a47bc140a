package bus

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier"
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
type SeenStore struct {
	kv jetstream.KeyValue
	nc *nats.Conn
	// direct is shared by every SeenStore of a Bus: true while batched
	// direct gets (multi_last) work, cleared for good when the server
	// turns one down.
	direct    *atomic.Bool
	logs      *logPositions
	retention time.Duration
	now       func() time.Time
	log       *slog.Logger
}

// logPositions is where each feed's log stands (its highest sequence and
// the deltas since its snapshot), by feed token.
type logPositions struct {
	mu sync.Mutex
	m  map[string]seenlog.Log
}

func (p *logPositions) get(tok string) (seenlog.Log, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.m[tok]
	return l, ok
}

func (p *logPositions) set(tok string, l seenlog.Log) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.m[tok] = seenlog.Log{Snap: l.Snap, Max: l.Max, Pending: l.Pending}
}

func (p *logPositions) forget(tok string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.m, tok)
}

// Seen returns the seen-state store.
func (b *Bus) Seen() *SeenStore {
	return &SeenStore{kv: b.seen, nc: b.nc, direct: &b.seenDirect, logs: &b.seenLogs,
		retention: b.retention, now: time.Now, log: b.log}
}

// Seen reports which of keys the feed's log holds. It reads the log: one
// batched direct get.
func (s *SeenStore) Seen(ctx context.Context, feed string, keys []string) (map[string]bool, error) {
	out := make(map[string]bool, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	l, err := s.load(ctx, feed)
	if err != nil {
		return nil, err
	}
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
// delta), or, once Deltas deltas are pending, a read and a new snapshot.
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
	l, ok := s.logs.get(tok)
	if kind, _ := l.Next(); !ok || kind == seenlog.Snapshot {
		// Unknown position (first write since start) or a snapshot to
		// build: read the log as it is.
		var err error
		if l, err = s.load(ctx, feed); err != nil {
			return fmt.Errorf("mark seen: %w", err)
		}
	}
	kind, seq := l.Next()
	var err error
	if kind == seenlog.Delta {
		err = s.put(ctx, tok, "d"+strconv.FormatUint(seq%seenlog.Deltas, 10), seenlog.Append(nil, seenlog.Delta, seq, 0, 1, add))
		l.Max, l.Pending = seq, l.Pending+1
	} else {
		for i, chunk := range seenlog.EncodeSnapshot(seq, l.Merge(add, s.oldestDay(today))) {
			if err = s.put(ctx, tok, "s"+strconv.Itoa(i), chunk); err != nil {
				break
			}
		}
		l = seenlog.Log{Snap: seq, Max: seq}
	}
	if err != nil {
		// The write may have landed anyway: read the position again
		// before the next one.
		s.logs.forget(tok)
		return fmt.Errorf("mark seen in feed %q: %w", feed, err)
	}
	s.logs.set(tok, l)
	return nil
}

func (s *SeenStore) put(ctx context.Context, tok, slot string, rec []byte) error {
	_, err := s.kv.Put(ctx, "f."+tok+"."+slot, rec)
	return err
}

// oldestDay is the first day whose entries a snapshot keeps: the
// retention, rounded up, and one day of slack.
func (s *SeenStore) oldestDay(today uint16) uint16 {
	days := int((s.retention+24*time.Hour-1)/(24*time.Hour)) + 1
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
func (s *SeenStore) load(ctx context.Context, feed string) (seenlog.Log, error) {
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
	var err error
	if s.direct != nil && s.direct.Load() {
		err = s.readDirect(ctx, subject, add)
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
		return seenlog.Log{}, fmt.Errorf("read seen-state of feed %q: %w", feed, err)
	}
	l := seenlog.Read(recs)
	s.logs.set(tok, l)
	return l, nil
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
// subject (a wildcard) that is a put to add, through batched direct gets.
func (s *SeenStore) readDirect(ctx context.Context, subject string, add func([]byte)) error {
	// An inbox of its own: each request's replies, and nothing else,
	// arrive on it (NewRespInbox would also feed the connection's shared
	// request mux). A channel sized for one batch and its end: requests go
	// one at a time, so no more are ever queued, and a sync subscription
	// would allocate a 64k-slot channel per call.
	ch := make(chan *nats.Msg, logBatch+1)
	sub, err := s.nc.ChanSubscribe(s.nc.NewInbox(), ch)
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	req := multiLastRequest{MultiLast: []string{subject}, Batch: logBatch}
	for {
		body, err := json.Marshal(req)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		if err := s.nc.PublishRequest(seenDirectSubject, sub.Subject, body); err != nil {
			return fmt.Errorf("request: %w", err)
		}
		more, err := readBatch(ctx, ch, &req, add)
		if err != nil || !more {
			return err
		}
	}
}

// readBatch reads one batch's replies up to its end. more is true when the
// server stopped early (the batch size or its byte limit) and req now asks
// for the rest.
func readBatch(ctx context.Context, ch <-chan *nats.Msg, req *multiLastRequest, add func([]byte)) (more bool, err error) {
	for {
		var m *nats.Msg
		select {
		case m = <-ch:
		case <-ctx.Done():
			return false, ctx.Err()
		}
		switch status := m.Header.Get("Status"); status {
		case "":
			if strings.HasPrefix(m.Header.Get("Nats-Subject"), seenSubjectPrefix) && !kvDeleted(m.Header) {
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
	s.setRev(feed, nrev, true)
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

// Alerted reports whether a hit id was already published.
func (b *Bus) Alerted(ctx context.Context, hitID string) (bool, error) {
	_, err := b.alerted.Get(ctx, hitID)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return false, nil
	default:
		return false, fmt.Errorf("alerted %s: %w", hitID, err)
	}
}

// ClaimLink records feed as the first to alert key (a profile and a
// normalised link) and returns the feed that holds the claim: feed itself,
// or the one that claimed it before. KV Create makes the claim atomic, so two
// feeds polled at once cannot both win.
func (b *Bus) ClaimLink(ctx context.Context, key, feed string) (string, error) {
	_, err := b.alerted.Create(ctx, key, []byte(feed))
	if err == nil {
		return feed, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return "", fmt.Errorf("claim link %s: %w", key, err)
	}
	e, err := b.alerted.Get(ctx, key)
	if err != nil {
		return "", fmt.Errorf("claim link %s: %w", key, err)
	}
	return string(e.Value()), nil
}

// PublishHit stores h in the hits stream (waiting for JetStream's ack) and
// then records its id as alerted.
func (b *Bus) PublishHit(ctx context.Context, h hit.Hit) error {
	data, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("encode hit %s: %w", h.ID, err)
	}
	if _, err := b.js.Publish(ctx, HitsPrefix+h.Profile, data, jetstream.WithMsgID(h.ID)); err != nil {
		return fmt.Errorf("publish hit %s for profile %q: %w", h.ID, h.Profile, err)
	}
	if _, err := b.alerted.Put(ctx, h.ID, nil); err != nil {
		return fmt.Errorf("record hit %s: %w", h.ID, err)
	}
	return nil
}

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

// DeadLetters publishes undeliverable hits on feedwatch.dead.<notifier>.
type DeadLetters struct{ js jetstream.JetStream }

var _ notifier.DeadLetters = (*DeadLetters)(nil)

// DeadLetters returns the dead-letter publisher.
func (b *Bus) DeadLetters() *DeadLetters { return &DeadLetters{js: b.js} }

// Dead publishes one dead letter.
func (d *DeadLetters) Dead(ctx context.Context, notifierName string, l notifier.DeadLetter) error {
	data, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("encode dead letter: %w", err)
	}
	opts := []jetstream.PublishOpt{}
	id := notifierName + "." + l.Hit.ID
	if l.Hit.ID != "" {
		opts = append(opts, jetstream.WithMsgID(id))
	}
	ack, err := d.js.Publish(ctx, DeadPrefix+notifierName, data, opts...)
	if err == nil && ack.Duplicate {
		err = d.redead(ctx, DeadPrefix+notifierName, data, id, ack)
	}
	if err != nil {
		return fmt.Errorf("dead-letter for notifier %q: %w", notifierName, err)
	}
	return nil
}

// ConsumerName is the durable consumer of a notifier.
func ConsumerName(notifierName string) string { return "notify-" + notifierName }

// ConsumerOptions shape one notifier's consumer.
type ConsumerOptions struct {
	// Profiles routed to the notifier; nil means every profile.
	Profiles    []string
	AckWait     time.Duration
	MaxInFlight int
	// Buffer is how many hits the client holds ahead of the engine
	// (default 16); their AckWait runs while they wait.
	Buffer int
}

// EnsureConsumer creates or updates the durable consumer notify-<name>,
// filtered to the notifier's profiles. A new consumer starts at new hits:
// both `watch` and `notify` create consumers before any hit is published,
// so none is missed, and a notifier added later is not flooded with history.
func (b *Bus) EnsureConsumer(ctx context.Context, name string, o ConsumerOptions) (*Source, error) {
	filters := []string{HitsSubjects}
	if o.Profiles != nil {
		filters = filters[:0]
		for _, p := range o.Profiles {
			filters = append(filters, HitsPrefix+p)
		}
	}
	filters = append(filters, ReplayPrefix+name) // dead letters handed back
	if o.AckWait <= 0 {
		o.AckWait = 30 * time.Second
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 1000
	}
	cfg := jetstream.ConsumerConfig{
		Durable:       ConsumerName(name),
		Description:   fmt.Sprintf("feedwatch notifier %q", name),
		DeliverPolicy: jetstream.DeliverNewPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       o.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: o.MaxInFlight,
	}
	if len(filters) == 1 {
		cfg.FilterSubject = filters[0]
	} else {
		cfg.FilterSubjects = filters
	}
	c, err := b.js.Consumer(ctx, HitsStream, cfg.Durable)
	if err == nil {
		dropped, derr := b.dropIfAhead(ctx, name, c)
		if derr != nil {
			return nil, derr
		}
		if dropped {
			err = jetstream.ErrConsumerNotFound
		}
	}
	if err == nil {
		// Keep the consumer's position: only the routing and limits change.
		old := c.CachedInfo().Config
		cfg.DeliverPolicy = old.DeliverPolicy
		cfg.OptStartSeq = old.OptStartSeq
		cfg.OptStartTime = old.OptStartTime
	}
	c, err = b.js.CreateOrUpdateConsumer(ctx, HitsStream, cfg)
	if errors.Is(err, jetstream.ErrConsumerCreate) && b.storeDir != "" {
		// The embedded server cannot load the consumer's own files (a
		// store damaged while stopped) and will not make it again while
		// they are there: without the consumer this notifier would never
		// deliver again, so its files go, and it starts at new hits.
		dir := filepath.Join(b.storeDir, "jetstream", server.DEFAULT_GLOBAL_ACCOUNT, "streams", HitsStream, "obs", cfg.Durable)
		b.log.Error("notifier's consumer is damaged, making it again: hits not yet delivered to it are not sent",
			"notifier", name, "consumer", cfg.Durable, "err", err)
		if rerr := os.RemoveAll(dir); rerr != nil {
			return nil, fmt.Errorf("consumer for notifier %q: %w (removing its files: %v)", name, err, rerr)
		}
		cfg.DeliverPolicy, cfg.OptStartSeq, cfg.OptStartTime = jetstream.DeliverNewPolicy, 0, nil
		c, err = b.js.CreateOrUpdateConsumer(ctx, HitsStream, cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("consumer for notifier %q: %w", name, err)
	}
	buf := o.Buffer
	if buf <= 0 {
		buf = 16
	}
	return &Source{c: c, buffer: buf}, nil
}

// dropIfAhead removes a notifier's consumer that has delivered past the end
// of the hits stream: the stream lost its last hits (a store damaged while
// stopped), and the consumer would skip that many new hits as already
// delivered. It is made again from new hits on.
func (b *Bus) dropIfAhead(ctx context.Context, name string, c jetstream.Consumer) (bool, error) {
	s, err := b.js.Stream(ctx, HitsStream)
	if err != nil {
		return false, fmt.Errorf("consumer for notifier %q: %w", name, err)
	}
	ci := c.CachedInfo()
	last := s.CachedInfo().State.LastSeq
	if ci.Delivered.Stream <= last && ci.AckFloor.Stream <= last {
		return false, nil
	}
	b.log.Error("notifier's consumer is past the end of the hits stream, which lost hits: making it again so new hits are not skipped",
		"notifier", name, "consumer", ci.Name, "delivered_seq", ci.Delivered.Stream, "stream_last_seq", last)
	if err := b.js.DeleteConsumer(ctx, HitsStream, ci.Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return false, fmt.Errorf("consumer for notifier %q: remove: %w", name, err)
	}
	return true, nil
}

// Source implements notifier.Source over a pull consumer. It keeps at most
// one bounded pull request open (Fetch with a short expiry) and starts a new
// one as soon as it ends, so a hit reaches the engine as soon as it is
// stored. No pull outlives pullExpiry: when the server that held it goes away
// or the consumer's leader moves, the next pull finds the consumer wherever
// it now is. (A long-lived Messages() iterator did not: after a cluster node
// restart it kept waiting on a pull request the server no longer had.)
type Source struct {
	c      jetstream.Consumer
	buffer int

	mu    sync.Mutex
	batch jetstream.MessageBatch // the open pull; nil when none
}

var _ notifier.Source = (*Source)(nil)
var _ notifier.PendingCounter = (*Source)(nil)

// pull returns the open pull request, or starts one.
func (s *Source) pull() (jetstream.MessageBatch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.batch == nil {
		b, err := s.c.Fetch(s.buffer, jetstream.FetchMaxWait(pullExpiry))
		if err != nil {
			return nil, err
		}
		s.batch = b
	}
	return s.batch, nil
}

// ended forgets b once its pull is over.
func (s *Source) ended(b jetstream.MessageBatch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.batch == b {
		s.batch = nil
	}
}

// Fetch waits up to maxWait for a message and returns it with whatever else
// is already buffered, at most n.
func (s *Source) Fetch(ctx context.Context, n int, maxWait time.Duration) ([]notifier.Message, error) {
	if maxWait <= 0 {
		maxWait = time.Second
	}
	n = max(n, 1)
	timer := time.NewTimer(maxWait)
	defer timer.Stop()
	var out []notifier.Message
	for {
		b, err := s.pull()
		if err != nil {
			return out, fmt.Errorf("fetch: %w", err)
		}
		ch := b.Messages()
		if len(out) == 0 {
			select {
			case m, ok := <-ch:
				if !ok {
					s.ended(b)
					if err := b.Error(); err != nil && !errors.Is(err, context.Canceled) {
						return nil, fmt.Errorf("fetch: %w", err)
					}
					continue // the pull expired or filled: open the next
				}
				out = append(out, &message{m: m})
			case <-timer.C:
				return nil, nil
			case <-ctx.Done():
				return nil, nil
			}
		}
		// Take what is already here, without waiting.
		for len(out) < n {
			select {
			case m, ok := <-ch:
				if !ok {
					s.ended(b)
					return out, nil
				}
				out = append(out, &message{m: m})
				continue
			default:
			}
			return out, nil
		}
		return out, nil
	}
}

// Pending is how many hits wait in the consumer, not yet handed to any
// reader (across every process sharing it).
func (s *Source) Pending(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	info, err := s.c.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("consumer info: %w", err)
	}
	return int(info.NumPending), nil
}

// Close ends the open pull and hands its buffered, unhandled hits back to
// the stream at once, so a restarted engine (here or in another process)
// gets them without waiting for AckWait.
func (s *Source) Close() {
	s.mu.Lock()
	b := s.batch
	s.batch = nil
	s.mu.Unlock()
	if b == nil {
		return
	}
	// Hand back what is buffered and what arrives until the pull ends: the
	// server keeps the pull request open up to its expiry and may still
	// send hits to it (even ones matching a filter changed since). Close
	// waits only until nothing has come for closeQuiet, so an engine
	// restart (a reload that changes a notifier) is quick; the rest of the
	// pull is drained in the background.
	deadline := time.Now().Add(pullExpiry + 2*time.Second)
	if handBack(b, time.NewTimer(closeQuiet), deadline) {
		return
	}
	go handBack(b, nil, deadline)
}

// handBack Naks the messages of an abandoned pull until it ends (true),
// until quiet fires (nil: never), or until deadline.
func handBack(b jetstream.MessageBatch, quiet *time.Timer, deadline time.Time) bool {
	var quietC <-chan time.Time
	if quiet != nil {
		defer quiet.Stop()
		quietC = quiet.C
	}
	end := time.NewTimer(time.Until(deadline))
	defer end.Stop()
	for {
		select {
		case m, ok := <-b.Messages():
			if !ok {
				return true
			}
			// Delayed past the pull's expiry: an immediate Nak could send the
			// hit straight back into this abandoned pull.
			_ = m.NakWithDelay(pullExpiry + time.Second)
			if quiet != nil {
				quiet.Reset(closeQuiet)
			}
		case <-quietC:
			return false
		case <-end.C:
			return true
		}
	}
}

// closeQuiet is how long Close itself waits for more hits of an abandoned
// pull once none arrive: messages already sent reach the client within
// milliseconds.
const closeQuiet = 250 * time.Millisecond

// pullExpiry bounds each pull request of a Source: how long a pull may wait
// at the server, and so how soon a lost one is replaced.
const pullExpiry = 2 * time.Second

type message struct{ m jetstream.Msg }

func (m *message) Data() []byte { return m.m.Data() }

func (m *message) Delivered() int {
	md, err := m.m.Metadata()
	if err != nil {
		return 1
	}
	return int(md.NumDelivered)
}

// Ack waits for the server to confirm, so an ack lost on the way is seen.
func (m *message) Ack(ctx context.Context) error      { return m.m.DoubleAck(ctx) }
func (m *message) NakWithDelay(d time.Duration) error { return m.m.NakWithDelay(d) }
func (m *message) InProgress() error                  { return m.m.InProgress() }
func (m *message) Term() error                        { return m.m.Term() }
