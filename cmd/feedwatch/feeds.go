package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/daemon"
	"github.com/feedwatch/feedwatch/discover"
	"github.com/feedwatch/feedwatch/feedurl"
	"github.com/feedwatch/feedwatch/opml"
	"github.com/feedwatch/feedwatch/watcher"
)

// feedsCmd is "feedwatch feeds": the feed list in and out.
func feedsCmd(ctx context.Context, e env, g *globals, withConfig func(*cobra.Command) *cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "feeds",
		Short: "Export the feed list as OPML, or discover the feeds of web pages",
		Long: `feeds moves feed lists in and out: "export" writes the effective feed list (the
config's feeds and those of its opml: files) as OPML 2.0 for feed readers, and
"discover" finds the feeds web pages advertise and prints them as config entries.
To read a reader's OPML export, name it under opml: in the config.`,
		Example: `  feedwatch feeds export --config feedwatch.yaml -o feeds.opml
  feedwatch feeds discover https://example.org/`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError{errors.New(`feeds needs a subcommand: "export" or "discover"`)}
		},
	}
	cmd.AddCommand(withConfig(feedsExportCmd(e, g)), withConfig(feedsDiscoverCmd(ctx, e, g)))
	return cmd
}

func feedsExportCmd(e env, g *globals) *cobra.Command {
	var out string
	return func() *cobra.Command {
		c := &cobra.Command{
			Use:   "export [-o FILE]",
			Short: "Write the effective feed list (config and OPML files) as OPML 2.0",
			Long: `export writes every feed the daemon would poll (the config's feeds and those of its
opml: files) as an OPML 2.0 document that feed readers (Miniflux, FreshRSS, newsboat,
Feedly) import: each tag is a folder holding the feeds with that tag.

Credentials never leave in clear: a URL's user:password, the values ${VAR}
references put in it, query parameters named like credentials (token, key, ...)
and path segments that look like tokens are written as REDACTED, and stderr
names each feed concerned. Headers and intervals are not exported; feeds that
are local files are left out (stderr says which).`,
			Example: `  feedwatch feeds export --config feedwatch.yaml > feeds.opml
  feedwatch feeds export -o feeds.opml`,
			Args: args(cobra.NoArgs),
			RunE: func(cmd *cobra.Command, _ []string) error {
				// The feeds' own ${VAR}s are needed, the notifiers' are not.
				cfg, _, err := g.loadConfig(e, config.RoleWatch)
				if err != nil {
					return err
				}
				for _, p := range cfg.Warnings {
					fmt.Fprintln(e.stderr, p.String())
				}
				feeds := exportFeeds(cfg, e.stderr)
				var buf bytes.Buffer
				if err := opml.Write(&buf, "feedwatch feeds", time.Now(), feeds); err != nil {
					return err
				}
				if out == "" || out == "-" {
					_, err := e.stdout.Write(buf.Bytes())
					return err
				}
				if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
					return fmt.Errorf("feeds export: %w", err)
				}
				fmt.Fprintf(e.stderr, "feedwatch: %d feed(s) written to %s\n", len(feeds), out)
				return nil
			},
		}
		c.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of stdout")
		return c
	}()
}

// exportFeeds turns the config's feeds into OPML entries: http(s) only,
// with credentials redacted (feedurl.Public, as in hits); what it changes
// or leaves out it says on w.
func exportFeeds(cfg *config.Config, w io.Writer) []opml.ExportFeed {
	out := make([]opml.ExportFeed, 0, len(cfg.Feeds))
	for _, f := range cfg.Feeds {
		u, err := url.Parse(strings.TrimSpace(f.URL))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			fmt.Fprintf(w, "feedwatch: feed %q: not an http(s) URL (a local file?), left out\n", oneLine(f.Name))
			continue
		}
		pub := feedurl.Public(f.URL, f.URLSecrets...)
		if pub != f.URL {
			fmt.Fprintf(w, "feedwatch: feed %q: credentials in its URL written as %s\n", oneLine(f.Name), feedurl.Redacted)
		}
		html := ""
		if f.HTMLURL != "" {
			html = feedurl.Public(f.HTMLURL)
		}
		out = append(out, opml.ExportFeed{Name: f.Name, XMLURL: pub, HTMLURL: html, Tags: f.Tags})
	}
	return out
}

func feedsDiscoverCmd(ctx context.Context, e env, g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "discover URL...",
		Short: "Find the feeds web pages advertise and print them as config entries",
		Long: `discover fetches each page and finds the feeds it advertises (<link rel="alternate">
of RSS, Atom and JSON Feed types, relative links resolved); when it advertises none
that works, it tries a few common paths (` + strings.Join(discover.CommonPaths, ", ") + `) one at a
time, stopping at the first feed. Each candidate is fetched and parsed to confirm
it is a feed, with the watcher's limits, User-Agent and private-address rules
(from the config when there is one).

stdout is YAML to paste under feeds: one entry per feed, after a comment with its
title and item count; stderr says what was passed over and why. A bare host
(example.org) means https://example.org/.

Exit status: 0 when every URL has a feed, 1 when one has none or cannot be
fetched, 2 for a usage error (no URL, not an http(s) URL).`,
		Example: `  feedwatch feeds discover https://www.theguardian.com/world
  feedwatch feeds discover example.org blog.example.net >> feeds.yaml`,
		Args: args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, pages []string) error {
			for _, p := range pages {
				if _, err := discover.PageURL(p); err != nil {
					return usageError{fmt.Errorf("%s: %w", oneLine(feedurl.Public(p)), err)}
				}
			}
			opts := discoverOptions(e, g)
			f, err := watcher.NewFetcher(opts)
			if err != nil {
				return err
			}
			names := map[string]bool{}
			seen := map[string]bool{}
			failed := 0
			for _, p := range pages {
				// Named by the URL fetched: a bare host with a port
				// (127.0.0.1:8080) does not parse as a URL by itself, and
				// feedurl.Public would hide it as REDACTED.
				shown := oneLine(feedurl.Public(p))
				if u, err := discover.PageURL(p); err == nil {
					shown = oneLine(feedurl.Public(u.String()))
				}
				feeds, err := discover.Discover(ctx, p, discover.Options{
					Fetcher: f, MaxItems: opts.MaxItems, AllowPrivate: opts.AllowPrivateRedirects,
					Note: func(c, why string) {
						fmt.Fprintf(e.stderr, "feedwatch: %s: passed over %s: %s\n", shown, oneLine(feedurl.Public(c)), oneLine(why))
					},
				})
				if err != nil {
					fmt.Fprintf(e.stderr, "feedwatch: %s: %s\n", shown, oneLine(err.Error()))
					failed++
					continue
				}
				if len(feeds) == 0 {
					fmt.Fprintf(e.stderr, "feedwatch: %s: no feed found\n", shown)
					failed++
					continue
				}
				for _, fd := range feeds {
					if seen[fd.URL] {
						continue
					}
					seen[fd.URL] = true
					if err := printEntry(e.stdout, fd, p, names); err != nil {
						return err
					}
				}
			}
			if failed > 0 {
				return exitError{1}
			}
			return nil
		},
	}
}

// discoverOptions are the watcher's fetch options: from the config when
// one loads, else the defaults.
func discoverOptions(e env, g *globals) watcher.Options {
	opts := daemon.FetchOptions(&config.Config{Watcher: config.DefaultWatcher(version)})
	if path, err := g.configPath(e); err == nil {
		cfg, err := daemon.LoadConfig(path, e.getenv, version, config.WithRole(config.RoleMatch))
		if err == nil {
			opts = daemon.FetchOptions(cfg)
		} else if g.config != "" {
			// Named on purpose: say why its settings are not used.
			fmt.Fprintf(e.stderr, "feedwatch: %s not used (it has problems; run feedwatch check): fetching with the default limits\n", path)
		}
	}
	opts.Concurrency, opts.PerHost = 1, 1
	return opts
}

// printEntry prints one feed as a commented YAML list entry for feeds:.
func printEntry(w io.Writer, fd discover.Feed, page string, names map[string]bool) error {
	title := oneLine(fd.Title)
	if title == "" {
		title = "(untitled)"
	}
	fmt.Fprintf(w, "# %s: %d item(s), %s for %s\n", title, fd.Items, fd.How, oneLine(feedurl.Public(page)))
	type entry struct {
		URL  string `yaml:"url"`
		Name string `yaml:"name,omitempty"`
	}
	name := slug(fd.Title)
	if name != "" {
		base := name
		for i := 2; names[name]; i++ {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		names[name] = true
	}
	b, err := yaml.Marshal([]entry{{URL: fd.URL, Name: name}})
	if err != nil {
		return fmt.Errorf("feeds discover: %w", err)
	}
	_, err = w.Write(b)
	return err
}

// slug makes a feed name from a title: lower-case letters and digits,
// other runs as "-", at most 40 characters ("BBC News - World" ->
// "bbc-news-world").
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			if b.Len() >= 40 {
				break
			}
			continue
		}
		dash = true
	}
	return b.String()
}
