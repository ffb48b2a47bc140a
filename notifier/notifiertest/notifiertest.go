// Package notifiertest has helpers for engine and channel tests: an
// in-memory Queue, Ledger and Dead standing in for JetStream, an HTTP
// Receiver, checks that no secret leaks into errors or logs, and sample
// hits carrying hostile feed text.
package notifiertest

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier"
	"github.com/feedwatch/feedwatch/notifier/render"
)

// NoSecret fails t when text holds any secret, raw or URL-escaped. what
// names the text in the failure ("error", "log").
func NoSecret(t testing.TB, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s == "" {
			continue
		}
		for _, form := range []string{s, url.QueryEscape(s), url.PathEscape(s)} {
			if strings.Contains(text, form) {
				t.Errorf("%s leaks a secret (%.4s…): %s", what, s, text)
			}
		}
	}
}

// NoSecretInError is NoSecret for an error; a nil error passes.
func NoSecretInError(t testing.TB, err error, secrets ...string) {
	t.Helper()
	if err != nil {
		NoSecret(t, "error", err.Error(), secrets...)
	}
}

// HostileTitle tries to mention @channel, forge a Slack link and break
// HTML escaping.
const HostileTitle = "Xinjiang <!channel> <https://evil.example|click> & co"

// HostileSummary carries a script, an event handler, an iframe and a
// remote image.
const HostileSummary = `Report on Xinjiang <script>alert("x")</script>` +
	`<img src="https://tracker.example/pixel.gif" onerror="alert(1)">` +
	`<a href="javascript:alert(2)" onclick="steal()">read</a>` +
	`<iframe src="https://evil.example/frame"></iframe><b>bold</b>`

// HostileHit is a hit whose feed text is hostile in every field.
func HostileHit() hit.Hit {
	h := render.SampleHit(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
	h.Item.Title = HostileTitle
	h.Item.Summary = HostileSummary
	h.Feed.Title = "Evil <!here> Feed & <@U123>"
	h.Snippet = "…the «Xinjiang» <!everyone> region <script>x()</script>…"
	return h
}

// RetryAfter fails t unless err asks for a wait of at least want (a date
// rounds down as the clock moves), or for none when want is 0.
func RetryAfter(t testing.TB, err error, want time.Duration) {
	t.Helper()
	var got time.Duration
	var ra notifier.RetryAfter
	if errors.As(err, &ra) {
		got = ra.RetryAfter()
	}
	if (want == 0) != (got == 0) || got < want {
		t.Errorf("RetryAfter = %v, want %v", got, want)
	}
}
