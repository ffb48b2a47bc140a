// Package seenlog is the stored form of one feed's seen items: a short log
// of records, each a list of entries (a 64-bit hash of an item key and the
// day it was last seen). A feed's log is a snapshot (one or more chunks)
// plus up to Deltas delta records written since; every poll with new items
// appends one delta, and when the deltas are full the next write folds them
// into a new snapshot, dropping entries older than the retention.
//
// One record per poll instead of one KV message per item is what keeps the
// seen-state cheap: a JetStream message costs the server about as much to
// store as a 20-item poll costs to parse, and every stored subject costs
// server memory (50,000 feeds x 90 days of items would be tens of millions
// of subjects; as logs they are under a million).
//
// Reading is forgiving by design: the set of seen keys is the union of
// every record found, stale ones included, so a torn or repeated write can
// only make an item look seen longer, never make a seen item new.
package seenlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Deltas is how many delta records a log holds before the next write
// becomes a snapshot: a read costs at most one snapshot and this many
// deltas; a snapshot is rewritten once per Deltas+1 writes.
const Deltas = 16

// ChunkEntries bounds the entries of one snapshot chunk, so that a record
// stays under NATS's default 1 MB message size (10 bytes per entry).
const ChunkEntries = 50_000

const (
	version    = 1
	entrySize  = 10 // 8 bytes hash, 2 bytes day
	headerSize = 1 + 1 + 8 + 4 + 4
)

// Kind tells a snapshot chunk from a delta.
type Kind byte

// The record kinds.
const (
	Delta    Kind = 'd'
	Snapshot Kind = 's'
)

// Entry is one remembered item key.
type Entry struct {
	Hash uint64
	Day  uint16 // days since 1970-01-01 UTC when the key was last seen
}

// Hash is the entry hash of an item key (FNV-1a, 64 bits). Item keys are
// themselves SHA-256 derived, so the odds that two keys of one feed
// collide are about n²/2^65: 3·10^-12 for a feed with 10,000 keys.
func Hash(key string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= 1099511628211
	}
	return h
}

// Day returns t's day number.
func Day(t time.Time) uint16 {
	d := t.Unix() / 86400
	return uint16(min(max(d, 0), 65535))
}

// Record is one decoded record. Entries stay in their encoded form until
// asked for.
type Record struct {
	Kind Kind
	// Seq orders records: deltas take the next sequence number, a snapshot
	// covers every delta with a lower one. Every chunk of one snapshot
	// has the snapshot's Seq.
	Seq uint64
	// Chunk is the chunk's index, Chunks how many the snapshot has
	// (deltas: 0 of 1).
	Chunk, Chunks uint32
	entries       []byte
}

// Len is the number of entries.
func (r Record) Len() int { return len(r.entries) / entrySize }

// At returns entry i.
func (r Record) At(i int) Entry {
	b := r.entries[i*entrySize:]
	return Entry{Hash: binary.LittleEndian.Uint64(b), Day: binary.LittleEndian.Uint16(b[8:])}
}

// ErrRecord means bytes that are not a record of this version.
var ErrRecord = errors.New("seenlog: not a record")

// Parse decodes a record. It does not copy b.
func Parse(b []byte) (Record, error) {
	if len(b) < headerSize || b[0] != version {
		return Record{}, ErrRecord
	}
	r := Record{
		Kind:    Kind(b[1]),
		Seq:     binary.LittleEndian.Uint64(b[2:]),
		Chunk:   binary.LittleEndian.Uint32(b[10:]),
		Chunks:  binary.LittleEndian.Uint32(b[14:]),
		entries: b[headerSize:],
	}
	switch {
	case r.Kind != Delta && r.Kind != Snapshot:
		return Record{}, fmt.Errorf("%w: kind %q", ErrRecord, r.Kind)
	case len(r.entries)%entrySize != 0:
		return Record{}, fmt.Errorf("%w: %d bytes of entries", ErrRecord, len(r.entries))
	case r.Chunks == 0 || r.Chunk >= r.Chunks || (r.Kind == Delta && r.Chunks != 1):
		return Record{}, fmt.Errorf("%w: chunk %d of %d", ErrRecord, r.Chunk, r.Chunks)
	}
	return r, nil
}

// Append encodes a record onto dst.
func Append(dst []byte, kind Kind, seq uint64, chunk, chunks uint32, entries []Entry) []byte {
	dst = slices.Grow(dst, headerSize+len(entries)*entrySize)
	dst = append(dst, version, byte(kind))
	dst = binary.LittleEndian.AppendUint64(dst, seq)
	dst = binary.LittleEndian.AppendUint32(dst, chunk)
	dst = binary.LittleEndian.AppendUint32(dst, chunks)
	for _, e := range entries {
		dst = binary.LittleEndian.AppendUint64(dst, e.Hash)
		dst = binary.LittleEndian.AppendUint16(dst, e.Day)
	}
	return dst
}

// Log is what a feed's records say, read together.
type Log struct {
	records []Record
	// Snap is the Seq of the newest snapshot whose chunks are all present
	// (0: none); Max the highest Seq of any record.
	Snap, Max uint64
	// Pending is how many deltas were written after Snap.
	Pending int
	// Chunks is how many chunks snapshot Snap has (0: no snapshot).
	Chunks uint32
}

// Read puts a feed's records together.
func Read(records []Record) Log {
	l := Log{records: records}
	have := map[uint64]map[uint32]bool{}
	want := map[uint64]uint32{}
	for _, r := range records {
		l.Max = max(l.Max, r.Seq)
		if r.Kind != Snapshot {
			continue
		}
		if have[r.Seq] == nil {
			have[r.Seq] = map[uint32]bool{}
		}
		have[r.Seq][r.Chunk] = true
		want[r.Seq] = r.Chunks
	}
	for seq, chunks := range have {
		if uint32(len(chunks)) == want[seq] && seq > l.Snap {
			l.Snap, l.Chunks = seq, want[seq]
		}
	}
	for _, r := range records {
		if r.Kind == Delta && r.Seq > l.Snap {
			l.Pending++
		}
	}
	return l
}

// Contains reports, for each hash in want, whether the log holds it: its
// snapshot, a newer one's chunks, or a delta after it. Older records
// (deltas left in their slots by a fold, chunks of an older snapshot) are
// covered by the snapshot, less what its retention dropped, so they do
// not count: a reader of every record and one of the live records alone
// answer alike.
func (l Log) Contains(want map[uint64]bool) {
	for _, r := range l.records {
		if r.Seq < l.Snap || (r.Seq == l.Snap && r.Kind == Delta) {
			continue
		}
		for i := range r.Len() {
			h := binary.LittleEndian.Uint64(r.entries[i*entrySize:])
			if _, ok := want[h]; ok {
				want[h] = true
			}
		}
	}
}

// Next is the record the next write produces: a delta while fewer than
// Deltas are pending, else a snapshot.
func (l Log) Next() (Kind, uint64) {
	if l.Pending < Deltas {
		return Delta, l.Max + 1
	}
	return Snapshot, l.Max + 1
}

// Merge returns every entry of the log and of add, one per hash with its
// latest day, without those last seen before minDay, sorted by hash.
func (l Log) Merge(add []Entry, minDay uint16) []Entry {
	n := len(add)
	for _, r := range l.records {
		n += r.Len()
	}
	all := make([]Entry, 0, n)
	for _, r := range l.records {
		for i := range r.Len() {
			all = append(all, r.At(i))
		}
	}
	all = append(all, add...)
	slices.SortFunc(all, func(a, b Entry) int {
		if a.Hash != b.Hash {
			if a.Hash < b.Hash {
				return -1
			}
			return 1
		}
		return int(b.Day) - int(a.Day) // latest day first
	})
	out := make([]Entry, 0, len(all))
	for i, e := range all {
		if i > 0 && e.Hash == all[i-1].Hash {
			continue // an older day of the same key
		}
		if e.Day >= minDay {
			out = append(out, e)
		}
	}
	return out
}

// EncodeSnapshot encodes entries as the chunks of a snapshot with sequence seq.
func EncodeSnapshot(seq uint64, entries []Entry) [][]byte {
	chunks := max(1, (len(entries)+ChunkEntries-1)/ChunkEntries)
	out := make([][]byte, chunks)
	for i := range chunks {
		part := entries[min(i*ChunkEntries, len(entries)):min((i+1)*ChunkEntries, len(entries))]
		out[i] = Append(nil, Snapshot, seq, uint32(i), uint32(chunks), part)
	}
	return out
}
