package watcher

import (
	"hash/maphash"
	"slices"
)

// knownKeys is a small set of 64-bit hashes of item keys known to be seen:
// about 8 bytes per item of a feed's last document, instead of a KV lookup
// per item per poll. A hash collision (odds about n/2^64 per new key) would
// treat a new item as seen; at 20 items per feed that is far below any
// other failure.
type knownKeys []uint64

// The seed is the Watcher's: known sets live only in its memory.
func (s knownKeys) has(seed maphash.Seed, k string) bool {
	if len(s) == 0 {
		return false
	}
	_, ok := slices.BinarySearch(s, maphash.String(seed, k))
	return ok
}

// reset returns the set of ks's primary keys, reusing s's storage.
func (s knownKeys) reset(seed maphash.Seed, ks []keyed) knownKeys {
	s = s[:0]
	for _, k := range ks {
		s = append(s, maphash.String(seed, k.it.Key))
	}
	slices.Sort(s)
	return s
}
