package config

import (
	"path/filepath"
	"strings"
)

// NamedOPMLFiles returns the OPML files that the config file at path names
// (key "opml"), resolved as OPMLFiles resolves them, without checking
// anything else; nil when the file cannot be read or parsed. After a
// failed reload the daemon watches them too, so that an OPML file named
// before it exists is read as soon as it appears. Paths written with
// ${VAR} are skipped: what they expand to is only known to a full load.
func NamedOPMLFiles(path string) []string {
	data, err := readLimited(path)
	if err != nil || len(checkLimits(formatOf(path), data)) > 0 {
		return nil
	}
	r, ps := parseRaw(formatOf(path), data)
	if len(ps) > 0 {
		return nil
	}
	var names []string
	switch v := r.tree["opml"].(type) {
	case string:
		names = []string{v}
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok {
				names = append(names, s)
			}
		}
	}
	c := &Config{Path: path}
	if abs, err := filepath.Abs(path); err == nil {
		c.Path = abs
	}
	var out []string
	for _, n := range names {
		if strings.TrimSpace(n) == "" || strings.Contains(n, "${") {
			continue
		}
		out = append(out, c.opmlPath(n))
	}
	return out
}
