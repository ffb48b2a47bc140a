package watcher

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestPollDebugLine: --log-level debug shows each poll with its feed,
// result, new items and duration; info shows nothing per poll.
func TestPollDebugLine(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo} {
		ds := newDocServer(t, rssDoc("1|Xinjiang|https://example.org/1|"+recent(time.Hour), "2|Other|https://example.org/2|"+recent(time.Hour)))
		var logs bytes.Buffer
		h := newHarness(t, ds.srv.URL, func(o *Options) {
			o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: level}))
		})
		h.poll()
		h.clock.Add(10 * time.Minute)
		h.poll()
		out := logs.String()
		if level == slog.LevelInfo {
			if out != "" {
				t.Errorf("info logs per poll:\n%s", out)
			}
			continue
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 2 {
			t.Fatalf("%d debug lines for 2 polls:\n%s", len(lines), out)
		}
		for i, want := range []string{"result=ok new_items=2", "new_items=0"} {
			if !strings.Contains(lines[i], "msg=poll feed=f result=") || !strings.Contains(lines[i], want) || !strings.Contains(lines[i], "duration=") {
				t.Errorf("poll %d: %s\nwant feed, result, %q and duration", i+1, lines[i], want)
			}
		}
	}
}
