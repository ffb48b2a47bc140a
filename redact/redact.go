// Package redact keeps secret values out of text that may be logged or
// shown: error messages of the notifier channels, config problems.
package redact

import (
	"encoding/base64"
	"net/url"
	"strings"
)

// Marker replaces a secret.
const Marker = "[redacted]"

// Secrets replaces every secret in s, raw or URL-escaped (an error may
// quote a URL that holds it), with Marker. Secrets shorter than 4 bytes are
// left alone: they would blank out ordinary words. Channels and the config
// loader run their error text through it as a last guard.
func Secrets(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) < 4 { // too short to redact without mangling the text
			continue
		}
		for _, form := range []string{sec, url.QueryEscape(sec), url.PathEscape(sec)} {
			s = strings.ReplaceAll(s, form, Marker)
		}
	}
	return s
}

// encodings are the base64 alphabets and paddings a server may echo.
var encodings = []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding}

// Base64Forms returns every base64 form (standard and URL-safe, padded and
// not) of each non-empty value, to pass to Secrets: SMTP servers echo AUTH
// lines, whose credentials are base64.
func Base64Forms(values ...string) []string {
	var out []string
	for _, v := range values {
		if v == "" {
			continue
		}
		for _, enc := range encodings {
			out = append(out, enc.EncodeToString([]byte(v)))
		}
	}
	return out
}

// Encoded replaces with Marker every base64 word in s (a run of
// 8 or more base64 characters) that decodes, in any of the four alphabets
// and paddings and after dropping a last partial group, to text holding
// one of secrets. It catches the encoded forms Base64Forms cannot know in
// advance: other SASL layouts, a reply that cuts the echo short.
func Encoded(s string, secrets ...string) string {
	var keep []string
	for _, sec := range secrets {
		if len(sec) >= 4 {
			keep = append(keep, sec)
		}
	}
	if len(keep) == 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && isB64(s[j]) {
			j++
		}
		for j < len(s) && s[j] == '=' {
			j++
		}
		if j == i {
			b.WriteByte(s[i])
			i++
			continue
		}
		word := s[i:j]
		if len(word) >= 8 && decodesToSecret(word, keep) {
			b.WriteString(Marker)
		} else {
			b.WriteString(word)
		}
		i = j
	}
	return b.String()
}

func isB64(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '-' || c == '_'
}

func decodesToSecret(word string, secrets []string) bool {
	w := strings.TrimRight(word, "=")
	w = w[:len(w)-len(w)%4] // a cut-short echo: decode the whole groups
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		d, err := enc.DecodeString(w)
		if err != nil {
			continue
		}
		for _, sec := range secrets {
			if strings.Contains(string(d), sec) {
				return true
			}
			// Cut short inside the secret: its start is still one.
			for k := min(len(sec)-1, len(d)); k >= 4; k-- {
				if strings.HasSuffix(string(d), sec[:k]) {
					return true
				}
			}
		}
	}
	return false
}

// Userinfo drops the user info (user, password or token before the last
// "@" of the authority) from a URL, or from each URL of a comma-separated
// list such as nats.url, so that a server address can be logged or kept as
// an identity. The last "@" counts: a password may hold one.
func Userinfo(urls string) string {
	parts := strings.Split(urls, ",")
	for i, u := range parts {
		u = strings.TrimSpace(u)
		rest, scheme := u, ""
		if j := strings.Index(u, "://"); j >= 0 {
			scheme, rest = u[:j+3], u[j+3:]
		}
		host := rest
		if k := strings.IndexAny(rest, "/?#"); k >= 0 {
			host = rest[:k]
		}
		if at := strings.LastIndex(host, "@"); at >= 0 {
			rest = rest[at+1:]
		}
		parts[i] = scheme + rest
	}
	return strings.Join(parts, ",")
}
