package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// envMap makes a getenv from a map.
func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// writeConfig writes body as dir/name and returns its path.
func writeConfig(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// problemsOf asserts err is Problems and returns their strings.
func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("want Problems, got %T: %v", err, err)
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

func TestLoadBadConfigs(t *testing.T) {
	tests := []struct {
		name string
		file string // feedwatch.yaml when empty
		body string
		env  map[string]string
		want []string
	}{
		{
			name: "unknown key with suggestion",
			body: "feeds:\n  - url: https://example.org/rss\nprofiles:\n  - name: a\n    keywords: [x]\n  - name: b\n    keyword: [y]\n",
			want: []string{
				`feedwatch.yaml:6: profiles[1]: a profile needs a query or keywords`,
				`feedwatch.yaml:7: profiles[1].keyword: unknown key, did you mean "keywords"?`,
			},
		},
		{
			name: "top-level key that belongs to a section",
			body: "intervl: 5m\nwatcher:\n  intreval: 5m\n  concurency: 4\n",
			want: []string{
				`feedwatch.yaml:1: intervl: unknown key, did you mean "watcher.interval"?`,
				`feedwatch.yaml:3: watcher.intreval: unknown key, did you mean "interval"?`,
				`feedwatch.yaml:4: watcher.concurency: unknown key, did you mean "concurrency"?`,
			},
		},
		{
			name: "control characters in headers and user_agent",
			body: "watcher:\n  user_agent: \"fw\\r\\nX-Evil: 1\"\nfeeds:\n  - url: https://example.org/rss\n    headers:\n      Authorization: \"Bearer ${TOKEN}\"\n      X-Bell: \"a\\x07b\"\n      \"X(Bad)\": v\n      \"X-Ok\": \"tab\\tis fine\"\n",
			env:  map[string]string{"TOKEN": "s3cret\r\nX-Injected: 1"},
			want: []string{
				`feedwatch.yaml:2: watcher.user_agent: holds a line break or another control character`,
				`feedwatch.yaml:5: feeds[0].headers: header name "X(Bad)" is not a valid HTTP header name (letters, digits and !#$%&'*+-.^_` + "`" + `|~ only)`,
				`feedwatch.yaml:6: feeds[0].headers.Authorization: holds a line break or another control character`,
				`feedwatch.yaml:7: feeds[0].headers.X-Bell: holds a line break or another control character`,
			},
		},
		{
			name: "unknown key without a near one",
			body: "feeds:\n  - url: https://example.org/rss\n    colour: blue\n",
			want: []string{`feedwatch.yaml:3: feeds[0].colour: unknown key`},
		},
		{
			name: "duplicate feed names, given and derived",
			body: "feeds:\n  - url: https://example.org/a\n    name: world\n  - url: https://example.org/b\n    name: world\n  - url: https://example.org/rss\n  - url: http://www.example.org/rss\n",
			want: []string{
				`feedwatch.yaml:5: feeds[1].name: duplicate feed name "world" (feeds[0] has it too)`,
				`feedwatch.yaml:7: feeds[3].name: duplicate feed name "example-org-rss" (feeds[2] has it too); names default from the URL, so set a distinct name`,
			},
		},
		{
			name: "duplicate profile names",
			body: "profiles:\n  - name: a\n    keywords: [x]\n  - name: a\n    keywords: [y]\n",
			want: []string{`feedwatch.yaml:4: profiles[1].name: duplicate profile name "a" (profiles[0] has it too)`},
		},
		{
			name: "bad profile name",
			body: "profiles:\n  - name: Trade Bill\n    keywords: [x]\n  - keywords: [y]\n",
			want: []string{
				`feedwatch.yaml:2: profiles[0].name: "Trade Bill" must match [a-z0-9_-]+ (it names the NATS subject)`,
				`feedwatch.yaml:4: profiles[1].name: required`,
			},
		},
		{
			name: "missing notifier reference",
			body: "profiles:\n  - name: a\n    keywords: [x]\n    notify: [team-slak]\nnotifiers:\n  team-slack: {type: console}\n",
			want: []string{`feedwatch.yaml:4: profiles[0].notify[0]: no notifier is named "team-slak", did you mean "team-slack"?`},
		},
		{
			name: "missing feed and tag references",
			body: "feeds:\n  - url: https://example.org/rss\n    name: world\n    tags: [uk]\nprofiles:\n  - name: a\n    keywords: [x]\n    feeds:\n      - wrold\n      - tag:us\n      - uk\n      - \"tag:\"\n      - tag: uk\n",
			want: []string{
				`feedwatch.yaml:9: profiles[0].feeds[0]: no feed is named "wrold", did you mean "world"?`,
				`feedwatch.yaml:10: profiles[0].feeds[1]: no feed has tag "us", did you mean "uk"?`,
				`feedwatch.yaml:11: profiles[0].feeds[2]: no feed is named "uk"; for the tag write "tag:uk"`,
				`feedwatch.yaml:12: profiles[0].feeds[3]: "tag:" needs a tag after it`,
				`feedwatch.yaml:13: profiles[0].feeds[4]: want a string, got a mapping: YAML reads "a: b" as a key and value; write "a:b" or quote it`,
			},
		},
		{
			name: "missing environment variable",
			body: "notifiers:\n  s:\n    type: slack\n    webhook_url: ${SLACK_URL}\n    channel: \"${CHAN:-#news}\"\n    token: ${A}${B}\n",
			env:  map[string]string{"B": "x"},
			want: []string{
				`feedwatch.yaml:4: notifiers.s.webhook_url: environment variable SLACK_URL is not set or empty (use ${SLACK_URL:-} to allow it empty)`,
				`feedwatch.yaml:6: notifiers.s.token: environment variable A is not set or empty (use ${A:-} to allow it empty)`,
			},
		},
		{
			name: "malformed variable reference",
			body: "data_dir: ${DATA\nnats:\n  url: ${not valid}\n",
			want: []string{
				`feedwatch.yaml:1: data_dir: "${" without a closing "}" (write "$${" for a literal "${")`,
				`feedwatch.yaml:3: nats.url: a "${...}" reference holds no valid variable name (letters, digits, _)`,
			},
		},
		{
			name: "bad durations",
			body: "watcher:\n  interval: 5 minutes\n  timeout: 300\n  backfill: 1w\n  state_retention: -1d\nfeeds:\n  - url: https://example.org/rss\n    interval: [5m]\n",
			want: []string{
				`feedwatch.yaml:2: watcher.interval: bad duration "5 minutes": want a number and unit like 90s, 5m, 2h or 7d`,
				`feedwatch.yaml:3: watcher.timeout: bad duration: a bare number needs a unit, like 90s, 5m, 2h or 7d`,
				`feedwatch.yaml:4: watcher.backfill: bad duration "1w": want a number and unit like 90s, 5m, 2h or 7d`,
				`feedwatch.yaml:5: watcher.state_retention: must be more than 0`,
				`feedwatch.yaml:8: feeds[0].interval: want a duration like 90s, 5m, 2h or 7d, got a list`,
			},
		},
		{
			name: "bad sizes",
			body: "watcher:\n  max_body: lots\n",
			want: []string{`feedwatch.yaml:2: watcher.max_body: bad size "lots": want bytes or a number with KB, MB or GB`},
		},
		{
			name: "negative and zero sizes",
			body: "watcher:\n  max_body: -5\n",
			want: []string{`feedwatch.yaml:2: watcher.max_body: bad size: must not be negative`},
		},
		{
			name: "bad feed URLs",
			body: "feeds:\n  - url: ftp://example.org/rss?token=abc\n  - url: https//example.org/rss\n  - url: https:///rss\n  - name: nourl\n",
			want: []string{
				`feedwatch.yaml:2: feeds[0].url: scheme "ftp" is not supported: use http(s)://, file:// or a path`,
				`feedwatch.yaml:3: feeds[1].url: malformed URL: want https://host/path`,
				`feedwatch.yaml:4: feeds[2].url: the URL has no host`,
				`feedwatch.yaml:5: feeds[3].url: required`,
			},
		},
		{
			name: "unknown and missing notifier type",
			body: "notifiers:\n  s:\n    type: slak\n  t: {}\n",
			want: []string{
				`feedwatch.yaml:3: notifiers.s.type: unknown notifier type "slak", did you mean "slack"? (want ` + channelSet(testChannels).typeList("") + `)`,
				`feedwatch.yaml:4: notifiers.t.type: required: ` + channelSet(testChannels).typeList(""),
			},
		},
		{
			name: "key not of the notifier's type",
			body: "notifiers:\n  s:\n    type: slack\n    webhook_url: https://hooks.example/x\n    host: smtp.example.org\n    chanel: x\n  m:\n    type: email\n    host: smtp.example.org\n    webhook_url: https://hooks.example/x\n",
			want: []string{
				`feedwatch.yaml:5: notifiers.s.host: not a key of a slack notifier`,
				`feedwatch.yaml:6: notifiers.s.chanel: unknown key, did you mean "channel"?`,
				`feedwatch.yaml:10: notifiers.m.webhook_url: not a key of an email notifier`,
			},
		},
		{
			name: "bad notifier names and ranges",
			body: "notifiers:\n  'Team Slack': {type: console, max_attempts: 0}\n  ok: {type: console, digest: -1s, rate_limit: -2}\n",
			want: []string{
				`feedwatch.yaml:2: notifiers.Team Slack: notifier name "Team Slack" must match [a-z0-9_-]+ (it names the NATS consumer)`,
				`feedwatch.yaml:2: notifiers.Team Slack.max_attempts: must be at least 1`,
				`feedwatch.yaml:3: notifiers.ok.digest: must not be negative`,
				`feedwatch.yaml:3: notifiers.ok.rate_limit: must not be negative`,
			},
		},
		{
			name: "names too long for NATS",
			body: "profiles:\n  - name: nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn\n    keywords: [a]\nnotifiers:\n  nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn: {type: console}\n",
			want: []string{
				`feedwatch.yaml:2: profiles[0].name: a name of 201 characters: at most 200`,
				`feedwatch.yaml:5: notifiers.nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn: notifier name of 201 characters: at most 200 (it names the NATS consumer, notify-<name>, of at most 255)`,
			},
		},
		{
			name: "catch_up longer than state_retention",
			body: "watcher:\n  state_retention: 10d\nprofiles:\n  - name: x\n    keywords: [a]\n    catch_up: 30d\n",
			want: []string{`feedwatch.yaml:6: profiles[0].catch_up: 30d is longer than watcher.state_retention (10d): items alerted before that are no longer remembered and would alert again`},
		},
		{
			name: "state_retention too short for the polls",
			body: "watcher:\n  state_retention: 30m\n",
			want: []string{`feedwatch.yaml:2: watcher.state_retention: want at least 1h (an item is remembered this long after it was last seen in its feed)`},
		},
		{
			name: "state_retention under twice a feed's interval",
			body: "watcher:\n  state_retention: 3h\nfeeds:\n  - url: https://example.org/rss\n    interval: 2h\n",
			want: []string{`feedwatch.yaml:2: watcher.state_retention: 3h0m0s is less than twice the longest poll interval (2h0m0s, feeds[0].interval): items still in a feed would be forgotten between polls and alert again`},
		},
		{
			name: "concurrency and per_host at least 1",
			body: "watcher:\n  concurrency: 0\n  per_host: -1\n",
			want: []string{
				`feedwatch.yaml:2: watcher.concurrency: must be at least 1`,
				`feedwatch.yaml:3: watcher.per_host: must be at least 1`,
			},
		},
		{
			name: "listen addresses and NATS URLs",
			body: "http:\n  listen: localhost\nnats:\n  url: nats://a:4222,http://b:4222\n  embedded_listen: :99999\n",
			want: []string{
				`feedwatch.yaml:2: http.listen: want host:port, like 127.0.0.1:7070, or "" to turn it off`,
				`feedwatch.yaml:4: nats.url: server 2: want a nats://, tls://, ws:// or wss:// URL`,
				`feedwatch.yaml:5: nats.embedded_listen: want host:port, like 127.0.0.1:4222, or "" for none`,
			},
		},
		{
			name: "replicas out of range",
			body: "nats:\n  url: nats://a:4222\n  replicas: 7\n",
			want: []string{
				`feedwatch.yaml:3: nats.replicas: want 1 to 5 (how many NATS servers keep each stream and bucket), got 7`,
			},
		},
		{
			name: "replicas zero",
			body: "nats:\n  url: nats://a:4222\n  replicas: 0\n",
			want: []string{
				`feedwatch.yaml:3: nats.replicas: want 1 to 5 (how many NATS servers keep each stream and bucket), got 0`,
			},
		},
		{
			name: "replicas without a cluster",
			body: "nats:\n  replicas: 3\n",
			want: []string{
				`feedwatch.yaml:2: nats.replicas: 3 replicas need a NATS cluster: set nats.url, or use 1 with the embedded server`,
			},
		},
		{
			name: "wrong shapes",
			body: "feeds:\n  - url: [a]\n    tags: {a: b}\n  - just a string\n  -\nwatcher:\n  concurrency: many\n  allow_private_redirects: perhaps\n",
			want: []string{
				`feedwatch.yaml:2: feeds[0].url: want a string, got a list`,
				`feedwatch.yaml:3: feeds[0].tags: want a list, got a mapping`,
				`feedwatch.yaml:4: feeds[1]: want a mapping of keys, got a string`,
				`feedwatch.yaml:5: feeds[2]: empty list entry`,
				`feedwatch.yaml:7: watcher.concurrency: want a whole number, got a string`,
				`feedwatch.yaml:8: watcher.allow_private_redirects: want true or false, got a string`,
			},
		},
		{
			name: "notifier with nothing under it",
			body: "notifiers:\n  console:\n  me: {type: console}\n",
			want: []string{
				`feedwatch.yaml:2: notifiers.console: empty: a notifier needs at least a type (` + channelSet(testChannels).typeList("") + `)`,
			},
		},
		{name: "empty file", body: "", want: []string{`feedwatch.yaml: the file is empty`}},
		{name: "only comments", body: "# to do\n\n", want: []string{`feedwatch.yaml: the file is empty`}},
		{name: "null document", body: "~\n", want: []string{`feedwatch.yaml: the file is empty`}},
		{name: "empty mapping", body: "{}\n", want: []string{`feedwatch.yaml: the file is empty`}},
		{name: "empty JSON", file: "feedwatch.json", body: " \n", want: []string{`feedwatch.json: the file is empty`}},
		{name: "empty JSON object", file: "feedwatch.json", body: "{}", want: []string{`feedwatch.json: the file is empty`}},
		{name: "empty TOML", file: "feedwatch.toml", body: "", want: []string{`feedwatch.toml: the file is empty`}},
		{name: "top level not a mapping", body: "- a\n- b\n", want: []string{`feedwatch.yaml: the top level must be a mapping of keys, not a list`}},
		{
			name: "YAML syntax error with its line",
			body: "watcher:\n  interval: 5m\n  timeout: [30s\n",
			want: []string{`feedwatch.yaml:3: invalid YAML: a [ ] list is not closed with "]" on this line (did not find expected ',' or ']')`},
		},
		{
			name: "half-written YAML",
			body: "feeds:\n  - url: https://example.org/rss\n    na",
			want: []string{`feedwatch.yaml:3: invalid YAML: a key without ":" (or a quoted value not closed) (could not find expected ':')`},
		},
		{
			name: "tab indentation",
			body: "watcher:\n\tinterval: 5m\n",
			want: []string{`feedwatch.yaml:2: invalid YAML: a character that cannot start a value here (a tab? YAML indents with spaces only) (found character that cannot start any token)`},
		},
		{
			name: "YAML duplicate key",
			body: "watcher:\n  interval: 5m\n  interval: 6m\n",
			want: []string{`feedwatch.yaml:3: invalid YAML: mapping key "interval" already defined at line 2`},
		},
		{
			name: "TOML syntax error with its line",
			file: "feedwatch.toml",
			body: "[watcher]\ninterval = 5m\n",
			want: []string{`feedwatch.toml:2: invalid TOML: expected a top-level item to end with a newline, comment, or EOF, but got 'm' instead`},
		},
		{
			name: "JSON syntax error with its line",
			file: "feedwatch.json",
			body: "{\n \"watcher\": {\n  \"interval\": \"5m\",\n }\n}",
			want: []string{`feedwatch.json:4: invalid JSON: invalid character '}' looking for beginning of object key string`},
		},
		{
			name: "half-written JSON",
			file: "feedwatch.json",
			body: "{\n \"watcher\": {\n  \"interval\": \"5m\"",
			want: []string{`feedwatch.json:3: invalid JSON: unexpected end of file`},
		},
		{
			name: "JSON duplicate key",
			file: "feedwatch.json",
			body: "{\n \"watcher\": {\n  \"interval\": \"5m\",\n  \"interval\": \"6m\"\n }\n}",
			want: []string{`feedwatch.json:4: watcher.interval: duplicate key`},
		},
		{
			name: "JSON unknown key has its line",
			file: "feedwatch.json",
			body: "{\n \"feeds\": [\n  {\"url\": \"https://example.org/rss\"},\n  {\"url\": \"https://example.org/b\",\n   \"tag\": [\"x\"]}\n ]\n}",
			want: []string{`feedwatch.json:5: feeds[1].tag: unknown key, did you mean "tags"?`},
		},
		{
			name: "TOML problems have lines",
			file: "feedwatch.toml",
			body: "[watcher]\nintervall = \"5m\"\n\n[[feeds]]\nurl = \"https://example.org/a\"\n\n[[feeds]]\nurl = \"ftp://example.org/b\"\nheaders = { \"A B\" = \"x\" }\n\n[notifiers.\"team-slack\"]\ntype = \"slack\"\nhost = \"h\"\n",
			want: []string{
				`feedwatch.toml:2: watcher.intervall: unknown key, did you mean "interval"?`,
				`feedwatch.toml:8: feeds[1].url: scheme "ftp" is not supported: use http(s)://, file:// or a path`,
				`feedwatch.toml:9: feeds[1].headers: header name "A B" is not a valid HTTP header name (letters, digits and !#$%&'*+-.^_` + "`" + `|~ only)`,
				`feedwatch.toml:13: notifiers.team-slack.host: not a key of a slack notifier`,
			},
		},
		{
			name: "several problems at once",
			body: `data_dir: ./d
interval: 5m
watcher:
  concurrency: 0
  max_body: 10 MBs
feeds:
  - url: https://example.org/rss
    name: world
    tgas: [uk]
profiles:
  - name: X
    query: a
    notify: [nobody]
  - name: b
    keywords: [y]
    feeds: [tag:uk]
notifiers:
  s:
    type: slack
    host: h
`,
			want: []string{
				`feedwatch.yaml:2: interval: unknown key, did you mean "watcher.interval"?`,
				`feedwatch.yaml:4: watcher.concurrency: must be at least 1`,
				`feedwatch.yaml:5: watcher.max_body: bad size "10 MBs": want bytes or a number with KB, MB or GB`,
				`feedwatch.yaml:9: feeds[0].tgas: unknown key, did you mean "tags"?`,
				`feedwatch.yaml:11: profiles[0].name: "X" must match [a-z0-9_-]+ (it names the NATS subject)`,
				`feedwatch.yaml:13: profiles[0].notify[0]: no notifier is named "nobody"`,
				`feedwatch.yaml:16: profiles[1].feeds[0]: no feed has tag "uk"`,
				`feedwatch.yaml:20: notifiers.s.host: not a key of a slack notifier`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := tt.file
			if file == "" {
				file = "feedwatch.yaml"
			}
			c, err := Load(writeConfig(t, file, tt.body), envMap(tt.env), WithChannels(testChannels...))
			if c != nil {
				t.Errorf("want a nil config with problems, got %+v", c)
			}
			got := problemsOf(t, err)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), nil, WithChannels(testChannels...))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("want a not-exist error, got %v", err)
	}
}

// goodEnv fills the ${VAR}s in testdata/good.*.
var goodEnv = map[string]string{
	"FEED_TOKEN":        "feed-token-1",
	"SLACK_WEBHOOK_URL": "https://hooks.slack.example/T0/B0/xyz",
	"SMTP_PASSWORD":     "smtp-pass-1",
	"HOOK_SECRET":       "hook-secret-1",
}

func TestLoadGoodFiles(t *testing.T) {
	want := wantGood(t)
	for _, file := range []string{"good.yaml", "good.toml", "good.json"} {
		t.Run(file, func(t *testing.T) {
			c, err := Load(filepath.Join("testdata", file), envMap(goodEnv), WithChannels(testChannels...))
			if err != nil {
				t.Fatal(err)
			}
			abs, _ := filepath.Abs(filepath.Join("testdata", file))
			if c.Path != abs {
				t.Errorf("Path = %q, want %q", c.Path, abs)
			}
			got := *c
			got.Path, got.src, got.channels, got.FileSum = "", nil, nil, [32]byte{}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

// wantGood is what every testdata/good.* file loads to.
func wantGood(t *testing.T) Config {
	t.Helper()
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		DataDir: filepath.Join(dir, "data"),
		HTTP:    HTTP{Listen: "127.0.0.1:7070"},
		NATS:    NATS{Replicas: 1},
		Watcher: Watcher{
			Interval: Duration(5 * time.Minute), Concurrency: 32, PerHost: 2,
			Timeout: Duration(30 * time.Second), MaxBody: 10 << 20, Backfill: Duration(24 * time.Hour),
			StateRetention: Duration(90 * 24 * time.Hour),
			UserAgent:      "feedwatch/dev (+https://github.com/feedwatch/feedwatch)",
		},
		WebSub:  WebSub{FallbackInterval: DefaultWebSubFallback, Lease: DefaultWebSubLease},
		Archive: Archive{Retention: DefaultArchiveAge, MaxBytes: DefaultArchiveBytes},
		Feeds: []Feed{
			{URL: "https://example.org/world/rss", Name: "world", Interval: Duration(2 * time.Minute),
				Tags: []string{"news", "uk"}, Headers: map[string]string{"Authorization": "Bearer feed-token-1"}},
			{URL: "https://www.example.com/uk/politics.xml", Name: "example-com-uk-politics-xml",
				Interval: Duration(5 * time.Minute), Tags: []string{"uk"}},
			{URL: "feeds/local.xml", Name: "feeds-local-xml", Interval: Duration(5 * time.Minute)},
		},
		Profiles: []Profile{
			{Name: "xinjiang", Keywords: []string{"Xinjiang", "Uyghur*", "re-education camps"}, Exclude: []string{"cricket"}},
			{Name: "trade-bill", Query: `"trade bill" AND (genocide OR amendment) NOT title:cricket`,
				Feeds: []string{"tag:uk", "world"}, Notify: []string{"team-slack", "me"}},
		},
		Notifiers: map[string]Notifier{
			"console":    {Type: "console", MaxAttempts: 10},
			"team-slack": {Type: "slack", Settings: map[string]any{"webhook_url": goodEnv["SLACK_WEBHOOK_URL"]}, MaxAttempts: 5},
			// The email package defaults port and tls (email.Spec).
			"me": {Type: "email", Settings: map[string]any{"host": "smtp.example.org", "username": "alerts",
				"password": "smtp-pass-1", "from": "feedwatch <alerts@example.org>", "to": []any{"me@example.org"}}, MaxAttempts: 10},
			"hook": {Type: "webhook", Settings: map[string]any{"url": "https://example.org/hook", "secret": "hook-secret-1"}, MaxAttempts: 10},
		},
	}
}

func TestLoadLines(t *testing.T) {
	c, err := Load(filepath.Join("testdata", "good.yaml"), envMap(goodEnv), WithChannels(testChannels...))
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{
		"watcher.interval":             10,
		"feeds[1]":                     23,
		"feeds[0].headers":             22,
		"profiles[1].notify":           33,
		"notifiers.me.password":        44,
		"profiles[1].keywords":         0,
		"notifiers.team-slack.missing": 0,
	} {
		if got := c.Line(path); got != want {
			t.Errorf("Line(%q) = %d, want %d", path, got, want)
		}
	}
	// Problems from the caller's checks get lines too, from the nearest key.
	ps := c.Validate(func(*Config) []Problem {
		return []Problem{{Path: "profiles[1].query", Msg: "bad query"}, {Path: "notifiers.me.template", Msg: "bad template"}}
	})
	got := strings.Split(ps.Error(), "\n")
	want := []string{
		"good.yaml:31: profiles[1].query: bad query",
		"good.yaml:40: notifiers.me.template: bad template",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestLoadDefaults(t *testing.T) {
	p := writeConfig(t, "feedwatch.yaml", `feeds:
  - url: https://example.org/rss
notifiers:
  m: {type: email, host: h, from: a@b, to: c@d}
  t: {type: email, host: h, from: a@b, to: c@d, tls: tls}
  n: {type: email, host: h, from: a@b, to: c@d, tls: none, port: 25, max_attempts: 1}
nats:
  creds: nats.creds
  tls_ca: /abs/ca.pem
`)
	c, err := Load(p, nil, WithVersion("1.2.3"), WithChannels(testChannels...))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(p)
	checks := []struct {
		name      string
		got, want any
	}{
		{"data_dir", c.DataDir, filepath.Join(dir, "data")},
		{"creds", c.NATS.Creds, filepath.Join(dir, "nats.creds")},
		{"tls_ca", c.NATS.TLSCA, "/abs/ca.pem"},
		{"listen", c.HTTP.Listen, "127.0.0.1:7070"},
		{"user agent", c.Watcher.UserAgent, "feedwatch/1.2.3 (+https://github.com/feedwatch/feedwatch)"},
		{"feed name", c.Feeds[0].Name, "example-org-rss"},
		{"feed interval", c.Feeds[0].Interval, Duration(5 * time.Minute)},
		// Email's port and tls defaults are its package's (email.Spec,
		// TestSpecDefaults); config keeps what the file says.
		{"email port", c.Notifiers["m"].Settings["port"], nil},
		{"explicit tls", c.Notifiers["t"].Settings["tls"], "tls"},
		{"explicit port", c.Notifiers["n"].Settings["port"], int64(25)},
		{"explicit attempts", c.Notifiers["n"].MaxAttempts, 1},
		{"default attempts", c.Notifiers["m"].MaxAttempts, 10},
		{"to as one string", c.Notifiers["m"].Settings["to"], []any{"c@d"}},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %#v, want %#v", ck.name, ck.got, ck.want)
		}
	}
	if ps := c.Validate(); ps != nil {
		t.Errorf("a loaded config validates again: %v", ps)
	}
}

func TestLoadEnvOverrides(t *testing.T) {
	p := writeConfig(t, "feedwatch.yaml", `nats:
  url: nats://file:4222
watcher:
  interval: 1m
feeds:
  - url: https://example.org/a
  - url: https://example.org/b
profiles:
  - name: x
    query: from-file
notifiers:
  team-slack:
    type: slack
    webhook_url: https://from.file/x
`)
	env := map[string]string{
		"FEEDWATCH_FEEDS_1_INTERVAL":                  "7m",
		"FEEDWATCH_FEEDS_1_NAME":                      "bee",
		"FEEDWATCH_PROFILES_0_QUERY":                  "from-env",
		"FEEDWATCH_FEEDS_5_INTERVAL":                  "1m", // no such entry: ignored
		"FEEDWATCH_NATS_URL":                          "nats://env:4222",
		"FEEDWATCH_WATCHER_INTERVAL":                  "2d",
		"FEEDWATCH_WATCHER_CONCURRENCY":               "7",
		"FEEDWATCH_WATCHER_MAX_BODY":                  "1MB",
		"FEEDWATCH_WATCHER_ALLOW_PRIVATE_REDIRECTS":   "true",
		"FEEDWATCH_DATA_DIR":                          "/var/lib/feedwatch",
		"FEEDWATCH_HTTP_LISTEN":                       "0.0.0.0:9090",
		"FEEDWATCH_NOTIFIERS_TEAM_SLACK_WEBHOOK_URL":  "https://from.env/y",
		"FEEDWATCH_NOTIFIERS_TEAM_SLACK_MAX_ATTEMPTS": "3",
		"FEEDWATCH_NOTIFIERS_NOPE_TYPE":               "console", // no such notifier: ignored
		// Keys of a struct inside a section, the section not in the file.
		"FEEDWATCH_HTTP_AUTH_USERNAME":      "ops",
		"FEEDWATCH_HTTP_AUTH_PASSWORD_HASH": "$2a$10$abcdefghijklmnopqrstuuAq3oG7j0DE1ZyHjvqE9ItSQ3OC/kOOa",
	}
	c, err := Load(p, envMap(env), WithChannels(testChannels...))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"nats.url", c.NATS.URL, "nats://env:4222"},
		{"watcher.interval", c.Watcher.Interval, Duration(48 * time.Hour)},
		{"watcher.concurrency", c.Watcher.Concurrency, 7},
		{"watcher.max_body", c.Watcher.MaxBody, Size(1 << 20)},
		{"allow_private_redirects", c.Watcher.AllowPrivate, true},
		{"data_dir", c.DataDir, "/var/lib/feedwatch"},
		{"http.listen", c.HTTP.Listen, "0.0.0.0:9090"},
		{"http.auth.username", c.HTTP.Auth.Username, "ops"},
		{"webhook_url", c.Notifiers["team-slack"].Settings["webhook_url"], "https://from.env/y"},
		{"max_attempts", c.Notifiers["team-slack"].MaxAttempts, 3},
		{"notifiers", len(c.Notifiers), 1},
		{"feeds[1].interval", c.Feeds[1].Interval, Duration(7 * time.Minute)},
		{"feeds[1].name", c.Feeds[1].Name, "bee"},
		{"feeds[0].interval", c.Feeds[0].Interval, Duration(48 * time.Hour)},
		{"profiles[0].query", c.Profiles[0].Query, "from-env"},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %#v, want %#v", ck.name, ck.got, ck.want)
		}
	}
	if got := c.Line("nats.url"); got != 0 {
		t.Errorf("a key set from the environment has no file line, got %d", got)
	}

	// A bad value from the environment names the variable.
	_, err = Load(p, envMap(map[string]string{"FEEDWATCH_WATCHER_CONCURRENCY": "lots", "FEEDWATCH_WATCHER_TIMEOUT": "0s"}), WithChannels(testChannels...))
	got := problemsOf(t, err)
	want := []string{
		"feedwatch.yaml:3: watcher.concurrency: want a whole number, got a string (set by $FEEDWATCH_WATCHER_CONCURRENCY)",
		"feedwatch.yaml:3: watcher.timeout: must be more than 0 (set by $FEEDWATCH_WATCHER_TIMEOUT)",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestEnvName(t *testing.T) {
	for path, want := range map[string]string{
		"nats.url":                   "FEEDWATCH_NATS_URL",
		"watcher.per_host":           "FEEDWATCH_WATCHER_PER_HOST",
		"data_dir":                   "FEEDWATCH_DATA_DIR",
		"notifiers.team-slack.token": "FEEDWATCH_NOTIFIERS_TEAM_SLACK_TOKEN",
	} {
		if got := EnvName(path); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestExpand(t *testing.T) {
	env := envMap(map[string]string{"A": "1", "B_2": "two", "E": ""})
	tests := []struct {
		in, want string
		missing  []string
		bad      bool
	}{
		{in: "plain", want: "plain"},
		{in: "pa$$word$", want: "pa$$word$"},
		{in: "${A}", want: "1"},
		{in: "x${A}y${B_2}z", want: "x1ytwoz"},
		{in: "$${A}", want: "${A}"},
		{in: "$$${A}", want: "$${A}"},
		{in: "${E:-dflt}", want: "dflt"},
		{in: "${A:-dflt}", want: "1"},
		{in: "${E:-}", want: ""},
		{in: "${E}${MISSING}", want: "", missing: []string{"E", "MISSING"}},
		{in: "${A", bad: true},
		{in: "${}", bad: true},
		{in: "${1A}", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, missing, bad := expand(tt.in, env)
			if (bad != "") != tt.bad {
				t.Fatalf("bad = %q, want bad %v", bad, tt.bad)
			}
			if tt.bad {
				if strings.Contains(bad, tt.in) {
					t.Errorf("reason %q quotes the value", bad)
				}
				return
			}
			if got != tt.want || !reflect.DeepEqual(missing, tt.missing) {
				t.Errorf("expand(%q) = %q, %q; want %q, %q", tt.in, got, missing, tt.want, tt.missing)
			}
		})
	}
}

func TestFind(t *testing.T) {
	exists := func(files ...string) func(string) bool {
		return func(p string) bool {
			for _, f := range files {
				if p == f {
					return true
				}
			}
			return false
		}
	}
	tests := []struct {
		name  string
		flag  string
		env   map[string]string
		files []string
		want  string
	}{
		{name: "flag wins", flag: "/x/my.yaml", env: map[string]string{"FEEDWATCH_CONFIG": "/env.yaml"}, files: []string{"./feedwatch.yaml"}, want: "/x/my.yaml"},
		{name: "then FEEDWATCH_CONFIG", env: map[string]string{"FEEDWATCH_CONFIG": "/env.yaml"}, files: []string{"./feedwatch.yaml"}, want: "/env.yaml"},
		{name: "then the working folder", env: map[string]string{"XDG_CONFIG_HOME": "/xdg"}, files: []string{"./feedwatch.yaml", "/xdg/feedwatch/feedwatch.yaml", "/etc/feedwatch/feedwatch.yaml"}, want: "./feedwatch.yaml"},
		{name: "then XDG_CONFIG_HOME", env: map[string]string{"XDG_CONFIG_HOME": "/xdg"}, files: []string{"/xdg/feedwatch/feedwatch.yaml", "/etc/feedwatch/feedwatch.yaml"}, want: "/xdg/feedwatch/feedwatch.yaml"},
		{name: "HOME/.config without XDG_CONFIG_HOME", env: map[string]string{"HOME": "/home/u"}, files: []string{"/home/u/.config/feedwatch/feedwatch.yaml"}, want: "/home/u/.config/feedwatch/feedwatch.yaml"},
		{name: "then /etc", env: map[string]string{"XDG_CONFIG_HOME": "/xdg"}, files: []string{"/etc/feedwatch/feedwatch.yaml"}, want: "/etc/feedwatch/feedwatch.yaml"},
		{name: "other extensions after yaml", files: []string{"./feedwatch.toml", "./feedwatch.json"}, want: "./feedwatch.toml"},
		{name: "yaml first in a folder", files: []string{"./feedwatch.json", "./feedwatch.yaml"}, want: "./feedwatch.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := find(tt.flag, envMap(tt.env), exists(tt.files...))
			if err != nil || got != tt.want {
				t.Errorf("find = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	_, err := find("", envMap(map[string]string{"XDG_CONFIG_HOME": "/xdg"}), exists())
	if err == nil || !strings.Contains(err.Error(), "/xdg/feedwatch/feedwatch.yaml") || !strings.Contains(err.Error(), "/etc/feedwatch/feedwatch.yaml") {
		t.Errorf("want an error naming the folders tried, got %v", err)
	}
}

func TestFindReal(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "feedwatch", "feedwatch.yaml")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("data_dir: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir()) // an empty working folder
	got, err := Find("", envMap(map[string]string{"XDG_CONFIG_HOME": dir}))
	if err != nil || got != p {
		t.Errorf("Find = %q, %v; want %q", got, err, p)
	}
}

func TestDisplayName(t *testing.T) {
	for url, want := range map[string]string{
		"https://example.org/world/rss":           "example-org-world-rss",
		"https://www.example.org/world/rss?t=1#x": "example-org-world-rss",
		"https://user:pw@example.org:8080/a.xml":  "example-org-8080-a-xml",
		"file:///srv/feeds/local.xml":             "srv-feeds-local-xml",
		"./feeds/Local Feed.xml":                  "feeds-local-feed-xml",
		"https://例え.jp/ニュース":                      "例え-jp-ニュース",
		"https://example.org/%zz":                 "example-org-zz",
	} {
		if got := (Feed{URL: url}).DisplayName(); got != want {
			t.Errorf("DisplayName(%q) = %q, want %q", url, got, want)
		}
	}
	if got := (Feed{URL: "https://x.org/", Name: "mine"}).DisplayName(); got != "mine" {
		t.Errorf("a given name wins, got %q", got)
	}
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{File: "feedwatch.yaml", Line: 12, Path: "profiles[1].keyword", Msg: `unknown key, did you mean "keywords"?`},
			`feedwatch.yaml:12: profiles[1].keyword: unknown key, did you mean "keywords"?`},
		{Problem{Line: 3, Path: "a", Msg: "m"}, "line 3: a: m"},
		{Problem{File: "f.toml", Path: "a.b", Msg: "m"}, "a.b: m"},
		{Problem{File: "f.toml", Msg: "the file is empty"}, "f.toml: the file is empty"},
		{Problem{Msg: "m"}, "m"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
	ps := Problems{tests[1].p, tests[4].p}
	if got := ps.Error(); got != "line 3: a: m\nm" {
		t.Errorf("Error() = %q", got)
	}
}

func TestValidateBuiltConfig(t *testing.T) {
	c := &Config{
		DataDir: "/d", HTTP: HTTP{Listen: ""}, NATS: NATS{Replicas: DefaultReplicas},
		Watcher: Watcher{Interval: DefaultInterval, Concurrency: 1, PerHost: 1, Timeout: DefaultTimeout,
			MaxBody: DefaultMaxBody, StateRetention: DefaultStateRetention},
		Feeds:     []Feed{{URL: "https://example.org/rss"}},
		Profiles:  []Profile{{Name: "p", Keywords: []string{"x"}, Feeds: []string{"example-org-rss"}, Notify: []string{"c"}}},
		Notifiers: map[string]Notifier{"c": {Type: "console", MaxAttempts: 1}},
	}
	if ps := c.Validate(); ps != nil {
		t.Fatalf("want no problems, got %v", ps)
	}
	if c.Line("feeds[0]") != 0 {
		t.Error("a built config has no lines")
	}
	var nilCfg *Config
	if ps := nilCfg.Validate(); len(ps) != 1 {
		t.Errorf("a nil config is one problem, got %v", ps)
	}
}

func TestWithChecks(t *testing.T) {
	p := writeConfig(t, "feedwatch.yaml", "profiles:\n  - name: a\n    query: '(x'\n    keywords: [Y]\n    keyword: [z]\n")
	check := func(c *Config) []Problem {
		return []Problem{{Path: "profiles[0].query", Msg: `unbalanced "("`}, {Path: "profiles[0].keyword", Msg: "echo"}}
	}
	_, err := Load(p, nil, WithChecks(check), WithChannels(testChannels...))
	got := problemsOf(t, err)
	want := []string{
		`feedwatch.yaml:3: profiles[0].query: unbalanced "("`,
		`feedwatch.yaml:5: profiles[0].keyword: unknown key, did you mean "keywords"?`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestLoadLinesTOML(t *testing.T) {
	c, err := Load(filepath.Join("testdata", "good.toml"), envMap(goodEnv), WithChannels(testChannels...))
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{
		"watcher.interval":      13,
		"feeds[1]":              28,
		"feeds[1].url":          29,
		"feeds[2]":              32,
		"profiles[1].notify":    44,
		"notifiers.me.password": 58,
	} {
		if got := c.Line(path); got != want {
			t.Errorf("Line(%q) = %d, want %d", path, got, want)
		}
	}
}

// allTypes is "console, slack, email or webhook" and whatever channels the
// registry adds, as problems list them.
func allTypes() string { return channelSet(testChannels).typeList("") }
