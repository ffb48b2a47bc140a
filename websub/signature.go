package websub

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// Signature errors: a push carrying either is dropped (and counted).
var (
	ErrNoSignature  = errors.New("no X-Hub-Signature")
	ErrBadSignature = errors.New("bad X-Hub-Signature")
)

// maxSignatureLen bounds the header we look at: sha512 in hex is 128
// characters plus "sha512=".
const maxSignatureLen = 160

// ParseSignature reads an X-Hub-Signature value, "method=hex": the hash
// the hub used (sha1, sha256, sha384 or sha512, W3C WebSub section 8) and
// the MAC it sent. Anything else is ErrBadSignature; an empty value is
// ErrNoSignature.
func ParseSignature(v string) (func() hash.Hash, []byte, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil, ErrNoSignature
	}
	if len(v) > maxSignatureLen {
		return nil, nil, fmt.Errorf("%w: longer than %d bytes", ErrBadSignature, maxSignatureLen)
	}
	method, sig, ok := strings.Cut(v, "=")
	if !ok {
		return nil, nil, fmt.Errorf("%w: want method=signature", ErrBadSignature)
	}
	var h func() hash.Hash
	var size int
	switch strings.ToLower(method) {
	case "sha1":
		h, size = sha1.New, sha1.Size
	case "sha256":
		h, size = sha256.New, sha256.Size
	case "sha384":
		h, size = sha512.New384, sha512.Size384
	case "sha512":
		h, size = sha512.New, sha512.Size
	default:
		return nil, nil, fmt.Errorf("%w: unknown method", ErrBadSignature)
	}
	mac, err := hex.DecodeString(sig)
	if err != nil || len(mac) != size {
		return nil, nil, fmt.Errorf("%w: not a %s hex digest", ErrBadSignature, strings.ToLower(method))
	}
	return h, mac, nil
}

// Verify checks header (X-Hub-Signature) against the HMAC of body keyed
// with secret, in constant time. The error never holds the secret or the
// expected MAC.
func Verify(header string, secret, body []byte) error {
	h, mac, err := ParseSignature(header)
	if err != nil {
		return err
	}
	m := hmac.New(h, secret)
	m.Write(body)
	if !hmac.Equal(m.Sum(nil), mac) {
		return fmt.Errorf("%w: does not match the body", ErrBadSignature)
	}
	return nil
}

// Sign returns the X-Hub-Signature value of body for secret with the
// sha256 method (for hubs written for tests).
func Sign(method string, secret, body []byte) string {
	var h func() hash.Hash
	switch method {
	case "sha1":
		h = sha1.New
	case "sha384":
		h = sha512.New384
	case "sha512":
		h = sha512.New
	default:
		method, h = "sha256", sha256.New
	}
	m := hmac.New(h, secret)
	m.Write(body)
	return method + "=" + hex.EncodeToString(m.Sum(nil))
}

var errQueryTooLong = errors.New("query too long")
