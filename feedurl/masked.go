package feedurl

import (
	"net/url"
	"strings"
)

// Masked is a URL fit for logs, status and names, stricter than Public:
// without userinfo, with the whole query replaced by "redacted", and with
// path segments that look like secrets (after /token/ or /key/, or a long
// run mixing letters and digits, or hex) replaced too. Public keeps what a
// receiver of hits may need (non-secret parameters); Masked keeps only
// what tells a reader which feed it is.
func Masked(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "<unparseable url>"
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "redacted"
	}
	// Segments as written: an escaped "/" inside one does not split it.
	segs := strings.Split(u.EscapedPath(), "/")
	changed := false
	for i, seg := range segs {
		afterKey := i > 0 && secretKeySegment[strings.ToLower(segs[i-1])]
		if seg != "" && (afterKey || looksSecret(seg)) {
			segs[i], changed = "redacted", true
		}
	}
	if changed {
		raw := strings.Join(segs, "/")
		if p, err := url.PathUnescape(raw); err == nil {
			u.Path, u.RawPath = p, raw
		}
	}
	return u.String()
}

// secretKeySegment names path segments whose next segment is a credential
// (/token/<t>, /key/<k>).
var secretKeySegment = map[string]bool{"token": true, "key": true, "apikey": true, "api_key": true, "api-key": true, "secret": true, "auth": true}

// looksSecret reports a path segment holding a run of 16 or more letters
// and digits that mixes both, or is hex: a generated token, not a word or
// a date ("2024-05-01-uyghur-camps" has no such run).
func looksSecret(seg string) bool {
	run, letters, digits, hex := 0, false, false, true
	for i := 0; i <= len(seg); i++ {
		var c byte
		if i < len(seg) {
			c = seg[i]
		}
		switch {
		case c >= '0' && c <= '9':
			run, digits = run+1, true
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			run, letters = run+1, true
			hex = hex && (c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F')
		default:
			if run >= 16 && (letters && digits || hex) {
				return true
			}
			run, letters, digits, hex = 0, false, false, true
		}
	}
	return false
}
