package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// BasicAuth asks for username and a password matching the bcrypt hash on
// every request but those exempt returns true for. A password once checked
// is remembered (as an HMAC under a per-process key), so that only the
// first request of a browser pays for bcrypt.
func BasicAuth(username, passwordHash string, exempt func(*http.Request) bool, next http.Handler) http.Handler {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	mac := func(p string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(p))
		return m.Sum(nil)
	}
	var mu sync.Mutex
	var good [][]byte // MACs of passwords that passed bcrypt; few
	wantUser := sha256.Sum256([]byte(username))
	check := func(u, p string) bool {
		gotUser := sha256.Sum256([]byte(u))
		userOK := subtle.ConstantTimeCompare(gotUser[:], wantUser[:]) == 1
		m := mac(p)
		mu.Lock()
		for _, g := range good {
			if hmac.Equal(g, m) {
				mu.Unlock()
				return userOK
			}
		}
		mu.Unlock()
		// bcrypt runs whatever the user name, so timing tells nothing.
		if bcrypt.CompareHashAndPassword([]byte(passwordHash), []byte(p)) != nil {
			return false
		}
		mu.Lock()
		if len(good) < 8 {
			good = append(good, m)
		}
		mu.Unlock()
		return userOK
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if exempt != nil && exempt(r) {
			next.ServeHTTP(w, r)
			return
		}
		u, p, ok := r.BasicAuth()
		if !ok || !check(u, p) {
			w.Header().Set("WWW-Authenticate", `Basic realm="feedwatch", charset="UTF-8"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// csrf issues and checks action tokens: a random cookie, and in each form
// the cookie's HMAC under a key made at start (a double-submit cookie that
// a page elsewhere can neither read nor forge). Tokens end with the
// process: a form from before a restart is refused, and reloading the page
// gives a new one.
type csrf struct{ key []byte }

const csrfCookie = "feedwatch_csrf"

func newCSRF() *csrf {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return &csrf{key: k}
}

func (c *csrf) sign(v string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(v))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// token returns the form token for this browser, setting its cookie when
// it has none (or one this process did not make).
func (c *csrf) token(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(csrfCookie); err == nil && len(ck.Value) == 43 {
		return c.sign(ck.Value)
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: v, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	return c.sign(v)
}

// valid checks a submitted token against the request's cookie.
func (c *csrf) valid(r *http.Request, token string) bool {
	ck, err := r.Cookie(csrfCookie)
	if err != nil || ck.Value == "" || token == "" {
		return false
	}
	return hmac.Equal([]byte(c.sign(ck.Value)), []byte(token))
}
