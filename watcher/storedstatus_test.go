package watcher

import (
	"testing"
	"time"
)

func TestStoredStatus(t *testing.T) {
	polled := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	enc := func(st feedState) []byte {
		b, err := st.encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	const cfgURL = "https://user:pw@example.org/rss?token=abc"
	const masked = "https://example.org/rss?redacted"
	tests := []struct {
		name  string
		state []byte
		want  FeedStatus
		err   bool
	}{
		{"polled", enc(feedState{ConfigURL: cfgURL, LastPoll: polled, NextDue: polled.Add(5 * time.Minute), LastResult: "ok"}),
			FeedStatus{Name: "f", URL: masked, LastPoll: polled, NextDue: polled.Add(5 * time.Minute), Result: "ok"}, false},
		{"failing", enc(feedState{ConfigURL: cfgURL, LastPoll: polled, LastResult: "http_5xx", LastError: "HTTP 503", Failures: 3}),
			FeedStatus{Name: "f", URL: masked, LastPoll: polled, Result: "http_5xx", Error: "HTTP 503", Failures: 3}, false},
		{"gone", enc(feedState{ConfigURL: cfgURL, LastPoll: polled, Gone: true}),
			FeedStatus{Name: "f", URL: masked, LastPoll: polled, Result: "gone", Gone: true}, false},
		{"moved", enc(feedState{ConfigURL: cfgURL, MovedTo: "https://example.org/feed", LastPoll: polled, LastResult: "ok"}),
			FeedStatus{Name: "f", URL: "https://example.org/feed", LastPoll: polled, Result: "ok"}, false},
		{"damaged", []byte("{not json"), FeedStatus{Name: "f"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, u, err := StoredStatus("f", tt.state)
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			if !tt.err && u != cfgURL {
				t.Errorf("config URL %q, want %q", u, cfgURL)
			}
		})
	}
}
