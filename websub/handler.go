package websub

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Handler serves the callbacks: GET is a hub's intent verification (or
// denial), POST is content distribution. Mount it at PathPrefix.
func (m *Manager) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := strings.CutPrefix(r.URL.EscapedPath(), m.PathPrefix())
		if !ok || id == "" || strings.Contains(id, "/") {
			http.NotFound(w, r)
			return
		}
		if !m.loaded.Load() {
			w.Header().Set("Retry-After", "5")
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		switch r.Method {
		case http.MethodGet:
			m.verify(w, r, id)
		case http.MethodPost:
			m.push(w, r, id)
		default:
			w.Header().Set("Allow", "GET, POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		}
	})
}

// Verification is a hub's GET to a callback, as read from its query.
type Verification struct {
	Mode, Topic, Challenge, Reason string
	LeaseSeconds                   int // 0 when absent or unreadable
}

// maxChallenge bounds the challenge we echo.
const maxChallenge = 1024

// ParseVerification reads a verification request's query; ok is false
// when it is not one we answer (unknown mode, missing topic or, for
// (un)subscribe, a missing or oversized challenge).
func ParseVerification(rawQuery string) (Verification, bool) {
	q, err := parseQuery(rawQuery)
	if err != nil {
		return Verification{}, false
	}
	v := Verification{Mode: q.Get("hub.mode"), Topic: q.Get("hub.topic"), Challenge: q.Get("hub.challenge"), Reason: q.Get("hub.reason")}
	if n, err := strconv.Atoi(q.Get("hub.lease_seconds")); err == nil && n > 0 {
		v.LeaseSeconds = n
	}
	if v.Topic == "" {
		return v, false
	}
	switch v.Mode {
	case "subscribe", "unsubscribe":
		return v, v.Challenge != "" && len(v.Challenge) <= maxChallenge
	case "denied":
		return v, true
	}
	return v, false
}

// verify answers an intent verification: the challenge is echoed only for
// a request this process made (same callback id, same topic, a pending or
// active subscription asked for within askWindow, or an unsubscribe in
// progress); 404 otherwise.
func (m *Manager) verify(w http.ResponseWriter, r *http.Request, id string) {
	v, ok := ParseVerification(r.URL.RawQuery)
	if !ok {
		m.m.verifications.WithLabelValues("invalid", "refused").Inc()
		http.NotFound(w, r)
		return
	}
	ctx := context.WithoutCancel(r.Context())
	m.mu.Lock()
	now := m.o.Now()
	switch v.Mode {
	case "subscribe":
		rec := m.byID[id]
		if rec == nil || rec.Topic != v.Topic || (rec.State != StatePending && rec.State != StateActive) || !m.owns(rec.Feed) ||
			rec.Asked.IsZero() || now.Sub(rec.Asked) > m.askWindow() {
			m.mu.Unlock()
			m.m.verifications.WithLabelValues(v.Mode, "refused").Inc()
			http.NotFound(w, r)
			return
		}
		lease := v.LeaseSeconds
		if lease == 0 {
			lease = m.tun.Load().LeaseSeconds
		}
		if rec.State != StateActive {
			m.log.Info("websub: subscription verified", "feed", rec.Feed, "lease", time.Duration(lease)*time.Second)
		}
		rec.State = StateActive
		rec.LeaseSeconds = lease
		rec.Expires = now.Add(time.Duration(lease) * time.Second)
		rec.NextAttempt = now.Add(time.Duration(float64(lease) * renewAt * float64(time.Second)))
		rec.Attempts = 0
		rec.Reason = ""
		m.persistLocked(ctx, rec)
	case "unsubscribe":
		rec := m.leaving[id]
		if rec == nil || rec.Topic != v.Topic {
			m.mu.Unlock()
			m.m.verifications.WithLabelValues(v.Mode, "refused").Inc()
			http.NotFound(w, r)
			return
		}
		delete(m.leaving, id)
	case "denied":
		rec := m.byID[id]
		if rec == nil || rec.Topic != v.Topic {
			m.mu.Unlock()
			m.m.verifications.WithLabelValues(v.Mode, "refused").Inc()
			http.NotFound(w, r)
			return
		}
		m.log.Warn("websub: hub denied the subscription; polling at the normal interval, asking again in a day", "feed", rec.Feed, "reason", clip(v.Reason, 200))
		if rec.State == StateActive {
			m.pollSoon(rec.Feed)
		}
		rec.State = StateDenied
		rec.Reason = "denied: " + clip(v.Reason, 200)
		rec.NextAttempt = now.Add(deniedRetry)
		m.persistLocked(ctx, rec)
		m.mu.Unlock()
		m.m.verifications.WithLabelValues(v.Mode, "ok").Inc()
		w.WriteHeader(http.StatusOK)
		return
	}
	m.mu.Unlock()
	m.m.verifications.WithLabelValues(v.Mode, "ok").Inc()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, v.Challenge)
}

// askWindow is how long after a subscribe request its verification is
// answered: hubs verify within seconds to minutes, and a request not
// verified within VerifyWait is sent again anyway.
func (m *Manager) askWindow() time.Duration { return max(2*m.o.VerifyWait, time.Hour) }

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Push results, the label of feedwatch_websub_pushes_total.
const (
	PushAccepted     = "accepted"
	PushNoSignature  = "no_signature"
	PushBadSignature = "bad_signature"
	PushTooLarge     = "too_large"
	PushUnknown      = "unknown_callback"
	PushNotOwner     = "not_owner"
	PushWrongTopic   = "wrong_topic"  // signed, but its Link rel="self" names another topic
	PushDropped      = "dropped"      // the watcher's queue for the feed was full
	PushBadEncoding  = "bad_encoding" // a Content-Encoding other than gzip, or a gzip body that does not inflate
)

// push takes content distribution: a body within MaxBody, signed with the
// subscription's secret, goes to the watcher. A bad or missing signature
// is answered 2xx all the same (W3C WebSub 8: "subscribers MUST still
// return a 2xx response ... but locally ignore the message as invalid")
// and counted; an unknown callback is 410 Gone, which ends it at the hub.
//
// A gzip body (Content-Encoding: gzip) is inflated after its signature
// checks out: W3C WebSub 8 computes the HMAC with "the request body as the
// data", and the request body is the bytes on the wire, before any content
// coding is undone (as GitHub-style webhooks sign the raw payload). So
// only a hub holding the secret can make us inflate, and the inflated
// document is capped at MaxBody like an uncompressed one. Any other coding
// is 415 (RFC 7694), read before the body.
func (m *Manager) push(w http.ResponseWriter, r *http.Request, id string) {
	m.mu.Lock()
	rec := m.byID[id]
	var feed, topic string
	var secret []byte
	if rec != nil {
		feed, topic, secret = rec.Feed, rec.Topic, []byte(rec.Secret)
	}
	m.mu.Unlock()
	if rec == nil {
		m.m.pushes.WithLabelValues(PushUnknown).Inc()
		http.Error(w, "no such subscription", http.StatusGone)
		return
	}
	maxBody := m.tun.Load().MaxBody
	if r.ContentLength > maxBody {
		m.m.pushes.WithLabelValues(PushTooLarge).Inc()
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	enc, err := pushEncoding(r.Header.Values("Content-Encoding"))
	if err != nil {
		m.m.pushes.WithLabelValues(PushBadEncoding).Inc()
		m.log.Warn("websub: push refused", "feed", feed, "err", err)
		w.Header().Set("Accept-Encoding", "gzip")
		http.Error(w, "unsupported content encoding: send identity or gzip", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	if int64(len(body)) > maxBody {
		m.m.pushes.WithLabelValues(PushTooLarge).Inc()
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	if err := Verify(r.Header.Get("X-Hub-Signature"), secret, body); err != nil {
		label := PushBadSignature
		if err == ErrNoSignature {
			label = PushNoSignature
		}
		m.m.pushes.WithLabelValues(label).Inc()
		m.log.Warn("websub: push dropped", "feed", feed, "err", err)
		w.WriteHeader(http.StatusAccepted)
		return
	}
	if enc == "gzip" {
		body, err = inflate(body, maxBody)
		switch {
		case errors.Is(err, errInflatedTooLarge):
			m.m.pushes.WithLabelValues(PushTooLarge).Inc()
			m.log.Warn("websub: gzip push inflates past watcher.max_body; dropped, the next poll reads the feed", "feed", feed, "max_body", maxBody)
			http.Error(w, "body too large once inflated", http.StatusRequestEntityTooLarge)
			return
		case err != nil:
			m.m.pushes.WithLabelValues(PushBadEncoding).Inc()
			m.log.Warn("websub: push dropped", "feed", feed, "err", err)
			http.Error(w, "body is not valid gzip", http.StatusBadRequest)
			return
		}
	}
	if self := parseLinkHeaders(r.Header.Values("Link")).Self; self != "" && !sameTopic(self, topic) {
		// The hub says this is another topic's content: not this feed's.
		m.m.pushes.WithLabelValues(PushWrongTopic).Inc()
		m.log.Warn("websub: push for another topic dropped", "feed", feed)
		w.WriteHeader(http.StatusAccepted)
		return
	}
	if !m.owns(feed) {
		m.notOwner(w, r, rec)
		return
	}
	if err := m.o.Pusher.Push(feed, bytes.Clone(body), r.Header.Get("Content-Type")); err != nil {
		m.m.pushes.WithLabelValues(PushDropped).Inc()
		m.log.Warn("websub: push not queued; the next poll reads the feed", "feed", feed, "err", err)
		w.WriteHeader(http.StatusAccepted)
		return
	}
	m.m.pushes.WithLabelValues(PushAccepted).Inc()
	m.mu.Lock()
	rec.lastPush = m.o.Now()
	m.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

// notOwner answers a signed push for a feed another process owns now: if
// the stored subscription is no longer this one (the new owner subscribed
// with its own callback), 410 Gone ends it at the hub; else (ownership
// settling, at a start) 503, and the hub retries.
func (m *Manager) notOwner(w http.ResponseWriter, r *http.Request, rec *Record) {
	m.m.pushes.WithLabelValues(PushNotOwner).Inc()
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	b, err := m.o.Store.Get(ctx, rec.Feed)
	if err == nil {
		cur, derr := decodeRecord(b)
		if b == nil || (derr == nil && cur.ID != rec.ID) {
			m.mu.Lock()
			if m.byID[rec.ID] == rec {
				delete(m.byID, rec.ID)
				if m.subs[rec.Feed] == rec {
					delete(m.subs, rec.Feed)
				}
			}
			m.mu.Unlock()
			http.Error(w, "subscription moved", http.StatusGone)
			return
		}
	}
	w.Header().Set("Retry-After", "10")
	http.Error(w, "feed not owned here now", http.StatusServiceUnavailable)
}

// sameTopic compares topic URLs as hubs may rewrite them: scheme, host
// case and a trailing slash aside.
func sameTopic(a, b string) bool {
	norm := func(s string) string {
		if _, rest, ok := strings.Cut(s, "://"); ok {
			s = rest
		}
		host, path, _ := strings.Cut(s, "/")
		return strings.ToLower(host) + "/" + strings.TrimSuffix(path, "/")
	}
	return norm(a) == norm(b)
}
