package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/daemon"
	"github.com/feedwatch/feedwatch/hit"
	"github.com/feedwatch/feedwatch/notifier/build"
)

// Set at link time: -ldflags "-X main.version=v1.2.3 -X main.commit=abc".
var (
	version = "dev"
	commit  = ""
)

// env is everything a command takes from the process, so tests can run the
// command tree in-process.
type env struct {
	args           []string
	stdout, stderr io.Writer
	getenv         func(string) string
	reload         <-chan struct{}
	// ready is closed when the daemon serves (tests only).
	ready chan<- struct{}
	// routeLogs, when set, makes the logger the process-wide default
	// (main only: tests run many commands in one process).
	routeLogs func(*slog.Logger)
}

// usageError marks a mistake in how the command was called: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// exitError carries an exit code from a command that already reported why.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

type globals struct {
	config    string
	logLevel  string
	logFormat string
}

func execute(ctx context.Context, e env) int {
	g := &globals{}
	root := &cobra.Command{
		Use:           "feedwatch",
		Short:         "Watch news feeds for your topics and deliver each new hit once",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(e.args)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&g.config, "config", "", "config file (else $FEEDWATCH_CONFIG, ./feedwatch.yaml, $XDG_CONFIG_HOME/feedwatch/feedwatch.yaml, /etc/feedwatch/feedwatch.yaml)")
	pf.StringVar(&g.logLevel, "log-level", "info", "debug, info, warn or error")
	pf.StringVar(&g.logFormat, "log-format", "text", "text or json")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		log, err := g.logger(e.stderr)
		if err != nil {
			return err
		}
		if e.routeLogs != nil {
			e.routeLogs(log)
		}
		return nil
	}

	root.AddCommand(
		daemonCmd(ctx, e, g, "run", daemon.ModeAll, "Run the whole daemon: watcher, matcher and notifiers"),
		daemonCmd(ctx, e, g, "watch", daemon.ModeWatch, "Poll, match and publish hits only (split deployments)"),
		daemonCmd(ctx, e, g, "notify", daemon.ModeNotify, "Deliver hits from NATS only (split deployments)"),
		checkCmd(e, g),
		matchCmd(ctx, e, g),
		sendTestCmd(ctx, e, g),
		statusCmd(ctx, e, g),
		healthcheckCmd(ctx, e, g),
		versionCmd(e),
	)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintln(e.stderr, "feedwatch:", err)
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		return 2
	}
	return 1
}

// isCobraUsage recognises cobra's own errors for unknown commands and bad
// argument counts, which it does not type.
func isCobraUsage(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand", "accepts ", "requires at least", "invalid argument"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func args(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := v(cmd, a); err != nil {
			return usageError{err}
		}
		return nil
	}
}

func (g *globals) logger(w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(g.logLevel)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", g.logLevel)}
	}
	o := &slog.HandlerOptions{Level: lvl}
	switch g.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, o)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, o)), nil
	}
	return nil, usageError{fmt.Errorf("--log-format %q: want text or json", g.logFormat)}
}

func (g *globals) configPath(e env) (string, error) {
	return config.Find(g.config, e.getenv)
}

// loadConfig finds and fully validates the config file, as a daemon
// would (check) or as a command beside one would (data_dir is the
// daemon's own business).
func (g *globals) loadConfig(e env, asDaemon bool) (*config.Config, string, error) {
	path, err := g.configPath(e)
	if err != nil {
		return nil, "", err
	}
	load := daemon.LoadClientConfig
	if asDaemon {
		load = daemon.LoadConfig
	}
	cfg, err := load(path, e.getenv, version)
	return cfg, path, err
}

func daemonCmd(ctx context.Context, e env, g *globals, name string, mode daemon.Mode, short string) *cobra.Command {
	return &cobra.Command{
		Use: name, Short: short, Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger(e.stderr)
			if err != nil {
				return err
			}
			path, err := g.configPath(e)
			if err != nil {
				return err
			}
			err = daemon.Run(ctx, daemon.Options{
				ConfigPath: path, Mode: mode, Stdout: e.stdout, Logger: log,
				Getenv: e.getenv, Version: version, Reload: e.reload, Ready: e.ready,
			})
			var ps config.Problems
			if errors.As(err, &ps) {
				for _, p := range ps {
					fmt.Fprintln(e.stderr, p.String())
				}
				return exitError{1}
			}
			return err
		},
	}
}

func checkCmd(e env, g *globals) *cobra.Command {
	return &cobra.Command{
		Use: "check", Short: "Validate the config: exit 0, or print every problem and exit 1", Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, path, err := g.loadConfig(e, true)
			var ps config.Problems
			if errors.As(err, &ps) {
				for _, p := range ps {
					fmt.Fprintln(e.stdout, p.String())
				}
				fmt.Fprintf(e.stderr, "%s: %d problem(s)\n", path, len(ps))
				return exitError{1}
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s: ok (%d feeds, %d profiles, %d notifiers)\n", path, len(cfg.Feeds), len(cfg.Profiles), len(cfg.Notifiers))
			return nil
		},
	}
}

func sendTestCmd(ctx context.Context, e env, g *globals) *cobra.Command {
	return &cobra.Command{
		Use: "send-test NOTIFIER", Short: "Deliver one sample hit through a notifier and report the result", Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			cfg, path, err := g.loadConfig(e, false)
			if err != nil {
				return err
			}
			name := a[0]
			nc, ok := cfg.Notifiers[name]
			if !ok {
				return usageError{fmt.Errorf("no notifier %q in %s", name, path)}
			}
			n, err := build.New(name, nc, e.stdout, &http.Client{Timeout: 30 * time.Second})
			if err != nil {
				return fmt.Errorf("notifier %q: %w", name, err)
			}
			sctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			if _, err := n.Notify(sctx, []hit.Hit{build.SampleHit(time.Now())}); err != nil {
				return fmt.Errorf("send-test %q: %w", name, err)
			}
			fmt.Fprintf(e.stderr, "send-test %q: delivered\n", name)
			return nil
		},
	}
}

func versionCmd(e env) *cobra.Command {
	return &cobra.Command{
		Use: "version", Short: "Print version, commit and Go version", Args: args(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			c := commit
			if c == "" {
				c = "unknown"
				if bi, ok := debug.ReadBuildInfo(); ok {
					for _, s := range bi.Settings {
						if s.Key == "vcs.revision" {
							c = s.Value
						}
					}
				}
			}
			fmt.Fprintf(e.stdout, "feedwatch %s\ncommit %s\n%s %s/%s\n", version, c, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
