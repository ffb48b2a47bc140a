package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/feedwatch/feedwatch/backtest"
	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/daemon"
	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/matcher"
	"github.com/feedwatch/feedwatch/route"
)

func backtestCmd(ctx context.Context, e env, g *globals) *cobra.Command {
	var profile, query, feed string
	var asJSON bool
	since := durationFlag(30 * 24 * time.Hour)
	cmd := &cobra.Command{
		Use:   "backtest [--profile NAME | --query Q] [--since 30d] [--feed NAME] [--json]",
		Short: "Match the archived items of the last days against the profiles; sends nothing",
		Long:  backtestLong,
		Example: `  feedwatch backtest --config feedwatch.yaml --profile trade-bill --since 7d
  feedwatch backtest --config feedwatch.yaml --query '"trade bill" AND genocide' --feed world
  feedwatch backtest --config feedwatch.yaml --json > hits.jsonl`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if profile != "" && query != "" {
				return usageError{errors.New("--profile and --query exclude each other")}
			}
			if since < 0 {
				return usageError{errors.New("--since must not be negative")}
			}
			if query != "" {
				if err := matcher.ParseQuery(query); err != nil {
					return usageError{fmt.Errorf("--query: %w", err)}
				}
			}
			cfg, path, err := g.loadConfig(e, config.RoleBacktest)
			if err != nil {
				return err
			}
			for _, p := range cfg.Warnings {
				fmt.Fprintln(e.stderr, p.String())
			}
			profiles, err := backtestProfiles(cfg, path, profile, query)
			if err != nil {
				return err
			}
			table, err := route.Compile(profiles)
			if err != nil {
				return err
			}
			if feed != "" {
				if _, ok := route.ConfiguredFeed(cfg, feed); !ok {
					fmt.Fprintf(e.stderr, "feedwatch: %q is not a configured feed; reading its archived items if there are any\n", oneLine(feed))
				}
			}
			if !cfg.Archive.On() {
				fmt.Fprintln(e.stderr, "feedwatch: archive.retention is 0 in the config: nothing new is archived; reading what the archive still holds")
			}
			log, err := g.logger(e.stderr)
			if err != nil {
				return err
			}
			store, err := daemon.OpenStore(ctx, cfg, "backtest", log, daemon.ReadOnly())
			if err != nil {
				return archiveError(err)
			}
			defer store.Close()
			b := store.Bus
			now := time.Now()
			o := backtest.Options{Table: table, Feed: backtest.ConfiguredFeeds(cfg), OnlyFeed: feed, Now: func() time.Time { return now }, DetectedAtArchived: true}
			if since > 0 {
				o.Since = now.Add(-time.Duration(since))
			}
			bar := newProgress(e.stderr)
			o.Progress = bar.update
			counts := map[string]map[string]int{} // profile -> day -> hits
			enc := json.NewEncoder(e.stdout)
			enc.SetEscapeHTML(false)
			st, err := backtest.Run(ctx, b, o, func(h hit.Hit) error {
				day := backtestDate(h).Format(time.DateOnly)
				if counts[h.Profile] == nil {
					counts[h.Profile] = map[string]int{}
				}
				counts[h.Profile][day]++
				bar.clear()
				if asJSON {
					return enc.Encode(h)
				}
				printBacktestHit(e.stdout, h)
				return nil
			})
			bar.clear()
			if err != nil && !errors.Is(err, backtest.ErrDamaged) {
				return archiveError(err)
			}
			out := e.stdout
			if asJSON {
				out = e.stderr
			}
			printCounts(out, counts)
			fmt.Fprintf(e.stderr, "%d archived item(s) read, %d in the window, %d match(es)\n", st.Read, st.InWindow, st.Hits)
			return err
		},
	}
	cmd.Flags().StringVar(&profile, "profile", "", "only this profile of the config")
	cmd.Flags().StringVar(&query, "query", "", "a query to try instead of the config's profiles")
	cmd.Flags().Var(&since, "since", "how far back, counted from each item's published date (archiving time when undated); 0: the whole archive")
	cmd.Flags().StringVar(&feed, "feed", "", "only the items of this feed")
	cmd.Flags().BoolVar(&asJSON, "json", false, "one hit JSON per line (as on NATS) on stdout; the counts go to stderr")
	return cmd
}

// durationFlag takes durations as the config does ("30d", "12h").
type durationFlag time.Duration

func (d *durationFlag) String() string { return config.Duration(*d).String() }
func (d *durationFlag) Type() string   { return "duration" }
func (d *durationFlag) Set(s string) error {
	v, err := config.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = durationFlag(v)
	return nil
}

// backtestProfiles picks the profiles: all, --profile, or --query as a
// profile "query" over every feed.
func backtestProfiles(cfg *config.Config, path, profile, query string) ([]config.Profile, error) {
	if query != "" {
		return []config.Profile{{Name: "query", Query: query}}, nil
	}
	if profile == "" {
		if len(cfg.Profiles) == 0 {
			return nil, usageError{fmt.Errorf("%s has no profiles: give --query", path)}
		}
		return cfg.Profiles, nil
	}
	var names []string
	for _, p := range cfg.Profiles {
		if p.Name == profile {
			return []config.Profile{p}, nil
		}
		names = append(names, p.Name)
	}
	known := "it has none"
	if len(names) > 0 {
		known = "known: " + strings.Join(names, ", ")
	}
	return nil, usageError{fmt.Errorf("no profile %q in %s (%s)", oneLine(profile), path, known)}
}

// archiveError explains what a missing or unreadable archive means.
func archiveError(err error) error {
	if noStore := (*daemon.NoStoreError)(nil); errors.As(err, &noStore) {
		err = fmt.Errorf("%w: data_dir %s holds no NATS store (has the daemon run with it?)", backtest.ErrNoArchive, noStore.DataDir)
	}
	switch {
	case errors.Is(err, backtest.ErrNoArchive):
		return fmt.Errorf("%w: no archive (stream FEEDWATCH_ITEMS) to read: archive.retention was 0, or no daemon with the archive on has run against this NATS yet", err)
	case errors.Is(err, backtest.ErrEmpty):
		return fmt.Errorf("%w: no item archived yet (items are archived as the daemon finds them new)", err)
	}
	return err
}

// backtestDate is the date a hit's item counts from: published, else when
// it was archived (the backtest's detected_at).
func backtestDate(h hit.Hit) time.Time {
	if h.Item.Published != nil {
		return h.Item.Published.UTC()
	}
	return h.DetectedAt.UTC()
}

// printBacktestHit prints one hit for a terminal; feed text goes through
// oneLine (no escape sequences from feeds).
func printBacktestHit(w io.Writer, h hit.Hit) {
	fmt.Fprintf(w, "[%s] %s\n", h.Profile, oneLine(h.Item.Title))
	if h.Item.Link != "" {
		fmt.Fprintf(w, "  %s\n", oneLine(h.Item.Link))
	}
	fmt.Fprintf(w, "  feed: %s", oneLine(h.Feed.Name))
	if h.Item.Published != nil {
		fmt.Fprintf(w, "  published: %s", h.Item.Published.UTC().Format(time.RFC3339))
	} else {
		fmt.Fprintf(w, "  undated, archived: %s", h.DetectedAt.UTC().Format(time.RFC3339))
	}
	fmt.Fprintln(w)
	var words []string
	for _, m := range h.Matches {
		words = append(words, fmt.Sprintf("%s: %q", m.Field, m.Text))
	}
	if len(words) > 0 {
		fmt.Fprintf(w, "  matched: %s\n", oneLine(strings.Join(words, ", ")))
	}
	if h.Snippet != "" {
		fmt.Fprintf(w, "  %s\n", oneLine(h.Snippet))
	}
	fmt.Fprintln(w)
}

// printCounts prints hits per profile per day (UTC), oldest day first.
func printCounts(w io.Writer, counts map[string]map[string]int) {
	if len(counts) == 0 {
		fmt.Fprintln(w, "no matches")
		return
	}
	profiles := make([]string, 0, len(counts))
	for p := range counts {
		profiles = append(profiles, p)
	}
	sort.Strings(profiles)
	fmt.Fprintln(w, "hits per profile per day (UTC, by published date, else archiving date):")
	for _, p := range profiles {
		days := make([]string, 0, len(counts[p]))
		total := 0
		for d, n := range counts[p] {
			days = append(days, d)
			total += n
		}
		slices.Sort(days)
		fmt.Fprintf(w, "  %s: %d\n", p, total)
		for _, d := range days {
			fmt.Fprintf(w, "    %s  %5d\n", d, counts[p][d])
		}
	}
}

// progress draws a one-line bar on stderr when it is a terminal, at most
// ten times a second.
type progress struct {
	w     io.Writer
	on    bool
	last  time.Time
	shown bool
}

func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	if !ok {
		return &progress{}
	}
	fi, err := f.Stat()
	return &progress{w: w, on: err == nil && fi.Mode()&os.ModeCharDevice != 0}
}

func (p *progress) update(read, total uint64) {
	if !p.on || time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	const width = 30
	frac := 1.0
	if total > 0 && read < total {
		frac = float64(read) / float64(total)
	}
	n := int(frac * width)
	// Counted in archive messages (a poll's new items each): a percentage.
	fmt.Fprintf(p.w, "\r[%s%s] %3.0f%%", strings.Repeat("#", n), strings.Repeat(".", width-n), 100*frac)
	p.shown = true
}

func (p *progress) clear() {
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}

const backtestLong = `backtest matches the items the daemon archived (stream FEEDWATCH_ITEMS, kept for
archive.retention) against the config's profiles (or --profile NAME, or --query Q)
and prints each match: profile, title, link, feed, date, the matched words and a
snippet; then the number of hits per profile per day. It routes as the daemon does
(the same matcher, the same feeds: scopes, the same hit ids) and sends nothing and
changes no state.

--since counts from each item's published date (from when it was archived when it
has none). --json prints one hit JSON per line, exactly as published on NATS.

It reads the archive of a running daemon through NATS (nats.url, or the embedded
server's nats.embedded_listen, or else the private loopback address the daemon
writes in data_dir/nats-local.json), or of a stopped one by opening data_dir's store
(without listening on any port; no daemon can start on it meanwhile).`
