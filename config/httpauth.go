package config

import (
	"os"

	"golang.org/x/crypto/bcrypt"
)

// httpAuth checks http.auth: both keys or neither, and a real bcrypt hash
// (a plain password pasted there would otherwise lock everyone out).
func (v *validator) httpAuth(a HTTPAuth) {
	switch {
	case a.Username == "" && a.PasswordHash == "":
		return
	case a.Username == "":
		v.add("http.auth.username", "must be set with http.auth.password_hash")
		return
	case a.PasswordHash == "":
		v.add("http.auth.password_hash", "must be set with http.auth.username: a bcrypt hash of the password")
		return
	}
	if _, err := bcrypt.Cost([]byte(a.PasswordHash)); err != nil {
		// The value is not echoed: it may be a password pasted by mistake.
		v.add("http.auth.password_hash", "not a bcrypt hash (want $2a$/$2b$/$2y$..., e.g. from `htpasswd -nbB`): %v", bcryptReason(err))
	}
}

func bcryptReason(err error) string {
	switch err {
	case bcrypt.ErrHashTooShort:
		return "too short"
	}
	return "unknown format"
}

// HTTPUsername reads http.auth.username leniently (FEEDWATCH_HTTP_AUTH_USERNAME
// first), for commands that talk to a running daemon: "" when it is unset
// or the file cannot be read.
func HTTPUsername(path string, getenv func(string) string) string {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if v := getenv(EnvName("http.auth.username")); v != "" {
		return v
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	r, ps := parseRaw(formatOf(path), data)
	if len(ps) > 0 {
		return ""
	}
	http, _ := r.tree["http"].(map[string]any)
	auth, _ := http["auth"].(map[string]any)
	s, _ := scalarString(auth["username"])
	out, missing, bad := expand(s, getenv)
	if bad != "" || len(missing) > 0 {
		return ""
	}
	return out
}
