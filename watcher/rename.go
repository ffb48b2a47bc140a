package watcher

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Renames. An item's key holds its feed's name (key.go), so a feed renamed
// in the config (same URL, another name) would find none of its items seen
// and alert again those inside the backfill window. To prevent that, the
// state store keeps, per configured URL, the names recently polled at it
// (an alias record, written once per feed and URL: feedState.Aliased; also
// for the URL a feed moved to permanently). A feed without usable state of
// its own looks its URL up there; a name that is not configured any more
// and whose state is of the same URL (or moved to it) is the feed's former
// name: its state is adopted (validators, schedule, primed),
// and until the first document is delivered, an item whose key under the
// former name is seen counts as seen (and is marked under the new name).

// aliasPrefix starts the state-store names of alias records. Names that
// start with reservedPrefix are not feeds: configured feed names cannot
// hold control characters (config validation), so they never collide.
const (
	reservedPrefix = "\x01"
	aliasPrefix    = reservedPrefix + "url "
)

// AliasesRecorded is the state-store name of the mark that the alias
// records of the states written before them were made (the daemon does it
// once, with MissingAliases and WriteAlias).
const AliasesRecorded = reservedPrefix + "aliases recorded v1"

// maxAliasNames bounds the names one alias record keeps (several feeds may
// share a URL; a rename back and forth adds one).
const maxAliasNames = 4

// aliasName is the state-store name of url's alias record: a hash, so that
// no URL (and no credential in one) shows in a key.
func aliasName(url string) string {
	s := sha256.Sum256([]byte(url))
	return aliasPrefix + base64.RawURLEncoding.EncodeToString(s[:18])
}

// IsAliasName reports whether a state-store name is an alias record (or
// another record of this file) rather than a feed, for code that lists the
// store.
func IsAliasName(name string) bool { return strings.HasPrefix(name, reservedPrefix) }

// aliasRecord is the JSON of an alias record.
type aliasRecord struct {
	// Feeds are the names polled at the URL, the latest first.
	Feeds []string `json:"feeds"`
}

func (w *Watcher) loadAlias(ctx context.Context, url string) (aliasRecord, error) {
	return loadAlias(ctx, w.opts.State, url)
}

func loadAlias(ctx context.Context, store StateStore, url string) (aliasRecord, error) {
	var a aliasRecord
	b, err := store.Load(ctx, aliasName(url))
	if err != nil || len(b) == 0 {
		return a, err
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return aliasRecord{}, nil // damaged: rewritten by the next feed that saves
	}
	return a, nil
}

// writeAlias records that feed name is polled at url. It reads the record
// first, so a write that raced with another (ErrStateChanged from a fenced
// store) is tried once more on a fresh read.
func (w *Watcher) writeAlias(ctx context.Context, name, url string) error {
	return WriteAlias(ctx, w.opts.State, name, url)
}

// WriteAlias records in store's alias record of url that feed name is
// polled there.
func WriteAlias(ctx context.Context, store StateStore, name, url string) error {
	var err error
	for range 2 {
		var a aliasRecord
		if a, err = loadAlias(ctx, store, url); err != nil {
			return err
		}
		if len(a.Feeds) > 0 && a.Feeds[0] == name {
			return nil
		}
		a.Feeds = slices.DeleteFunc(a.Feeds, func(n string) bool { return n == name })
		a.Feeds = append([]string{name}, a.Feeds...)
		a.Feeds = a.Feeds[:min(len(a.Feeds), maxAliasNames)]
		b, jerr := json.Marshal(a)
		if jerr != nil {
			return jerr
		}
		if err = store.Save(ctx, aliasName(url), b); !errors.Is(err, ErrStateChanged) {
			return err
		}
	}
	return err
}

// MissingAliases returns the URLs whose alias records do not name yet
// the feed whose stored state is b. A state written before alias records
// existed gets them at its first save; the daemon makes them at once for
// every stored state (AliasesRecorded), so that a rename in the same
// restart as the upgrade is recognised too.
func MissingAliases(b []byte) []string {
	st, err := decodeState(b)
	if err != nil || st.ConfigURL == "" {
		return nil
	}
	var out []string
	if !st.Aliased {
		out = append(out, st.ConfigURL)
	}
	if st.MovedTo != "" && !st.MoveAliased {
		out = append(out, st.MovedTo)
	}
	return out
}

// configured reports whether a feed named name is in the configuration
// now: Options.Configured, else this watcher's latest feed list.
func (w *Watcher) configured(name string) bool {
	if w.opts.Configured != nil {
		return w.opts.Configured(name)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.ContainsFunc(w.pending, func(c FeedConfig) bool { return feedName(c) == name })
}

// adopt looks for the state of f's former name, for a feed without usable
// state: the latest name of f's URL that is no longer configured and whose
// state is of the same URL (or moved to it). It returns that state, ready
// to be f's, and the former name; ok is false when there is none. A store
// error is returned: without the answer, a first poll could alert again
// what the former name showed.
func (w *Watcher) adopt(ctx context.Context, f *feed) (st feedState, old string, ok bool, err error) {
	a, err := w.loadAlias(ctx, f.cfg.URL)
	if err != nil {
		return feedState{}, "", false, fmt.Errorf("look up the former names of the url of feed %q: %w", f.name, err)
	}
	for _, name := range a.Feeds {
		if name == f.name || w.configured(name) {
			continue
		}
		b, err := w.opts.State.Load(ctx, name)
		if err != nil {
			return feedState{}, "", false, fmt.Errorf("load the state of %q, former name of feed %q: %w", name, f.name, err)
		}
		prev, err := decodeState(b)
		switch {
		case err != nil || prev.ConfigURL == "":
			continue // retired: renamed on already
		case prev.ConfigURL == f.cfg.URL:
		case prev.MovedTo == f.cfg.URL:
			// The config now names the URL the feed moved to.
			prev.ConfigURL, prev.MovedTo = f.cfg.URL, ""
		default:
			continue // the name went on to another URL
		}
		prev.Aliased, prev.MoveAliased = false, false // the record gets f's name at the next save
		// Names the former one adopted from and has not delivered a
		// document since (as its state says: a crash may have come
		// between its seen-state write and its state's) still count.
		from := []string{name}
		for _, n := range prev.RenamedFrom {
			if n != f.name && !slices.Contains(from, n) && len(from) < maxAliasNames {
				from = append(from, n)
			}
		}
		prev.RenamedFrom = from
		return prev, name, true, nil
	}
	return feedState{}, "", false, nil
}

// retire marks the state of a feed's former name as taken over, after the
// new name's state is saved: a later feed of that name (a rename back) does
// not pick up its stale schedule and seen keys but adopts the newer name's
// state, through the alias record, like any renamed feed.
func (w *Watcher) retire(ctx context.Context, old, by string) {
	// No config_url: never used as a feed's state again. renamed_to is
	// for people reading the store (not a field of feedState, which every
	// feed holds in memory).
	b, err := json.Marshal(retired{RenamedTo: by})
	if err == nil {
		err = w.opts.State.Save(ctx, old, b)
	}
	if err != nil && ctx.Err() == nil {
		w.log.Warn("mark the state of the feed's former name as taken over", "feed", by, "former", old, "err", err)
	}
}

// retired is the state a former name is left with.
type retired struct {
	RenamedTo string `json:"renamed_to"`
}

// formerKeys are k's keys under the feed name old: its primary key and,
// for a GUID item with a unique link, its link key (see assignKeys).
func formerKeys(k keyed, old string) (key, alt string) {
	it := k.it
	switch {
	case strings.HasPrefix(it.Key, nsGUIDL):
		key = token(nsGUIDL, old, it.ID, NormalizeLink(it.Link))
	default:
		key = ItemKey(old, it)
	}
	if k.alt != "" {
		alt = linkKey(old, NormalizeLink(it.Link))
	}
	return key, alt
}

// seenBefore reports which of ks (not seen under the feed's own name) were
// seen under one of its former names, by index in ks: one look-up per
// name, only until the feed's first delivered document.
func (w *Watcher) seenBefore(ctx context.Context, names []string, ks []keyed, seen map[string]bool) (map[int]bool, error) {
	var out map[int]bool
	for _, old := range names {
		got, err := w.seenUnder(ctx, old, ks, seen, out)
		if err != nil {
			return nil, err
		}
		for i := range got {
			if out == nil {
				out = make(map[int]bool)
			}
			out[i] = true
		}
	}
	return out, nil
}

// seenUnder reports which of ks, seen neither under the feed's own name
// nor in done, were seen under the name old.
func (w *Watcher) seenUnder(ctx context.Context, old string, ks []keyed, seen map[string]bool, done map[int]bool) (map[int]bool, error) {
	var keys []string
	type pair struct{ key, alt string }
	former := make(map[int]pair)
	for i, k := range ks {
		if seen[k.it.Key] || (k.alt != "" && seen[k.alt]) || done[i] {
			continue
		}
		key, alt := formerKeys(k, old)
		former[i] = pair{key, alt}
		keys = append(keys, key)
		if alt != "" {
			keys = append(keys, alt)
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	got, err := w.opts.Seen.Seen(ctx, old, keys)
	if err != nil {
		return nil, fmt.Errorf("seen lookup under former name %q: %w", old, err)
	}
	out := make(map[int]bool)
	for i, p := range former {
		if got[p.key] || (p.alt != "" && got[p.alt]) {
			out[i] = true
		}
	}
	return out, nil
}
