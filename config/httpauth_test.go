package config

import (
	"strings"
	"testing"
)

func TestHTTPAuth(t *testing.T) {
	// bcrypt of "secret" at cost 4.
	const hash = "$2a$04$NHw/NAZNZE/svnavuARrROCpwxFBc.lC7ldOHLGhxyzi2umDe0LuS"
	for _, tc := range []struct {
		name, auth string
		want       []string
	}{
		{"good", "username: admin\n    password_hash: '" + hash + "'", nil},
		{"no user", "password_hash: '" + hash + "'", []string{"feedwatch.yaml:2: http.auth.username: must be set with http.auth.password_hash"}},
		{"no hash", "username: admin", []string{"feedwatch.yaml:2: http.auth.password_hash: must be set with http.auth.username"}},
		{"plain password", "username: admin\n    password_hash: hunter2", []string{"feedwatch.yaml:4: http.auth.password_hash: not a bcrypt hash"}},
		{"typo", "username: admin\n    password: x", []string{`http.auth.password: unknown key, did you mean "password_hash"?`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := "http:\n  auth:\n    " + tc.auth + "\n"
			c, err := Load(writeConfig(t, "feedwatch.yaml", body), nil, WithChannels(testChannels...))
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if c.HTTP.Auth.Username != "admin" || c.HTTP.Auth.PasswordHash != hash {
					t.Fatalf("auth %+v", c.HTTP.Auth)
				}
				return
			}
			got := strings.Join(problemsOf(t, err), "\n")
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("problems lack %q:\n%s", w, got)
				}
			}
			if strings.Contains(got, "hunter2") {
				t.Errorf("problem shows the value:\n%s", got)
			}
		})
	}
}
