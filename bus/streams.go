package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedwatch/feedwatch/checkpoint"
)

// StreamNames are the streams feedwatch keeps state in whose loss while
// the daemon is stopped the checkpoint reports, buckets by their stream's
// name (KV_<bucket>): the state that keeps old items from alerting again,
// hits, deliveries, dead letters, the archive (a lost one silently misses
// items in backtests and catch-ups) and the mutes (lost ones unmute
// profiles early). Left out: state that rebuilds itself, at no cost but
// work — WebSub subscriptions (made again at the feed's next poll; it is
// polled meanwhile), catch-up fingerprints (the catch-up runs again, and
// the alerted bucket keeps what it alerted from alerting twice) — and the
// short-lived members and notifier leases.
func StreamNames() []string {
	return []string{
		HitsStream, DeadStream, ItemsStream,
		"KV_" + SeenBucket, "KV_" + FeedsBucket, "KV_" + AlertedBucket, "KV_" + LedgerBucket,
		"KV_" + MutesBucket,
	}
}

// Streams reads what each of feedwatch's streams holds now, for the
// checkpoint. A stream that does not exist is left out.
func (b *Bus) Streams(ctx context.Context) (map[string]checkpoint.Stream, error) {
	names := StreamNames()
	out := make(map[string]checkpoint.Stream, len(names))
	for _, name := range names {
		s, err := b.js.Stream(ctx, name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", name, err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", name, err)
		}
		st := checkpoint.Stream{
			Created:   info.Created,
			FirstTime: info.State.FirstTime,
			LastSeq:   info.State.LastSeq,
			Msgs:      info.State.Msgs,
			MaxAge:    info.Config.MaxAge,
			// Dead letters are dropped by hand (`feedwatch dead drop`);
			// archive.max_bytes drops the oldest archived items.
			Shrinks: name == DeadStream || name == ItemsStream,
		}
		if l := info.State.Lost; l != nil {
			st.LostMsgs = len(l.Msgs)
		}
		out[name] = st
	}
	return out, nil
}

// Embedded reports whether the bus runs its own NATS server.
func (b *Bus) Embedded() bool { return b.srv != nil }

// readIdle is how long Unreadable waits for the next message before it
// takes the rest as unreadable.
const readIdle = 2 * time.Second

// Unreadable counts the messages of a stream that the server counts but
// cannot read back: damage inside a message block, which nats-server finds
// only when it loads the block, and then skips without a word. It reads
// every message's headers once, so it is for the start, before anything
// writes (a message expiring meanwhile is allowed for).
func (b *Bus) Unreadable(ctx context.Context, name string) (uint64, error) {
	s, err := b.js.Stream(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", name, err)
	}
	want, last := s.CachedInfo().State.Msgs, s.CachedInfo().State.LastSeq
	if want == 0 {
		return 0, nil
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{HeadersOnly: true})
	if err != nil {
		return 0, fmt.Errorf("stream %s: read: %w", name, err)
	}
	it, err := c.Messages()
	if err != nil {
		return 0, fmt.Errorf("stream %s: read: %w", name, err)
	}
	defer it.Stop()
	var got uint64
	var at uint64 // the stream sequence of the last message read
	for {
		nctx, cancel := context.WithTimeout(ctx, readIdle)
		m, err := it.Next(jetstream.NextContext(nctx))
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return 0, fmt.Errorf("stream %s: read: %w", name, ctx.Err())
			}
			// Nothing more arrives: the rest cannot be read. (The
			// consumer's pending count cannot tell sooner: after some
			// damage the server neither sends the next message nor moves
			// past it.)
			break
		}
		got++
		md, err := m.Metadata()
		if err != nil {
			continue
		}
		at = md.Sequence.Stream
		// A message's pending count includes those the server cannot
		// read: reaching the last sequence ends the read too.
		if md.NumPending == 0 || at >= last {
			break
		}
	}
	if got >= want {
		return 0, nil
	}
	// Messages may have expired while reading: count against what is left.
	info, err := s.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", name, err)
	}
	if left := min(want, info.State.Msgs); got < left {
		return left - got, nil
	}
	return 0, nil
}
