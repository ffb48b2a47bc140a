// Package notifier delivers hits: the Notifier interface every channel
// implements, and the engine that reads hits from the bus, calls a channel,
// and maps its answer to ack, retry later or dead letter.
package notifier

import (
	"context"
	"time"

	"github.com/feedwatch/feedwatch/hit"
)

// Notifier is one delivery channel. Notify sends hits (one, or several for a
// digest) as one message. retry reports whether a failure is worth trying
// again; a nil error means delivered.
type Notifier interface {
	Notify(ctx context.Context, hits []hit.Hit) (retry bool, err error)
}

// RetryAfter is implemented by errors that carry a server's Retry-After.
type RetryAfter interface {
	RetryAfter() time.Duration
}

// Message is one hit as handed out by the bus; the bus implements it over a
// JetStream message so this package does not know NATS.
type Message interface {
	Data() []byte
	// Delivered is how many times the bus has handed out this message,
	// counting this one.
	Delivered() int
	Ack(ctx context.Context) error
	NakWithDelay(d time.Duration) error
	InProgress() error
	Term() error
}

// Source yields the hits routed to one notifier.
type Source interface {
	// Fetch waits up to about maxWait for at most n messages; an empty
	// result with a nil error means none arrived.
	Fetch(ctx context.Context, n int, maxWait time.Duration) ([]Message, error)
}

// Ledger remembers which hit ids a notifier has delivered, so a crash after
// a send and before the ack does not send again.
type Ledger interface {
	Delivered(ctx context.Context, notifier, hitID string) (bool, error)
	MarkDelivered(ctx context.Context, notifier, hitID string) error
}

// MuteMarker is what a Ledger may also do: record a hit acked unsent for a
// mute, so that status pages tell it from one still to be sent.
type MuteMarker interface {
	MarkMuted(ctx context.Context, notifier, hitID string) error
}

// Lease is a notifier's digest lease, shared by every process that runs the
// notifier: at most one holds it at a time, and only the holder gathers and
// sends digests, so a window is sent once whatever the number of processes.
type Lease interface {
	// Hold takes the lease, or renews it when held; it reports whether this
	// process holds it now. A holder that fails to renew has lost it.
	Hold(ctx context.Context) (bool, error)
	// Release gives the lease up at once, for another process to take.
	Release(ctx context.Context) error
}

// DeadLetters takes hits that will never be delivered.
type DeadLetters interface {
	Dead(ctx context.Context, notifier string, letter DeadLetter) error
}

// DeadLetter is the body published on feedwatch.dead.<notifier>.
type DeadLetter struct {
	Notifier string    `json:"notifier"`
	Hit      hit.Hit   `json:"hit"`
	Error    string    `json:"error"`
	Attempts int       `json:"attempts"`
	At       time.Time `json:"at"`
	// Seq is the failing message's sequence in the hits stream, when the
	// source tells it (0 otherwise): the store tells a repeat of this
	// dead letter from a new one by it.
	Seq uint64 `json:"-"`
}
