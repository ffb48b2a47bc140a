package natstest_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedwatch/feedwatch/bus/natstest"
)

// TestClusterSurvivesNodeRestart checks the harness itself: an R3 stream
// on three nodes keeps its messages while one node is down and after it is
// back.
func TestClusterSurvivesNodeRestart(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	nc, err := nats.Connect(c.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "t.a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	c.Nodes[0].Shutdown()
	for {
		// Each try bounded: a publish sent to the leader that just went
		// away gets no answer at all, and would wait out ctx.
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := js.Publish(pctx, "t.a", []byte("2"))
		pcancel()
		if err == nil {
			break
		} else if ctx.Err() != nil {
			t.Fatalf("publish with a node down: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.Nodes[0].Restart(t)
	c.WaitMetaLeader(30 * time.Second)
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Fatalf("stream has %d messages, want 2", info.State.Msgs)
	}
}
