package watcher

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestFetchLeavesNoConnection: Fetch (feedwatch match, FuzzFetchParse)
// builds a client per call; each call's connection must close with it.
// They stayed idle for a minute, with their goroutines and descriptors, so
// FuzzFetchParse ran out of descriptors after ~10,000 calls and stalled on
// timeouts.
func TestFetchLeavesNoConnection(t *testing.T) {
	var open atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`<rss version="2.0"><channel><title>t</title><item><guid>1</guid></item></channel></rss>`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	srv.Start()
	defer srv.Close()
	opts := testOptions(Options{})
	for range 20 {
		if _, _, err := Fetch(context.Background(), srv.URL, opts); err != nil {
			t.Fatal(err)
		}
	}
	// The server sees each close a moment after the client: wait for it
	// (a liveness bound, far above the milliseconds it takes).
	for deadline := time.Now().Add(10 * time.Second); open.Load() != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still open after 20 fetches", open.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
