package telegram

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier/notifiertest"
	"github.com/feedwatch/feedwatch/notifier/render"
)

const (
	botToken = "123456789:AAHsecretTokenPartXYZ_abc-def"
	chatID   = "-1001234567890"
)

// sent is a sendMessage request as a receiver decodes it.
type sent struct {
	ChatID      json.RawMessage `json:"chat_id"`
	Text        string          `json:"text"`
	ParseMode   string          `json:"parse_mode"`
	LinkPreview *struct {
		IsDisabled bool `json:"is_disabled"`
	} `json:"link_preview_options"`
}

// newBot is a Bot API on 127.0.0.1: it checks each request's method,
// path, content type and body shape, then answers with answer (ok:true
// when nil).
func newBot(t *testing.T, answer http.HandlerFunc) (*notifiertest.Receiver, func() []sent) {
	t.Helper()
	rc := notifiertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/bot"+botToken+"/sendMessage" {
			t.Errorf("request %s %s", r.Method, r.URL.Path)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q", ct)
		}
		if answer != nil {
			answer(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true,"result":{"message_id":7,"chat":{"id":-1001234567890,"type":"supergroup"},"date":1,"text":"x"}}`)
	})
	return rc, func() []sent {
		var out []sent
		for _, r := range rc.Requests() {
			var s sent
			dec := json.NewDecoder(strings.NewReader(string(r.Body)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&s); err != nil {
				t.Fatalf("request body %s: %v", r.Body, err)
			}
			out = append(out, s)
		}
		return out
	}
}

func newTelegram(t *testing.T, rc *notifiertest.Receiver, cfg Config) *Telegram {
	t.Helper()
	cfg.Token, cfg.APIURL = botToken, rc.Server.URL
	if cfg.ChatID == "" {
		cfg.ChatID = chatID
	}
	tg, err := New(cfg, rc.Server.Client())
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func sample() hit.Hit { return render.SampleHit(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)) }

func TestTelegramPayload(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"html", Config{}, []string{
			`<b><a href="https://news.example.org/world/asia/2026/xinjiang-cotton-report">Forced labour fears over Xinjiang cotton in global supply chains</a></b>`,
			"<i>profile xinjiang · feed Example News – World (world) · published 2026-11-28 11:13 UTC</i>",
			"picked in <b>Xinjiang</b> through",
		}},
		{"text", Config{Settings: Settings{ParseMode: ModeText, LinkPreview: true}}, []string{
			"Forced labour fears over Xinjiang cotton in global supply chains\nhttps://news.example.org/world/asia/2026/xinjiang-cotton-report\n",
			"picked in «Xinjiang» through",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc, got := newBot(t, nil)
			tg := newTelegram(t, rc, tc.cfg)
			if retry, err := tg.Notify(context.Background(), []hit.Hit{sample()}); err != nil || retry {
				t.Fatalf("Notify = %v, %v", retry, err)
			}
			s := got()[0]
			if string(s.ChatID) != chatID {
				t.Errorf("chat_id = %s, want the number %s", s.ChatID, chatID)
			}
			if html := tc.cfg.ParseMode != ModeText; (s.ParseMode == "HTML") != html {
				t.Errorf("parse_mode = %q", s.ParseMode)
			}
			if (s.LinkPreview != nil && s.LinkPreview.IsDisabled) == tc.cfg.LinkPreview {
				t.Errorf("link_preview_options = %+v with link_preview %v", s.LinkPreview, tc.cfg.LinkPreview)
			}
			for _, w := range tc.want {
				if !strings.Contains(s.Text, w) {
					t.Errorf("text lacks %q:\n%s", w, s.Text)
				}
			}
		})
	}
}

func TestTelegramChannelUsername(t *testing.T) {
	rc, got := newBot(t, nil)
	tg := newTelegram(t, rc, Config{Settings: Settings{ChatID: "@feedwatch_news"}})
	if _, err := tg.Notify(context.Background(), []hit.Hit{sample()}); err != nil {
		t.Fatal(err)
	}
	if c := string(got()[0].ChatID); c != `"@feedwatch_news"` {
		t.Errorf("chat_id = %s", c)
	}
}

// TestTelegramGolden: the request body for each case, against
// testdata/golden (go test -run Golden -update rewrites it).
func TestTelegramGolden(t *testing.T) {
	three := []hit.Hit{sample(), notifiertest.ChatHostileHit(), sample()}
	three[2].Item.Title, three[2].Item.Link, three[2].Profiles = "", "", []string{"xinjiang", "trade-bill"}
	for _, tc := range []struct {
		name string
		cfg  Config
		hits []hit.Hit
	}{
		{"html-single", Config{}, []hit.Hit{sample()}},
		{"text-single", Config{Settings: Settings{ParseMode: ModeText}}, []hit.Hit{sample()}},
		{"html-hostile", Config{}, []hit.Hit{notifiertest.ChatHostileHit()}},
		{"text-hostile", Config{Settings: Settings{ParseMode: ModeText}}, []hit.Hit{notifiertest.ChatHostileHit()}},
		{"html-digest", Config{}, three},
		{"html-template", Config{Template: `{{.Snippet}} <i>{{join .Item.Categories ", "}}</i>`}, []hit.Hit{notifiertest.ChatHostileHit()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg, err := New(Config{Settings: Settings{Token: botToken, ChatID: chatID, ParseMode: tc.cfg.ParseMode}, Template: tc.cfg.Template}, nil)
			if err != nil {
				t.Fatal(err)
			}
			hits := notifiertest.GoldenHits(t, "telegram-"+tc.name, tc.hits, notifiertest.Updating())
			body, err := tg.Body(hits)
			if err != nil {
				t.Fatal(err)
			}
			notifiertest.GoldenJSON(t, "telegram-"+tc.name, body, notifiertest.Updating())
		})
	}
}

// TestTelegramHostileText: feed text mentions nobody, opens no tag, forges
// no link and hides nothing, in both modes.
func TestTelegramHostileText(t *testing.T) {
	for _, mode := range []string{ModeHTML, ModeText} {
		t.Run(mode, func(t *testing.T) {
			tg, err := New(Config{Settings: Settings{Token: botToken, ChatID: chatID, ParseMode: mode}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			text, err := tg.Text([]hit.Hit{notifiertest.ChatHostileHit()})
			if err != nil {
				t.Fatal(err)
			}
			shown := text
			if mode == ModeHTML {
				var ok bool
				if shown, ok = visible(text); !ok {
					t.Fatalf("not valid Telegram HTML:\n%s", text)
				}
				if n := strings.Count(text, "<a "); n != 1 {
					t.Errorf("%d links, want only the item's:\n%s", n, text)
				}
				if strings.Contains(text, "evil.example\"") || strings.Contains(text, "<script") {
					t.Errorf("feed markup got through:\n%s", text)
				}
			}
			checkHarmless(t, shown)
		})
	}
}

// checkHarmless fails when shown text holds a mention, a hidden or
// reversing character.
func checkHarmless(t *testing.T, shown string) {
	t.Helper()
	for _, m := range notifiertest.Mentions {
		if strings.Contains(shown, m) {
			t.Errorf("text mentions %s:\n%s", m, shown)
		}
	}
	if strings.Contains(shown, "@someuser") {
		t.Errorf("text mentions a user:\n%s", shown)
	}
	if strings.ContainsAny(strings.ReplaceAll(shown, "@"+render.ZWSP, ""), "\u202e\u202c\u200b") {
		t.Errorf("text hides or reverses characters: %q", shown)
	}
}

func TestTelegramLimits(t *testing.T) {
	tg, err := New(Config{Settings: Settings{Token: botToken, ChatID: chatID}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	long := notifiertest.LongHit()
	many := make([]hit.Hit, 40)
	for i := range many {
		many[i] = long
		many[i].Item.Link = fmt.Sprintf("https://news.example.org/%d", i)
	}
	for name, hits := range map[string][]hit.Hit{"single": {long}, "digest": many} {
		t.Run(name, func(t *testing.T) {
			text, err := tg.Text(hits)
			if err != nil {
				t.Fatal(err)
			}
			shown, ok := visible(text)
			if !ok {
				t.Fatalf("not valid Telegram HTML")
			}
			if n := len16(shown); n > MaxText {
				t.Errorf("%d UTF-16 units shown, limit %d", n, MaxText)
			}
			if !strings.Contains(text, `href="`+long.Item.Link+`"`) && !strings.Contains(text, `href="https://news.example.org/0"`) {
				t.Errorf("the link was cut")
			}
			if name == "digest" && !strings.Contains(shown, "more") {
				t.Errorf("digest does not say how many hits it left out")
			}
		})
	}
}

func TestTelegramFailures(t *testing.T) {
	tests := []struct {
		name      string
		answer    http.HandlerFunc
		retry     bool
		wait      time.Duration
		errSubstr string
	}{
		{"429 with retry_after in body and header", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}`)
		}, true, 7 * time.Second, "status 429"},
		{"429 with Retry-After only", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "5")
			w.WriteHeader(http.StatusTooManyRequests)
		}, true, 5 * time.Second, "status 429"},
		{"502", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
			_, _ = io.WriteString(w, "<html>bad gateway</html>")
		}, true, 0, "status 502"},
		{"400 chat not found", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}`)
		}, false, 0, "chat not found"},
		{"400 migrated", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-1009876}}`)
		}, false, 0, "set chat_id to -1009876"},
		{"401 echoing the token", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"ok":false,"error_code":401,"description":"Unauthorized %s"}`, r.URL.Path)
		}, false, 0, "status 401"},
		{"403 blocked", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"ok":false,"error_code":403,"description":"Forbidden: bot was kicked from the supergroup chat"}`)
		}, false, 0, "kicked"},
		{"200 not ok", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, `<html>captive portal</html>`)
		}, true, 0, "without ok"},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere"+r.URL.Path, http.StatusFound)
		}, false, 0, "status 302"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, _ := newBot(t, tt.answer)
			tg := newTelegram(t, rc, Config{})
			retry, err := tg.Notify(context.Background(), []hit.Hit{sample()})
			if err == nil || retry != tt.retry {
				t.Fatalf("Notify = %v, %v; want retry %v and an error", retry, err, tt.retry)
			}
			if !strings.Contains(err.Error(), tt.errSubstr) || !strings.Contains(err.Error(), "telegram to chat "+chatID) {
				t.Errorf("error %q lacks %q", err, tt.errSubstr)
			}
			notifiertest.RetryAfter(t, err, tt.wait)
			notifiertest.NoSecretInError(t, err, botToken, "AAHsecretTokenPartXYZ_abc-def")
			if n := len(rc.Requests()); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

func TestTelegramTransportErrorHidesToken(t *testing.T) {
	rc, _ := newBot(t, nil)
	tg := newTelegram(t, rc, Config{})
	rc.Server.Close()
	retry, err := tg.Notify(context.Background(), []hit.Hit{sample()})
	if err == nil || !retry {
		t.Fatalf("Notify = %v, %v; want a retryable error", retry, err)
	}
	notifiertest.NoSecretInError(t, err, botToken, "AAHsecretTokenPartXYZ_abc-def")
	t.Log(err)
}

func TestTelegramCheck(t *testing.T) {
	spec := Spec()
	for _, tc := range []struct {
		name string
		s    Settings
		tmpl string
		want []string
	}{
		{"empty", Settings{}, "", []string{"token: required", "chat_id: required"}},
		{"bad", Settings{Token: "not a token " + botToken, ChatID: "news", APIURL: "api.telegram.org", ParseMode: "markdown"}, "",
			[]string{"token: not a bot token", `chat_id: "news" is neither`, "api_url: not an absolute", `parse_mode: "markdown"`}},
		{"good", Settings{Token: botToken, ChatID: "@my_channel"}, "", nil},
		{"bad html template", Settings{Token: botToken, ChatID: "42"}, "<script>{{.Snippet}}</script>", []string{"template: output for the sample hit is not Telegram HTML"}},
		{"unbalanced html template", Settings{Token: botToken, ChatID: "42"}, "<b>{{.Snippet}}", []string{"template: output for the sample hit is not Telegram HTML"}},
		{"text template may hold anything", Settings{Token: botToken, ChatID: "42", ParseMode: ModeText}, "<b>{{.Snippet}} & co", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.s
			spec.Defaults(&s)
			errs := spec.Check(s, notifierCommon(tc.tmpl))
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
				notifiertest.NoSecret(t, "check error", e.Error(), botToken)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("Check = %q, want %q", got, tc.want)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("error %d = %q, want %q…", i, got[i], w)
				}
			}
		})
	}
}

// TestTelegramTemplateFallsBack: a template whose HTML passed the check on
// the sample hit but is not Telegram HTML for another hit is sent as its
// text (tags dropped, escaped), instead of a message the Bot API would refuse for good.
func TestTelegramTemplateFallsBack(t *testing.T) {
	tg, err := New(Config{Settings: Settings{Token: botToken, ChatID: chatID}, Template: `{{if not .Item.Authors}}<b>{{end}}by nobody: {{.Item.Title}}`}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := sample()
	h.Item.Authors = nil
	text, err := tg.Text([]hit.Hit{h})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := visible(text); !ok || !strings.Contains(text, "\n\nby nobody: Forced") {
		t.Errorf("text:\n%s", text)
	}
}
