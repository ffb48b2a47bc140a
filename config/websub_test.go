package config

import (
	"slices"
	"testing"
	"time"
)

func TestWebSubConfig(t *testing.T) {
	const feeds = "feeds:\n  - url: https://example.org/rss\nprofiles:\n  - name: a\n    keywords: [x]\n"
	tests := []struct {
		name string
		body string
		env  map[string]string
		want []string // problems; nil: loads
	}{
		{name: "off by default", body: feeds},
		{name: "on", body: feeds + "websub:\n  callback_url: https://fw.example.org/websub\n  listen: 0.0.0.0:7071\n  fallback_interval: 2h\n  lease: 1d\n"},
		{name: "from the environment", body: feeds, env: map[string]string{"FEEDWATCH_WEBSUB_CALLBACK_URL": "https://node1.example.org/ws"}},
		{
			name: "bad values",
			body: feeds + "websub:\n  callback_url: ftp://fw.example.org/websub\n  listen: nope\n  fallback_interval: -1h\n  lease: 10s\n",
			want: []string{
				`feedwatch.yaml:7: websub.callback_url: want the public http(s) URL hubs reach feedwatch at, like https://feedwatch.example.org/websub, or "" to turn WebSub off`,
				`feedwatch.yaml:8: websub.listen: want host:port, like 0.0.0.0:7071, or "" to serve callbacks on http.listen`,
				`feedwatch.yaml:9: websub.fallback_interval: must be more than 0`,
				`feedwatch.yaml:10: websub.lease: must be at least 1m`,
			},
		},
		{
			name: "query in the callback url",
			body: feeds + "websub:\n  callback_url: https://fw.example.org/websub?token=1\n",
			want: []string{`feedwatch.yaml:7: websub.callback_url: want a URL without query, fragment or credentials: each subscription adds its own path element`},
		},
		{
			name: "no path of its own on http.listen",
			body: feeds + "websub:\n  callback_url: https://fw.example.org/api/\n",
			want: []string{`feedwatch.yaml:7: websub.callback_url: callbacks served on http.listen need a path of their own, like /websub (not /, /api, /metrics, /healthz, /readyz, /- or a web console page such as /feeds)`},
		},
		{
			name: "a web console path on http.listen",
			body: feeds + "websub:\n  callback_url: https://fw.example.org/feeds/push\n",
			want: []string{`feedwatch.yaml:7: websub.callback_url: ` + "callbacks served on http.listen need a path of their own, like /websub (not /, /api, /metrics, /healthz, /readyz, /- or a web console page such as /feeds)"},
		},
		{name: "any path on its own listener", body: feeds + "websub:\n  callback_url: https://fw.example.org\n  listen: 127.0.0.1:7071\n"},
		{
			name: "no listener",
			body: feeds + "http:\n  listen: \"\"\nwebsub:\n  callback_url: https://fw.example.org/websub\n",
			want: []string{`feedwatch.yaml:8: websub.listen: callbacks need a listener: set websub.listen, or http.listen`},
		},
		{
			name: "typo suggests the key",
			body: feeds + "websub:\n  callback_ur: https://fw.example.org/websub\n",
			want: []string{`feedwatch.yaml:7: websub.callback_ur: unknown key, did you mean "callback_url"?`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(writeConfig(t, "feedwatch.yaml", tt.body), envMap(tt.env))
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if c.WebSub.FallbackInterval <= 0 || c.WebSub.Lease < Duration(time.Minute) {
					t.Fatalf("defaults not applied: %+v", c.WebSub)
				}
				if v := tt.env["FEEDWATCH_WEBSUB_CALLBACK_URL"]; v != "" && c.WebSub.CallbackURL != v {
					t.Fatalf("callback_url %q, want %q from the environment", c.WebSub.CallbackURL, v)
				}
				return
			}
			got := problemsOf(t, err)
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("missing problem %q\ngot %q", w, got)
				}
			}
		})
	}
}
