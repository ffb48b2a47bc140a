package watcher

import (
	"context"
	"fmt"

	"github.com/feedwatch/feedwatch/feedurl"
	"github.com/feedwatch/feedwatch/item"
	"github.com/feedwatch/feedwatch/watcher/fetch"
	"github.com/feedwatch/feedwatch/watcher/parse"
)

// Fetch reads one source (http(s) URL, file:// URL or plain path) once,
// with the limits and parsing of opts, and no state, for `feedwatch match`.
// Items carry their Key. If opts.Feeds has an entry with this URL, its name,
// tags and headers are used; else the source is the feed's name.
// opts.Timeout and opts.MaxBody must be positive.
func Fetch(ctx context.Context, source string, opts Options) (item.Feed, []item.Item, error) {
	opts = withDefaults(opts)
	fi := item.Feed{Name: feedurl.Masked(source), URL: feedurl.Public(source)}
	var headers map[string]string
	if fc, ok := FeedFor(opts.Feeds, source); ok {
		fi.Name = feedName(fc)
		fi.URL = feedurl.Public(source, fc.URLSecrets...)
		fi.Tags = fc.Tags
		headers = fc.Headers
	}
	// One request: its own connection, whatever the watcher's pool, closed
	// after the response (nothing idle left behind per call).
	opts.Concurrency, opts.PerHost = 1, 1
	cfg := fetchConfig(opts)
	cfg.OneShot = true
	f, err := fetch.New(cfg)
	if err != nil {
		return fi, nil, fmt.Errorf("fetch %q: %w", fi.Name, err)
	}
	resp, err := f.Fetch(ctx, fetch.Request{URL: source, Headers: headers})
	if err != nil {
		return fi, nil, fmt.Errorf("fetch %q: %w", fi.Name, err)
	}
	doc, err := parse.Parse(resp.Body, resp.ContentType, opts.MaxItems)
	if err != nil {
		return fi, nil, fmt.Errorf("fetch %q: %w", fi.Name, err)
	}
	fi.Title = doc.Title
	absLinks(doc.Items, source)
	ks := assignKeys(fi, doc.Link, doc.Items)
	items := make([]item.Item, len(ks))
	for i, k := range ks {
		items[i] = k.it
	}
	return fi, items, nil
}

// FeedFor returns the feed of feeds whose URL is source, as Fetch finds it.
func FeedFor(feeds []FeedConfig, source string) (FeedConfig, bool) {
	for _, fc := range feeds {
		if fc.URL == source {
			return fc, true
		}
	}
	return FeedConfig{}, false
}
