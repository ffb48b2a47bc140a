package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/feedwatch/feedwatch/bus"
	"github.com/feedwatch/feedwatch/config"
)

// Store is feedwatch's NATS store as opened by a command that works beside
// the daemon (dead letters, backtest), whether the daemon runs or not.
type Store struct {
	Bus *bus.Bus
	// Offline: no daemon runs on this data_dir; the store was opened from
	// it, and data_dir stays locked (no daemon starts) until Close.
	Offline bool
	lock    *dataDirLock
}

// Close closes the bus and releases data_dir.
func (s *Store) Close() {
	if s.Bus != nil {
		s.Bus.Close()
	}
	s.lock.release()
}

// command names a command in data_dir's lock file, for the error a daemon
// started meanwhile gives.
type command string

func (c command) String() string { return string(c) }

// StoreOption tunes OpenStore.
type StoreOption func(*storeOptions)

type storeOptions struct{ readOnly bool }

// ReadOnly opens the store without creating or changing any stream or
// bucket (`feedwatch backtest`, which only reads the archive).
func ReadOnly() StoreOption { return func(o *storeOptions) { o.readOnly = true } }

// NoStoreError: data_dir holds no NATS store, so feedwatch has not run
// with it (embedded server only).
type NoStoreError struct{ DataDir string }

func (e *NoStoreError) Error() string {
	return fmt.Sprintf("data_dir %s holds no store: feedwatch has not run with this data_dir", e.DataDir)
}

// connectWait bounds the wait for a NATS server reached over the network:
// a command fails fast rather than retrying forever.
const connectWait = 10 * time.Second

// OpenStore opens the store of cfg for the command named cmd (dead
// letters, backtest):
//   - with nats.url, it connects there, daemon running or not;
//   - with the embedded server and no daemon on data_dir, it opens the
//     store in data_dir itself (no listener), holding data_dir's lock so
//     that no daemon starts on it meanwhile;
//   - with the embedded server and a daemon running, it connects to that
//     daemon through nats.embedded_listen, and fails when that is off.
//
// Opening makes sure the streams and buckets exist, with the daemon's own
// settings (the archive aside, which only the daemon shapes), so it changes
// nothing a running daemon relies on; with ReadOnly it makes nothing.
// Without a store in data_dir the error is a *NoStoreError, and data_dir
// is not created.
func OpenStore(ctx context.Context, cfg *config.Config, cmd string, log *slog.Logger, opts ...StoreOption) (*Store, error) {
	var so storeOptions
	for _, o := range opts {
		o(&so)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	bo := busOptions(cfg, "feedwatch "+cmd, log)
	bo.ReadOnly = so.readOnly
	if cfg.NATS.URL != "" {
		b, err := openReached(ctx, bo, "nats.url")
		if err != nil {
			return nil, err
		}
		return &Store{Bus: b}, nil
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "jetstream")); errors.Is(err, os.ErrNotExist) {
		return nil, &NoStoreError{DataDir: cfg.DataDir}
	}
	lock, lerr := lockDataDir(cfg.DataDir, command(cmd), time.Now())
	if lerr == nil {
		bo.EmbeddedListen = "" // in-process only: this is not the daemon
		b, err := bus.Open(ctx, bo)
		if err != nil {
			lock.release()
			return nil, err
		}
		return &Store{Bus: b, Offline: true, lock: lock}, nil
	}
	var inUse inUseError
	if !errors.As(lerr, &inUse) {
		return nil, lerr
	}
	// A daemon holds data_dir: reach its server, if it lets other
	// processes in.
	if cfg.NATS.EmbeddedListen == "" {
		// It listens on a private loopback port for feedwatch's own
		// commands; the file in data_dir says where, and the token.
		la, err := bus.ReadLocalAccess(filepath.Join(cfg.DataDir, bus.LocalAccessName))
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("a feedwatch runs on data_dir %s (%s) and left no %s, so its store cannot be reached: restart it with this version, set nats.embedded_listen (e.g. 127.0.0.1:4222), or stop it",
				inUse.dir, inUse.holder, bus.LocalAccessName)
		}
		if err != nil {
			return nil, err
		}
		bo.URL, bo.Token = la.URL, la.Token
		bo.User, bo.Password, bo.Creds = "", "", ""
		bo.TLSCA, bo.TLSCert, bo.TLSKey = "", "", ""
		b, err := openReached(ctx, bo, "the running daemon's embedded server")
		if err != nil {
			return nil, fmt.Errorf("reach the feedwatch running on data_dir %s (%s): %w", inUse.dir, inUse.holder, err)
		}
		return &Store{Bus: b}, nil
	}
	bo.URL = "nats://" + dialAddr(cfg.NATS.EmbeddedListen)
	b, err := openReached(ctx, bo, "the running daemon's server at nats.embedded_listen "+cfg.NATS.EmbeddedListen)
	if err != nil {
		return nil, fmt.Errorf("reach the running daemon at nats.embedded_listen %s: %w", cfg.NATS.EmbeddedListen, err)
	}
	return &Store{Bus: b}, nil
}

// openReached opens the bus on a server reached over the network (what
// names it for the error), failing when no connection is up within
// connectWait: the client retries in the background, and without a bound
// an open that makes streams would wait on requests nobody answers.
func openReached(ctx context.Context, bo bus.Options, what string) (*bus.Bus, error) {
	bo.ConnectWait = connectWait // before any stream is made: a request to nobody has no end
	b, err := bus.Open(ctx, bo)
	if errors.Is(err, bus.ErrNotReached) {
		return nil, fmt.Errorf("cannot reach NATS (%s)", what)
	}
	return b, err
}

// dialAddr turns a listen address into one to dial: a wildcard host
// becomes loopback.
func dialAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
