package console

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier/notifiertest"
	"github.com/feedwatch/feedwatch/notifier/render"
)

func sample() hit.Hit {
	return render.SampleHit(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
}

func TestConsoleBlock(t *testing.T) {
	var b strings.Builder
	c, err := New(&b, "")
	if err != nil {
		t.Fatal(err)
	}
	h := sample()
	if retry, err := c.Notify(context.Background(), []hit.Hit{h, h}); err != nil || retry {
		t.Fatalf("Notify = %v, %v", retry, err)
	}
	out := b.String()
	want := "== hit xinjiang ==\n" +
		"Forced labour fears over Xinjiang cotton in global supply chains\n" +
		"https://news.example.org/world/asia/2026/xinjiang-cotton-report\n" +
		"profile xinjiang · feed Example News – World (world) · published 2026-11-28 11:13 UTC\n" +
		"\n…traces cotton picked in «Xinjiang» through spinning mills to garments sold in Europe, as campaigners say «Uyghur» workers are transferred…\n\n"
	if out != want+want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want+want)
	}
}

func TestConsoleStripsControlCharacters(t *testing.T) {
	var b strings.Builder
	c, err := New(&b, "")
	if err != nil {
		t.Fatal(err)
	}
	h := notifiertest.HostileHit()
	h.Item.Title = "Xinjiang\x1b[2J\x1b]0;pwned\x07 news\r\nfake line"
	h.Item.Link = "javascript:alert(1)"
	if _, err := c.Notify(context.Background(), []hit.Hit{h}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.ContainsAny(out, "\x1b\x07\r") || strings.Contains(out, "javascript:") {
		t.Errorf("control characters or unsafe link in output: %q", out)
	}
	if !strings.HasPrefix(out, "== hit xinjiang ==\nXinjiang[2J]0;pwned news fake line\n") {
		t.Errorf("got %q", out)
	}
}

func TestConsoleTemplate(t *testing.T) {
	var b strings.Builder
	c, err := New(&b, `{{.Profile}} | {{.Item.Title}} | {{date .Item.Published}} | {{truncate 10 .Snippet}}`)
	if err != nil {
		t.Fatal(err)
	}
	h := sample()
	h.Item.Title += "\x1b[31m"
	if _, err := c.Notify(context.Background(), []hit.Hit{h}); err != nil {
		t.Fatal(err)
	}
	want := "xinjiang | Forced labour fears over Xinjiang cotton in global supply chains[31m | 2026-11-28 11:13 UTC | …traces c…\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

func TestConsoleBadTemplate(t *testing.T) {
	for _, tmpl := range []string{"{{.Profile", "{{.Nope}}", "{{nofunc .ID}}"} {
		if _, err := New(&strings.Builder{}, tmpl); err == nil || !strings.HasPrefix(err.Error(), "template: ") {
			t.Errorf("New(%q) = %v, want a template error", tmpl, err)
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestConsoleWriteErrorRetries(t *testing.T) {
	c, err := New(failWriter{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if retry, err := c.Notify(context.Background(), []hit.Hit{sample()}); err == nil || !retry {
		t.Errorf("Notify = %v, %v; want a retryable error", retry, err)
	}
}
