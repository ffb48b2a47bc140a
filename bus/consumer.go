package bus

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedwatch/feedwatch/notifier"
)

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

// StreamSeq is the message's sequence in the hits stream (0 unknown): a
// dead letter's id names it, so a redelivery of this message is the same
// dead letter and a replay of the hit (another message) another one.
func (m *message) StreamSeq() uint64 {
	md, err := m.m.Metadata()
	if err != nil {
		return 0
	}
	return md.Sequence.Stream
}

// Ack waits for the server to confirm, so an ack lost on the way is seen.
func (m *message) Ack(ctx context.Context) error      { return m.m.DoubleAck(ctx) }
func (m *message) NakWithDelay(d time.Duration) error { return m.m.NakWithDelay(d) }
func (m *message) InProgress() error                  { return m.m.InProgress() }
func (m *message) Term() error                        { return m.m.Term() }
