// Package feedurl decides what of a feed's URL may leave the fetcher: in
// hits (NATS, webhooks, templates, dead letters), status pages and command
// output. A feed URL may carry credentials in its userinfo, its query
// (?token=) and its path (private feed tokens); only the fetcher needs them.
package feedurl

import (
	"net/url"
	"strings"
)

// Redacted replaces a secret value.
const Redacted = "REDACTED"

// minSecret is the shortest substituted value looked for inside a longer
// query value or path segment; a shorter one (${LANG}=en) is redacted only
// where it is the whole value.
const minSecret = 4

// Public returns raw fit to publish: without userinfo; with the values of
// query parameters whose names look like credentials (SecretName), or that
// hold one of secrets (the values the config substituted for ${VAR}),
// replaced by Redacted; and with path segments that hold one of secrets or
// look like a random token (LooksLikeToken) replaced too. Scheme, host,
// other parameters (in their order and encoding) and the fragment stay. A
// URL that does not parse is returned as Redacted.
func Public(raw string, secrets ...string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return Redacted
	}
	u.User = nil
	if u.Path != "" {
		segs := strings.Split(u.EscapedPath(), "/")
		changed := false
		for i, seg := range segs {
			v, err := url.PathUnescape(seg)
			if err != nil {
				v = seg
			}
			if v != "" && (holds(v, secrets) || LooksLikeToken(v)) {
				segs[i], changed = Redacted, true
			}
		}
		if changed {
			p := strings.Join(segs, "/")
			u.RawPath = ""
			u.Path, _ = url.PathUnescape(p)
			if u.EscapedPath() != p {
				u.RawPath = p
			}
		}
	}
	if u.RawQuery != "" {
		u.RawQuery = publicQuery(u.RawQuery, secrets)
	}
	return u.String()
}

func publicQuery(q string, secrets []string) string {
	parts := strings.Split(q, "&")
	for i, p := range parts {
		k, v, ok := strings.Cut(p, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			val = v
		}
		switch {
		case ok && val != "" && (SecretName(name) || holds(val, secrets)):
			parts[i] = k + "=" + Redacted
		case !ok && holds(name, secrets):
			// A bare "?<token>" query.
			parts[i] = Redacted
		}
	}
	return strings.Join(parts, "&")
}

// holds reports whether v is one of secrets or contains one long enough to
// be told from ordinary text.
func holds(v string, secrets []string) bool {
	for _, s := range secrets {
		if s == "" {
			continue
		}
		if v == s || (len(s) >= minSecret && strings.Contains(v, s)) {
			return true
		}
	}
	return false
}

// secretParts are name fragments of credential-carrying query parameters,
// matched in the lower-cased name without "-", "_" and ".":
// access_token, X-Amz-Signature, api-key, client_secret, sessionid.
var secretParts = []string{"token", "secret", "passw", "apikey", "signature", "credential", "session", "privatekey", "accesskey"}

// secretNames are whole names (after the same folding).
var secretNames = map[string]bool{
	"key": true, "sig": true, "auth": true, "pwd": true, "pass": true, "jwt": true, "hash": true,
	"code": true, "sid": true, "hmac": true, "otp": true,
}

// SecretName reports whether a query parameter's name says it holds a
// credential: token, key, apikey, api_key, secret, password, sig, signature,
// auth, access_token and their kin.
func SecretName(name string) bool {
	n := strings.Map(func(r rune) rune {
		switch r {
		case '-', '_', '.', ' ':
			return -1
		}
		return r
	}, strings.ToLower(name))
	if secretNames[n] {
		return true
	}
	for _, p := range secretParts {
		if strings.Contains(n, p) {
			return true
		}
	}
	// authkey, auth_token, authorization, but not author.
	if strings.HasPrefix(n, "auth") && !strings.HasPrefix(n, "author") || n == "authorization" {
		return true
	}
	return strings.HasSuffix(n, "key") || strings.HasSuffix(n, "sig")
}

// LooksLikeToken reports whether a path segment looks like a random
// credential rather than a name: a UUID, or 16 or more characters of
// letters and digits (and "-_.~=") that switch between letters and digits
// at least four times (hex and base64 tokens do, dates, slugs and words do
// not: "2024-05-uyghur-report", "internationalization2024").
func LooksLikeToken(seg string) bool {
	if isUUID(seg) {
		return true
	}
	if len(seg) < 16 {
		return false
	}
	switches := 0
	prev := 0 // 1 letter, 2 digit
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		cur := 0
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			cur = 1
		case c >= '0' && c <= '9':
			cur = 2
		case c == '-', c == '_', c == '.', c == '~', c == '=':
		default:
			return false
		}
		if cur != 0 {
			if prev != 0 && cur != prev {
				switches++
			}
			prev = cur
		}
	}
	return switches >= 4
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}
