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
	// environ is the whole environment, for warnings about FEEDWATCH_*
	// variables that set nothing; nil skips them.
	environ []string
	reload  <-chan struct{}
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
		Use:   "feedwatch",
		Short: "Watch news feeds for your topics and deliver each new hit once",
		Long: `feedwatch polls RSS, Atom and JSON feeds, matches every new item against the
keyword profiles of its config file, stores each hit in NATS JetStream and
delivers it by console, email, Slack or webhook, once.`,
		Example: `  feedwatch check --config feedwatch.yaml
  feedwatch run --config feedwatch.yaml
  feedwatch match --query '"trade bill" AND genocide' https://example.org/rss`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// No command is a usage error (exit 2), with the usage to read;
		// --help still exits 0.
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SetOut(e.stderr)
			_ = cmd.Usage()
			return usageError{errors.New("no command given")}
		},
	}
	root.SetArgs(e.args)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
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

	withConfig := func(cmd *cobra.Command) *cobra.Command {
		// Only commands that read the config list --config.
		cmd.Flags().StringVar(&g.config, "config", "", "config file (else $FEEDWATCH_CONFIG, ./feedwatch.yaml, $XDG_CONFIG_HOME/feedwatch/feedwatch.yaml, /etc/feedwatch/feedwatch.yaml)")
		return cmd
	}
	root.AddCommand(
		withConfig(daemonCmd(ctx, e, g, "run", daemon.ModeAll, "Run the whole daemon: watcher, matcher and notifiers", runLong, runExample)),
		withConfig(daemonCmd(ctx, e, g, "watch", daemon.ModeWatch, "Poll, match and publish hits only (split deployments)", watchLong, watchExample)),
		withConfig(daemonCmd(ctx, e, g, "notify", daemon.ModeNotify, "Deliver hits from NATS only (split deployments)", notifyLong, notifyExample)),
		withConfig(checkCmd(e, g)),
		withConfig(matchCmd(ctx, e, g)),
		withConfig(backtestCmd(ctx, e, g)),
		withConfig(sendTestCmd(ctx, e, g)),
		withConfig(statusCmd(ctx, e, g)),
		withConfig(healthcheckCmd(ctx, e, g)),
		feedsCmd(ctx, e, g, withConfig),
		deadCmd(ctx, e, g, withConfig),
		// --config is a common flag: version takes it too, but reads no
		// config, so its help does not offer it.
		hiddenConfig(withConfig(versionCmd(e))),
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

// hiddenConfig keeps --config out of cmd's help.
func hiddenConfig(cmd *cobra.Command) *cobra.Command {
	_ = cmd.Flags().MarkHidden("config")
	return cmd
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

// loadConfig finds and fully validates the config file for a role: a
// ${VAR} in a section the role does not use may be missing.
func (g *globals) loadConfig(e env, role config.Role) (*config.Config, string, error) {
	path, err := g.configPath(e)
	if err != nil {
		return nil, "", err
	}
	cfg, err := daemon.LoadConfig(path, e.getenv, version, config.WithRole(role))
	return cfg, path, err
}

func daemonCmd(ctx context.Context, e env, g *globals, name string, mode daemon.Mode, short, long, example string) *cobra.Command {
	return &cobra.Command{
		Use: name, Short: short, Long: long, Example: example, Args: args(cobra.NoArgs),
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
				Getenv: e.getenv, Environ: e.environ, Version: version, Reload: e.reload, Ready: e.ready,
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
	var role string
	cmd := &cobra.Command{
		Use: "check", Short: "Validate the config: exit 0, or print every problem and exit 1", Args: args(cobra.NoArgs),
		Long: `check reads the config as the daemon would and prints every problem at once, one a
line, as file:line: key.path: message, with the key you probably meant for a typo.
It exits 1 when there is a problem, 0 otherwise.

A ${VAR} that is not set is a problem, as for the daemon command --role names (run,
the default; watch or notify, which do not use the other's secrets); with --role none
every missing variable is only a warning (a shell without the daemon's secrets).
Warnings do not change the exit code: those, and a FEEDWATCH_* variable that sets no
key. Local feed files and NATS credential files must exist.`,
		Example: `  feedwatch check --config /etc/feedwatch/feedwatch.yaml
  feedwatch check --role watch    # the environment of a watch process
  feedwatch check --role none     # CI, without the secrets`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			roles := map[string]config.Role{"run": config.RoleRun, "watch": config.RoleWatch, "notify": config.RoleNotify, "none": config.RoleCheck}
			r, ok := roles[role]
			if !ok {
				return usageError{fmt.Errorf("--role %q: want run, watch, notify or none", role)}
			}
			path, err := g.configPath(e)
			if err != nil {
				return err
			}
			cfg, err := daemon.CheckConfig(path, e.getenv, e.environ, version, r)
			var ps config.Problems
			if errors.As(err, &ps) {
				errs := 0
				for _, p := range ps {
					fmt.Fprintln(e.stdout, p.String())
					if !p.Warning {
						errs++
					}
				}
				fmt.Fprintf(e.stderr, "%s: %d problem(s), %d warning(s)\n", path, errs, len(ps)-errs)
				return exitError{1}
			}
			if err != nil {
				return err
			}
			for _, p := range cfg.Warnings {
				fmt.Fprintln(e.stdout, p.String())
			}
			fmt.Fprintf(e.stdout, "%s: ok (%d feeds, %d profiles, %d notifiers", path, len(cfg.Feeds), len(cfg.Profiles), len(cfg.Notifiers))
			if n := len(cfg.Warnings); n > 0 {
				fmt.Fprintf(e.stdout, ", %d warning(s)", n)
			}
			fmt.Fprintln(e.stdout, ")")
			return nil
		},
	}
	cmd.Flags().StringVar(&role, "role", "run", "the daemon command whose keys must have their ${VAR}s set: run, watch, notify, or none")
	return cmd
}

func sendTestCmd(ctx context.Context, e env, g *globals) *cobra.Command {
	return &cobra.Command{
		Use: "send-test NOTIFIER", Short: "Deliver one sample hit through a notifier and report the result", Args: args(cobra.ExactArgs(1)),
		Long: `send-test delivers one sample hit through the named notifier of the config, directly
(not through NATS), and prints "delivered" or the exact error the channel gave.
The message is marked as a test in its subject and text, so nobody mistakes it
for an alert. A daemon need not be running.`,
		Example: `  feedwatch send-test team-slack --config feedwatch.yaml
  feedwatch send-test me`,
		RunE: func(cmd *cobra.Command, a []string) error {
			// Like notify, send-test does not need the feeds' secrets.
			cfg, path, err := g.loadConfig(e, config.RoleNotify)
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
			if _, err := n.Notify(sctx, []hit.Hit{build.TestHit(time.Now())}); err != nil {
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
		Long:    "version prints feedwatch's version, the commit it was built from, and the Go version and platform.",
		Example: "  feedwatch version",
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

const (
	runLong = `run is the whole daemon in one process: it polls the config's feeds, matches each new
item against every profile, publishes hits to NATS JetStream and delivers them
through the notifiers. With no nats.url it runs an embedded NATS server storing
under data_dir.

Editing the config file reloads it (SIGHUP too); an invalid edit is logged and the
running config stays. SIGTERM or SIGINT stops it within 10 seconds, losing nothing.
--log-level debug logs every poll and every delivery.`
	runExample = `  feedwatch run --config examples/feedwatch.yaml
  feedwatch run --config /etc/feedwatch/feedwatch.yaml --log-format json
  FEEDWATCH_NATS_URL=nats://n1:4222 feedwatch run`
	watchLong = `watch polls, matches and publishes hits to NATS, and delivers nothing: run it with
"feedwatch notify" against the same NATS server for a split deployment. It needs
no notifier secrets: a ${VAR} missing under notifiers is only a warning.`
	watchExample = `  FEEDWATCH_NATS_URL=nats://nats:4222 feedwatch watch --config /etc/feedwatch/feedwatch.yaml`
	notifyLong   = `notify delivers the hits that "feedwatch watch" publishes to NATS, through the config's
notifiers, and polls nothing. It needs no feed secrets: a ${VAR} missing under feeds
(headers) is only a warning.`
	notifyExample = `  FEEDWATCH_NATS_URL=nats://nats:4222 feedwatch notify --config /etc/feedwatch/feedwatch.yaml`
)
