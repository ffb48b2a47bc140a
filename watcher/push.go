package watcher

import (
	"container/heap"
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/feedwatch/feedwatch/feedurl"
	"github.com/feedwatch/feedwatch/item"
	"github.com/feedwatch/feedwatch/watcher/fetch"
)

// HubObserver learns about WebSub hubs (package websub implements it).
type HubObserver interface {
	// Found is shown every fetched document of a feed (src is the URL
	// fetched, links its Link header values); it must not keep body.
	Found(feed, src string, links []string, body []byte)
	// Interval returns the poll interval of feed, given its normal one.
	Interval(feed string, normal time.Duration) time.Duration
}

// pushReq is a pushed document for a feed, or, with poll set, a request
// to poll the feed now.
type pushReq struct {
	feed, contentType string
	body              []byte
	poll              bool
	// retry: a fetched document whose delivery failed, offered again
	// (retryDelivery); not a WebSub push, so not counted as one.
	retry bool
}

// pushBudget bounds the bytes of pushed documents waiting or in work, in
// units of MaxBody: a flood of pushes cannot take more memory than a few
// polls.
const pushBudget = 4

// Errors of Push.
var (
	ErrPushBusy       = errors.New("too many pushed documents waiting")
	ErrNotRunning     = errors.New("watcher not running")
	errPushNotWatched = errors.New("feed not watched here")
)

// Push hands the watcher a document pushed for feed (WebSub content
// distribution). It is handled on the feed's own path, never beside a
// poll or another push of the same feed, exactly as a polled document:
// same parsing limits, identity keys, seen-state and backfill. Push does
// not wait for it; it takes ownership of body.
func (w *Watcher) Push(feed string, body []byte, contentType string) error {
	return w.push(pushReq{feed: feed, contentType: contentType, body: body})
}

func (w *Watcher) push(p pushReq) error {
	w.mu.Lock()
	switch {
	case !w.running:
		w.mu.Unlock()
		return ErrNotRunning
	case w.pushBytes+int64(len(p.body)) > pushBudget*w.lim.Load().maxBody:
		w.mu.Unlock()
		return ErrPushBusy
	}
	w.pushBytes += int64(len(p.body))
	w.pushIn = append(w.pushIn, p)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return nil
}

// PollSoon asks for a poll of feed now, when its next poll is later: a
// push subscription lapsed or was denied, and the feed's schedule (made
// at the fallback interval) must go back to its own interval.
func (w *Watcher) PollSoon(feed string) {
	w.mu.Lock()
	if !w.running {
		w.mu.Unlock()
		return
	}
	w.pushIn = append(w.pushIn, pushReq{feed: feed, poll: true})
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *Watcher) releasePush(n int) {
	w.mu.Lock()
	w.pushBytes -= int64(n)
	w.mu.Unlock()
}

// applyPushes takes the pushes handed in since the last loop.
func (s *scheduler) applyPushes() {
	w := s.w
	w.mu.Lock()
	in := w.pushIn
	w.pushIn = nil
	w.mu.Unlock()
	now := w.now()
	for _, p := range in {
		f := s.feeds[p.feed]
		if p.poll {
			if f != nil && f.due.After(now) {
				f.due = now
				if f.index >= 0 {
					heap.Fix(&s.h, f.index)
				}
			}
			continue
		}
		if f == nil {
			w.releasePush(len(p.body))
			w.m.pushes.WithLabelValues("not_watched").Inc()
			continue
		}
		f.pushes = append(f.pushes, p)
		s.queuePush(f)
	}
}

// queuePush starts f's next push if f is idle and a worker is free, or
// queues f for the next free worker. A running or parked feed takes its
// pushes when that job ends.
func (s *scheduler) queuePush(f *feed) {
	if len(f.pushes) == 0 || f.running || f.waiting || f.removed {
		return
	}
	if s.inFlight >= s.conc {
		for _, q := range s.pushReady {
			if q == f {
				return
			}
		}
		s.pushReady = append(s.pushReady, f)
		return
	}
	s.startPush(f)
}

func (s *scheduler) startPush(f *feed) {
	if len(f.pushes) == 0 || f.running || f.waiting || f.removed {
		return
	}
	p := f.pushes[0]
	f.pushes[0] = pushReq{}
	f.pushes = f.pushes[1:]
	if f.index >= 0 {
		// Out of the heap while the push runs, so that a due poll
		// cannot start beside it; back at its due time afterwards.
		heap.Remove(&s.h, f.index)
		f.pushHeld = true
	}
	f.running = true
	s.inFlight++
	s.jobs <- job{f: f, push: &p}
}

func (s *scheduler) finishPush(r done) {
	f := r.f
	if f.removed {
		delete(s.leaving, f.name)
		f.pushHeld = false
		return
	}
	if f.pushHeld {
		f.pushHeld = false
		if !r.next.IsZero() {
			f.due = r.next // the stored schedule, read by this push
		}
		heap.Push(&s.h, f)
	}
	if c := f.pendingCfg; c != nil {
		f.pendingCfg = nil
		s.applyCfg(f, *c, s.w.now())
	}
	s.queuePush(f)
}

// pushFeed handles one pushed document of f as a poll handles a fetched
// one. It returns the feed's stored next due time when this push was the
// first visit of the feed in this run (zero otherwise).
func (w *Watcher) pushFeed(ctx context.Context, f *feed, p pushReq) time.Time {
	defer w.releasePush(len(p.body))
	now := w.now()
	result, n, next := w.handlePush(ctx, f, p, now)
	if !p.retry {
		w.m.pushes.WithLabelValues(result).Inc()
	}
	if n > 0 {
		w.m.newItems.Add(float64(n))
	}
	if w.log.Enabled(ctx, slog.LevelDebug) {
		w.log.LogAttrs(ctx, slog.LevelDebug, "push", slog.String("feed", f.name), slog.String("result", result), slog.Int("new_items", n))
	}
	return next
}

func (w *Watcher) handlePush(ctx context.Context, f *feed, p pushReq, now time.Time) (result string, n int, next time.Time) {
	if !w.owns(f.name) {
		f.loaded = false
		return "not_owner", 0, time.Time{}
	}
	if !f.loaded {
		nx, poll, stop := w.loadState(ctx, f, now, w.intervalOf(f.name, f.cfg))
		if !f.loaded {
			return "state", 0, time.Time{}
		}
		if stop {
			return string(fetch.KindGone), 0, time.Time{}
		}
		if !poll {
			next = nx
		}
	}
	before := f.st
	doc, err := w.parse(ctx, p.body, p.contentType)
	if err != nil {
		if ctx.Err() != nil {
			return "canceled", 0, next
		}
		w.log.Warn("pushed document refused", "feed", f.name, "kind", errKind(err), "err", err)
		return errKind(err), 0, next
	}
	src, _ := pollTarget(f.cfg, f.st.MovedTo)
	fi := item.Feed{Name: f.name, URL: feedurl.Public(f.cfg.URL, f.cfg.URLSecrets...), Title: doc.Title, Tags: f.cfg.Tags}
	absLinks(doc.Items, src)
	n, err = w.deliver(ctx, f, fi, assignKeys(fi, doc.Link, doc.Items), now)
	switch {
	case err != nil && ctx.Err() != nil:
		return "canceled", 0, next
	case errors.Is(err, errNotOwner):
		f.loaded = false
		return "not_owner", 0, next
	case err != nil:
		// Not marked seen: offered again soon, and by the next poll.
		if !p.retry {
			w.log.Warn("pushed document not delivered; it is offered again", "feed", f.name, "err", err)
		}
		if errors.Is(err, errSink) {
			w.retryDelivery(f, w.intervalOf(f.name, f.cfg), p.body, p.contentType)
		}
		return "sink", 0, next
	}
	f.sinkFails = 0
	// A push sets no validators: the next poll still asks for the
	// feed's own changes. Primed and refresh time may have changed.
	w.saveState(ctx, f, before, now)
	return "ok", n, next
}
