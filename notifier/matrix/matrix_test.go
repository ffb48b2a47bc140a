package matrix

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier"
	"github.com/feedwatch/feedwatch/notifier/notifiertest"
	"github.com/feedwatch/feedwatch/notifier/render"
)

const (
	accessToken = "syt_ZmVlZHdhdGNo_LeakyMatrixAccessToken_1a2b3c"
	roomID      = "!AbCdEfGh:example.org"
	sendPrefix  = "/_matrix/client/v3/rooms/" + roomID + "/send/m.room.message/"
)

// event is what the homeserver stored for one transaction id.
type event struct {
	txn     string
	content map[string]any
}

// homeserver is a fake Matrix homeserver on 127.0.0.1 that checks each
// send against the client-server API and, like a real one, stores one
// event per transaction id: a repeated PUT answers with the first event.
// fail, when set, may answer instead; stored says whether the event was
// kept first (an answer lost after the post).
type homeserver struct {
	*notifiertest.Receiver
	mu     sync.Mutex
	events []event
	byTxn  map[string]string
	// refuse, when set, may answer before the event is stored (a send
	// that never reached the homeserver).
	refuse func(w http.ResponseWriter) bool
}

func newHomeserver(t *testing.T, fail func(w http.ResponseWriter, r *http.Request, stored bool) bool) *homeserver {
	t.Helper()
	hs := &homeserver{byTxn: map[string]string{}}
	hs.Receiver = notifiertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut || !strings.HasPrefix(r.URL.Path, sendPrefix) {
			t.Errorf("request %s %s", r.Method, r.URL.Path)
			http.NotFound(w, r)
			return
		}
		if got := r.Header.Get("Authorization"); got != "Bearer "+accessToken {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"errcode":"M_MISSING_TOKEN","error":"Missing access token"}`)
			return
		}
		txn := strings.TrimPrefix(r.URL.Path, sendPrefix)
		var content map[string]any
		if err := json.NewDecoder(r.Body).Decode(&content); err != nil {
			t.Errorf("body is not JSON: %v", err)
		}
		checkContent(t, content)
		hs.mu.Lock()
		if hs.refuse != nil && hs.refuse(w) {
			hs.mu.Unlock()
			return
		}
		id, seen := hs.byTxn[txn]
		if !seen {
			id = fmt.Sprintf("$event%d", len(hs.events))
			hs.byTxn[txn] = id
			hs.events = append(hs.events, event{txn: txn, content: content})
		}
		hs.mu.Unlock()
		if fail != nil && fail(w, r, true) {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"event_id":%q}`, id)
	})
	return hs
}

// checkContent holds an event's content to the m.room.message m.notice
// shape with an HTML body and no mentions.
func checkContent(t *testing.T, c map[string]any) {
	t.Helper()
	if c["msgtype"] != "m.notice" || c["format"] != "org.matrix.custom.html" {
		t.Errorf("msgtype %v, format %v", c["msgtype"], c["format"])
	}
	for _, k := range []string{"body", "formatted_body"} {
		if s, ok := c[k].(string); !ok || s == "" {
			t.Errorf("%s missing or empty", k)
		}
	}
	if m, ok := c["m.mentions"].(map[string]any); !ok || len(m) != 0 {
		t.Errorf("m.mentions = %v, want {}", c["m.mentions"])
	}
	for k := range c {
		switch k {
		case "msgtype", "body", "format", "formatted_body", "m.mentions":
		default:
			t.Errorf("unexpected key %q", k)
		}
	}
}

func (hs *homeserver) stored() []event {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return append([]event(nil), hs.events...)
}

func newMatrix(t *testing.T, hs *homeserver, cfg Config) *Matrix {
	t.Helper()
	cfg.Homeserver, cfg.AccessToken, cfg.RoomID = hs.Server.URL, accessToken, roomID
	if cfg.Name == "" {
		cfg.Name = "team-matrix"
	}
	m, err := New(cfg, hs.Server.Client())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sample() hit.Hit { return render.SampleHit(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)) }

func TestMatrixEvent(t *testing.T) {
	hs := newHomeserver(t, nil)
	m := newMatrix(t, hs, Config{})
	if retry, err := m.Notify(context.Background(), []hit.Hit{sample()}); err != nil || retry {
		t.Fatalf("Notify = %v, %v", retry, err)
	}
	evs := hs.stored()
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	if evs[0].txn != m.TxnID([]hit.Hit{sample()}) || !strings.HasPrefix(evs[0].txn, "feedwatch-") {
		t.Errorf("txn id %q", evs[0].txn)
	}
	body, html := evs[0].content["body"].(string), evs[0].content["formatted_body"].(string)
	for _, w := range []string{"Forced labour fears over Xinjiang cotton in global supply chains\nhttps://news.example.org/world/asia/2026/xinjiang-cotton-report\nprofile xinjiang", "picked in «Xinjiang» through"} {
		if !strings.Contains(body, w) {
			t.Errorf("body lacks %q:\n%s", w, body)
		}
	}
	for _, w := range []string{`<b><a href="https://news.example.org/world/asia/2026/xinjiang-cotton-report">Forced labour`, "picked in <b>Xinjiang</b> through"} {
		if !strings.Contains(html, w) {
			t.Errorf("formatted_body lacks %q:\n%s", w, html)
		}
	}
}

func TestMatrixTxnID(t *testing.T) {
	a, b := sample(), sample()
	b.ID = "other"
	mk := func(name, room string) *Matrix {
		m, err := New(Config{Settings: Settings{Homeserver: "https://hs.example.org", AccessToken: accessToken, RoomID: room}, Name: name}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := mk("n", roomID)
	id := m.TxnID([]hit.Hit{a, b})
	if id != m.TxnID([]hit.Hit{b, a}) {
		t.Errorf("the order of a digest's hits changes its txn id")
	}
	for name, other := range map[string]string{
		"one hit less":   m.TxnID([]hit.Hit{a}),
		"other notifier": mk("n2", roomID).TxnID([]hit.Hit{a, b}),
		"other room":     mk("n", "!Zz:example.org").TxnID([]hit.Hit{a, b}),
	} {
		if other == id {
			t.Errorf("%s: same txn id", name)
		}
	}
}

// TestMatrixRetryPostsOnce: the homeserver stores the event but the answer
// is lost (a 502 from a proxy); the engine retries, the retry reuses the
// transaction id, and the room shows one message.
func TestMatrixRetryPostsOnce(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	hs := newHomeserver(t, func(w http.ResponseWriter, _ *http.Request, _ bool) bool {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			w.WriteHeader(http.StatusBadGateway)
			return true
		}
		return false
	})
	m := newMatrix(t, hs, Config{})
	q, dead := notifiertest.NewQueue(), &notifiertest.Dead{}
	rec := q.AddHit(sample())
	eng, err := notifier.NewEngine(notifier.EngineOptions{
		Name: "team-matrix", Notifier: m, Source: q, Ledger: &notifiertest.Ledger{}, Dead: dead,
		BaseBackoff: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for !q.Settled() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if r := q.Snapshot(rec); !r.Acked || r.Delivered != 2 {
		t.Fatalf("hit: acked %v after %d deliveries, want acked after 2", r.Acked, r.Delivered)
	}
	reqs := hs.Requests()
	if len(reqs) != 2 || reqs[0].Path != reqs[1].Path {
		t.Fatalf("want 2 PUTs to one transaction, got %d: %v", len(reqs), reqs)
	}
	if n := len(hs.stored()); n != 1 {
		t.Errorf("the room shows %d messages, want 1", n)
	}
}

func TestMatrixGolden(t *testing.T) {
	three := []hit.Hit{sample(), notifiertest.ChatHostileHit(), sample()}
	three[2].ID, three[2].Item.Title, three[2].Item.Link, three[2].Profiles = "third", "", "", []string{"xinjiang", "trade-bill"}
	for _, tc := range []struct {
		name string
		tmpl string
		hits []hit.Hit
	}{
		{"single", "", []hit.Hit{sample()}},
		{"hostile", "", []hit.Hit{notifiertest.ChatHostileHit()}},
		{"digest", "", three},
		{"template", "{{.Item.Title}} by {{join .Item.Authors \", \"}}\n{{.Snippet}}", []hit.Hit{notifiertest.ChatHostileHit()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(Config{Settings: Settings{Homeserver: "https://hs.example.org", AccessToken: accessToken, RoomID: roomID}, Template: tc.tmpl}, nil)
			if err != nil {
				t.Fatal(err)
			}
			hits := notifiertest.GoldenHits(t, "matrix-"+tc.name, tc.hits, notifiertest.Updating())
			body, err := m.Body(hits)
			if err != nil {
				t.Fatal(err)
			}
			notifiertest.GoldenJSON(t, "matrix-"+tc.name, body, notifiertest.Updating())
		})
	}
}

// TestMatrixHostileText: feed text neither mentions, nor adds markup or
// links, nor hides or reverses text, in body or formatted_body.
func TestMatrixHostileText(t *testing.T) {
	m, err := New(Config{Settings: Settings{Homeserver: "https://hs.example.org", AccessToken: accessToken, RoomID: roomID}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, hits := range map[string][]hit.Hit{"single": {notifiertest.ChatHostileHit()}, "digest": {notifiertest.ChatHostileHit(), notifiertest.HostileHit()}} {
		t.Run(name, func(t *testing.T) {
			c, err := m.Content(hits)
			if err != nil {
				t.Fatal(err)
			}
			checkHarmless(t, c, len(hits))
		})
	}
}

func checkHarmless(t *testing.T, c Content, links int) {
	t.Helper()
	for _, s := range []string{c.Body, c.FormattedBody} {
		for _, m := range append(notifiertest.Mentions, "@someuser") {
			if strings.Contains(s, m) {
				t.Errorf("mentions %s: %q", m, s)
			}
		}
		if strings.ContainsAny(strings.ReplaceAll(s, "@"+render.ZWSP, ""), "\u202e\u202c\u200b") {
			t.Errorf("hides or reverses text: %q", s)
		}
	}
	if n := strings.Count(c.FormattedBody, "<a "); n > links {
		t.Errorf("%d links in formatted_body: %s", n, c.FormattedBody)
	}
	for _, bad := range []string{"<script", "<img", "<iframe", `href="https://evil`, "<a href=\"javascript"} {
		if strings.Contains(c.FormattedBody, bad) {
			t.Errorf("formatted_body holds %s: %s", bad, c.FormattedBody)
		}
	}
	if !validHTML(c.FormattedBody) {
		t.Errorf("formatted_body has tags beyond b, i, a, p, br: %s", c.FormattedBody)
	}
}

func TestMatrixLimits(t *testing.T) {
	m, err := New(Config{Settings: Settings{Homeserver: "https://hs.example.org", AccessToken: accessToken, RoomID: roomID}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	long := notifiertest.LongHit()
	many := make([]hit.Hit, 400)
	for i := range many {
		many[i] = long
		many[i].Item.Link = fmt.Sprintf("https://news.example.org/%d", i)
	}
	for name, hits := range map[string][]hit.Hit{"single": {long}, "digest": many} {
		t.Run(name, func(t *testing.T) {
			b, err := m.Body(hits)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) > 60000 {
				t.Errorf("event content of %d bytes", len(b))
			}
			var c Content
			if err := json.Unmarshal(b, &c); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(c.FormattedBody, `href="`+hits[0].Item.Link+`"`) || !strings.Contains(c.Body, hits[0].Item.Link) {
				t.Errorf("the link was cut")
			}
			if name == "digest" && !strings.Contains(string(b), "more") {
				t.Errorf("a digest that does not fit does not say how many it left out")
			}
		})
	}
}

func TestMatrixFailures(t *testing.T) {
	tests := []struct {
		name   string
		answer func(w http.ResponseWriter, r *http.Request, stored bool) bool
		retry  bool
		wait   time.Duration
		substr string
	}{
		{"429 retry_after_ms and Retry-After", func(w http.ResponseWriter, _ *http.Request, _ bool) bool {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"errcode":"M_LIMIT_EXCEEDED","error":"Too many requests","retry_after_ms":6500}`)
			return true
		}, true, 6500 * time.Millisecond, "M_LIMIT_EXCEEDED"},
		{"429 Retry-After only", func(w http.ResponseWriter, _ *http.Request, _ bool) bool {
			w.Header().Set("Retry-After", "4")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"errcode":"M_LIMIT_EXCEEDED","error":"Too many requests"}`)
			return true
		}, true, 4 * time.Second, "status 429"},
		{"500", func(w http.ResponseWriter, _ *http.Request, _ bool) bool {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"errcode":"M_UNKNOWN","error":"Internal server error"}`)
			return true
		}, true, 0, "status 500"},
		{"403 not in room", func(w http.ResponseWriter, _ *http.Request, _ bool) bool {
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"errcode":"M_FORBIDDEN","error":"User @bot:example.org not in room"}`)
			return true
		}, false, 0, "M_FORBIDDEN"},
		{"401 echoing the token", func(w http.ResponseWriter, r *http.Request, _ bool) bool {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"errcode":"M_UNKNOWN_TOKEN","error":"Unknown token %s"}`, r.Header.Get("Authorization"))
			return true
		}, false, 0, "M_UNKNOWN_TOKEN"},
		{"200 without event id", func(w http.ResponseWriter, _ *http.Request, _ bool) bool {
			_, _ = io.WriteString(w, `<html>login</html>`)
			return true
		}, true, 0, "without an event id"},
		{"redirect", func(w http.ResponseWriter, r *http.Request, _ bool) bool {
			http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
			return true
		}, false, 0, "status 307"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHomeserver(t, tt.answer)
			m := newMatrix(t, hs, Config{})
			retry, err := m.Notify(context.Background(), []hit.Hit{sample()})
			if err == nil || retry != tt.retry {
				t.Fatalf("Notify = %v, %v; want retry %v and an error", retry, err, tt.retry)
			}
			if !strings.Contains(err.Error(), tt.substr) || !strings.HasPrefix(err.Error(), "matrix to room "+roomID+": ") {
				t.Errorf("error %q lacks %q", err, tt.substr)
			}
			notifiertest.RetryAfter(t, err, tt.wait)
			notifiertest.NoSecretInError(t, err, accessToken)
		})
	}
}

func TestMatrixTransportError(t *testing.T) {
	hs := newHomeserver(t, nil)
	m := newMatrix(t, hs, Config{})
	hs.Server.Close()
	retry, err := m.Notify(context.Background(), []hit.Hit{sample()})
	if err == nil || !retry {
		t.Fatalf("Notify = %v, %v; want a retryable error", retry, err)
	}
	notifiertest.NoSecretInError(t, err, accessToken)
}

func TestMatrixCheck(t *testing.T) {
	spec := Spec()
	for _, tc := range []struct {
		name string
		s    Settings
		tmpl string
		want []string
	}{
		{"empty", Settings{}, "", []string{"homeserver: required", "access_token: required", "room_id: required"}},
		{"alias", Settings{Homeserver: "https://hs.example.org", AccessToken: accessToken, RoomID: "#news:example.org"}, "", []string{`room_id: "#news:example.org" is a room alias`}},
		{"bad", Settings{Homeserver: "matrix.org", AccessToken: accessToken, RoomID: "!nocolon"}, "{{.Nope}}", []string{"homeserver: not an absolute", `room_id: "!nocolon" is not a room id`, "template: "}},
		{"good", Settings{Homeserver: "https://hs.example.org/", AccessToken: accessToken, RoomID: roomID}, "{{.Item.Title}}", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := spec.Check(tc.s, notifier.Common{Template: tc.tmpl})
			if len(errs) != len(tc.want) {
				t.Fatalf("Check = %v, want %q", errs, tc.want)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(errs[i].Error(), w) {
					t.Errorf("error %d = %q, want %q…", i, errs[i], w)
				}
				notifiertest.NoSecret(t, "check error", errs[i].Error(), accessToken)
			}
		})
	}
}
