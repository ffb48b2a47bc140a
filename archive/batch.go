package archive

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// A batch is one poll's new items of a feed in one archive message: a
// header (format version, codec, the records' total size and count) and
// the records, each length-prefixed and led by the item's identity (a
// reader skips later copies by it without rebuilding it from the link:
// that was 7 % of a backtest), zstd-compressed as one frame. One
// message per poll is what makes the archive cheap: the server stores,
// acks and indexes one message where it did twenty, and zstd's entropy
// coding over a feed's items shrinks text that per-item S2 left at half.
const (
	batchVersion = 1
	codecZstd    = 1
)

// MaxBatchSize bounds a batch's records once decompressed: a batch is
// read back from the store, hostile input for all the reader knows (a
// zip bomb must not take the reader's memory). A poll's new items are far
// below it; BatchWriter.AppendBatch refuses a batch past it.
const MaxBatchSize = 8 << 20

// ErrBatchTooLarge means a batch's records exceed MaxBatchSize.
var ErrBatchTooLarge = errors.New("archive batch too large")

// BatchWriter writes batches. Its zstd encoders are pooled and safe for
// concurrent use (each call runs on its caller's goroutine): make one and
// share it.
type BatchWriter struct{ enc *zstd.Encoder }

// NewBatchWriter makes a BatchWriter.
func NewBatchWriter() (*BatchWriter, error) {
	// The fastest level: its 256 KB hash table stays in cache where the
	// default level's 1.25 MB did not (in the daemon, 2-3x the CPU per
	// batch), for 5 % more bytes. A poll's batch is tens of kilobytes: a
	// small window is as good and keeps each pooled encoder small.
	// It skips entropy coding where it finds no matches unless told: a
	// one-item batch would be stored as is.
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithAllLitEntropyCompression(true),
		zstd.WithWindowSize(1<<20), zstd.WithLowerEncoderMem(true))
	if err != nil {
		return nil, fmt.Errorf("archive batch writer: %w", err)
	}
	return &BatchWriter{enc: enc}, nil
}

// Close releases the writer's encoders.
func (w *BatchWriter) Close() { _ = w.enc.Close() }

// BatchReader reads batches. Its zstd decoders are pooled and safe for
// concurrent use (up to GOMAXPROCS at once).
type BatchReader struct{ dec *zstd.Decoder }

// NewBatchReader makes a BatchReader.
func NewBatchReader() (*BatchReader, error) {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0),
		zstd.WithDecoderMaxMemory(MaxBatchSize), zstd.WithDecoderMaxWindow(MaxBatchSize),
		// Decode into exactly the size the header announces, no more.
		zstd.WithDecodeAllCapLimit(true))
	if err != nil {
		return nil, fmt.Errorf("archive batch reader: %w", err)
	}
	return &BatchReader{dec: dec}, nil
}

// Close releases the reader's decoders.
func (r *BatchReader) Close() { r.dec.Close() }

// AppendBatch appends the batch of recs, whose identities are ids
// (Record.Identity), to dst. raw is scratch space for the uncompressed
// records (reused when it has room); it is returned for the next call.
func (w *BatchWriter) AppendBatch(dst, raw []byte, recs []Record, ids []ID) (out, scratch []byte, err error) {
	if len(ids) != len(recs) {
		return dst, raw, fmt.Errorf("archive batch: %d identities for %d records", len(ids), len(recs))
	}
	n := 0
	for i := range recs {
		n += binary.MaxVarintLen64 + len(ID{}) + recs[i].Size()
	}
	if cap(raw) < n {
		raw = make([]byte, 0, n)
	}
	raw = raw[:0]
	var l [binary.MaxVarintLen64]byte
	for i := range recs {
		// Encode after a gap as wide as the longest prefix, then move the
		// record left once its length is known.
		start := len(raw)
		raw = append(raw, l[:]...)
		raw = append(raw, ids[i][:]...)
		raw = recs[i].Encode(raw)
		size := len(raw) - start - len(l)
		p := binary.PutUvarint(l[:], uint64(size))
		copy(raw[start:], l[:p])
		copy(raw[start+p:], raw[start+len(l):])
		raw = raw[:start+p+size]
	}
	if len(raw) > MaxBatchSize {
		return dst, raw, fmt.Errorf("%w: %d bytes of records (at most %d)", ErrBatchTooLarge, len(raw), MaxBatchSize)
	}
	dst = append(dst, batchVersion, codecZstd)
	dst = binary.AppendUvarint(dst, uint64(len(raw)))
	dst = binary.AppendUvarint(dst, uint64(len(recs)))
	return w.enc.EncodeAll(raw, dst), raw, nil
}

// ReadBatch decompresses a batch written by AppendBatch and hands fn each
// record's identity, as written, and encoding, in order (for Decode, or
// DecodeShared: the buffer is the batch's own, never reused). A batch that is damaged, too large or
// not a batch gives an error wrapping ErrCorrupt; an error from fn stops
// the read and is returned.
func (br *BatchReader) ReadBatch(data []byte, fn func(id ID, rec []byte) error) error {
	if len(data) < 2 {
		return fmt.Errorf("%w: batch too short", ErrCorrupt)
	}
	if data[0] != batchVersion {
		return fmt.Errorf("%w: unknown batch version %d", ErrCorrupt, data[0])
	}
	if data[1] != codecZstd {
		return fmt.Errorf("%w: unknown batch codec %d", ErrCorrupt, data[1])
	}
	d := reader{b: data[2:]}
	size, count := d.uvarint("batch size"), d.uvarint("batch count")
	if d.err != nil {
		return d.err
	}
	if size > MaxBatchSize {
		return fmt.Errorf("%w: batch of %d bytes (at most %d)", ErrCorrupt, size, MaxBatchSize)
	}
	if count > size/(3+uint64(len(ID{}))) { // a record takes a prefix, its identity and two bytes at least
		return fmt.Errorf("%w: batch of %d records in %d bytes", ErrCorrupt, count, size)
	}
	// A little room past the announced size lets zstd copy 16 bytes at a
	// time up to the end (an exact buffer takes its bounds-exact path, a
	// third slower); the frame may still not exceed the announced size.
	raw, err := br.dec.DecodeAll(d.b, make([]byte, 0, size+64))
	if err != nil {
		return fmt.Errorf("%w: batch: %w", ErrCorrupt, err)
	}
	if uint64(len(raw)) != size { // a smaller frame
		return fmt.Errorf("%w: batch holds %d bytes, its header says %d", ErrCorrupt, len(raw), size)
	}
	r := reader{b: raw}
	for i := uint64(0); i < count; i++ {
		n := r.uvarint("batch record")
		if r.err != nil {
			return r.err
		}
		if n > uint64(len(r.b)) || n < uint64(len(ID{})) {
			return fmt.Errorf("%w: batch record %d of %d truncated", ErrCorrupt, i+1, count)
		}
		id := ID(r.b[:len(ID{})])
		rec := r.b[len(ID{}):n:n]
		r.b = r.b[n:]
		if err := fn(id, rec); err != nil {
			return err
		}
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%w: %d bytes after the batch's %d records", ErrCorrupt, len(r.b), count)
	}
	return nil
}
