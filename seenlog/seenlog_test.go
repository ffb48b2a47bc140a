package seenlog

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func entries(hashes ...uint64) []Entry {
	out := make([]Entry, len(hashes))
	for i, h := range hashes {
		out[i] = Entry{Hash: h, Day: 100}
	}
	return out
}

func parsed(t *testing.T, b []byte) Record {
	t.Helper()
	r, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRoundTrip(t *testing.T) {
	in := []Entry{{Hash: 1, Day: 7}, {Hash: ^uint64(0), Day: 65535}, {Hash: 1 << 40, Day: 0}}
	r := parsed(t, Append(nil, Delta, 42, 0, 1, in))
	if r.Kind != Delta || r.Seq != 42 || r.Chunk != 0 || r.Chunks != 1 || r.Len() != len(in) {
		t.Fatalf("header: %+v", r)
	}
	for i, e := range in {
		if r.At(i) != e {
			t.Errorf("entry %d: %+v, want %+v", i, r.At(i), e)
		}
	}
}

func TestParseRejects(t *testing.T) {
	good := Append(nil, Delta, 1, 0, 1, entries(5))
	for name, b := range map[string][]byte{
		"empty":           nil,
		"short header":    good[:headerSize-1],
		"other version":   append([]byte{2}, good[1:]...),
		"unknown kind":    append([]byte{version, 'x'}, good[2:]...),
		"torn entry":      good[:len(good)-1],
		"delta chunk 1":   Append(nil, Delta, 1, 1, 2, nil),
		"chunk past end":  Append(nil, Snapshot, 1, 2, 2, nil),
		"zero chunks":     Append(nil, Snapshot, 1, 0, 0, nil),
		"not ours (json)": []byte(`{"seen":true,"padding":"xxxxxxxxxx"}`),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse(b); !errors.Is(err, ErrRecord) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestRead(t *testing.T) {
	snap := func(seq uint64, chunk, chunks uint32) Record {
		return parsed(t, Append(nil, Snapshot, seq, chunk, chunks, entries(seq*10+uint64(chunk))))
	}
	delta := func(seq uint64) Record { return parsed(t, Append(nil, Delta, seq, 0, 1, entries(seq))) }
	for _, tc := range []struct {
		name       string
		records    []Record
		snap, max  uint64
		pending    int
		next       Kind
		nextSeq    uint64
		containing []uint64
		stale      []uint64 // in records the snapshot covers: not contained
	}{
		{name: "empty", next: Delta, nextSeq: 1},
		{name: "deltas only", records: []Record{delta(1), delta(2)}, max: 2, pending: 2, next: Delta, nextSeq: 3, containing: []uint64{1, 2}},
		{name: "snapshot and stale deltas", records: []Record{delta(3), snap(5, 0, 1), delta(6), delta(4), delta(5)}, snap: 5, max: 6, pending: 1, next: Delta, nextSeq: 7, containing: []uint64{50, 6}, stale: []uint64{3, 4, 5}},
		{name: "chunks of an older snapshot", records: []Record{snap(7, 0, 1), snap(3, 1, 2), delta(8)}, snap: 7, max: 8, pending: 1, next: Delta, nextSeq: 9, containing: []uint64{70, 8}, stale: []uint64{31}},
		{name: "torn snapshot counts as none", records: []Record{snap(9, 0, 2), snap(4, 0, 1), delta(5), delta(8)}, snap: 4, max: 9, pending: 2, next: Delta, nextSeq: 10, containing: []uint64{90, 40, 5, 8}},
		{name: "two-chunk snapshot", records: []Record{snap(9, 1, 2), snap(9, 0, 2), delta(10)}, snap: 9, max: 10, pending: 1, next: Delta, nextSeq: 11, containing: []uint64{90, 91, 10}},
		{name: "full", records: fullLog(t), snap: 1, max: 1 + Deltas, pending: Deltas, next: Snapshot, nextSeq: 2 + Deltas},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := Read(tc.records)
			if l.Snap != tc.snap || l.Max != tc.max || l.Pending != tc.pending {
				t.Fatalf("snap %d max %d pending %d; want %d %d %d", l.Snap, l.Max, l.Pending, tc.snap, tc.max, tc.pending)
			}
			if k, seq := l.Next(); k != tc.next || seq != tc.nextSeq {
				t.Fatalf("next %c %d, want %c %d", k, seq, tc.next, tc.nextSeq)
			}
			want := map[uint64]bool{12345: false}
			for _, h := range tc.containing {
				want[h] = false
			}
			l.Contains(want)
			for _, h := range tc.containing {
				if !want[h] {
					t.Errorf("%d not contained", h)
				}
			}
			if want[12345] {
				t.Error("12345 contained")
			}
			want = map[uint64]bool{}
			for _, h := range tc.stale {
				want[h] = false
			}
			l.Contains(want)
			for _, h := range tc.stale {
				if want[h] {
					t.Errorf("%d contained: its record is older than the snapshot", h)
				}
			}
		})
	}
}

func fullLog(t *testing.T) []Record {
	out := []Record{parsed(t, Append(nil, Snapshot, 1, 0, 1, nil))}
	for seq := uint64(2); seq <= 1+Deltas; seq++ {
		out = append(out, parsed(t, Append(nil, Delta, seq, 0, 1, entries(seq))))
	}
	return out
}

func TestMerge(t *testing.T) {
	a := parsed(t, Append(nil, Snapshot, 1, 0, 1, []Entry{{3, 10}, {1, 50}, {2, 9}}))
	b := parsed(t, Append(nil, Delta, 2, 0, 1, []Entry{{3, 60}, {4, 8}}))
	got := Read([]Record{a, b}).Merge([]Entry{{2, 61}, {5, 61}}, 10)
	want := []Entry{{1, 50}, {2, 61}, {3, 60}, {5, 61}} // 4 (day 8) is past retention
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestEncodeSnapshotChunks(t *testing.T) {
	n := 2*ChunkEntries + 3
	es := make([]Entry, n)
	for i := range es {
		es[i] = Entry{Hash: uint64(i), Day: 1}
	}
	chunks := EncodeSnapshot(7, es)
	if len(chunks) != 3 {
		t.Fatalf("%d chunks", len(chunks))
	}
	var recs []Record
	total := 0
	for i, c := range chunks {
		r := parsed(t, c)
		if r.Seq != 7 || r.Chunk != uint32(i) || r.Chunks != 3 || r.Kind != Snapshot {
			t.Fatalf("chunk %d header %+v", i, r)
		}
		if len(c) > 1<<20 {
			t.Fatalf("chunk %d is %d bytes", i, len(c))
		}
		total += r.Len()
		recs = append(recs, r)
	}
	if total != n || Read(recs).Snap != 7 {
		t.Fatalf("total %d, snap %d", total, Read(recs).Snap)
	}
	if one := EncodeSnapshot(8, nil); len(one) != 1 || parsed(t, one[0]).Len() != 0 {
		t.Fatal("an empty snapshot is one empty chunk")
	}
}

func TestDay(t *testing.T) {
	if d := Day(time.Date(2026, 11, 28, 23, 59, 0, 0, time.UTC)); d != 20785 {
		t.Fatalf("day %d", d)
	}
	if Day(time.Unix(-5, 0)) != 0 || Day(time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)) != 65535 {
		t.Fatal("days out of range are not clamped")
	}
}

// FuzzParse: records come from a KV bucket that others may write to.
// Parse must not panic, and what it accepts must re-encode to the same
// bytes.
func FuzzParse(f *testing.F) {
	f.Add(Append(nil, Delta, 1, 0, 1, entries(1, 2)))
	f.Add(Append(nil, Snapshot, 9, 1, 2, entries(3)))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Parse(b)
		if err != nil {
			return
		}
		es := make([]Entry, r.Len())
		for i := range es {
			es[i] = r.At(i)
		}
		if again := Append(nil, r.Kind, r.Seq, r.Chunk, r.Chunks, es); string(again) != string(b) {
			t.Fatalf("re-encoded %x, was %x", again, b)
		}
		l := Read([]Record{r})
		l.Contains(map[uint64]bool{1: false})
		_ = l.Merge(nil, 0)
	})
}
