// Package fetch reads one feed document over HTTP(S) or from a file, with
// conditional requests, size, time and redirect limits, and classified errors.
// It keeps no state: the caller passes the validators in and stores the ones
// that come back.
package fetch

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/feedwatch/feedwatch/retryafter"
)

// Kind classifies a fetch failure; it doubles as the result label of a poll.
type Kind string

// Error kinds.
const (
	KindStatus    Kind = "http_status"
	KindGone      Kind = "gone"
	KindTimeout   Kind = "timeout"
	KindTooLarge  Kind = "too_large"
	KindRedirect  Kind = "redirect"
	KindNetwork   Kind = "network"
	KindFile      Kind = "file"
	KindBadSource Kind = "bad_source"
)

// Error is a classified fetch failure.
type Error struct {
	Kind   Kind
	Status int
	// RetryAfter is the server's Retry-After on 429/503, else 0.
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	if e.Kind == KindStatus || e.Kind == KindGone {
		return fmt.Sprintf("http status %d", e.Status)
	}
	return string(e.Kind) + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// ErrTooLarge is wrapped by errors for bodies over the limit.
var ErrTooLarge = errors.New("body exceeds max_body")

// MaxRedirects is the number of redirects followed per request.
const MaxRedirects = 5

// Config configures a Fetcher.
type Config struct {
	// Client is used as is except for its redirect policy; nil builds one.
	Client *http.Client
	// Timeout bounds a whole request, body included; it must be positive.
	Timeout time.Duration
	// MaxBody caps a body after decompression; it must be positive.
	MaxBody int64
	// UserAgent is sent with every request; "" sends none (net/http's
	// own is left out too). The config's default is config.UserAgent.
	UserAgent string
	// AllowPrivateRedirects permits a redirect from a public address into
	// loopback, private or link-local space (intranet feeds).
	AllowPrivateRedirects bool
	// BaseDir resolves relative file paths.
	BaseDir string
	// IsPrivate overrides the address classification (tests); nil = default.
	IsPrivate func(netip.AddrPort) bool
	// Concurrency and PerHost size the built client's connection pool;
	// both must be positive unless Client is given.
	Concurrency, PerHost int
	// OneShot makes the built client close each connection after its
	// response, for a Fetcher used once and dropped: otherwise its idle
	// connection (and goroutines) outlive it until IdleConnTimeout.
	OneShot bool
}

// Fetcher fetches documents. It is safe for concurrent use.
type Fetcher struct {
	client    *http.Client
	timeout   time.Duration
	maxBody   int64
	userAgent string
	allowPriv bool
	baseDir   string
	isPrivate func(netip.AddrPort) bool
	bufs      sync.Pool // *bytes.Buffer for bodies
}

// New builds a Fetcher. Every limit is explicit (the config package owns
// the defaults): a zero Timeout, MaxBody or pool size is an error.
func New(cfg Config) (*Fetcher, error) {
	switch {
	case cfg.Timeout <= 0:
		return nil, fmt.Errorf("fetch: timeout %v: must be positive", cfg.Timeout)
	case cfg.MaxBody <= 0:
		return nil, fmt.Errorf("fetch: max body %d: must be positive", cfg.MaxBody)
	case cfg.Client == nil && (cfg.Concurrency <= 0 || cfg.PerHost <= 0):
		return nil, fmt.Errorf("fetch: concurrency %d, per host %d: must be positive", cfg.Concurrency, cfg.PerHost)
	}
	f := &Fetcher{
		timeout:   cfg.Timeout,
		maxBody:   cfg.MaxBody,
		userAgent: cfg.UserAgent,
		allowPriv: cfg.AllowPrivateRedirects,
		baseDir:   cfg.BaseDir,
		isPrivate: cfg.IsPrivate,
	}
	if f.isPrivate == nil {
		f.isPrivate = IsPrivate
	}
	var c http.Client
	if cfg.Client != nil {
		c = *cfg.Client
	} else {
		t := f.transport(cfg.Concurrency, cfg.PerHost)
		t.DisableKeepAlives = cfg.OneShot
		c.Transport = t
	}
	c.CheckRedirect = f.checkRedirect
	f.client = &c
	return f, nil
}

// CloseIdle closes the fetcher's idle connections: a fetcher replaced
// (other limits) should not keep them open.
func (f *Fetcher) CloseIdle() { f.client.CloseIdleConnections() }

func (f *Fetcher) transport(concurrency, perHost int) *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, ControlContext: f.controlDial}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          concurrency * 2,
		MaxIdleConnsPerHost:   perHost,
		IdleConnTimeout:       60 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: f.timeout,
		// We ask for gzip ourselves and inflate under the size cap.
		DisableCompression: true,
	}
}

// Request is one fetch.
type Request struct {
	URL          string
	ETag         string
	LastModified string
	Headers      map[string]string
}

// Response is a successful fetch.
type Response struct {
	NotModified  bool
	Status       int
	Body         []byte
	ContentType  string
	ETag         string
	LastModified string
	// MovedTo is the final URL when every redirect hop was permanent
	// (301/308); the caller should poll it from now on.
	MovedTo string
	// MaxAge is how long the server says the document stays fresh
	// (Cache-Control max-age, else Expires minus Date); 0 when unknown.
	MaxAge time.Duration
	// FinalURL is where the body came from after every redirect
	// (relative links in it resolve against it), without userinfo; ""
	// for files.
	FinalURL string
	// Links are the response's Link header values (WebSub discovery).
	Links []string

	buf   *bytes.Buffer
	owner *Fetcher
}

// accept is the Accept header unless the feed configures its own.
const accept = "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"

type hopKey struct{}

// hops is per-request redirect state shared by CheckRedirect, the trace
// and the dialer through the request context.
type hops struct {
	permanent  bool
	moved      string
	redirected bool
	sawPublic  bool
	// origin is the first request's origin: the configured headers
	// (names in headers) and userinfo (user) belong to it.
	origin  string
	headers []string
	user    *url.Userinfo
	// crossed: a hop left origin; credentials stay off for the rest of
	// the chain, even if a later hop comes back (a foreign server must not
	// choose where our credentials go).
	crossed bool
}

// Fetch performs req. A file:// URL or a plain path reads a file.
func (f *Fetcher) Fetch(ctx context.Context, req Request) (*Response, error) {
	src := strings.TrimSpace(req.URL)
	u, err := url.Parse(src)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		if err == nil && u.Scheme != "" && u.Scheme != "file" && len(u.Scheme) > 1 {
			return nil, &Error{Kind: KindBadSource, Err: fmt.Errorf("unsupported scheme %q", u.Scheme)}
		}
		return f.readFile(ctx, src)
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	ctx, st := f.traceHops(ctx, u, req.Headers)
	hr, err := f.newRequest(ctx, u, req)
	if err != nil {
		return nil, err
	}
	resp, err := f.client.Do(hr)
	if err != nil {
		return nil, classify(ctx, err)
	}
	defer resp.Body.Close()
	out := &Response{Status: resp.StatusCode}
	if resp.Request != nil && resp.Request.URL != nil {
		fu := *resp.Request.URL
		fu.User = nil
		out.FinalURL = fu.String()
	}
	if st.redirected && st.permanent && st.moved != "" && st.moved != u.String() {
		out.MovedTo = st.moved
	}
	return f.answer(ctx, resp, out)
}

// traceHops attaches the redirect bookkeeping of one request to ctx (read
// by checkRedirect) and notes whether any connection went to a public
// address (the private-redirect guard).
func (f *Fetcher) traceHops(ctx context.Context, u *url.URL, headers map[string]string) (context.Context, *hops) {
	st := &hops{permanent: true, origin: Origin(u), user: u.User}
	for k := range headers {
		st.headers = append(st.headers, k)
	}
	ctx = context.WithValue(ctx, hopKey{}, st)
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(ci httptrace.GotConnInfo) {
			if ap, err := netip.ParseAddrPort(ci.Conn.RemoteAddr().String()); err == nil && !f.isPrivate(ap) {
				st.sawPublic = true
			}
		},
	})
	return ctx, st
}

// newRequest builds the GET with our headers, the feed's own, and the
// validators of a conditional request.
func (f *Fetcher) newRequest(ctx context.Context, u *url.URL, req Request) (*http.Request, error) {
	hr, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, &Error{Kind: KindBadSource, Err: err}
	}
	hr.Header.Set("User-Agent", f.userAgent)
	hr.Header.Set("Accept", accept)
	// The feed's own headers win (a feed may need its own User-Agent),
	// except the ones the fetcher must control.
	for k, v := range req.Headers {
		switch http.CanonicalHeaderKey(k) {
		case "Accept-Encoding", "If-None-Match", "If-Modified-Since", "Host", "Content-Length":
			continue
		}
		hr.Header.Set(k, v)
	}
	hr.Header.Set("Accept-Encoding", "gzip, deflate")
	if req.ETag != "" {
		hr.Header.Set("If-None-Match", req.ETag)
	}
	if req.LastModified != "" {
		hr.Header.Set("If-Modified-Since", req.LastModified)
	}
	return hr, nil
}

// answer fills out from the response: not modified, an error status, or
// the body read under the size cap.
func (f *Fetcher) answer(ctx context.Context, resp *http.Response, out *Response) (*Response, error) {
	switch {
	case resp.StatusCode == http.StatusNotModified:
		out.NotModified = true
		out.ETag = resp.Header.Get("ETag")
		out.LastModified = resp.Header.Get("Last-Modified")
		out.MaxAge = maxAge(resp.Header)
		return out, nil
	case resp.StatusCode == http.StatusGone:
		return nil, &Error{Kind: KindGone, Status: resp.StatusCode, Err: errors.New("gone")}
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		e := &Error{Kind: KindStatus, Status: resp.StatusCode, Err: errors.New(resp.Status)}
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
		}
		// Drain a little so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, e
	}
	buf, err := f.readBody(ctx, resp)
	if err != nil {
		return nil, err
	}
	out.Body, out.buf, out.owner = buf.Bytes(), buf, f
	out.ContentType = resp.Header.Get("Content-Type")
	out.Links = resp.Header.Values("Link")
	out.ETag = resp.Header.Get("ETag")
	out.LastModified = resp.Header.Get("Last-Modified")
	out.MaxAge = maxAge(resp.Header)
	return out, nil
}

func (f *Fetcher) readBody(ctx context.Context, resp *http.Response) (*bytes.Buffer, error) {
	var r io.Reader = resp.Body
	enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding")))
	switch enc {
	case "", "identity":
		if resp.ContentLength > f.maxBody {
			return nil, &Error{Kind: KindTooLarge, Err: fmt.Errorf("%w: content-length %d > %d", ErrTooLarge, resp.ContentLength, f.maxBody)}
		}
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			return nil, classifyBody(ctx, fmt.Errorf("gzip: %w", err))
		}
		defer zr.Close()
		r = zr
	case "deflate":
		// "deflate" is zlib by the RFC, raw deflate in practice; peek.
		br := newPeekReader(resp.Body)
		if br.isZlib() {
			zr, err := zlib.NewReader(br)
			if err != nil {
				return nil, classifyBody(ctx, fmt.Errorf("deflate: %w", err))
			}
			defer zr.Close()
			r = zr
		} else {
			fr := flate.NewReader(br)
			defer fr.Close()
			r = fr
		}
	default:
		return nil, &Error{Kind: KindNetwork, Err: fmt.Errorf("unsupported content-encoding %q", enc)}
	}
	return f.readLimited(ctx, r, resp.ContentLength)
}

// readLimited reads at most maxBody bytes of r into a pooled buffer; more
// is KindTooLarge. Counting happens after decompression so a gzip bomb
// stops at the cap.
func (f *Fetcher) readLimited(ctx context.Context, r io.Reader, hint int64) (*bytes.Buffer, error) {
	buf, _ := f.bufs.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	buf.Reset()
	if hint > 0 && hint <= f.maxBody {
		buf.Grow(int(hint) + bytes.MinRead)
	}
	n, err := buf.ReadFrom(io.LimitReader(r, f.maxBody+1))
	if err != nil {
		f.putBuf(buf)
		return nil, classifyBody(ctx, err)
	}
	if n > f.maxBody {
		f.putBuf(buf)
		return nil, &Error{Kind: KindTooLarge, Err: fmt.Errorf("%w (%d bytes)", ErrTooLarge, f.maxBody)}
	}
	return buf, nil
}

// maxPooled keeps big one-off bodies from staying in the pool.
const maxPooled = 1 << 20

func (f *Fetcher) putBuf(b *bytes.Buffer) {
	if b != nil && b.Cap() <= maxPooled {
		f.bufs.Put(b)
	}
}

// Release hands the body's buffer back for reuse; Body must not be used
// afterwards. Optional: without it the buffer is garbage collected.
func (r *Response) Release() {
	if r == nil || r.buf == nil || r.owner == nil {
		return
	}
	r.owner.putBuf(r.buf)
	r.buf, r.Body = nil, nil
}

// LocalPath is the file a feed source names when it is a file:// URL or a
// plain path (relative ones resolve against baseDir); ok is false for
// http(s) and other URLs.
func LocalPath(src, baseDir string) (path string, ok bool, err error) {
	src = strings.TrimSpace(src)
	if u, perr := url.Parse(src); perr == nil && u.Scheme != "" && u.Scheme != "file" && len(u.Scheme) > 1 {
		return "", false, nil
	}
	p := src
	if strings.HasPrefix(p, "file://") {
		u, err := url.Parse(p)
		if err != nil {
			return "", true, err
		}
		p = u.Path
		if p == "" {
			p = u.Opaque
		}
		if u.Host != "" && u.Host != "localhost" {
			// file://relative/path: treat host as the first path element.
			p = filepath.Join(u.Host, p)
		}
	}
	if !filepath.IsAbs(p) && baseDir != "" {
		p = filepath.Join(baseDir, p)
	}
	return p, true, nil
}

func (f *Fetcher) readFile(ctx context.Context, src string) (*Response, error) {
	p, _, err := LocalPath(src, f.baseDir)
	if err != nil {
		return nil, &Error{Kind: KindBadSource, Err: err}
	}
	fh, err := os.Open(p)
	if err != nil {
		return nil, &Error{Kind: KindFile, Err: err}
	}
	defer fh.Close()
	var hint int64
	if fi, err := fh.Stat(); err == nil {
		if fi.Size() > f.maxBody {
			return nil, &Error{Kind: KindTooLarge, Err: fmt.Errorf("%w: file is %d bytes", ErrTooLarge, fi.Size())}
		}
		hint = fi.Size()
	}
	buf, err := f.readLimited(ctx, fh, hint)
	if err != nil {
		var fe *Error
		if errors.As(err, &fe) && fe.Kind == KindNetwork {
			fe.Kind = KindFile
		}
		return nil, err
	}
	return &Response{Status: 200, Body: buf.Bytes(), buf: buf, owner: f}, nil
}

func (f *Fetcher) checkRedirect(req *http.Request, via []*http.Request) error {
	st, _ := req.Context().Value(hopKey{}).(*hops)
	// net/http sets Referer to the previous URL, query (tokens) and all:
	// a feed reader has no business telling the next server where it came
	// from.
	req.Header.Del("Referer")
	if len(via) > MaxRedirects {
		return &Error{Kind: KindRedirect, Err: fmt.Errorf("more than %d redirects", MaxRedirects)}
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return &Error{Kind: KindRedirect, Err: fmt.Errorf("redirect to scheme %q refused", req.URL.Scheme)}
	}
	if st != nil {
		st.redirected = true
		if req.Response == nil || (req.Response.StatusCode != http.StatusMovedPermanently && req.Response.StatusCode != http.StatusPermanentRedirect) {
			st.permanent = false
		}
		if st.permanent {
			if len(via) > 0 && via[len(via)-1].URL.Scheme == "https" && req.URL.Scheme == "http" {
				// A permanent move would make every later poll plain
				// text; a temporary one only this fetch (without
				// credentials: another origin).
				return &Error{Kind: KindRedirect, Err: errors.New("permanent redirect from https to http refused")}
			}
			st.moved = req.URL.String()
		}
		// net/http copies every header of the first request to each hop
		// and drops only Authorization and Cookie, and only for another
		// domain (not another port or scheme): drop every configured header
		// once the chain leaves the origin they were configured for.
		if !st.crossed && Origin(req.URL) != st.origin {
			st.crossed = true
		}
		if st.crossed {
			for _, k := range st.headers {
				req.Header.Del(k)
			}
			for _, k := range []string{"Authorization", "Cookie", "Cookie2"} {
				req.Header.Del(k)
			}
			// A configured User-Agent or Accept went with the rest: the
			// fetcher's own stand in.
			if req.Header.Get("User-Agent") == "" {
				req.Header.Set("User-Agent", f.userAgent)
			}
			if req.Header.Get("Accept") == "" {
				req.Header.Set("Accept", accept)
			}
		} else if st.user != nil && req.URL.User == nil {
			// Same origin: the configured userinfo still applies
			// (net/http would not send it to a Location without it).
			u := *req.URL
			u.User = st.user
			req.URL = &u
		}
		if !f.allowPriv && st.sawPublic {
			if err := f.refusePrivate(req.Context(), req.URL); err != nil {
				return err
			}
		}
	}
	return nil
}

// Origin returns u's origin, the unit credentials belong to: lower-case
// scheme and host, and the port (the scheme's default when absent), as in
// "https://example.org:443".
func Origin(u *url.URL) string {
	port := u.Port()
	scheme := strings.ToLower(u.Scheme)
	if port == "" {
		switch scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// refusePrivate fails when u's host is (or resolves to) a private address.
func (f *Fetcher) refusePrivate(ctx context.Context, u *url.URL) error {
	host := u.Hostname()
	port := u.Port()
	if port == "" {
		port = "443"
		if u.Scheme == "http" {
			port = "80"
		}
	}
	pn, _ := strconv.Atoi(port)
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return &Error{Kind: KindNetwork, Err: fmt.Errorf("resolve redirect target: %w", err)}
		}
		addrs = ips
	}
	for _, a := range addrs {
		if f.isPrivate(netip.AddrPortFrom(a.Unmap(), uint16(pn))) {
			return &Error{Kind: KindRedirect, Err: errors.New("redirect from a public to a private address refused")}
		}
	}
	return nil
}

// controlDial refuses, at connect time, a private address reached through
// a redirect from a public one (DNS may change between check and dial).
func (f *Fetcher) controlDial(ctx context.Context, network, address string, _ syscall.RawConn) error {
	st, _ := ctx.Value(hopKey{}).(*hops)
	if st == nil || f.allowPriv || !st.redirected || !st.sawPublic {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return nil
	}
	if f.isPrivate(ap) {
		return &Error{Kind: KindRedirect, Err: errors.New("redirect from a public to a private address refused")}
	}
	return nil
}

// IsPrivate reports whether ap is loopback, private, link-local,
// unspecified or otherwise not a public unicast address.
func IsPrivate(ap netip.AddrPort) bool {
	a := ap.Addr().Unmap()
	if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsUnspecified() || a.IsMulticast() || a.IsInterfaceLocalMulticast() {
		return true
	}
	if a.Is4() {
		b := a.As4()
		// 100.64.0.0/10 carrier-grade NAT, 0.0.0.0/8.
		if (b[0] == 100 && b[1]&0xC0 == 64) || b[0] == 0 {
			return true
		}
	}
	return false
}

func classify(ctx context.Context, err error) error {
	var fe *Error
	if errors.As(err, &fe) {
		return fe
	}
	// *url.Error repeats the URL, which may carry a token: keep the cause.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return classifyBody(ctx, err)
}

func classifyBody(ctx context.Context, err error) error {
	var fe *Error
	if errors.As(err, &fe) {
		return fe
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &Error{Kind: KindTimeout, Err: errors.New("deadline exceeded")}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &Error{Kind: KindTimeout, Err: err}
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return &Error{Kind: KindNetwork, Err: err}
}

// retryAfter reads a Retry-After header; the scheduler caps hints at a day
// anyway, so a year is only a guard against overflow.
func retryAfter(v string, now time.Time) time.Duration {
	return retryafter.Parse(v, now, 365*24*time.Hour)
}

// seconds turns a server's delta-seconds into a duration: negative is 0,
// and a huge value is held to a year instead of overflowing (the scheduler
// caps hints at a day anyway).
func seconds(s int) time.Duration {
	const most = 365 * 24 * 3600
	return time.Duration(min(max(s, 0), most)) * time.Second
}

func maxAge(h http.Header) time.Duration {
	for _, part := range strings.Split(h.Get("Cache-Control"), ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if k == "no-cache" || k == "no-store" {
			return 0
		}
		if ok && k == "max-age" {
			if s, err := strconv.Atoi(strings.Trim(v, `"`)); err == nil {
				return seconds(s)
			}
		}
	}
	if exp := h.Get("Expires"); exp != "" {
		et, err := http.ParseTime(exp)
		if err != nil {
			return 0
		}
		base := time.Now()
		if d, err := http.ParseTime(h.Get("Date")); err == nil {
			base = d
		}
		if d := et.Sub(base); d > 0 {
			return d
		}
	}
	return 0
}
