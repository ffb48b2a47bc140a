package websub

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Content-coding errors of a push.
var (
	errUnsupportedEncoding = errors.New("unsupported Content-Encoding")
	errInflatedTooLarge    = errors.New("inflated body too large")
)

// pushEncoding reads a push's Content-Encoding: "" for none (absent or
// identity), "gzip" (also x-gzip), or errUnsupportedEncoding for anything
// else, a stack of codings included. Hubs seldom compress what they
// post; gzip is the one coding an HTTP client is known to add.
func pushEncoding(values []string) (string, error) {
	enc := ""
	for _, v := range values {
		for c := range strings.SplitSeq(v, ",") {
			switch c = strings.ToLower(strings.TrimSpace(c)); c {
			case "", "identity":
			case "gzip", "x-gzip":
				if enc != "" {
					return "", fmt.Errorf("%w: gzip applied twice", errUnsupportedEncoding)
				}
				enc = "gzip"
			default:
				return "", fmt.Errorf("%w %q", errUnsupportedEncoding, clip(c, 40))
			}
		}
	}
	return enc, nil
}

// inflate decodes a gzip body, reading at most max bytes of output: a
// gzip bomb is cut at the same cap as an uncompressed push
// (errInflatedTooLarge), after max+1 bytes of work, whatever it claims.
func inflate(body []byte, max int64) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("gzip body: %w", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, max+1))
	if err != nil {
		return nil, fmt.Errorf("gzip body: %w", err)
	}
	if int64(len(out)) > max {
		return nil, fmt.Errorf("%w: over %d bytes", errInflatedTooLarge, max)
	}
	return out, nil
}
