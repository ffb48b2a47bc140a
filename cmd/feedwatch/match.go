package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/daemon"
	"github.com/feedwatch/feedwatch/feedurl"
	"github.com/feedwatch/feedwatch/item"
	"github.com/feedwatch/feedwatch/matcher"
	"github.com/feedwatch/feedwatch/notifier/render"
	"github.com/feedwatch/feedwatch/route"
	"github.com/feedwatch/feedwatch/watcher"
)

func matchCmd(ctx context.Context, e env, g *globals) *cobra.Command {
	var profile, query string
	cmd := &cobra.Command{
		Use:   "match [--profile NAME | --query Q] SOURCE...",
		Short: "Dry run: print the items of feeds or files that match, with the matched words; sends nothing",
		Long:  matchLong,
		Example: `  feedwatch match --query '"trade bill" AND genocide' examples/world.xml
  feedwatch match --config feedwatch.yaml --profile xinjiang https://example.org/rss
  feedwatch match --config feedwatch.yaml ./saved-feed.xml file:///tmp/other.atom`,
		Args: args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, sources []string) error {
			if profile != "" && query != "" {
				return usageError{errors.New("--profile and --query exclude each other")}
			}
			profiles, opts, err := matchSetup(e, g, profile, query)
			if err != nil {
				return err
			}
			table, err := route.Compile(profiles)
			if err != nil {
				return err
			}
			failed, items, hits, old := 0, 0, 0, 0
			now := time.Now()
			for _, src := range sources {
				fctx, cancel := context.WithTimeout(ctx, opts.Timeout)
				feed, its, err := watcher.Fetch(fctx, src, opts)
				cancel()
				if err != nil {
					// The argument may carry credentials (userinfo, ?token=).
					fmt.Fprintf(e.stderr, "feedwatch: %s: %s\n", render.OneLine(feedurl.Public(src)), render.OneLine(err.Error()))
					failed++
					continue
				}
				items += len(its)
				match := scopeFor(e.stderr, table, opts.Feeds, src, feed)
				for i := range its {
					backfilled := olderThanBackfill(&its[i], opts.Backfill, now)
					for _, r := range match(&its[i]) {
						hits++
						if backfilled {
							old++
						}
						printMatch(e.stdout, feed, &its[i], r, backfilled)
					}
				}
			}
			fmt.Fprintf(e.stderr, "%d source(s), %d item(s), %d match(es)", len(sources)-failed, items, hits)
			if old > 0 {
				fmt.Fprintf(e.stderr, ", %d of them older than backfill (%s)", old, backfillText(opts.Backfill))
			}
			fmt.Fprintln(e.stderr)
			if failed > 0 {
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&profile, "profile", "", "only this profile of the config")
	cmd.Flags().StringVar(&query, "query", "", "a query to try instead of the config's profiles")
	return cmd
}

// scopeFor says which profiles apply to a source, as the daemon would
// route it: a configured feed (by URL) is seen by the profiles whose
// `feeds:` admit its name or tags, as in the daemon; a source that is not a
// configured feed is seen by every profile, scopes set aside, since the
// daemon never polls it and the user is trying the profiles out. Both cases
// are said on stderr when scopes leave profiles out or are set aside.
func scopeFor(w io.Writer, t *route.Table, feeds []watcher.FeedConfig, src string, feed item.Feed) func(*item.Item) []matcher.Result {
	name := oneLine(feedurl.Public(src))
	if _, ok := watcher.FeedFor(feeds, src); !ok {
		if t.Scoped() {
			fmt.Fprintf(w, "feedwatch: %s is not a configured feed: profiles' feeds: scopes are set aside for it\n", name)
		}
		return t.MatchAnyFeed
	}
	if out := t.Outside(feed); len(out) > 0 {
		fmt.Fprintf(w, "feedwatch: %s is feed %q: not watched by profile(s) %s (their feeds: scope)\n", name, oneLine(feed.Name), oneLine(strings.Join(out, ", ")))
	}
	return func(it *item.Item) []matcher.Result { return t.Match(feed, it) }
}

// matchSetup picks the profiles to try and the fetch options. With --query
// the config is optional: its limits and feed headers apply when there is
// one.
func matchSetup(e env, g *globals, profile, query string) ([]config.Profile, watcher.Options, error) {
	opts := daemon.FetchOptions(&config.Config{Watcher: config.DefaultWatcher(version)})
	var cfg *config.Config
	path, err := g.configPath(e)
	if err == nil {
		cfg, err = daemon.LoadConfig(path, e.getenv, version, config.WithRole(config.RoleMatch))
	}
	if cfg != nil {
		for _, p := range cfg.Warnings {
			fmt.Fprintln(e.stderr, p.String())
		}
	}
	if cfg != nil {
		opts = daemon.FetchOptions(cfg)
	}
	// Sources on the command line are relative to where the user stands,
	// not to the config file.
	opts.BaseDir = "."
	if query != "" {
		if err := matcher.ParseQuery(query); err != nil {
			return nil, opts, usageError{fmt.Errorf("--query: %w", err)}
		}
		return []config.Profile{{Name: "query", Query: query}}, opts, nil
	}
	if err != nil {
		return nil, opts, err
	}
	var out []config.Profile
	for _, p := range cfg.Profiles {
		if profile == "" || p.Name == profile {
			out = append(out, p)
		}
	}
	if profile != "" && len(out) == 0 {
		return nil, opts, usageError{fmt.Errorf("no profile %q in %s", profile, path)}
	}
	return out, opts, nil
}

// olderThanBackfill reports whether the daemon, meeting it at a feed's
// first poll, would remember the item without alerting it: undated, or
// published longer than backfill ago (as the watcher decides).
func olderThanBackfill(it *item.Item, backfill time.Duration, now time.Time) bool {
	return backfill >= 0 && (it.Published == nil || it.Published.Before(now.Add(-backfill)))
}

func backfillText(d time.Duration) string { return d.String() }

// printMatch prints one match for a terminal. Feed text is untrusted: every
// field of it goes through render.OneLine, which drops escape sequences'
// ESC, other C0 and C1 controls and bidi overrides (a title must not clear
// the screen, set the window title or reverse the line); the matched words
// are printed %q-quoted.
func printMatch(w io.Writer, feed item.Feed, it *item.Item, r matcher.Result, backfilled bool) {
	fmt.Fprintf(w, "[%s] %s\n", r.Profile, oneLine(it.Title))
	if backfilled {
		fmt.Fprintln(w, "  (older than backfill: the daemon would not alert this at a feed's first poll)")
	}
	if it.Link != "" {
		fmt.Fprintf(w, "  %s\n", oneLine(it.Link))
	}
	src := feed.Title
	if src == "" {
		src = feed.URL
	}
	fmt.Fprintf(w, "  feed: %s", oneLine(src))
	if it.Published != nil {
		fmt.Fprintf(w, "  published: %s", it.Published.UTC().Format(time.RFC3339))
	}
	fmt.Fprintln(w)
	for _, m := range r.Matches {
		fmt.Fprintf(w, "  %s: %q (term %q)\n", m.Field, m.Text, m.Term)
	}
	if r.Snippet != "" {
		fmt.Fprintf(w, "  %s\n", oneLine(r.Snippet))
	}
	fmt.Fprintln(w)
}

func oneLine(s string) string { return render.OneLine(s) }

const matchLong = `match fetches or reads each SOURCE (an http(s) URL, a file:// URL or a path), matches
its items against the config's profiles (or --profile NAME, or --query Q, which
needs no config) and prints each item that matches: profile, title, link, feed,
date, the matched words in context. It sends nothing and changes no state.

Profile scopes (feeds: [name, tag:x]) apply as in the daemon when SOURCE is a
configured feed's url (its name and tags); any other source is matched by every
profile, scopes set aside, as if it were a feed each profile watches. Both are
said on stderr when a scope changes what is tried.

Items the daemon would skip at a feed's first poll, because they are undated or
older than watcher.backfill (24h by default), are marked "(older than backfill)".

Query syntax (keywords: and exclude: entries are phrases, without operators):

  xinjiang            the word, on word boundaries: bill matches "Bill," not "billing"
  "trade bill"        the words in sequence; punctuation, spacing and the articles
                      a, an, the between them do not matter
  re-education        a term with inner punctuation is a phrase of its words
  uyghur*             any word starting with "uyghur"
  a b, a AND b        both (a bare space is AND)
  a OR b              either
  NOT a, -a           not a
  ( ... )             grouping; precedence NOT > AND > OR
  title: summary: content: author: category: link:
                      the next term, phrase or group in that field only
  "uyghur camps"~5    both words within 5 words of each other, any order
  /regexp/            an RE2 expression over the field text, case-insensitive

Matching ignores case and diacritics ("Uyğur" matches uygur) and folds full-width
forms; Chinese, Japanese and Thai match without word boundaries.`
