package bus

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedwatch/feedwatch/notifier"
)

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
	if l.Seq > 0 {
		// The failing message: its redelivery (a crash before the Term)
		// is dropped as a repeat; a replay of the hit that fails again is
		// another message, so another dead letter, even while the one it
		// replays is still being removed.
		id += "." + strconv.FormatUint(l.Seq, 10)
	}
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
