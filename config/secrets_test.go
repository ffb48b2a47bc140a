package config

import (
	"fmt"
	"strings"
	"testing"
)

// TestNoSecretInProblems loads a config full of secrets, each next to or
// inside a problem, and checks no secret value reaches any message.
func TestNoSecretInProblems(t *testing.T) {
	secrets := []string{
		"S3CRET-natsurl", "S3CRET-natspw", "S3CRET-natstoken", "S3CRET-feedurl", "S3CRET-header",
		"S3CRET-header2", "S3CRET-webhook", "S3CRET-token", "S3CRET-pass", "S3CRET-hook", "S3CRET-expanded",
		"S3CRET-envtoken", "S3CRET-envpw", "S3CRET-nested", "S3CRET-dollar", "S3CRET-listed", "S3CRET-envpath",
	}
	body := `nats:
  url: http://user:S3CRET-natsurl@host:4222
  password: [S3CRET-natspw]
  token: {t: S3CRET-natstoken}
feeds:
  - url: ftp://example.org/rss?token=S3CRET-feedurl
    headers:
      Authorization: Bearer S3CRET-header
      Bad Name: S3CRET-header2
      X-List: [S3CRET-listed]
  - url: "https://example.org/S3CRET-envpath?x"
    name: tag:bad
notifiers:
  s:
    type: slack
    webhook_url: https://hooks.slack.example/S3CRET-webhook
    token: S3CRET-token
    host: h
  m:
    type: email
    password: ${PW}
    webhook_url: S3CRET-webhook
    port: lots
  w:
    type: webhook
    secret: S3CRET-${oops
    url: [S3CRET-hook]
  x:
    type: email
    password: {nested: S3CRET-nested}
    secret: S3CRET-dollar
profiles:
  - name: Bad
    notify: [nope]
`
	env := map[string]string{
		"PW":                             "S3CRET-expanded",
		"FEEDWATCH_NATS_TOKEN":           "S3CRET-envtoken",
		"FEEDWATCH_NOTIFIERS_X_PASSWORD": "S3CRET-envpw",
	}
	// A careless check that quotes a secret is scrubbed too.
	careless := func(c *Config) []Problem {
		return []Problem{
			{Path: "notifiers.s.webhook_url", Msg: "post " + c.Notifiers["s"].Settings["webhook_url"].(string) + ": 404"},
			{Path: "notifiers.m.password", Msg: "auth failed for " + fmt.Sprint(c.Notifiers["m"].Settings["password"])},
		}
	}
	_, err := Load(writeConfig(t, "feedwatch.yaml", body), envMap(env), WithChecks(careless), WithChannels(testChannels...))
	if err == nil {
		t.Fatal("want problems")
	}
	msg := err.Error()
	if n := len(problemsOf(t, err)); n < 10 {
		t.Errorf("want many problems, got %d:\n%s", n, msg)
	}
	for _, s := range secrets {
		if strings.Contains(msg, s) {
			t.Errorf("secret %q leaked:\n%s", s, msg)
		}
	}
	if !strings.Contains(msg, "[redacted]") {
		t.Errorf("want the careless check's secrets redacted:\n%s", msg)
	}

	// Validate on a built config scrubs the same way.
	c := &Config{Notifiers: map[string]Notifier{"s": {Type: "slack", Settings: map[string]any{"webhook_url": "https://hooks/S3CRET-webhook"}}}}
	ps := c.Validate(careless)
	if strings.Contains(ps.Error(), "S3CRET") {
		t.Errorf("secret leaked from Validate: %s", ps.Error())
	}
}

// TestNoSecretInSyntaxErrors: parsers quote the text they choke on, which
// may be an unquoted secret.
func TestNoSecretInSyntaxErrors(t *testing.T) {
	for name, body := range map[string]string{
		"feedwatch.toml": "[notifiers.m]\npassword = hunter2secret\n",
		"feedwatch.yaml": "notifiers:\n  m:\n    password: \"hunter2secret\\q\"\n",
		"feedwatch.json": `{"notifiers": {"m": {"password": hunter2secret}}}`,
	} {
		_, err := Load(writeConfig(t, name, body), nil, WithChannels(testChannels...))
		if err == nil || strings.Contains(err.Error(), "hunter") {
			t.Errorf("%s: want a syntax error without the secret, got %v", name, err)
		}
	}
}

// TestURLSecrets: a feed URL keeps the values its ${VAR} references put in,
// so they can be redacted where the URL is shown.
func TestURLSecrets(t *testing.T) {
	body := `feeds:
  - url: https://example.org/${FEED_PATH}/rss?token=${FEED_TOKEN}&lang=${LANG:-en}
  - url: https://example.org/plain.xml
profiles:
  - name: p
    keywords: [x]
`
	env := map[string]string{"FEED_PATH": "path-s3cret", "FEED_TOKEN": "token-s3cret"}
	c, err := Parse("feedwatch.yaml", []byte(body), func(k string) string { return env[k] }, WithChannels(testChannels...))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(c.Feeds[0].URLSecrets, " "), "path-s3cret token-s3cret en"; got != want {
		t.Errorf("URLSecrets %q, want %q", got, want)
	}
	if len(c.Feeds[1].URLSecrets) != 0 {
		t.Errorf("URLSecrets of a plain URL: %q", c.Feeds[1].URLSecrets)
	}
}

// TestNoEscapedSecretInProblems: a part's error may quote a URL holding a
// secret in its escaped form; it is scrubbed like the raw one.
func TestNoEscapedSecretInProblems(t *testing.T) {
	body := "nats:\n  token: \"s3cret/tok en\"\nprofiles:\n  - name: p\n    keywords: [x]\n"
	quoting := func(*Config) []Problem {
		return []Problem{{Path: "nats.url", Msg: "dial nats://h/?t=s3cret%2Ftok+en and /s3cret%2Ftok%20en: refused"}}
	}
	_, err := Parse("feedwatch.yaml", []byte(body), nil, WithChecks(quoting), WithChannels(testChannels...))
	if err == nil {
		t.Fatal("want the check's problem")
	}
	if msg := err.Error(); strings.Contains(msg, "s3cret") || !strings.Contains(msg, "[redacted]") {
		t.Errorf("escaped secret not redacted: %s", msg)
	}
}
