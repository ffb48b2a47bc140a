package checkpoint

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSaveLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", FileName)
	if _, err := Load(path); !errors.Is(err, ErrNone) {
		t.Fatalf("no file: %v, want ErrNone", err)
	}
	c := Checkpoint{NATS: "embedded", GoodAt: time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC),
		Streams: map[string]Stream{"KV_x": {Created: time.Date(2026, 1, 1, 0, 0, 0, 987654321, time.UTC), LastSeq: 7, Msgs: 5, MaxAge: time.Hour}}}
	for range 2 { // the second save replaces the first
		if err := Save(path, c); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !got.GoodAt.Equal(c.GoodAt) || got.NATS != c.NATS || got.V != Version || !got.Streams["KV_x"].Created.Equal(c.Streams["KV_x"].Created) || got.Streams["KV_x"].Msgs != 5 {
		t.Fatalf("loaded %+v, saved %+v", got, c)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("temp files left behind: %v", entries)
	}
	for _, bad := range []string{"", "{", `{"v": 2}`, "\x00\x01garbage"} {
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(path); err == nil || errors.Is(err, ErrNone) {
			t.Errorf("Load(%q) = %v, want an error", bad, err)
		}
	}
}

func TestCompare(t *testing.T) {
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	was := Stream{Created: created, FirstTime: at.Add(-time.Hour), LastSeq: 100, Msgs: 40, MaxAge: 24 * time.Hour}
	old := Checkpoint{Streams: map[string]Stream{"S": was}}
	known := was
	known.Unreadable = 2
	with := func(f func(*Stream)) map[string]Stream {
		s := was
		f(&s)
		return map[string]Stream{"S": s}
	}
	for _, tc := range []struct {
		name string
		now  map[string]Stream
		at   time.Time
		want []string
	}{
		{"same", with(func(*Stream) {}), at, nil},
		{"more written since", with(func(s *Stream) { s.LastSeq, s.Msgs = 150, 60 }), at, nil},
		{"missing", map[string]Stream{}, at, []string{"S: missing"}},
		{"made again", with(func(s *Stream) { s.Created = created.Add(time.Hour); s.LastSeq, s.Msgs = 0, 0 }), at,
			[]string{"S: last sequence 0, was 100; 0 messages, was 40; made again (created 2026-01-01T01:00:00Z, was 2026-01-01T00:00:00Z)"}},
		// nats-server makes a stream with a damaged metadata file again
		// around its messages, at every start: nothing lost.
		{"made again, messages all there", with(func(s *Stream) { s.Created = created.Add(time.Hour) }), at, nil},
		{"lower last sequence", with(func(s *Stream) { s.LastSeq, s.Msgs = 60, 20 }), at, []string{"S: last sequence 60, was 100; 20 messages, was 40"}},
		{"fewer messages", with(func(s *Stream) { s.Msgs = 0 }), at, []string{"S: 0 messages, was 40"}},
		{"fewer messages in a stream that shrinks on purpose", map[string]Stream{"S": {Created: created, FirstTime: was.FirstTime, LastSeq: 100, Msgs: 1, MaxAge: was.MaxAge, Shrinks: true}}, at, nil},
		{"fewer messages, but they may have expired", with(func(s *Stream) { s.Msgs = 0 }), at.Add(24 * time.Hour), nil},
		{"fewer messages, as many as known unreadable", map[string]Stream{"S": {Created: created, FirstTime: was.FirstTime, LastSeq: 100, Msgs: 38, MaxAge: was.MaxAge}}, at, nil},
		// Seen in the daemon test: the damaged run counted 3 with 1
		// unreadable, and the next start's rebuild left 1.
		{"fewer messages, more than known unreadable", map[string]Stream{"S": {Created: created, FirstTime: was.FirstTime, LastSeq: 100, Msgs: 1, MaxAge: was.MaxAge}}, at, nil},
		{"fewer messages, more than known unreadable, lower last sequence", map[string]Stream{"S": {Created: created, FirstTime: was.FirstTime, LastSeq: 90, Msgs: 1, MaxAge: was.MaxAge}}, at,
			[]string{"S: last sequence 90, was 100"}},
		{"server reports lost messages", with(func(s *Stream) { s.LostMsgs = 3 }), at, []string{"S: the server reports 3 messages lost"}},
		{"new stream", map[string]Stream{"S": was, "T": {Created: at}}, at, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			cp := old
			if strings.HasPrefix(tc.name, "fewer messages, as many as known") || strings.HasPrefix(tc.name, "fewer messages, more than known") {
				cp = Checkpoint{Streams: map[string]Stream{"S": known}}
			}
			if strings.HasPrefix(tc.name, "fewer messages in a stream that shrinks") {
				shrinks := was
				shrinks.Shrinks = true
				cp = Checkpoint{Streams: map[string]Stream{"S": shrinks}}
			}
			for _, l := range Compare(cp, tc.now, tc.at) {
				got = append(got, l.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("Compare = %q, want %q", got, tc.want)
			}
		})
	}
}
