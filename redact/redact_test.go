package redact

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestSecrets(t *testing.T) {
	tests := []struct {
		name, in string
		secrets  []string
		want     string
	}{
		{"raw", "post https://h/x?k=s3cr/t: 500", []string{"s3cr/t"}, "post https://h/x?k=[redacted]: 500"},
		{"query escaped", "get /a?k=s3cr%2Ft", []string{"s3cr/t"}, "get /a?k=[redacted]"},
		{"path escaped", "get /a/pa%20ss", []string{"pa ss"}, "get /a/[redacted]"},
		{"empty and short secrets left alone", "dial tcp: refused", []string{"", "tcp"}, "dial tcp: refused"},
		{"several", "user hunter2 token xoxb-1", []string{"hunter2", "xoxb-1"}, "user [redacted] token [redacted]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Secrets(tt.in, tt.secrets...); got != tt.want {
				t.Errorf("Secrets = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEncoded(t *testing.T) {
	const user, pass = "alerts", "smtp-pass-333"
	plain := "\x00" + user + "\x00" + pass
	tests := []struct{ name, in string }{
		{"plain std", "535 5.7.8 AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte(plain)) + " rejected"},
		{"plain url raw", "535 bad " + base64.RawURLEncoding.EncodeToString([]byte(plain))},
		{"authzid plain", "535 bad " + base64.StdEncoding.EncodeToString([]byte(user+"\x00"+user+"\x00"+pass))},
		{"login password", "535 bad " + base64.StdEncoding.EncodeToString([]byte(pass)) + "."},
		{"cut short", "535 bad " + base64.StdEncoding.EncodeToString([]byte(plain))[:18]},
		{"glued", "535 auth=" + base64.StdEncoding.EncodeToString([]byte(pass))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Secrets(tt.in, append([]string{pass}, Base64Forms(user, pass, plain)...)...)
			got = Encoded(got, pass)
			if !strings.Contains(got, "[redacted]") || !strings.HasPrefix(got, "535") {
				t.Errorf("Encoded(%q) = %q", tt.in, got)
			}
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
				if s := enc.EncodeToString([]byte(pass)); strings.Contains(got, s[:len(s)-4]) {
					t.Errorf("%q keeps the encoded password", got)
				}
			}
		})
	}
	if got := Encoded("535 5.7.8 Authentication credentials invalid", pass); got != "535 5.7.8 Authentication credentials invalid" {
		t.Errorf("plain text changed: %q", got)
	}
}

func TestUserinfo(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"none", "nats://host:4222", "nats://host:4222"},
		{"user and password", "nats://user:pw@host:4222", "nats://host:4222"},
		{"password with @", "nats://user:p@ss@host:4222", "nats://host:4222"},
		{"token", "nats://s3cret@host", "nats://host"},
		{"no scheme", "user:pw@host:4222", "host:4222"},
		{"list", "nats://a:b@n1:4222, nats://n2:4222,nats://c@n3:4222", "nats://n1:4222,nats://n2:4222,nats://n3:4222"},
		{"@ in the path is not user info", "nats://host:4222/x@y", "nats://host:4222/x@y"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Userinfo(tt.in); got != tt.want {
				t.Errorf("Userinfo(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
