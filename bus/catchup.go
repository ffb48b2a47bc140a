package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// CatchUpBucket records, per profile with catch_up, the fingerprint of the
// matching its last catch-up ran for: "<fingerprint> done", or
// "<fingerprint> running <process>" while one runs.
const CatchUpBucket = "feedwatch_catchup"

// CatchUpStale is how long a catch-up marked running may go on before
// another process (or this one, restarted) may run it again: it was most
// likely cut short by a crash. Hit ids keep a second run from alerting
// anything twice.
const CatchUpStale = 2 * time.Minute

// CatchUps is the catch-up record of every profile.
type CatchUps struct {
	b *Bus
}

// CatchUps returns the catch-up records (the bucket is made with the
// archive).
func (b *Bus) CatchUps() *CatchUps { return &CatchUps{b: b} }

func (c *CatchUps) kv(ctx context.Context) (jetstream.KeyValue, error) {
	c.b.catchUpMu.Lock()
	defer c.b.catchUpMu.Unlock()
	if c.b.catchUp != nil {
		return c.b.catchUp, nil
	}
	kv, err := c.b.ensureBucket(ctx, jetstream.KeyValueConfig{
		Bucket: CatchUpBucket, Description: "fingerprint of each profile's matching its last catch-up ran for",
		Storage: jetstream.FileStorage,
	})
	if err != nil {
		return nil, err
	}
	c.b.catchUp = kv
	return kv, nil
}

// CatchUpClaim is the outcome of Claim.
type CatchUpClaim int

// Claim outcomes.
const (
	// CatchUpDone: a catch-up already ran for this fingerprint.
	CatchUpDone CatchUpClaim = iota
	// CatchUpMine: this process is to run it (and call Done after).
	CatchUpMine
	// CatchUpBusy: another process runs it now; ask again later.
	CatchUpBusy
)

// Claim decides who runs profile's catch-up for fingerprint fp: the one
// process whose write of "fp running owner" lands first (a KV create, or
// an update checked against the revision read). A record for another
// fingerprint, or one left running for longer than CatchUpStale, is taken
// over.
func (c *CatchUps) Claim(ctx context.Context, profile, fp, owner string) (CatchUpClaim, error) {
	kv, err := c.kv(ctx)
	if err != nil {
		return 0, fmt.Errorf("catch-up of profile %q: %w", profile, err)
	}
	claim := []byte(fp + " running " + owner)
	e, err := kv.Get(ctx, profile)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		_, err = kv.Create(ctx, profile, claim)
	case err != nil:
	default:
		f := strings.Fields(string(e.Value()))
		if len(f) >= 2 && f[0] == fp {
			if f[1] == "done" {
				return CatchUpDone, nil
			}
			if f[1] == "running" && time.Since(e.Created()) < CatchUpStale {
				return CatchUpBusy, nil
			}
		}
		_, err = kv.Update(ctx, profile, claim, e.Revision())
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return CatchUpBusy, nil // another process was quicker
	}
	if err != nil {
		return 0, fmt.Errorf("catch-up of profile %q: %w", profile, err)
	}
	return CatchUpMine, nil
}

// Done records that profile's catch-up for fp ran to its end.
func (c *CatchUps) Done(ctx context.Context, profile, fp string) error {
	kv, err := c.kv(ctx)
	if err == nil {
		_, err = kv.Put(ctx, profile, []byte(fp+" done"))
	}
	if err != nil {
		return fmt.Errorf("catch-up of profile %q: %w", profile, err)
	}
	return nil
}
