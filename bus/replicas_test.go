package bus

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/bus/natstest"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestReplicasRefusedKeepsStreams: asking for more replicas than the
// servers can give does not stop feedwatch: every stream and bucket keeps
// its replicas, and the log says, for each, what the operator must do.
func TestReplicasRefusedKeepsStreams(t *testing.T) {
	nd := natstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := Open(ctx, Options{URL: nd.URL(), Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.PublishHit(ctx, sampleHit("h1", "p")); err != nil {
		t.Fatal(err)
	}
	b.Close()

	logs := &lockedBuffer{}
	b, err = Open(ctx, Options{URL: nd.URL(), Retention: time.Hour, Replicas: 3, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatalf("open with replicas the server cannot give: %v", err)
	}
	defer b.Close()
	if ok, err := b.Alerted(ctx, "h1"); err != nil || !ok {
		t.Errorf("alerted h1 = %v, %v after the refused change", ok, err)
	}
	for _, name := range []string{HitsStream, DeadStream, "KV_" + SeenBucket, "KV_" + FeedsBucket, "KV_" + AlertedBucket, "KV_" + LedgerBucket} {
		s, err := b.js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if r := s.CachedInfo().Config.Replicas; r != 1 {
			t.Errorf("%s has %d replicas, want 1 kept", name, r)
		}
		if want := "nats stream edit " + name + " --replicas 3"; !strings.Contains(logs.String(), want) {
			t.Errorf("log does not say %q", want)
		}
	}
}
