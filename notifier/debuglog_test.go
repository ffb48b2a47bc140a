package notifier_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier"
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

// TestDeliveryDebugLine: --log-level debug shows each delivery (notifier,
// hit, result, duration); info shows nothing for a delivery that works.
func TestDeliveryDebugLine(t *testing.T) {
	bad := testHit(1).ID
	n := notifierFunc(func(_ context.Context, hits []hit.Hit) (bool, error) {
		if hits[0].ID == bad {
			return false, errors.New("status 400")
		}
		return false, nil
	})
	for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo} {
		var logs lockedBuffer
		h := start(t, n, func(o *notifier.EngineOptions) {
			o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: level}))
		}, func(h *harness) {
			h.q.AddHit(testHit(0))
		})
		waitFor(t, "acked", h.q.Settled)
		h.stop(t)
		out := logs.String()
		if level == slog.LevelInfo {
			if strings.Contains(out, "delivery") || strings.Contains(out, testHit(0).ID) {
				t.Errorf("info logs a delivery:\n%s", out)
			}
			continue
		}
		want := "msg=delivery notifier=hook hit=" + testHit(0).ID + " result=delivered duration="
		if !strings.Contains(out, want) {
			t.Errorf("no debug line %q in:\n%s", want, out)
		}
	}

	// A failure says so, with the channel's error.
	var logs lockedBuffer
	h := start(t, n, func(o *notifier.EngineOptions) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}, func(h *harness) { h.q.AddHit(testHit(1)) })
	waitFor(t, "dead-lettered", h.q.Settled)
	h.stop(t)
	if want := "msg=delivery notifier=hook hit=" + bad + " result=failed"; !strings.Contains(logs.String(), want) || !strings.Contains(logs.String(), `error="status 400"`) {
		t.Errorf("no debug line %q with the error in:\n%s", want, logs.String())
	}
}
