package daemon

import (
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/watcher"
)

func TestWatcherOptionsBackfill(t *testing.T) {
	for _, tc := range []struct {
		set  time.Duration
		want time.Duration
	}{
		{24 * time.Hour, 24 * time.Hour},
		{0, watcher.BackfillNone}, // explicit 0s: nothing old alerts, not the 24h default
	} {
		cfg := &config.Config{Watcher: config.Watcher{Backfill: config.Duration(tc.set)}}
		if got := watcherOptions(cfg, nil, nil, nil, nil).Backfill; got != tc.want {
			t.Errorf("backfill %v -> %v, want %v", tc.set, got, tc.want)
		}
	}
}
