package watcher

import "github.com/feedwatch/feedwatch/watcher/fetch"

// NewFetcher builds the fetcher the watcher polls with, with the same
// limits and private-address rules, for commands that fetch on the
// watcher's terms (feeds discover).
func NewFetcher(o Options) (*fetch.Fetcher, error) {
	return newFetcher(withDefaults(o))
}
