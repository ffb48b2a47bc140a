// Package archive is the shape of an archived item: what `feedwatch
// backtest` and a profile's catch_up need to route it again as the daemon
// did (feed, identity key, title, link, date, authors, categories, summary
// and content as plain text), its compact binary encoding, and its
// identity in the archive. It is pure: the bus stores records in the
// FEEDWATCH_ITEMS stream.
package archive

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/feedwatch/feedwatch/item"
	"github.com/feedwatch/feedwatch/plaintext"
	"github.com/feedwatch/feedwatch/watcher"
)

// Record is one archived item.
type Record struct {
	// Feed is the feed it was first archived from.
	Feed item.Feed
	// Key is the item's identity in that feed (watcher.ItemKey), so a hit
	// made from the record has the id the live hit has.
	Key        string
	ID         string
	Title      string // plain text
	Link       string
	Published  *time.Time
	Authors    []string
	Categories []string
	Summary    string // plain text
	Content    string // plain text
	ArchivedAt time.Time
	// keyPending: Key is to be derived (DecodeSharedLazyKey).
	keyPending bool
}

// FromItem is the record of it, seen in feed at now: the title, summary
// and content are stored as plain text (what matching reads of them).
func FromItem(feed item.Feed, it *item.Item, now time.Time) Record {
	r := Record{
		Feed: feed, Key: it.Key, ID: it.ID, Link: it.Link,
		Title:   plaintext.FromHTML(it.Title),
		Summary: plaintext.FromHTML(it.Summary),
		Content: plaintext.FromHTML(it.Content),
		Authors: it.Authors, Categories: it.Categories,
		ArchivedAt: now.UTC().Truncate(time.Second),
	}
	if it.Published != nil {
		p := it.Published.UTC()
		r.Published = &p
	}
	return r
}

// escaper turns plain text back into markup that plaintext.FromHTML (and
// so the matcher) reads as the same text: only what markup would change.
var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func asHTML(s string) string {
	// Three IndexByte scans (vectorised) beat ContainsAny's byte-set loop
	// on the kilobytes of text a backtest turns back into items.
	if strings.IndexByte(s, '&') >= 0 || strings.IndexByte(s, '<') >= 0 || strings.IndexByte(s, '>') >= 0 {
		return escaper.Replace(s)
	}
	return s
}

// Item is the record as the watcher handed it on: matching it and making
// its hit give what they gave live (the texts are plain; characters that
// would read as markup are escaped).
func (r *Record) Item(feed item.Feed) item.Item {
	return item.Item{
		Feed: feed, ID: r.ID, Key: r.Key, Link: r.Link, Published: r.Published,
		Title: asHTML(r.Title), Summary: asHTML(r.Summary), Content: asHTML(r.Content),
		Authors: r.Authors, Categories: r.Categories,
	}
}

// Date is what windows (backtest --since, catch_up) count from: the
// published date, or the archiving time when the item has none.
func (r *Record) Date() time.Time {
	if r.Published != nil {
		return *r.Published
	}
	return r.ArchivedAt
}

// Identity names an item in the archive, one copy whatever the feeds that
// carry it: its normalised link when that names an article (not a bare
// site root), else its key in its feed (GUID, else title and date). Two
// feeds with the same article link share one copy, the first feed's; an
// item without a usable link is one copy per feed. 22 base64url
// characters of SHA-256, a NATS subject token.
func Identity(it *item.Item) string {
	sum := identitySum(it.Link, it.Key)
	return base64.RawURLEncoding.EncodeToString(sum[:])[:22]
}

// ID is an item's identity (Identity) as 16 bytes: what readers keep to
// skip a second copy of an item, and writers to not write one.
type ID [16]byte

// IdentityOf is it's identity as an ID.
func IdentityOf(it *item.Item) ID { return idOf(it.Link, it.Key) }

// Identity is the record's identity: the item's it was made from.
func (r *Record) Identity() ID { return idOf(r.Link, r.Key) }

func idOf(link, key string) ID {
	sum := identitySum(link, key)
	return ID(sum[:16])
}

func identitySum(link, key string) [sha256.Size]byte {
	var buf [256]byte
	b := buf[:0]
	if l := articleLink(link); l != "" {
		b = append(append(b, "l\x00"...), l...)
	} else {
		b = append(append(b, "k\x00"...), key...)
	}
	return sha256.Sum256(b)
}

// articleLink is the normalised link when it names an article: a host
// and something after it, not a bare site root; else "".
func articleLink(link string) string {
	if link == "" {
		return ""
	}
	l := watcher.NormalizeLink(link)
	_, rest, ok := strings.Cut(l, "://")
	if !ok {
		return ""
	}
	host, path, _ := strings.Cut(rest, "/")
	if host == "" || path == "" || path[0] == '#' {
		return ""
	}
	if strings.HasPrefix(path, "?") && len(path) == 1 {
		return ""
	}
	return l
}

// Encoding versions: 1 wrote every field; 2 (written now) leaves out what
// the record can rebuild (see Encode). Both are read.
const (
	version1 = 1
	version  = 2
)

// Flags of a version-2 record: fields left out because they equal
// another's value.
const (
	flagKeyDerived    = 1 << iota // Key is watcher.ItemKey of the record's feed, ID, link, title, date
	flagIDIsLink                  // ID equals Link
	flagSummaryPrefix             // Summary is a prefix of Content: only its length is stored
	flagMask          = flagKeyDerived | flagIDIsLink | flagSummaryPrefix
)

// Encode appends the record's binary form to dst: a version byte, flags,
// then varint times and length-prefixed strings. Compact and quick to read
// back (a backtest decodes every archived item): the identity key (34
// characters no compression shrinks) is left out when it can be rebuilt,
// as is an ID equal to the link and a summary the content starts with.
func (r *Record) Encode(dst []byte) []byte {
	var flags byte
	if r.Key != "" && r.Key == r.derivedKey() {
		flags |= flagKeyDerived
	}
	if r.ID != "" && r.ID == r.Link {
		flags |= flagIDIsLink
	}
	if r.Summary != "" && strings.HasPrefix(r.Content, r.Summary) {
		flags |= flagSummaryPrefix
	}
	dst = append(dst, version, flags)
	dst = binary.AppendVarint(dst, r.ArchivedAt.Unix())
	if r.Published != nil {
		dst = append(dst, 1)
		dst = binary.AppendVarint(dst, r.Published.Unix())
		dst = binary.AppendUvarint(dst, uint64(r.Published.Nanosecond()))
	} else {
		dst = append(dst, 0)
	}
	dst = appendString(dst, r.Feed.Name)
	dst = appendString(dst, r.Feed.URL)
	dst = appendString(dst, r.Feed.Title)
	if flags&flagKeyDerived == 0 {
		dst = appendString(dst, r.Key)
	}
	if flags&flagIDIsLink == 0 {
		dst = appendString(dst, r.ID)
	}
	dst = appendString(dst, r.Title)
	dst = appendString(dst, r.Link)
	dst = appendString(dst, r.Content)
	if flags&flagSummaryPrefix == 0 {
		dst = appendString(dst, r.Summary)
	} else {
		dst = binary.AppendUvarint(dst, uint64(len(r.Summary)))
	}
	for _, l := range [...][]string{r.Feed.Tags, r.Authors, r.Categories} {
		dst = binary.AppendUvarint(dst, uint64(len(l)))
		for _, s := range l {
			dst = appendString(dst, s)
		}
	}
	return dst
}

// Size is at least the length of the record's encoding (Encode appends
// it without growing a buffer of this room).
func (r *Record) Size() int {
	n := 2 + 3*binary.MaxVarintLen64
	for _, s := range [...]string{r.Feed.Name, r.Feed.URL, r.Feed.Title, r.Key, r.ID, r.Title, r.Link, r.Summary, r.Content} {
		n += binary.MaxVarintLen64 + len(s)
	}
	for _, l := range [...][]string{r.Feed.Tags, r.Authors, r.Categories} {
		n += binary.MaxVarintLen64
		for _, s := range l {
			n += binary.MaxVarintLen64 + len(s)
		}
	}
	return n
}

// derivedKey is the key the watcher gives an item with the record's
// fields; the record's own key is left out when it is this one.
func (r *Record) derivedKey() string {
	return watcher.ItemKey(r.Feed.Name, item.Item{ID: r.ID, Link: r.Link, Title: r.Title, Published: r.Published})
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// ErrCorrupt means a stored record cannot be read.
var ErrCorrupt = errors.New("corrupt archive record")

type reader struct {
	b   []byte
	err error
	// noCopy: strings share b's memory (DecodeShared).
	noCopy bool
}

func (d *reader) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: bad %s", ErrCorrupt, what)
	}
}

func (d *reader) varint(what string) int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *reader) uvarint(what string) uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *reader) str(what string) string {
	n := d.uvarint(what)
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.fail(what)
		return ""
	}
	var s string
	switch {
	case n == 0:
	case d.noCopy:
		s = unsafe.String(&d.b[0], n)
	default:
		s = string(d.b[:n])
	}
	d.b = d.b[n:]
	return s
}

func (d *reader) list(what string) []string {
	n := d.uvarint(what)
	if d.err != nil || n == 0 {
		return nil
	}
	if n > uint64(len(d.b)) { // each entry takes a byte at least
		d.fail(what)
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.str(what)
	}
	return out
}

// Decode reads a record written by Encode (any version).
func Decode(b []byte) (Record, error) { return decode(b, false, false) }

// DecodeShared is Decode without copying: the record's strings share b's
// memory, so b must never change afterwards. A backtest reads each
// archived message's own buffer once: copying ~1.5 KB of text per item
// cost more than decoding it.
func DecodeShared(b []byte) (Record, error) { return decode(b, true, false) }

// DecodeSharedLazyKey is DecodeShared leaving a key the record does not
// store (version 2 rebuilds it, watcher.ItemKey) to DeriveKey: a backtest
// needs it only for the items it routes, and rebuilding it was 4 % of
// reading an item.
func DecodeSharedLazyKey(b []byte) (Record, error) { return decode(b, true, true) }

// DeriveKey sets the key DecodeSharedLazyKey left out, if it did.
func (r *Record) DeriveKey() {
	if r.keyPending {
		r.Key, r.keyPending = r.derivedKey(), false
	}
}

func decode(b []byte, noCopy, lazyKey bool) (Record, error) {
	var r Record
	if len(b) < 2 {
		return r, fmt.Errorf("%w: too short", ErrCorrupt)
	}
	v := b[0]
	if v != version1 && v != version {
		return r, fmt.Errorf("%w: unknown version %d", ErrCorrupt, v)
	}
	d := reader{b: b[1:], noCopy: noCopy}
	var flags byte
	if v == version {
		flags = d.b[0]
		d.b = d.b[1:]
		if flags&^flagMask != 0 {
			return r, fmt.Errorf("%w: unknown flags %#x", ErrCorrupt, flags)
		}
	}
	r.ArchivedAt = time.Unix(d.varint("archived time"), 0).UTC()
	if len(d.b) == 0 {
		return r, fmt.Errorf("%w: truncated", ErrCorrupt)
	}
	hasPub := d.b[0]
	d.b = d.b[1:]
	switch hasPub {
	case 0:
	case 1:
		sec := d.varint("published date")
		ns := d.uvarint("published date")
		if ns >= 1e9 {
			d.fail("published date")
		}
		p := time.Unix(sec, int64(ns)).UTC()
		r.Published = &p
	default:
		d.fail("published flag")
	}
	if v == version1 {
		for _, p := range [...]*string{&r.Feed.Name, &r.Feed.URL, &r.Feed.Title, &r.Key, &r.ID, &r.Title, &r.Link, &r.Summary, &r.Content} {
			*p = d.str("text")
		}
	} else {
		r.Feed.Name, r.Feed.URL, r.Feed.Title = d.str("feed"), d.str("feed"), d.str("feed")
		if flags&flagKeyDerived == 0 {
			r.Key = d.str("key")
		}
		if flags&flagIDIsLink == 0 {
			r.ID = d.str("id")
		}
		r.Title, r.Link, r.Content = d.str("title"), d.str("link"), d.str("content")
		if flags&flagIDIsLink != 0 {
			r.ID = r.Link
		}
		if flags&flagSummaryPrefix == 0 {
			r.Summary = d.str("summary")
		} else if n := d.uvarint("summary"); n > uint64(len(r.Content)) {
			d.fail("summary")
		} else {
			r.Summary = r.Content[:n]
		}
	}
	r.Feed.Tags = d.list("tags")
	r.Authors = d.list("authors")
	r.Categories = d.list("categories")
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return Record{}, d.err
	}
	if flags&flagKeyDerived != 0 {
		r.keyPending = true
		if !lazyKey {
			r.DeriveKey()
		}
	}
	return r, nil
}

// CutText shortens the record's text (title, summary, content) until its
// encoding takes at most limit bytes (Size), and reports whether it cut
// anything. The room is shared: a field shorter than its share keeps all
// of it and leaves the rest to the longer ones, each of which keeps its
// start, cut on a character boundary. An item is archived whole unless it
// alone would not fit a message: the archive keeps the start of an
// enormous text rather than failing the poll.
func (r *Record) CutText(limit int) bool {
	over := r.Size() - limit
	if over <= 0 {
		return false
	}
	fields := []*string{&r.Title, &r.Summary, &r.Content}
	room := -over
	for _, f := range fields {
		room += len(*f)
	}
	slices.SortStableFunc(fields, func(a, b *string) int { return len(*a) - len(*b) })
	for i, f := range fields {
		keep := min(len(*f), max(room, 0)/(len(fields)-i))
		for keep > 0 && keep < len(*f) && !utf8.RuneStart((*f)[keep]) {
			keep--
		}
		if keep < len(*f) {
			*f = strings.Clone((*f)[:keep]) // not pinning the whole text
		}
		room -= keep
	}
	return true
}
