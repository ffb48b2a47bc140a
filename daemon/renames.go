package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/feedwatch/feedwatch/watcher"
)

// recordAliases makes, once per store, the alias records (watcher/rename.go:
// which names were polled at a URL) of the feed states written before
// they existed, so that a feed renamed in the same restart as the upgrade
// adopts its former name's state too. The watcher would write them only at
// each feed's first save. It runs before the watcher starts; a failure is
// logged and tried again at the next start.
func (d *daemon) recordAliases(ctx context.Context) error {
	st := d.bus.FeedState()
	if b, err := st.Load(ctx, watcher.AliasesRecorded); err != nil {
		return err
	} else if len(b) > 0 {
		return nil
	}
	type missing struct{ name, url string }
	var todo []missing
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	err := d.bus.WatchFeedStates(wctx, func(feed string, state []byte) {
		if watcher.IsAliasName(feed) {
			return
		}
		for _, u := range watcher.MissingAliases(state) {
			todo = append(todo, missing{feed, u})
		}
	}, stop)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	started := time.Now()
	for _, m := range todo {
		if err := watcher.WriteAlias(ctx, st, m.name, m.url); err != nil {
			return fmt.Errorf("record feed %q by url: %w", m.name, err)
		}
	}
	if err := st.Save(ctx, watcher.AliasesRecorded, []byte(`{"v":1}`)); err != nil && !errors.Is(err, watcher.ErrStateChanged) {
		return err // changed: another process of the deployment did it too
	}
	if len(todo) > 0 {
		d.log.Info("recorded the names of the stored feeds by url, once, so that a renamed feed keeps its state",
			"records", len(todo), "took", time.Since(started).Round(time.Millisecond))
	}
	return nil
}
