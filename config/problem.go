package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Problem is one thing wrong with a config file.
type Problem struct {
	// Path is the key path, like "profiles[1].keyword" or
	// "notifiers.me.port"; "" for problems with the whole file.
	Path string
	// Line is the file line of Path, 0 when unknown.
	Line int
	// Msg says what is wrong. It never holds a secret's value.
	Msg string
	// File is the config file's base name, "" when unknown.
	File string
	// Warning marks a problem that does not stop this process: a variable
	// missing from a section the running command does not use.
	Warning bool
}

// String renders p as "feedwatch.yaml:12: profiles[1].keyword: msg"; the
// file:line part appears only when the line is known.
func (p Problem) String() string {
	var b strings.Builder
	switch {
	case p.Line > 0 && p.File != "":
		b.WriteString(p.File + ":" + strconv.Itoa(p.Line) + ": ")
	case p.Line > 0:
		b.WriteString("line " + strconv.Itoa(p.Line) + ": ")
	case p.Path == "" && p.File != "":
		b.WriteString(p.File + ": ")
	}
	if p.Warning {
		b.WriteString("warning: ")
	}
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is an error holding every problem found.
type Problems []Problem

// Error lists every problem, one a line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// errors reports whether any of ps is more than a warning.
func (ps Problems) errors() bool {
	for _, p := range ps {
		if !p.Warning {
			return true
		}
	}
	return false
}

// sortProblems orders problems by line, then path, keeping the order of
// discovery for problems without a line, so output follows the file.
func sortProblems(ps Problems) {
	sort.SliceStable(ps, func(i, j int) bool {
		li, lj := ps[i].Line, ps[j].Line
		if li == 0 || lj == 0 {
			return li != 0 && lj == 0
		}
		return li < lj
	})
}

func problemf(path, format string, args ...any) Problem {
	return Problem{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// suggest returns the known key nearest to key, or "" when none is close
// enough to be a plausible typo.
func suggest(key string, known []string) string {
	lk := strings.ToLower(key)
	best, bestD := "", 1<<30
	for _, k := range known {
		d := editDistance(lk, strings.ToLower(k))
		if d < bestD || d == bestD && k < best {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	n := utf8.RuneCountInString(key)
	limit := 1 + n/4
	if limit > 3 {
		limit = 3
	}
	if bestD <= limit {
		return best
	}
	// A prefix of a known key ("webhook" for "webhook_url") is a good guess too.
	for _, k := range known {
		if n >= 3 && (strings.HasPrefix(strings.ToLower(k), lk) || strings.HasPrefix(lk, strings.ToLower(k))) {
			return k
		}
	}
	return ""
}

// editDistance is the optimal-string-alignment Damerau-Levenshtein distance:
// insertions, deletions, substitutions and swaps of neighbours cost 1.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		// Keys that long are not typos of ours; keep the cost bounded.
		return 1 << 20
	}
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
