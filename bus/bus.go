// Package bus is the one place that knows NATS: it runs the embedded server,
// connects, creates the hits stream and the state buckets, publishes hits and
// hands them to notifiers.
package bus

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedwatch/feedwatch/archive"
	"github.com/feedwatch/feedwatch/redact"
)

// Names of the JetStream objects feedwatch owns.
const (
	HitsStream    = "FEEDWATCH_HITS"
	HitsSubjects  = "feedwatch.hits.>"
	HitsPrefix    = "feedwatch.hits."
	DeadStream    = "FEEDWATCH_DEAD"
	DeadPrefix    = "feedwatch.dead."
	SeenBucket    = "feedwatch_seen"
	FeedsBucket   = "feedwatch_feeds"
	AlertedBucket = "feedwatch_alerted"
	LedgerBucket  = "feedwatch_delivered"
	// LeaseBucket holds each digest notifier's lease (key digest.<name>);
	// its TTL expires a lease its holder stopped renewing.
	LeaseBucket = "feedwatch_notify_leases"
	// LeaseTTL is how long a digest lease outlives its last renewal.
	LeaseTTL = 15 * time.Second
)

// Options says how to reach NATS.
type Options struct {
	// URL is empty for an embedded server, else a comma-separated list.
	URL string
	// EmbeddedListen is host:port for other processes to reach the embedded
	// server; empty keeps it in-process only.
	EmbeddedListen string
	// LocalAccessFile, with the embedded server and no EmbeddedListen,
	// makes the server also accept clients on a random loopback port that
	// need a random token, both written to this file (mode 0600). That is
	// how feedwatch's own commands (backtest, dead) reach a running daemon
	// whose server is otherwise in-process: the contract promises they
	// read a running daemon's store, and anyone who can read the file can
	// read data_dir's store anyway.
	LocalAccessFile string
	// DataDir holds the embedded server's JetStream store.
	DataDir string
	Creds   string
	User    string
	// Password and Token are secrets: never logged or put in errors.
	Password string
	Token    string
	TLSCA    string
	TLSCert  string
	TLSKey   string
	// Retention is how long seen items, alerted hits and delivery ledger
	// entries are kept after their last write.
	Retention time.Duration
	// HitsMaxAge is how long hits stay in the stream (default 7 days).
	HitsMaxAge time.Duration
	// Replicas is how many servers keep each stream and bucket feedwatch
	// creates (nats.replicas); 0 means 1. Every stream and bucket is made
	// through ensureStream or ensureBucket, which apply it, and a change
	// updates existing ones.
	Replicas int
	// Archive shapes the item archive (zero: off).
	Archive ArchiveOptions
	// ReadOnly connects (or starts the embedded server on DataDir's store)
	// without creating or changing any stream or bucket: for commands that
	// only read, such as `feedwatch backtest`.
	ReadOnly bool
	// ConnectWait, when set, bounds the wait for the first connection to
	// a server at URL before anything is asked of it: Open fails with
	// ErrNotReached after it (one-shot commands must exit, not wait).
	ConnectWait time.Duration
	// ClientName names the connection in the server's monitoring.
	ClientName string
	Logger     *slog.Logger
}

// Bus is a live connection with the stream and buckets in place.
type Bus struct {
	srv     *server.Server
	nc      *nats.Conn
	js      jetstream.JetStream
	seen    jetstream.KeyValue
	feeds   jetstream.KeyValue
	alerted jetstream.KeyValue
	ledger  jetstream.KeyValue
	leases  jetstream.KeyValue
	log     *slog.Logger
	// seenDirect: the seen bucket answers batched direct gets.
	seenDirect atomic.Bool
	seenLogs   logPositions
	// retention is state_retention in nanoseconds (SetRetention).
	retention atomic.Int64
	// storeDir is the embedded server's store ("" when not embedded).
	storeDir string
	replicas int
	archiver Archiver
	// catchUp is the catch-up bucket, made when first used.
	catchUpMu sync.Mutex
	catchUp   jetstream.KeyValue
	// archiveIdle overrides archiveIdle (tests).
	archiveIdle time.Duration
	// localAccess is the LocalAccessFile this bus wrote, removed on Close.
	localAccess string
}

// Open starts the embedded server when opts.URL is empty, connects, and
// makes sure the stream and buckets exist.
func Open(ctx context.Context, opts Options) (*Bus, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Retention <= 0 {
		opts.Retention = 90 * 24 * time.Hour
	}
	if opts.HitsMaxAge <= 0 {
		opts.HitsMaxAge = 7 * 24 * time.Hour
	}
	if opts.Replicas <= 0 {
		opts.Replicas = 1
	}
	b := &Bus{log: opts.Logger, replicas: opts.Replicas, seenLogs: logPositions{m: map[string]logPosition{}}}
	b.retention.Store(int64(opts.Retention))
	b.archiver.now, b.archiver.log = time.Now, opts.Logger
	var err error
	if !opts.ReadOnly {
		if b.archiver.w, err = archive.NewBatchWriter(); err != nil {
			return nil, err
		}
	}
	if opts.URL == "" {
		var token string
		b.srv, token, err = startEmbedded(ctx, opts)
		if err != nil {
			return nil, err
		}
		b.storeDir = filepath.Join(opts.DataDir, "jetstream")
		no := []nats.Option{nats.InProcessServer(b.srv), nats.Name(opts.ClientName), nats.MaxReconnects(-1)}
		if token != "" {
			no = append(no, nats.Token(token))
			if err = writeLocalAccess(opts.LocalAccessFile, b.srv.ClientURL(), token); err != nil {
				b.Close()
				return nil, err
			}
			b.localAccess = opts.LocalAccessFile
		}
		b.nc, err = nats.Connect("", no...)
	} else {
		b.nc, err = connect(opts)
	}
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("connect to nats: %w", err)
	}
	b.js, err = jetstream.New(b.nc)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	b.archiver.js = b.js
	if opts.ConnectWait > 0 && !waitConnected(ctx, b.nc, opts.ConnectWait) {
		b.Close()
		return nil, ErrNotReached
	}
	if opts.ReadOnly {
		return b, nil
	}
	if err := b.setup(ctx, opts); err != nil {
		b.Close()
		return nil, err
	}
	if err := b.SetArchive(ctx, opts.Archive); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// ErrNotReached means no server answered within Options.ConnectWait.
var ErrNotReached = errors.New("nats server not reached")

// waitConnected waits up to d for nc to be connected.
func waitConnected(ctx context.Context, nc *nats.Conn, d time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for !nc.IsConnected() {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
	return true
}

// startEmbedded starts the embedded server; token is the one clients
// need when it listens for LocalAccessFile's commands ("" otherwise).
func startEmbedded(ctx context.Context, opts Options) (_ *server.Server, token string, _ error) {
	if opts.DataDir == "" {
		// nats-server would silently fall back to the system temp folder.
		return nil, "", errors.New("embedded nats: data_dir is empty")
	}
	storeDir := filepath.Join(opts.DataDir, "jetstream")
	// nats-server fails to create an unusable store in its own goroutine
	// and is then simply never ready: find out here, naming data_dir.
	if err := os.MkdirAll(storeDir, 0o750); err != nil {
		return nil, "", fmt.Errorf("embedded nats: data_dir %s: %w", opts.DataDir, err)
	}
	so := &server.Options{
		ServerName: "feedwatch",
		JetStream:  true,
		StoreDir:   storeDir,
		NoSigs:     true,
		NoLog:      true,
		// The store syncs every 10 s instead of the default 2 min: a power
		// loss can drop at most the last seconds of hits and seen-state.
		SyncInterval: 10 * time.Second,
	}
	switch {
	case opts.EmbeddedListen != "":
		host, port, err := net.SplitHostPort(opts.EmbeddedListen)
		if err != nil {
			return nil, "", fmt.Errorf("embedded nats: listen %q: %w", opts.EmbeddedListen, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil, "", fmt.Errorf("embedded nats: listen %q: bad port", opts.EmbeddedListen)
		}
		so.Host, so.Port = host, p
	case opts.LocalAccessFile != "":
		var raw [24]byte
		if _, err := crand.Read(raw[:]); err != nil {
			return nil, "", fmt.Errorf("embedded nats: local access token: %w", err)
		}
		token = hex.EncodeToString(raw[:])
		so.Host, so.Port, so.Authorization = "127.0.0.1", server.RANDOM_PORT, token
	default:
		so.DontListen = true
	}
	s, err := server.NewServer(so)
	if err != nil {
		return nil, "", fmt.Errorf("embedded nats: %w", err)
	}
	s.SetLoggerV2(serverLog{opts.Logger}, false, false, false)
	go s.Start()
	// Wait in short steps so that a stop asked for meanwhile (SIGTERM
	// during start) is honoured at once.
	deadline := time.Now().Add(30 * time.Second)
	for !s.ReadyForConnections(100 * time.Millisecond) {
		if err := ctx.Err(); err != nil {
			s.Shutdown()
			return nil, "", fmt.Errorf("embedded nats: start: %w", err)
		}
		if time.Now().After(deadline) {
			s.Shutdown()
			return nil, "", fmt.Errorf("embedded nats: not ready after 30s (data_dir %s)", opts.DataDir)
		}
	}
	return s, token, nil
}

func connect(opts Options) (*nats.Conn, error) {
	no := []nats.Option{
		nats.Name(opts.ClientName),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.RetryOnFailedConnect(true),
	}
	if opts.Creds != "" {
		no = append(no, nats.UserCredentials(opts.Creds))
	}
	if opts.User != "" {
		no = append(no, nats.UserInfo(opts.User, opts.Password))
	}
	if opts.Token != "" {
		no = append(no, nats.Token(opts.Token))
	}
	if opts.TLSCA != "" {
		no = append(no, nats.RootCAs(opts.TLSCA))
	}
	if opts.TLSCert != "" {
		no = append(no, nats.ClientCert(opts.TLSCert, opts.TLSKey))
	}
	log := opts.Logger
	no = append(no,
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			// nats.go calls this with a nil error for our own Close: a
			// clean stop is not worth a warning.
			if err == nil {
				log.Debug("nats connection closed")
				return
			}
			log.Warn("nats disconnected", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats reconnected", "server", redact.Userinfo(nc.ConnectedUrl()))
		}),
	)
	return nats.Connect(opts.URL, no...)
}

func (b *Bus) setup(ctx context.Context, opts Options) error {
	_, err := b.ensureStream(ctx, jetstream.StreamConfig{
		Name:        HitsStream,
		Description: "feedwatch hits, one per (profile, item)",
		Subjects:    []string{HitsSubjects, ReplayPrefix + ">"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      opts.HitsMaxAge,
		// Wider than the 2 min default: a watcher that crashes and restarts
		// republishes within this window without creating duplicates.
		Duplicates: 10 * time.Minute,
	})
	if err != nil {
		return err
	}
	_, err = b.ensureStream(ctx, jetstream.StreamConfig{
		Name:        DeadStream,
		Description: "feedwatch hits that a notifier could not deliver",
		Subjects:    []string{DeadPrefix + ">"},
		Storage:     jetstream.FileStorage,
		MaxAge:      30 * 24 * time.Hour,
		Duplicates:  10 * time.Minute,
	})
	if err != nil {
		return err
	}
	kv := func(name, desc string, ttl time.Duration) (jetstream.KeyValue, error) {
		return b.ensureBucket(ctx, jetstream.KeyValueConfig{
			Bucket:      name,
			Description: desc,
			TTL:         ttl,
			Storage:     jetstream.FileStorage,
		})
	}
	if b.seen, b.alerted, b.ledger, err = b.retainedBuckets(ctx, opts.Retention); err != nil {
		return err
	}
	b.seenDirect.Store(multiLastServer(b.nc.ConnectedServerVersion()) && allowsDirect(ctx, b.seen))
	if b.feeds, err = kv(FeedsBucket, "per-feed validators and schedule", 0); err != nil {
		return err
	}
	if b.leases, err = kv(LeaseBucket, "which process sends each notifier's digests", LeaseTTL); err != nil {
		return err
	}
	return nil
}

// retainedBuckets makes or updates the buckets whose entries live for
// state_retention: seen items, alerted hits, the delivery ledger.
func (b *Bus) retainedBuckets(ctx context.Context, ttl time.Duration) (seen, alerted, ledger jetstream.KeyValue, err error) {
	kv := func(name, desc string) (jetstream.KeyValue, error) {
		return b.ensureBucket(ctx, jetstream.KeyValueConfig{Bucket: name, Description: desc, TTL: ttl, Storage: jetstream.FileStorage})
	}
	if seen, err = kv(SeenBucket, "items seen, a log per feed"); err != nil {
		return nil, nil, nil, err
	}
	if alerted, err = kv(AlertedBucket, "hit ids already published"); err != nil {
		return nil, nil, nil, err
	}
	if ledger, err = kv(LedgerBucket, "hit ids delivered, per notifier"); err != nil {
		return nil, nil, nil, err
	}
	return seen, alerted, ledger, nil
}

// SetRetention applies another state_retention (a config reload): the
// buckets' TTL, and what a seen-log snapshot keeps from now on. A shorter
// one drops older entries at once, as the user asked.
func (b *Bus) SetRetention(ctx context.Context, d time.Duration) error {
	if d <= 0 || time.Duration(b.retention.Load()) == d {
		return nil
	}
	if _, _, _, err := b.retainedBuckets(ctx, d); err != nil {
		return fmt.Errorf("state_retention: %w", err)
	}
	b.retention.Store(int64(d))
	return nil
}

// ensureStream creates the stream, or updates it to cfg, with the bus's
// replicas: the one place (with ensureBucket) that sets them, so every
// stream feedwatch makes follows nats.replicas. A replica change the
// cluster refuses (too few servers, say) is logged with what the operator
// must do, and the stream is kept as it is: feedwatch runs on.
func (b *Bus) ensureStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	cfg.Replicas = b.replicas
	var s jetstream.Stream
	err := retryUnanswered(ctx, func(ctx context.Context) (err error) {
		s, err = b.js.CreateOrUpdateStream(ctx, cfg)
		return err
	})
	if err == nil {
		return s, nil
	}
	old, ierr := b.js.Stream(ctx, cfg.Name)
	if ierr != nil || old.CachedInfo().Config.Replicas == cfg.Replicas {
		return nil, fmt.Errorf("create stream %s with %d replicas: %w", cfg.Name, cfg.Replicas, err)
	}
	have := old.CachedInfo().Config.Replicas
	b.log.Error("stream replicas not changed; it keeps its current replicas",
		"stream", cfg.Name, "replicas", have, "wanted", cfg.Replicas, "err", err,
		"fix", fmt.Sprintf("make sure the cluster has at least %d JetStream servers up, then restart feedwatch or run `nats stream edit %s --replicas %d`; or set nats.replicas back to %d",
			cfg.Replicas, cfg.Name, cfg.Replicas, have))
	cfg.Replicas = have
	s, err = b.js.CreateOrUpdateStream(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("update stream %s: %w", cfg.Name, err)
	}
	return s, nil
}

// ensureBucket creates the KV bucket, or updates it to cfg, with the bus's
// replicas (a bucket is the stream KV_<bucket>); see ensureStream.
func (b *Bus) ensureBucket(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	cfg.Replicas = b.replicas
	var kv jetstream.KeyValue
	err := retryUnanswered(ctx, func(ctx context.Context) (err error) {
		kv, err = b.js.CreateOrUpdateKeyValue(ctx, cfg)
		return err
	})
	if err == nil {
		return kv, nil
	}
	stream := "KV_" + cfg.Bucket
	old, ierr := b.js.Stream(ctx, stream)
	if ierr != nil || old.CachedInfo().Config.Replicas == cfg.Replicas {
		return nil, fmt.Errorf("create bucket %s with %d replicas: %w", cfg.Bucket, cfg.Replicas, err)
	}
	have := old.CachedInfo().Config.Replicas
	b.log.Error("bucket replicas not changed; it keeps its current replicas",
		"bucket", cfg.Bucket, "replicas", have, "wanted", cfg.Replicas, "err", err,
		"fix", fmt.Sprintf("make sure the cluster has at least %d JetStream servers up, then restart feedwatch or run `nats stream edit %s --replicas %d`; or set nats.replicas back to %d",
			cfg.Replicas, stream, cfg.Replicas, have))
	cfg.Replicas = have
	kv, err = b.js.CreateOrUpdateKeyValue(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("update bucket %s: %w", cfg.Bucket, err)
	}
	return kv, nil
}

// apiAttempt bounds one create-or-update request of ensureStream and
// ensureBucket; retryUnanswered asks up to apiAttempts times (30 s in all,
// then the start fails as before, rather than waiting for ever on a
// cluster that cannot answer).
const (
	apiAttempt  = 5 * time.Second
	apiAttempts = 6
)

// retryUnanswered runs fn with a deadline of apiAttempt, again while it gets
// no answer in time and ctx allows. Processes that start together on a new
// cluster send the same stream creation at once, and the cluster may leave
// all of those requests unanswered; asked again, it answers (the stream
// exists by then, or is made).
func retryUnanswered(ctx context.Context, fn func(context.Context) error) error {
	for i := 1; ; i++ {
		actx, cancel := context.WithTimeout(ctx, apiAttempt)
		err := fn(actx)
		cancel()
		if err == nil || i == apiAttempts || ctx.Err() != nil || !(errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout)) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(100+rand.IntN(400)) * time.Millisecond):
		}
	}
}

// allowsDirect reports whether the bucket's stream answers direct gets (KV
// buckets created by the client do; one made by hand may not).
func allowsDirect(ctx context.Context, kv jetstream.KeyValue) bool {
	st, err := kv.Status(ctx)
	if err != nil {
		return false
	}
	bs, ok := st.(*jetstream.KeyValueBucketStatus)
	return ok && bs.StreamInfo() != nil && bs.StreamInfo().Config.AllowDirect
}

// multiLastServer reports whether a server of version v (major.minor.patch)
// does batched direct gets: 2.11 and later.
func multiLastServer(v string) bool {
	major, rest, _ := strings.Cut(v, ".")
	minor, _, _ := strings.Cut(rest, ".")
	ma, err1 := strconv.Atoi(major)
	mi, err2 := strconv.Atoi(minor)
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > 2 || ma == 2 && mi >= 11
}

// Connected reports whether the NATS connection is up.
func (b *Bus) Connected() bool {
	return b.nc != nil && b.nc.IsConnected()
}

// Close drains the connection and stops the embedded server.
func (b *Bus) Close() {
	if b.nc != nil {
		_ = b.nc.Drain()
		for i := 0; i < 50 && !b.nc.IsClosed(); i++ {
			time.Sleep(20 * time.Millisecond)
		}
		b.nc.Close()
	}
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	}
	if b.localAccess != "" {
		_ = os.Remove(b.localAccess)
	}
}

// ClientURL is where other processes reach the embedded server ("" when it
// does not listen or is not embedded).
func (b *Bus) ClientURL() string {
	if b.srv == nil || b.srv.Addr() == nil {
		return ""
	}
	return b.srv.ClientURL()
}
