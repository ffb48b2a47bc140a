// Package bus is the one place that knows NATS: it runs the embedded server,
// connects, creates the hits stream and the state buckets, publishes hits and
// hands them to notifiers.
package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedwatch/feedwatch/seenlog"
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
)

// Options says how to reach NATS.
type Options struct {
	// URL is empty for an embedded server, else a comma-separated list.
	URL string
	// EmbeddedListen is host:port for other processes to reach the embedded
	// server; empty keeps it in-process only.
	EmbeddedListen string
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
	// ClientName names the connection in the server's monitoring.
	ClientName string
	// Replicas of the streams and buckets feedwatch creates (0 means 1).
	Replicas int
	Logger   *slog.Logger
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
	log     *slog.Logger
	// seenDirect: the seen bucket answers batched direct gets.
	seenDirect atomic.Bool
	seenLogs   logPositions
	retention  time.Duration
	replicas   int
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
	b := &Bus{log: opts.Logger, retention: opts.Retention, replicas: opts.Replicas, seenLogs: logPositions{m: map[string]seenlog.Log{}}}
	var err error
	if opts.URL == "" {
		b.srv, err = startEmbedded(opts)
		if err != nil {
			return nil, err
		}
		b.nc, err = nats.Connect("", nats.InProcessServer(b.srv), nats.Name(opts.ClientName), nats.MaxReconnects(-1))
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
	if err := b.setup(ctx, opts); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

func startEmbedded(opts Options) (*server.Server, error) {
	if opts.DataDir == "" {
		// nats-server would silently fall back to the system temp folder.
		return nil, errors.New("embedded nats: data_dir is empty")
	}
	so := &server.Options{
		ServerName: "feedwatch",
		JetStream:  true,
		StoreDir:   filepath.Join(opts.DataDir, "jetstream"),
		NoSigs:     true,
		NoLog:      true,
		// The store syncs every 10 s instead of the default 2 min: a power
		// loss can drop at most the last seconds of hits and seen-state.
		SyncInterval: 10 * time.Second,
	}
	if opts.EmbeddedListen == "" {
		so.DontListen = true
	} else {
		host, port, err := net.SplitHostPort(opts.EmbeddedListen)
		if err != nil {
			return nil, fmt.Errorf("embedded nats: listen %q: %w", opts.EmbeddedListen, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("embedded nats: listen %q: bad port", opts.EmbeddedListen)
		}
		so.Host, so.Port = host, p
	}
	s, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return nil, errors.New("embedded nats: not ready after 30s")
	}
	return s, nil
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
			log.Warn("nats disconnected", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats reconnected", "server", redactURL(nc.ConnectedUrl()))
		}),
	)
	return nats.Connect(opts.URL, no...)
}

// redactURL drops user info from a server URL before it is logged.
func redactURL(u string) string {
	if i := strings.Index(u, "@"); i >= 0 {
		if j := strings.Index(u, "://"); j >= 0 && j < i {
			return u[:j+3] + "***" + u[i:]
		}
	}
	return u
}

func (b *Bus) setup(ctx context.Context, opts Options) error {
	_, err := b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        HitsStream,
		Description: "feedwatch hits, one per (profile, item)",
		Subjects:    []string{HitsSubjects},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      opts.HitsMaxAge,
		// Wider than the 2 min default: a watcher that crashes and restarts
		// republishes within this window without creating duplicates.
		Duplicates: 10 * time.Minute,
	})
	if err != nil {
		return fmt.Errorf("create stream %s: %w", HitsStream, err)
	}
	_, err = b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        DeadStream,
		Description: "feedwatch hits that a notifier could not deliver",
		Subjects:    []string{DeadPrefix + ">"},
		Storage:     jetstream.FileStorage,
		MaxAge:      30 * 24 * time.Hour,
		Duplicates:  10 * time.Minute,
	})
	if err != nil {
		return fmt.Errorf("create stream %s: %w", DeadStream, err)
	}
	kv := func(name, desc string, ttl time.Duration) (jetstream.KeyValue, error) {
		k, err := b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      name,
			Description: desc,
			TTL:         ttl,
			Storage:     jetstream.FileStorage,
		})
		if err != nil {
			return nil, fmt.Errorf("create bucket %s: %w", name, err)
		}
		return k, nil
	}
	if b.seen, err = kv(SeenBucket, "items seen, a log per feed", opts.Retention); err != nil {
		return err
	}
	b.seenDirect.Store(multiLastServer(b.nc.ConnectedServerVersion()) && allowsDirect(ctx, b.seen))
	if b.feeds, err = kv(FeedsBucket, "per-feed validators and schedule", 0); err != nil {
		return err
	}
	if b.alerted, err = kv(AlertedBucket, "hit ids already published", opts.Retention); err != nil {
		return err
	}
	if b.ledger, err = kv(LedgerBucket, "hit ids delivered, per notifier", opts.Retention); err != nil {
		return err
	}
	return nil
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
}

// ClientURL is where other processes reach the embedded server ("" when it
// does not listen or is not embedded).
func (b *Bus) ClientURL() string {
	if b.srv == nil || b.srv.Addr() == nil {
		return ""
	}
	return b.srv.ClientURL()
}
