// Package checkpoint keeps a small record of what the state store held when
// it was last known to be good, outside the store (a file in data_dir), so
// that state lost or damaged while the daemon was stopped (truncated files,
// overwritten blocks, a removed bucket) is noticed at the next start instead
// of showing up as old alerts sent again.
//
// The record is a JSON file written atomically (temp file, fsync, rename,
// fsync of the folder): a crash leaves the old record or the new one, never
// half of one.
package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// FileName is the checkpoint's name inside data_dir.
const FileName = "checkpoint.json"

// Version is the format this code writes and reads.
const Version = 1

// Stream is what the checkpoint remembers of one JetStream stream (a KV
// bucket is a stream too).
type Stream struct {
	// Created identifies the stream: a stream removed and made again has a
	// new creation time.
	Created time.Time `json:"created"`
	// FirstTime is when the oldest message stored was written; with MaxAge
	// it tells whether messages can have expired since.
	FirstTime time.Time `json:"first_time,omitzero"`
	LastSeq   uint64    `json:"last_seq"`
	Msgs      uint64    `json:"msgs"`
	// MaxAge is the stream's message age limit (0: none).
	MaxAge time.Duration `json:"max_age,omitempty"`
	// LostMsgs is how many messages the server itself reports lost.
	LostMsgs int `json:"lost_msgs,omitempty"`
	// Shrinks: messages are removed on purpose (dead letters dropped), so
	// fewer messages prove nothing.
	Shrinks bool `json:"shrinks,omitempty"`
	// Unreadable is how many of Msgs did not read back at the last check
	// at start: damage already reported, which the server may go on
	// counting, or stop counting once it notices.
	Unreadable uint64 `json:"unreadable,omitempty"`
}

// Checkpoint is the file's content.
type Checkpoint struct {
	V int `json:"v"`
	// NATS says which store this is about: "embedded", or the server URLs
	// (without credentials) of an external NATS.
	NATS string `json:"nats"`
	// GoodAt is when the store was last seen holding everything written.
	GoodAt  time.Time         `json:"good_at"`
	Streams map[string]Stream `json:"streams"`
	// RecoverBefore, when set, is the known-good time of a damage found
	// earlier whose recovery is still going on: a feed polled for the first
	// time since does not alert items published before it.
	RecoverBefore time.Time `json:"recover_before,omitzero"`
}

// ErrNone means there is no checkpoint yet (a first start).
var ErrNone = errors.New("no checkpoint")

// Load reads the checkpoint at path. It returns ErrNone when there is none.
func Load(path string) (Checkpoint, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Checkpoint{}, ErrNone
	}
	if err != nil {
		return Checkpoint{}, fmt.Errorf("read checkpoint %s: %w", path, err)
	}
	var c Checkpoint
	if err := json.Unmarshal(b, &c); err != nil {
		return Checkpoint{}, fmt.Errorf("read checkpoint %s: %w", path, err)
	}
	if c.V != Version {
		return Checkpoint{}, fmt.Errorf("read checkpoint %s: version %d, want %d", path, c.V, Version)
	}
	return c, nil
}

// Save writes c to path atomically and durably.
func Save(path string, c Checkpoint) error {
	c.V = Version
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write checkpoint %s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write checkpoint %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write checkpoint %s: %w", path, err)
	}
	// The rename is durable only once the folder is synced.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// Loss is one way the store holds less than the checkpoint says it did.
type Loss struct {
	Stream string
	What   string
}

func (l Loss) String() string { return l.Stream + ": " + l.What }

// Compare lists what the store (now, read at time at) lost against the
// checkpoint: a stream missing, a lower last sequence, fewer messages than
// recorded while none of them can have expired, and messages the server
// reports lost. Streams the checkpoint does not know are new,
// not damaged.
func Compare(old Checkpoint, now map[string]Stream, at time.Time) []Loss {
	var out []Loss
	names := make([]string, 0, len(old.Streams))
	for n := range old.Streams {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		was := old.Streams[name]
		is, ok := now[name]
		if !ok {
			out = append(out, Loss{name, "missing"})
			continue
		}
		// A stream made again is not damage by itself: nats-server makes a
		// stream whose metadata file it cannot read again around the
		// messages it still has (and does so at every start after).
		var what []string
		if is.LastSeq < was.LastSeq {
			what = append(what, fmt.Sprintf("last sequence %d, was %d", is.LastSeq, was.LastSeq))
		}
		if is.Msgs < was.Msgs-min(was.Unreadable, was.Msgs) && !expirable(was, at) && !was.Shrinks && !repairable(was) {
			what = append(what, fmt.Sprintf("%d messages, was %d", is.Msgs, was.Msgs))
		}
		if len(what) > 0 && !is.Created.Equal(was.Created) {
			what = append(what, fmt.Sprintf("made again (created %s, was %s)",
				is.Created.UTC().Format(time.RFC3339), was.Created.UTC().Format(time.RFC3339)))
		}
		if len(what) > 0 {
			out = append(out, Loss{name, strings.Join(what, "; ")})
		}
		if is.LostMsgs > 0 {
			out = append(out, Loss{name, fmt.Sprintf("the server reports %d messages lost", is.LostMsgs)})
		}
	}
	// A stream new since the checkpoint may still report lost data.
	for name, is := range now {
		if _, ok := old.Streams[name]; !ok && is.LostMsgs > 0 {
			out = append(out, Loss{name, fmt.Sprintf("the server reports %d messages lost", is.LostMsgs)})
		}
	}
	return out
}

// repairable reports whether the stream held messages that did not read
// back at the last check: damage already reported, whose count nats-server
// may still inflate (it counts records it cannot read, and records its
// lost index had marked deleted) until a later start rebuilds the block and
// drops them all, more than the unreadable ones. Fewer messages then prove
// nothing; a lower last sequence, a missing stream, messages the server
// reports lost and new unreadable ones (the read-back) still do.
func repairable(was Stream) bool { return was.Unreadable > 0 }

// expirable reports whether some of the messages the checkpoint counted can
// have reached the stream's age limit by at: then fewer messages prove
// nothing.
func expirable(was Stream, at time.Time) bool {
	return was.MaxAge > 0 && !was.FirstTime.IsZero() && !at.Before(was.FirstTime.Add(was.MaxAge))
}
