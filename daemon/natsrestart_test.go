package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

func startNATS(t *testing.T, dir string, port int) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	return s
}

// externalNATSConfig is the config of the tests that run daemons against
// NATS servers of their own: one feed (world.xml under feedURL), profile
// xinjiang, webhook notifier hook. natsExtra goes under nats: and
// hookExtra under the notifier, each as whole indented lines.
func externalNATSConfig(dataDir, listen, natsURL, natsExtra, feedURL, hookURL, hookExtra string) string {
	return fmt.Sprintf(`data_dir: %s
http:
  listen: %s
nats:
  url: %s
%swatcher:
  interval: 1s
feeds:
  - url: %s/world.xml
    name: world
profiles:
  - name: xinjiang
    keywords: [Xinjiang]
notifiers:
  hook:
    type: webhook
    url: %s/hook
%s`, dataDir, listen, natsURL, natsExtra, feedURL, hookURL, hookExtra)
}

// TestSplitDeploymentSurvivesNATSRestart runs `watch` and `notify` as two
// daemons against an external NATS server, restarts the server while items
// keep arriving, and expects every hit delivered exactly once.
func TestSplitDeploymentSurvivesNATSRestart(t *testing.T) {
	natsDir := t.TempDir()
	natsPort := freePort(t)
	ns := startNATS(t, natsDir, natsPort)
	defer func() { ns.Shutdown() }()

	r := newReloadRig(t)
	cfg := externalNATSConfig(filepath.Join(r.dir, "data"), `""`, fmt.Sprintf("nats://127.0.0.1:%d", natsPort), "", r.feedURL, r.hookURL, "")
	if err := os.WriteFile(r.path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	start := func(mode Mode) (context.CancelFunc, chan error) {
		return startRun(t, mode.String(), Options{ConfigPath: r.path, Mode: mode, Stdout: io.Discard, Getenv: func(string) string { return "" },
			Logger: slog.New(slog.NewTextHandler(logs, nil)).With("mode", mode.String())}, 60*time.Second)
	}
	stopW, doneW := start(ModeWatch)
	stopN, doneN := start(ModeNotify)
	defer func() {
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	}()

	now := time.Now()
	r.feed.add("1", "Xinjiang before", "", now)
	waitFor(t, "first hit", 15*time.Second, func() bool { return len(hookTitles(t, r.hook)) == 1 })

	ns.Shutdown()
	ns.WaitForShutdown()
	r.feed.add("2", "Xinjiang during the outage", "", now)
	time.Sleep(3 * time.Second) // several failed polls
	ns = startNATS(t, natsDir, natsPort)
	r.feed.add("3", "Xinjiang after", "", now)

	waitFor(t, "all hits", 30*time.Second, func() bool { return len(hookTitles(t, r.hook)) == 3 })
	time.Sleep(2 * time.Second)
	for k, n := range hookTitles(t, r.hook) {
		if n != 1 {
			t.Errorf("%s delivered %d times", k, n)
		}
	}
	for _, s := range []struct {
		stop context.CancelFunc
		done chan error
	}{{stopW, doneW}, {stopN, doneN}} {
		s.stop()
		select {
		case err := <-s.done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(10 * time.Second):
			t.Error("no stop within 10 s")
		}
	}
}
