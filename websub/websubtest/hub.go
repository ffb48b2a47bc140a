// Package websubtest is a WebSub hub for tests, written to the W3C WebSub
// Recommendation: it takes (un)subscribe requests, verifies the
// subscriber's intent with a challenge, grants leases that expire, can
// deny, and distributes content signed with each subscription's secret.
package websubtest

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Sub is one subscription as the hub holds it.
type Sub struct {
	Topic, Callback, Secret string
	Lease                   time.Duration
	Expires                 time.Time
	Verified                bool
}

// Request is a subscribe or unsubscribe request the hub received.
type Request struct {
	Mode, Topic, Callback string
	LeaseSeconds          int
}

// Hub is a running test hub. Its fields may be changed between requests.
type Hub struct {
	*httptest.Server
	// MaxLease caps granted leases (default: what was asked for).
	MaxLease time.Duration
	// Deny answers subscribe requests with a denial instead of a
	// verification; NeverVerify accepts requests and does nothing more.
	Deny, NeverVerify bool
	// Method is the signature method of pushes (default sha256).
	Method string

	client *http.Client
	mu     sync.Mutex
	subs   map[string]*Sub // by topic + " " + callback
	reqs   []Request
	// verified gets each verification's outcome (callback, ok).
	verified chan Verified
	wg       sync.WaitGroup
}

// Verified is the outcome of one verification the hub sent.
type Verified struct {
	Mode, Callback string
	OK             bool
}

// Start runs a hub on 127.0.0.1.
func Start() *Hub {
	h := &Hub{subs: map[string]*Sub{}, client: &http.Client{Timeout: 10 * time.Second}, verified: make(chan Verified, 100)}
	h.Server = httptest.NewServer(http.HandlerFunc(h.serve))
	return h
}

// Close stops the hub after its verifications in flight.
func (h *Hub) Close() {
	h.wg.Wait()
	h.Server.Close()
}

// Verifications delivers each verification's outcome as it happens.
func (h *Hub) Verifications() <-chan Verified { return h.verified }

func (h *Hub) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	mode, topic, cb := r.PostForm.Get("hub.mode"), r.PostForm.Get("hub.topic"), r.PostForm.Get("hub.callback")
	lease, _ := strconv.Atoi(r.PostForm.Get("hub.lease_seconds"))
	if (mode != "subscribe" && mode != "unsubscribe") || topic == "" || cb == "" {
		http.Error(w, "want hub.mode, hub.topic and hub.callback", http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.reqs = append(h.reqs, Request{Mode: mode, Topic: topic, Callback: cb, LeaseSeconds: lease})
	deny, never, maxLease := h.Deny, h.NeverVerify, h.MaxLease
	h.mu.Unlock()
	// Section 5.1: the hub answers 202 Accepted and verifies later.
	w.WriteHeader(http.StatusAccepted)
	if never {
		return
	}
	d := time.Duration(lease) * time.Second
	if maxLease > 0 && (d == 0 || d > maxLease) {
		d = maxLease
	}
	secret := r.PostForm.Get("hub.secret")
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		if deny && mode == "subscribe" {
			h.get(cb, url.Values{"hub.mode": {"denied"}, "hub.topic": {topic}, "hub.reason": {"not on the list"}})
			return
		}
		ok := h.verify(cb, mode, topic, d)
		h.mu.Lock()
		key := topic + " " + cb
		switch {
		case ok && mode == "subscribe":
			h.subs[key] = &Sub{Topic: topic, Callback: cb, Secret: secret, Lease: d, Expires: time.Now().Add(d), Verified: true}
		case ok && mode == "unsubscribe":
			delete(h.subs, key)
		}
		h.mu.Unlock()
		select {
		case h.verified <- Verified{Mode: mode, Callback: cb, OK: ok}:
		default:
		}
	}()
}

// verify sends the intent verification (section 5.3) and reports whether
// the subscriber echoed the challenge with a 2xx.
func (h *Hub) verify(cb, mode, topic string, lease time.Duration) bool {
	challenge := token()
	q := url.Values{"hub.mode": {mode}, "hub.topic": {topic}, "hub.challenge": {challenge}}
	if mode == "subscribe" {
		q.Set("hub.lease_seconds", strconv.Itoa(int(lease/time.Second)))
	}
	code, body := h.get(cb, q)
	return code >= 200 && code <= 299 && body == challenge
}

// Get sends a GET to a callback with query q (a verification the hub
// never asked for, in hostile tests) and returns the status and body.
func (h *Hub) get(cb string, q url.Values) (int, string) {
	u := cb
	if strings.Contains(u, "?") {
		u += "&" + q.Encode()
	} else {
		u += "?" + q.Encode()
	}
	resp, err := h.client.Get(u)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b)
}

// SendVerification sends a verification request of the hub's own making
// (hostile tests: unsolicited, wrong topic) with a fresh challenge; it
// reports the status and whether the challenge came back.
func (h *Hub) SendVerification(cb, mode, topic string) (int, bool) {
	challenge := token()
	code, body := h.get(cb, url.Values{"hub.mode": {mode}, "hub.topic": {topic}, "hub.challenge": {challenge}, "hub.lease_seconds": {"600"}})
	return code, body == challenge
}

// Requests returns the (un)subscribe requests received so far.
func (h *Hub) Requests() []Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Request(nil), h.reqs...)
}

// Subs returns the verified subscriptions, expired ones included.
func (h *Hub) Subs() []Sub {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Sub
	for _, s := range h.subs {
		out = append(out, *s)
	}
	return out
}

// Result is one delivery of a Publish.
type Result struct {
	Callback string
	Status   int
}

// Publish distributes body (section 7) to every verified subscription of
// topic whose lease has not expired, signed with its secret, with Link
// headers naming the hub and the topic.
func (h *Hub) Publish(ctx context.Context, topic string, body []byte, contentType string) []Result {
	return h.PublishSigned(ctx, topic, body, contentType, nil)
}

// PublishSigned is Publish with the X-Hub-Signature value chosen by sign
// (nil: the correct signature; "" omits the header).
func (h *Hub) PublishSigned(ctx context.Context, topic string, body []byte, contentType string, sign func(secret string) string) []Result {
	h.mu.Lock()
	var targets []Sub
	now := time.Now()
	for _, s := range h.subs {
		if s.Topic == topic && s.Verified && now.Before(s.Expires) {
			targets = append(targets, *s)
		}
	}
	method := h.Method
	h.mu.Unlock()
	var out []Result
	for _, s := range targets {
		sig := Sign(method, s.Secret, body)
		if sign != nil {
			sig = sign(s.Secret)
		}
		out = append(out, Result{Callback: s.Callback, Status: h.post(ctx, s.Callback, topic, body, contentType, sig)})
	}
	return out
}

// PostTo sends a content distribution request to any callback (hostile
// tests) and returns the status.
func (h *Hub) PostTo(ctx context.Context, cb, topic string, body []byte, contentType, signature string) int {
	return h.post(ctx, cb, topic, body, contentType, signature)
}

func (h *Hub) post(ctx context.Context, cb, topic string, body []byte, contentType, sig string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cb, strings.NewReader(string(body)))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Add("Link", fmt.Sprintf(`<%s>; rel="hub"`, h.URL))
	req.Header.Add("Link", fmt.Sprintf(`<%s>; rel="self"`, topic))
	if sig != "" {
		req.Header.Set("X-Hub-Signature", sig)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func token() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Sign is the X-Hub-Signature of body with secret (section 8): method is
// sha1, sha256 (the default when empty), sha384 or sha512. The hub's own
// code, independent of the subscriber's.
func Sign(method, secret string, body []byte) string {
	var h func() hash.Hash
	switch method {
	case "sha1":
		h = sha1.New
	case "sha384":
		h = sha512.New384
	case "sha512":
		h = sha512.New
	default:
		method, h = "sha256", sha256.New
	}
	m := hmac.New(h, []byte(secret))
	m.Write(body)
	return method + "=" + hex.EncodeToString(m.Sum(nil))
}
