// Command feedwatch watches news feeds for the topics people care about and
// delivers each new hit once. This file only turns arguments, environment and
// signals into calls on the daemon package.
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	reload := make(chan struct{}, 1)
	go func() {
		for range hup {
			select {
			case reload <- struct{}{}:
			default:
			}
		}
	}()
	code := execute(ctx, env{
		args: os.Args[1:], stdout: os.Stdout, stderr: os.Stderr,
		getenv: os.Getenv, environ: os.Environ(), reload: reload, routeLogs: routeStdLog,
	})
	stop()
	os.Exit(code)
}

// routeStdLog makes l the default slog logger and sends the standard
// library's log package through it at warn level: net/http's transport
// writes there ("Unsolicited response received on idle HTTP channel"), and
// --log-format json must hold for every line on stderr.
func routeStdLog(l *slog.Logger) {
	slog.SetLogLoggerLevel(slog.LevelWarn)
	slog.SetDefault(l)
}
