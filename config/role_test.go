package config

import (
	"errors"
	"strings"
	"testing"
)

// splitConfig is a config whose feed headers and notifiers each need a
// secret that only one process of a split deployment uses.
const splitConfig = `data_dir: ./data
feeds:
  - url: https://example.org/rss
    headers: {Authorization: "Bearer ${FEED_TOKEN}"}
profiles:
  - name: a
    keywords: [x]
notifiers:
  team-slack:
    type: slack
    webhook_url: ${SLACK_WEBHOOK_URL}
  me:
    type: webhook
    url: https://example.org/hook
    secret: "${HOOK_SECRET:-}"
`

func TestRoleNeedsOnlyItsSecrets(t *testing.T) {
	tests := []struct {
		role     Role
		env      map[string]string
		wantErr  []string // substrings of the error, "" for none
		wantWarn []string
	}{
		{RoleRun, nil, []string{"FEED_TOKEN is not set", "SLACK_WEBHOOK_URL is not set"}, nil},
		{RoleWatch, map[string]string{"FEED_TOKEN": "t"}, nil, []string{"notifiers.team-slack.webhook_url: environment variable SLACK_WEBHOOK_URL is not set or empty; ignored because feedwatch watch does not use this key"}},
		{RoleWatch, nil, []string{"FEED_TOKEN is not set"}, nil},
		{RoleNotify, map[string]string{"SLACK_WEBHOOK_URL": "https://hooks.example.org/x"}, nil, []string{"feeds[0].headers.Authorization: environment variable FEED_TOKEN"}},
		{RoleNotify, nil, []string{"SLACK_WEBHOOK_URL is not set"}, nil},
		{RoleMatch, nil, nil, []string{"FEED_TOKEN", "SLACK_WEBHOOK_URL"}},
		{RoleCheck, nil, nil, []string{"warning: feeds[0].headers.Authorization: environment variable FEED_TOKEN is not set or empty; the processes that use this key will refuse to start", "SLACK_WEBHOOK_URL"}},
		// Set to the empty string is accepted by ${NAME:-}, like unset.
		{RoleRun, map[string]string{"FEED_TOKEN": "t", "SLACK_WEBHOOK_URL": "https://hooks.example.org/x", "HOOK_SECRET": ""}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(string(tt.role), func(t *testing.T) {
			c, err := Parse("feedwatch.yaml", []byte(splitConfig), envMap(tt.env), WithRole(tt.role), WithChannels(testChannels...))
			if len(tt.wantErr) > 0 {
				var ps Problems
				if !errors.As(err, &ps) {
					t.Fatalf("want problems, got %v", err)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error lacks %q:\n%v", w, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("%s refused the config:\n%v", tt.role, err)
			}
			got := c.Warnings.Error()
			for _, w := range tt.wantWarn {
				if !strings.Contains(got, w) {
					t.Errorf("warnings lack %q:\n%s", w, got)
				}
			}
			if len(tt.wantWarn) == 0 && len(c.Warnings) > 0 {
				t.Errorf("unexpected warnings:\n%s", got)
			}
			// A value left unresolved is not judged further: no
			// "webhook_url: required" after the warning.
			if strings.Contains(got, "required") {
				t.Errorf("an unresolved value was judged:\n%s", got)
			}
		})
	}
}

func TestUnknownFeedwatchVariable(t *testing.T) {
	environ := []string{
		"FEEDWATCH_NATS_ULR=nats://x:4222",         // typo of a section key
		"FEEDWATCH_NOTIFIERS_ME_SECRT=s",           // typo of a notifier key
		"FEEDWATCH_NATS_URL=nats://127.0.0.1:4222", // known
		"FEEDWATCH_CONFIG=/etc/feedwatch/feedwatch.yaml",
		"FEEDWATCH_BENCH_FEEDS=10",
		"PATH=/bin",
	}
	env := map[string]string{"FEED_TOKEN": "t", "SLACK_WEBHOOK_URL": "https://hooks.example.org/x"}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	c, err := Parse("feedwatch.yaml", []byte(splitConfig), envMap(env), WithEnviron(environ), WithChannels(testChannels...))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"feedwatch.yaml: warning: environment variable FEEDWATCH_NATS_ULR sets no key, did you mean FEEDWATCH_NATS_URL?",
		"feedwatch.yaml: warning: environment variable FEEDWATCH_NOTIFIERS_ME_SECRT sets no key, did you mean FEEDWATCH_NOTIFIERS_ME_SECRET?",
	}
	if got := c.Warnings.Error(); got != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

// TestReadOnlyRolesWarnOnNotifierChecks: a notifier problem found by a
// check (a template that does not parse) stops the daemon's roles, but is
// only a warning for the commands that send nothing.
func TestReadOnlyRolesWarnOnNotifierChecks(t *testing.T) {
	badTemplate := func(*Config) []Problem {
		return []Problem{{Path: "notifiers.me.template", Msg: "line 1: unexpected }}"}}
	}
	env := map[string]string{"FEED_TOKEN": "t", "SLACK_WEBHOOK_URL": "https://hooks.example.org/x"}
	getenv := func(k string) string { return env[k] }
	for _, tc := range []struct {
		role Role
		fail bool
	}{
		{RoleRun, true}, {RoleNotify, true}, {RoleCheck, true}, {RoleWatch, true},
		{RoleBacktest, false}, {RoleDead, false}, {RoleMatch, false},
	} {
		c, err := Parse("feedwatch.yaml", []byte(splitConfig), getenv, WithRole(tc.role), WithChannels(testChannels...), WithChecks(badTemplate))
		if tc.fail {
			if err == nil || !strings.Contains(err.Error(), "notifiers.me.template") {
				t.Errorf("%s: want the template error, got %v", tc.role, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.role, err)
			continue
		}
		if len(c.Warnings) != 1 || !c.Warnings[0].Warning || !strings.Contains(c.Warnings[0].Msg, "does not use this key") {
			t.Errorf("%s: warnings %+v", tc.role, c.Warnings)
		}
	}
}
