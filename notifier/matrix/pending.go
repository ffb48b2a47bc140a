package matrix

import (
	"context"
	"sync"
	"time"

	"github.com/feedwatch/feedwatch/hit"
)

// A digest is one event whose transaction id comes from its set of hits.
// When a send's answer is lost (a timeout, a proxy's 502) the event may
// have been posted, and its hits come back to Notify later, possibly
// beside new hits or without some of the old ones: a new set, a new
// transaction id, and the same hits posted twice. So a send whose outcome
// is unknown is kept (its transaction id and exact body) under each of
// its hits; a later Notify holding any of them first sends that body
// again under that id, which the homeserver posts at most once (it
// answers a repeat with the first event), and then posts only the hits
// that send did not carry. Kept in memory: after a restart, or when the
// retry is taken by another process of a cluster, a repeat stays possible.
type unsure struct {
	txn  string
	body []byte
	at   time.Time
}

const (
	// maxUnsure bounds the hits whose send is kept; the oldest go first.
	maxUnsure = 10000
	// unsureFor is how long a send is kept: longer than the engine's
	// retries of a hit (10 attempts by default, at most 10 min apart).
	unsureFor = 2 * time.Hour
)

// unsureSends maps hit ids to the send of unknown outcome that carried them.
type unsureSends struct {
	mu    sync.Mutex
	byHit map[string]*unsure
}

// remember keeps a send of unknown outcome under each of its hits.
func (u *unsureSends) remember(txn string, body []byte, hits []hit.Hit, now time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.byHit == nil {
		u.byHit = map[string]*unsure{}
	}
	s := &unsure{txn: txn, body: body, at: now}
	for _, h := range hits {
		u.byHit[h.ID] = s
	}
	u.prune(now)
}

// prune drops sends older than unsureFor, then the oldest past maxUnsure.
func (u *unsureSends) prune(now time.Time) {
	for id, s := range u.byHit {
		if now.Sub(s.at) > unsureFor {
			delete(u.byHit, id)
		}
	}
	for len(u.byHit) > maxUnsure {
		var oldest string
		var at time.Time
		for id, s := range u.byHit {
			if oldest == "" || s.at.Before(at) {
				oldest, at = id, s.at
			}
		}
		delete(u.byHit, oldest)
	}
}

// of returns the kept sends that carried any of hits, each once, in the
// order first met.
func (u *unsureSends) of(hits []hit.Hit) []*unsure {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []*unsure
	for _, h := range hits {
		if s := u.byHit[h.ID]; s != nil && !containsSend(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func containsSend(l []*unsure, s *unsure) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// settled reports which of hits the now-answered sends carried (posted,
// now or before) and forgets those hits: they will not come again.
func (u *unsureSends) settled(hits []hit.Hit, done []*unsure) (rest []hit.Hit) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, h := range hits {
		s := u.byHit[h.ID]
		if s == nil || !containsSend(done, s) {
			rest = append(rest, h)
			continue
		}
		delete(u.byHit, h.ID)
	}
	return rest
}

// resolve sends each kept send that carried any of hits again, under its
// own transaction id, and returns the hits those did not carry: the ones
// still to post. An error means a kept send failed again (retry, err).
func (m *Matrix) resolve(ctx context.Context, hits []hit.Hit) ([]hit.Hit, bool, error) {
	pending := m.unsure.of(hits)
	if len(pending) == 0 {
		return hits, false, nil
	}
	for _, s := range pending {
		if retry, err := m.put(ctx, s.txn, s.body); err != nil {
			return nil, retry, err
		}
	}
	return m.unsure.settled(hits, pending), false, nil
}
