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
	"github.com/feedwatch/feedwatch/item"
	"github.com/feedwatch/feedwatch/matcher"
	"github.com/feedwatch/feedwatch/watcher"
)

func matchCmd(ctx context.Context, e env, g *globals) *cobra.Command {
	var profile, query string
	cmd := &cobra.Command{
		Use:   "match [--profile NAME | --query Q] SOURCE...",
		Short: "Dry run: print the items of feeds or files that match, with the matched words; sends nothing",
		Args:  args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, sources []string) error {
			if profile != "" && query != "" {
				return usageError{errors.New("--profile and --query exclude each other")}
			}
			profiles, opts, err := matchSetup(e, g, profile, query)
			if err != nil {
				return err
			}
			m, err := matcher.Compile(profiles)
			if err != nil {
				return err
			}
			failed, items, hits := 0, 0, 0
			for _, src := range sources {
				fctx, cancel := context.WithTimeout(ctx, opts.Timeout)
				feed, its, err := watcher.Fetch(fctx, src, opts)
				cancel()
				if err != nil {
					fmt.Fprintf(e.stderr, "feedwatch: %s: %v\n", src, err)
					failed++
					continue
				}
				items += len(its)
				for i := range its {
					for _, r := range m.Match(&its[i]) {
						hits++
						printMatch(e.stdout, feed, &its[i], r)
					}
				}
			}
			fmt.Fprintf(e.stderr, "%d source(s), %d item(s), %d match(es)\n", len(sources)-failed, items, hits)
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

// matchSetup picks the profiles to try and the fetch options. With --query
// the config is optional: its limits and feed headers apply when there is
// one.
func matchSetup(e env, g *globals, profile, query string) ([]matcher.Profile, watcher.Options, error) {
	opts := watcher.Options{Timeout: watcher.DefaultTimeout, UserAgent: config.UserAgent(version)}
	var cfg *config.Config
	path, err := g.configPath(e)
	if err == nil {
		cfg, err = daemon.LoadClientConfig(path, e.getenv, version)
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
		return []matcher.Profile{{Name: "query", Query: query}}, opts, nil
	}
	if err != nil {
		return nil, opts, err
	}
	var out []matcher.Profile
	for _, p := range cfg.Profiles {
		if profile == "" || p.Name == profile {
			out = append(out, daemon.MatcherProfile(p))
		}
	}
	if profile != "" && len(out) == 0 {
		return nil, opts, usageError{fmt.Errorf("no profile %q in %s", profile, path)}
	}
	return out, opts, nil
}

func printMatch(w io.Writer, feed item.Feed, it *item.Item, r matcher.Result) {
	fmt.Fprintf(w, "[%s] %s\n", r.Profile, oneLine(it.Title))
	if it.Link != "" {
		fmt.Fprintf(w, "  %s\n", it.Link)
	}
	src := feed.Title
	if src == "" {
		src = feed.URL
	}
	fmt.Fprintf(w, "  feed: %s", src)
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

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
