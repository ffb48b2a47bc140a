package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestSendTestChatChannels: send-test delivers the marked sample hit
// through telegram, matrix and mattermost notifiers of a config file (the
// chat id unquoted, as people write it), and a refusal is reported with
// the channel's error and no secret.
func TestSendTestChatChannels(t *testing.T) {
	const (
		tgToken = "4242:SendTestTelegramSecret"
		mxToken = "syt_SendTestMatrixSecret"
		mmHook  = "SendTestMattermostHook"
	)
	var mu sync.Mutex
	got := map[string]string{}
	refuse := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		got[r.Method+" "+r.URL.Path] = string(b)
		if refuse {
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"ok":false,"description":"Forbidden: bot was kicked `+r.URL.Path+`","errcode":"M_FORBIDDEN","error":"not in room"}`)
			return
		}
		switch {
		case strings.HasPrefix(r.URL.Path, "/bot"):
			_, _ = io.WriteString(w, `{"ok":true,"result":{"message_id":1}}`)
		case strings.HasPrefix(r.URL.Path, "/_matrix/"):
			_, _ = io.WriteString(w, `{"event_id":"$1"}`)
		default:
			_, _ = io.WriteString(w, "ok")
		}
	}))
	defer srv.Close()
	path := writeConfig(t, "profiles:\n  - name: a\n    keywords: [x]\nnotifiers:\n"+
		"  tg: {type: telegram, token: \""+tgToken+"\", chat_id: -1001234567, api_url: \""+srv.URL+"\"}\n"+
		"  mx: {type: matrix, homeserver: \""+srv.URL+"\", access_token: \""+mxToken+"\", room_id: \"!room:example.org\"}\n"+
		"  mm: {type: mattermost, webhook_url: \""+srv.URL+"/hooks/"+mmHook+"\"}\n")
	for _, tc := range []struct{ name, request string }{
		{"tg", "POST /bot" + tgToken + "/sendMessage"},
		{"mx", "PUT /_matrix/client/v3/rooms/!room:example.org/send/m.room.message/"},
		{"mm", "POST /hooks/" + mmHook},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, nil, "send-test", tc.name, "--config", path)
			if code != 0 || !strings.Contains(errOut, "delivered") {
				t.Fatalf("send-test %s: %d %q", tc.name, code, errOut)
			}
			mu.Lock()
			var body string
			for req, b := range got {
				if strings.HasPrefix(req, tc.request) {
					body = b
				}
			}
			mu.Unlock()
			// Mattermost shows the brackets escaped: \[feedwatch test\].
			if !strings.Contains(body, "feedwatch test") || !strings.Contains(body, "not an alert") {
				t.Errorf("%s got no marked test message: %q", tc.request, body)
			}
		})
	}
	// A second send-test is a new Matrix transaction, not a repeat the
	// homeserver would swallow.
	if code, _, errOut := runCLI(t, nil, "send-test", "mx", "--config", path); code != 0 {
		t.Fatalf("second send-test mx: %d %q", code, errOut)
	}
	mu.Lock()
	txns := 0
	for req := range got {
		if strings.HasPrefix(req, "PUT /_matrix/") {
			txns++
		}
	}
	refuse = true
	mu.Unlock()
	if txns != 2 {
		t.Errorf("two send-tests used %d Matrix transactions, want 2", txns)
	}
	for _, name := range []string{"tg", "mx", "mm"} {
		code, out, errOut := runCLI(t, nil, "send-test", name, "--config", path)
		if code == 0 || !strings.Contains(errOut, "403") {
			t.Errorf("send-test %s to a refusing server: %d %q", name, code, errOut)
		}
		for _, s := range []string{tgToken, "SendTestTelegramSecret", mxToken, mmHook} {
			if strings.Contains(out+errOut, s) {
				t.Errorf("send-test %s output leaks a secret: %q", name, errOut)
			}
		}
	}
}
