package archive

import (
	"encoding/binary"
	"reflect"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/item"
	"github.com/feedwatch/feedwatch/watcher"
)

// What version 2 leaves out (a key it can rebuild, an ID equal to the
// link, a summary the content starts with) reads back the same, through
// Decode and DecodeShared, and the record is smaller for it.
func TestEncodeLeavesOutWhatItRebuilds(t *testing.T) {
	base := sample()
	derived := base
	derived.Key = watcher.ItemKey(base.Feed.Name, item.Item{ID: base.ID})
	idIsLink := base
	idIsLink.ID = base.Link
	prefix := base
	prefix.Summary, prefix.Content = "Trade Bill passes", "Trade Bill passes the Lords after a long night"
	same := base
	same.Summary, same.Content = "same text", "same text"
	linkKey := base
	linkKey.ID = ""
	linkKey.Key = watcher.ItemKey(base.Feed.Name, item.Item{Link: base.Link})
	titleKey := base
	titleKey.ID, titleKey.Link = "", ""
	titleKey.Key = watcher.ItemKey(base.Feed.Name, item.Item{Title: base.Title, Published: base.Published})
	tests := map[string]struct {
		r     Record
		saved int // bytes fewer than version 1
	}{
		// A string left out saves its length byte too; a summary keeps its
		// length.
		"key derived":       {derived, len(derived.Key) + 1},
		"key from link":     {linkKey, len(linkKey.Key) + 1},
		"key from title":    {titleKey, len(titleKey.Key) + 1},
		"id is link":        {idIsLink, len(idIsLink.ID) + 1},
		"summary prefix":    {prefix, len(prefix.Summary)},
		"summary = content": {same, len(same.Summary)},
		"nothing to spare":  {base, 0},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			enc := tt.r.Encode(nil)
			if len(enc) > tt.r.Size() {
				t.Errorf("encoding of %d bytes, Size says at most %d", len(enc), tt.r.Size())
			}
			// One flags byte more than version 1.
			if got, want := len(encodeV1(&tt.r))-len(enc)+1, tt.saved; got != want {
				t.Errorf("saved %d bytes, want %d", got, want)
			}
			for _, dec := range []func([]byte) (Record, error){Decode, DecodeShared} {
				got, err := dec(enc)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tt.r) {
					t.Errorf("got %+v\nwant %+v", got, tt.r)
				}
			}
		})
	}
}

// Archives written before version 2 still read.
func TestDecodeVersion1(t *testing.T) {
	for name, r := range map[string]Record{"full": sample(), "empty": {ArchivedAt: time.Unix(0, 0).UTC()}} {
		t.Run(name, func(t *testing.T) {
			got, err := Decode(encodeV1(&r))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, r) {
				t.Errorf("got %+v\nwant %+v", got, r)
			}
		})
	}
}

// A summary length past the content's end, or an unknown flag, is a
// corrupt record, not a panic.
func TestDecodeVersion2Corrupt(t *testing.T) {
	r := sample()
	r.Summary, r.Content = "ab", "abc"
	enc := r.Encode(nil)
	if enc[1]&flagSummaryPrefix == 0 {
		t.Fatal("summary not stored as a prefix")
	}
	for name, b := range map[string][]byte{
		"unknown flag": append([]byte{version, 0x80}, enc[2:]...),
		"summary long": func() []byte {
			// Content "" then a summary length of 5.
			e := append([]byte{version, flagSummaryPrefix, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, binary.AppendUvarint(nil, 5)...)
			return append(e, 0, 0, 0)
		}(),
	} {
		if _, err := Decode(b); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

// encodeV1 is version 1's encoding, as archives hold it.
func encodeV1(r *Record) []byte {
	dst := []byte{version1}
	dst = binary.AppendVarint(dst, r.ArchivedAt.Unix())
	if r.Published != nil {
		dst = append(dst, 1)
		dst = binary.AppendVarint(dst, r.Published.Unix())
		dst = binary.AppendUvarint(dst, uint64(r.Published.Nanosecond()))
	} else {
		dst = append(dst, 0)
	}
	for _, s := range [...]string{r.Feed.Name, r.Feed.URL, r.Feed.Title, r.Key, r.ID, r.Title, r.Link, r.Summary, r.Content} {
		dst = appendString(dst, s)
	}
	for _, l := range [...][]string{r.Feed.Tags, r.Authors, r.Categories} {
		dst = binary.AppendUvarint(dst, uint64(len(l)))
		for _, s := range l {
			dst = appendString(dst, s)
		}
	}
	return dst
}

// A key left to DeriveKey comes out as Decode gives it; a stored one is
// there at once.
func TestDecodeLazyKey(t *testing.T) {
	derived := sample()
	derived.Key = derived.derivedKey()
	for name, r := range map[string]Record{"derived": derived, "stored": sample()} {
		data := r.Encode(nil)
		want, err := Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeSharedLazyKey(data)
		if err != nil {
			t.Fatal(err)
		}
		if name == "stored" && got.Key != want.Key {
			t.Errorf("stored key %q before DeriveKey, want %q", got.Key, want.Key)
		}
		got.DeriveKey()
		if !reflect.DeepEqual(got, want) || got.Key != r.Key {
			t.Errorf("%s: got %+v\nwant %+v", name, got, want)
		}
	}
}
