package archive

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func newBatchCodec(t testing.TB) (*BatchWriter, *BatchReader) {
	t.Helper()
	w, err := NewBatchWriter()
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewBatchReader()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close(); r.Close() })
	return w, r
}

func ids(recs []Record) []ID {
	out := make([]ID, len(recs))
	for i := range recs {
		out[i] = recs[i].Identity()
	}
	return out
}

func readBatch(r *BatchReader, data []byte) ([]Record, error) {
	var out []Record
	err := r.ReadBatch(data, func(id ID, b []byte) error {
		rec, err := DecodeShared(b)
		if err != nil {
			return err
		}
		if id != rec.Identity() {
			return fmt.Errorf("%w: identity %x, record's %x", ErrCorrupt, id, rec.Identity())
		}
		out = append(out, rec)
		return nil
	})
	return out, err
}

func TestBatchRoundTrip(t *testing.T) {
	w, r := newBatchCodec(t)
	a, b := sample(), sample()
	b.Title, b.Content, b.Summary = "second", strings.Repeat("long text ", 500), "long text"
	var scratch []byte
	for _, recs := range [][]Record{{a}, {a, b}, {}} {
		data, s, err := w.AppendBatch([]byte("prefix"), scratch, recs, ids(recs))
		if err != nil {
			t.Fatal(err)
		}
		scratch = s
		if !bytes.HasPrefix(data, []byte("prefix")) {
			t.Fatal("prefix lost")
		}
		got, err := readBatch(r, data[len("prefix"):])
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 && got == nil {
			continue
		}
		if !reflect.DeepEqual(got, recs) {
			t.Errorf("got %+v\nwant %+v", got, recs)
		}
	}
}

// A batch compresses its items together: text a poll's items share costs
// little more than once.
func TestBatchCompresses(t *testing.T) {
	w, _ := newBatchCodec(t)
	var recs []Record
	raw := 0
	for i := range 20 {
		r := sample()
		r.Title = strings.Repeat("x", i)
		r.Content = strings.Repeat("the trade bill was debated again in parliament today ", 20)
		raw += len(r.Encode(nil))
		recs = append(recs, r)
	}
	data, _, err := w.AppendBatch(nil, nil, recs, ids(recs))
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > raw/10 {
		t.Errorf("batch of %d bytes for %d bytes of records", len(data), raw)
	}
}

// Hostile batches (read back from a store) give ErrCorrupt, never a panic
// or an allocation past MaxBatchSize.
func TestBatchCorrupt(t *testing.T) {
	w, r := newBatchCodec(t)
	good, _, err := w.AppendBatch(nil, nil, []Record{sample(), sample()}, ids([]Record{sample(), sample()}))
	if err != nil {
		t.Fatal(err)
	}
	header := func(size, count uint64) []byte {
		return binary.AppendUvarint(binary.AppendUvarint([]byte{batchVersion, codecZstd}, size), count)
	}
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	bomb := enc.EncodeAll(make([]byte, MaxBatchSize+1), nil) // ~4 KB of zeros' frame
	liar := enc.EncodeAll(make([]byte, 1000), nil)
	flip := bytes.Clone(good)
	flip[len(flip)-5] ^= 0x40
	cases := map[string][]byte{
		"empty":            nil,
		"version":          {9, codecZstd, 0, 0},
		"codec":            {batchVersion, 9, 0, 0},
		"no header":        {batchVersion, codecZstd},
		"size too large":   append(header(MaxBatchSize+1, 1), liar...),
		"count too large":  append(header(1000, 1000), liar...),
		"bomb":             append(header(MaxBatchSize, 1), bomb...),
		"size lies":        append(header(100, 1), liar...),
		"size lies a bit":  append(header(990, 1), liar...),
		"not zstd":         append(header(10, 1), "0123456789"...),
		"flipped":          flip,
		"truncated":        good[:len(good)-4],
		"records overflow": append(header(1000, 1), liar...), // a zero record: length 0, then 999 trailing bytes
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := readBatch(r, data); !errors.Is(err, ErrCorrupt) {
				t.Errorf("err = %v, want ErrCorrupt", err)
			}
		})
	}
}

// FuzzReadBatch: any bytes read as a batch give records or an error,
// never a panic; what reads re-encodes to a batch that reads the same.
func FuzzReadBatch(f *testing.F) {
	w, r := newBatchCodec(f)
	for _, recs := range [][]Record{{sample()}, {sample(), {}}, nil} {
		data, _, err := w.AppendBatch(nil, nil, recs, ids(recs))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := readBatch(r, data)
		if err != nil {
			return
		}
		again, _, err := w.AppendBatch(nil, nil, got, ids(got))
		if err != nil {
			t.Fatal(err)
		}
		back, err := readBatch(r, again)
		if err != nil || !reflect.DeepEqual(back, got) {
			t.Fatalf("re-encoded batch differs: %v", err)
		}
	})
}
