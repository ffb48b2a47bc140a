package render

import (
	"strings"

	"github.com/feedwatch/feedwatch/hit"
)

// Clean copies h with control characters stripped from every string and
// the one-line fields on one line: the data plain-text templates see.
func Clean(h hit.Hit) hit.Hit { return MapText(h, OneLine, StripControl) }

// MapText copies h with line applied to every string that is one line
// (all but the summary and snippet) and text to the summary and snippet:
// how a channel turns feed text into its template data.
func MapText(h hit.Hit, line, text func(string) string) hit.Hit {
	h.Profile = line(h.Profile)
	// Templates see every profile the message names, one or several.
	h.Profiles = mapStrings(h.AllProfiles(), line)
	h.Feed.Name, h.Feed.Title, h.Feed.URL = line(h.Feed.Name), line(h.Feed.Title), line(h.Feed.URL)
	h.Item.ID, h.Item.Title, h.Item.Link = line(h.Item.ID), line(h.Item.Title), line(h.Item.Link)
	h.Item.Summary = text(h.Item.Summary)
	h.Snippet = text(h.Snippet)
	h.Item.Authors = mapStrings(h.Item.Authors, line)
	h.Item.Categories = mapStrings(h.Item.Categories, line)
	ms := make([]hit.Match, len(h.Matches))
	for i, m := range h.Matches {
		ms[i] = hit.Match{Field: line(m.Field), Text: line(m.Text), Term: line(m.Term)}
	}
	h.Matches = ms
	return h
}

func mapStrings(in []string, f func(string) string) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = f(s)
	}
	return out
}

// Block is the default plain-text rendering of one hit: title, link,
// profile/feed/date line, and the snippet (or the summary's start).
func Block(h hit.Hit) string {
	var b strings.Builder
	b.WriteString(Title(h))
	b.WriteByte('\n')
	if l := SafeLink(h.Item.Link); l != "" {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	b.WriteString(Meta(h))
	b.WriteByte('\n')
	if s := Excerpt(h); s != "" {
		b.WriteByte('\n')
		b.WriteString(s)
		b.WriteByte('\n')
	}
	return b.String()
}

// Meta is "profile xinjiang · feed World News (world) · published …", or
// "profiles xinjiang, trade-bill · …" for an item that matched several.
func Meta(h hit.Hit) string {
	parts := []string{ProfileLabel(h)}
	if f := FeedName(h); f != "" {
		parts = append(parts, "feed "+f)
	}
	if d := Date(h.Item.Published); d != "" {
		parts = append(parts, "published "+d)
	} else if d := Date(h.DetectedAt); d != "" {
		parts = append(parts, "seen "+d)
	}
	return strings.Join(parts, " · ")
}

// Profiles is the profiles a hit names, on one line: "xinjiang, trade-bill".
func Profiles(h hit.Hit) string {
	ps := h.AllProfiles()
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = OneLine(p)
	}
	return strings.Join(out, ", ")
}

// ProfileLabel is "profile xinjiang", or "profiles xinjiang, trade-bill".
func ProfileLabel(h hit.Hit) string {
	if len(h.AllProfiles()) > 1 {
		return "profiles " + Profiles(h)
	}
	return "profile " + Profiles(h)
}

// Excerpt is the snippet, or else the summary cut to 500 characters, on
// one line, control characters stripped.
func Excerpt(h hit.Hit) string {
	if s := OneLine(h.Snippet); s != "" {
		return s
	}
	return Truncate(500, OneLine(h.Item.Summary))
}
