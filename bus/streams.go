package bus

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedwatch/feedwatch/checkpoint"
)

// StreamNames are the streams feedwatch keeps state in, buckets by their
// stream's name (KV_<bucket>).
var StreamNames = []string{
	HitsStream, DeadStream,
	"KV_" + SeenBucket, "KV_" + FeedsBucket, "KV_" + AlertedBucket, "KV_" + LedgerBucket,
}

// Streams reads what each of feedwatch's streams holds now, for the
// checkpoint. A stream that does not exist is left out.
func (b *Bus) Streams(ctx context.Context) (map[string]checkpoint.Stream, error) {
	out := make(map[string]checkpoint.Stream, len(StreamNames))
	for _, name := range StreamNames {
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
