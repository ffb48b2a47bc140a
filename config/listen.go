package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Listen reads only http.listen from the file at path (with its ${VAR}
// and FEEDWATCH_HTTP_LISTEN), for commands that talk to a running daemon:
// they must work right after a broken edit, and without the daemon's
// secrets. It fails only when the file cannot be read or parsed, or the
// key itself is unusable.
func Listen(path string, getenv func(string) string) (string, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if v := getenv(EnvName("http.listen")); v != "" {
		return v, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read config: %w", err)
	}
	r, ps := parseRaw(formatOf(path), data)
	if len(ps) > 0 {
		for i := range ps {
			ps[i].File = filepath.Base(path)
		}
		return "", ps
	}
	http, ok := r.tree["http"].(map[string]any)
	if !ok || http["listen"] == nil {
		return DefaultListen, nil
	}
	s, ok := scalarString(http["listen"])
	if !ok {
		return "", Problems{{File: filepath.Base(path), Line: r.lines["http.listen"], Path: "http.listen", Msg: "want host:port, got " + describe(http["listen"])}}
	}
	out, missing, bad := expand(s, getenv)
	if bad == "" && len(missing) > 0 {
		bad = "environment variable " + strings.Join(missing, ", ") + " is not set or empty"
	}
	if bad != "" {
		return "", Problems{{File: filepath.Base(path), Line: r.lines["http.listen"], Path: "http.listen", Msg: bad}}
	}
	return out, nil
}
