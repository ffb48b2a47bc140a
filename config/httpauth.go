package config

import (
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
