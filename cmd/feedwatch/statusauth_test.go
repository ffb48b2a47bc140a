package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStatusAuth: against a daemon with http.auth, status sends the user
// from the config and the password from FEEDWATCH_HTTP_PASSWORD, and says
// what to set when it has none.
func TestStatusAuth(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "admin" || p != "open sesame" {
			w.Header().Set("WWW-Authenticate", `Basic realm="feedwatch"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`{"mode":"run","ready":true,"feeds":[],"profiles":{}}`))
	}))
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "feedwatch.yaml")
	cfg := "http:\n  listen: \"" + strings.TrimPrefix(srv.URL, "http://") + "\"\n  auth:\n    username: admin\n    password_hash: \"$2a$04$x\"\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(pw string) func(string) string {
		return func(k string) string {
			if k == "FEEDWATCH_HTTP_PASSWORD" {
				return pw
			}
			return ""
		}
	}
	if code, _, errOut := runCLI(t, env(""), "status", "--config", path); code != 1 || !strings.Contains(errOut, "set FEEDWATCH_HTTP_PASSWORD") {
		t.Errorf("no password: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, env("wrong"), "status", "--config", path); code != 1 || !strings.Contains(errOut, "401") || strings.Contains(errOut, "wrong") {
		t.Errorf("wrong password: exit %d, %q", code, errOut)
	}
	if code, out, errOut := runCLI(t, env("open sesame"), "status", "--config", path); code != 0 || !strings.Contains(out, "mode run") {
		t.Errorf("password: exit %d, %q %q", code, out, errOut)
	}
}
