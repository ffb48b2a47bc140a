package config

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/feedwatch/feedwatch/opml"
)

// OPML files add feeds to the config (key "opml"). The choices a user
// sees, repeated in the README:
//
//   - A relative path resolves against the config file's folder.
//   - Each outline with an xmlUrl becomes a feed named by its title (else
//     its text, else from its URL as any feed), made unique with " (2)",
//     " (3)"… against the config's feeds and the earlier outlines. Its
//     folders and category attribute become its tags; htmlUrl is kept.
//   - Feeds are merged by URL (scheme and host compared without case): a
//     feed of the config keeps its entry and each OPML duplicate is a
//     warning naming the OPML file and line; the same URL twice in OPML
//     (a feed in two folders, as "feeds export" writes a feed with two
//     tags) is one feed with the tags of both.
//   - OPML feeds poll at watcher.interval and carry no headers; ${VAR} is
//     not expanded in OPML (it comes from elsewhere).
//   - A file that cannot be read or is not valid OPML, or a feed URL that
//     is not absolute http(s), is an error naming the file and line: the
//     daemon does not start (or keeps its running config on reload).
//   - feedwatch notify, which polls nothing, does not read them.

// OPMLFiles returns the paths of the config's OPML files, resolved against
// the config file's folder: what the daemon watches.
func (c *Config) OPMLFiles() []string {
	out := make([]string, 0, len(c.OPML))
	for _, p := range c.OPML {
		if strings.TrimSpace(p) != "" {
			out = append(out, c.opmlPath(p))
		}
	}
	return out
}

func (c *Config) opmlPath(p string) string {
	if filepath.IsAbs(p) || c.Path == "" {
		return p
	}
	return filepath.Join(filepath.Dir(c.Path), p)
}

// readOPML reads at most opml.MaxSize+1 bytes, so a larger file is an
// error from the parser rather than a read of gigabytes.
func readOPML(path string) ([]byte, error) {
	// A FIFO or device would block the load (opening a FIFO already
	// does) or never end.
	if fi, err := os.Stat(path); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, opml.MaxSize+1))
}

// urlKey is a feed URL as compared for duplicates: scheme and host
// lower-case, the rest as written.
func urlKey(s string) string {
	s = strings.TrimSpace(s)
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return s
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Host = strings.ToLower(u.Host)
	return u.String()
}

// addOPML reads each OPML file and merges its feeds into c.Feeds, after
// the config's own. Problems inside a file carry its name and line.
func (c *Config) addOPML() Problems {
	if len(c.OPML) == 0 {
		return nil
	}
	var ps Problems
	ownByURL := make(map[string]int, len(c.Feeds))
	taken := make(map[string]bool, len(c.Feeds))
	for i, f := range c.Feeds {
		if k := urlKey(f.URL); k != "" {
			if _, dup := ownByURL[k]; !dup {
				ownByURL[k] = i
			}
		}
		taken[f.DisplayName()] = true
	}
	fromOPML := map[string]int{} // URL key -> index in c.Feeds
	next := map[string]int{}     // base name -> next suffix to try
	unique := func(name string) string {
		if !taken[name] {
			taken[name] = true
			return name
		}
		for n := max(next[name], 2); ; n++ {
			cand := fmt.Sprintf("%s (%d)", name, n)
			if !taken[cand] {
				next[name] = n + 1
				taken[cand] = true
				return cand
			}
		}
	}
	for i, file := range c.OPML {
		key := indexPath("opml", i)
		if strings.TrimSpace(file) == "" {
			ps = append(ps, Problem{Path: key, Msg: "empty path: name an OPML file"})
			continue
		}
		path := c.opmlPath(file)
		data, err := readOPML(path)
		if err != nil {
			ps = append(ps, Problem{Path: key, Msg: fmt.Sprintf("cannot read OPML file %q: %v", path, unwrapPathErr(err))})
			continue
		}
		doc, err := opml.Parse(data)
		if err != nil {
			es, _ := err.(opml.Errors)
			if len(es) == 0 {
				es = opml.Errors{{Msg: err.Error()}}
			}
			for _, e := range es {
				// A problem with the whole file (no <body>) is put at
				// line 1, so that it names the file.
				ps = append(ps, Problem{Path: key, File: file, Line: max(e.Line, 1), Msg: "invalid OPML: " + e.Msg})
			}
			continue
		}
		c.Feeds = slices.Grow(c.Feeds, len(doc.Feeds))
		if len(fromOPML) == 0 {
			fromOPML = make(map[string]int, len(doc.Feeds))
		}
		for _, fd := range doc.Feeds {
			k := urlKey(fd.XMLURL)
			if j, ok := ownByURL[k]; ok {
				ps = append(ps, Problem{Path: key, File: file, Line: fd.Line, Warning: true,
					Msg: fmt.Sprintf("the feed %s is also feeds[%d] (%q) of the config, whose entry is used", outlineName(fd), j, c.Feeds[j].DisplayName())})
				continue
			}
			if j, ok := fromOPML[k]; ok {
				f := &c.Feeds[j]
				for _, t := range fd.Categories {
					if !slices.Contains(f.Tags, t) {
						f.Tags = append(f.Tags, t)
					}
				}
				continue
			}
			name := fd.Title
			if name == "" || strings.HasPrefix(name, "tag:") {
				name = nameFromURL(fd.XMLURL)
			}
			fromOPML[k] = len(c.Feeds)
			c.Feeds = append(c.Feeds, Feed{
				URL: fd.XMLURL, Name: unique(name), Tags: fd.Categories, HTMLURL: fd.HTMLURL,
				From: file, FromLine: fd.Line,
			})
		}
	}
	return ps
}

func outlineName(f opml.Feed) string {
	if f.Title == "" {
		return "(untitled)"
	}
	return fmt.Sprintf("%q", f.Title)
}

// unwrapPathErr drops an *os.PathError's copy of the path, which the
// message names already.
func unwrapPathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// feedOrigin returns the OPML file and line of the feed a problem's key
// path ("feeds[57].name") is about, when that feed came from OPML.
func (c *Config) feedOrigin(path string) (string, int, bool) {
	rest, ok := strings.CutPrefix(path, "feeds[")
	if !ok {
		return "", 0, false
	}
	end := strings.IndexByte(rest, ']')
	if end < 0 {
		return "", 0, false
	}
	var i int
	if _, err := fmt.Sscanf(rest[:end], "%d", &i); err != nil || i < 0 || i >= len(c.Feeds) {
		return "", 0, false
	}
	f := c.Feeds[i]
	if f.From == "" {
		return "", 0, false
	}
	return f.From, f.FromLine, true
}
