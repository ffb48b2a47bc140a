package watcher

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/item"
)

// rememberSink is a recSink that also takes the items a poll remembers
// without delivering.
type rememberSink struct {
	*recSink
	remembered []string
	fail       error
}

func (r *rememberSink) Remember(_ context.Context, _ item.Feed, items []item.Item) error {
	if r.fail != nil {
		return r.fail
	}
	for _, it := range items {
		r.remembered = append(r.remembered, it.Title)
	}
	return nil
}

// The items a first poll marks seen without delivering (older than
// backfill, undated) go to a Rememberer sink before they are marked seen;
// if it fails, nothing is marked and they are offered again.
func TestRememberBackfilled(t *testing.T) {
	ds := newDocServer(t, rssDoc(
		"1|new|https://example.org/1|"+recent(time.Hour),
		"2|old|https://example.org/2|"+recent(48*time.Hour),
		"3|undated|https://example.org/3|",
	))
	rs := &rememberSink{recSink: &recSink{}, fail: errBoom}
	h := newHarness(t, ds.srv.URL, func(o *Options) { o.Sink = rs })
	h.sink = rs.recSink
	h.poll()
	if len(h.seen.keys) != 0 {
		t.Fatalf("marked seen although Remember failed")
	}
	rs.fail = nil
	rs.recSink.reset()
	h.clock.Add(5 * time.Minute)
	h.poll()
	if !slices.Equal(rs.remembered, []string{"old", "undated"}) || !slices.Equal(h.sink.titles(), []string{"new"}) {
		t.Errorf("remembered %v, delivered %v", rs.remembered, h.sink.titles())
	}
}
