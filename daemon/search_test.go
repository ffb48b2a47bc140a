package daemon

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/feedwatch/feedwatch/bus"
	"github.com/feedwatch/feedwatch/config"
)

// blockingArchive holds every read until its context ends, telling
// started when one begins.
type blockingArchive struct{ started chan struct{} }

func (blockingArchive) ArchiveInfo(context.Context) (bus.ArchiveInfo, error) {
	return bus.ArchiveInfo{Msgs: 1}, nil
}

func (a blockingArchive) ReadArchive(ctx context.Context, _ time.Time, _ func(bus.ArchiveMsg) error) error {
	a.started <- struct{}{}
	<-ctx.Done()
	return ctx.Err()
}

// TestArchiveSearchBounds: a second search while one runs is told the box
// is busy (not queued), a search that runs out of time says so, and the
// archive turned off by a reload answers off.
func TestArchiveSearchBounds(t *testing.T) {
	cfg := &config.Config{Archive: config.Archive{Retention: config.Duration(time.Hour)}}
	a := blockingArchive{started: make(chan struct{}, 1)}
	s := newArchiveSearch(a, func() *config.Config { return cfg })
	s.timeout = time.Hour // the first search ends when the test cancels it

	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := s.Search(ctx, "vote", 0, 10)
		first <- err
	}()
	<-a.started
	if _, err := s.Search(context.Background(), "vote", 0, 10); err != errSearchBusy {
		t.Errorf("second search while one runs: %v, want busy", err)
	}
	cancel()
	if err := <-first; err == nil {
		t.Error("a cancelled search reported no error")
	}

	s.timeout = time.Millisecond
	_, err := s.Search(context.Background(), "vote", 0, 10)
	<-a.started
	if err == nil || !strings.Contains(err.Error(), "ran out of time") {
		t.Errorf("search past its time: %v", err)
	}

	cfg = &config.Config{}
	if s.On() {
		t.Error("archive.retention 0: the box is on")
	}
	if _, err := s.Search(context.Background(), "vote", 0, 10); err == nil || !strings.Contains(err.Error(), "archive off") {
		t.Errorf("search with the archive off: %v", err)
	}
}
