package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
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
	// Longer than the member lease (10 s): the watcher stops polling, and
	// the server comes back without the members bucket (in memory), which
	// the daemons must make again to own feeds once more.
	time.Sleep(12 * time.Second)
	ns = startNATS(t, natsDir, natsPort)
	r.feed.add("3", "Xinjiang after", "", now)

	waitFor(t, "all hits", 45*time.Second, func() bool { return len(hookTitles(t, r.hook)) == 3 })
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

// TestStartWaitsForNATS: with nats.url's server down at start, the process
// stays up: /healthz answers, /readyz is 503, a warning names the URL;
// once the server is up, the daemon starts and /readyz is 200. A stop
// while it waits ends it at once.
func TestStartWaitsForNATS(t *testing.T) {
	natsDir := t.TempDir()
	natsPort, httpPort := freePort(t), freePort(t)
	r := newReloadRig(t)
	cfg := externalNATSConfig(filepath.Join(r.dir, "data"), fmt.Sprintf("127.0.0.1:%d", httpPort),
		fmt.Sprintf("nats://alerts:pw@127.0.0.1:%d", natsPort), "", r.feedURL, r.hookURL, "")
	if err := os.WriteFile(r.path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	defer func() {
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	}()
	get := func(path string) int {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", httpPort, path))
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{ConfigPath: r.path, Mode: ModeAll, Stdout: io.Discard, Getenv: func(string) string { return "" },
			Logger: slog.New(slog.NewTextHandler(logs, nil)), Ready: ready})
	}()
	waitFor(t, "/healthz 200 while NATS is down", 10*time.Second, func() bool { return get("/healthz") == http.StatusOK })
	if c := get("/readyz"); c != http.StatusServiceUnavailable {
		t.Errorf("/readyz = %d while NATS is down, want 503", c)
	}
	if c := get("/api/status"); c != http.StatusServiceUnavailable {
		t.Errorf("/api/status = %d while starting, want 503", c)
	}
	waitFor(t, "a warning naming the NATS URL", 15*time.Second, func() bool {
		return strings.Contains(logs.String(), "still connecting to NATS") && strings.Contains(logs.String(), fmt.Sprintf("127.0.0.1:%d", natsPort))
	})
	if strings.Contains(logs.String(), "alerts:pw") {
		t.Error("the log shows the NATS password")
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned while NATS was down: %v", err)
	default:
	}
	// A server without JetStream: the start fails, and is tried again.
	plain, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: natsPort, NoSigs: true, NoLog: true, Username: "alerts", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	go plain.Start()
	waitFor(t, "a failed start tried again", 60*time.Second, func() bool {
		return strings.Contains(logs.String(), "cannot start on NATS; trying again")
	})
	plain.Shutdown()
	plain.WaitForShutdown()
	if c := get("/readyz"); c != http.StatusServiceUnavailable {
		t.Errorf("/readyz = %d between tries, want 503", c)
	}

	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: natsPort, JetStream: true, StoreDir: natsDir, NoSigs: true, NoLog: true,
		Username: "alerts", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	defer ns.Shutdown()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Run returned: %v", err)
	case <-time.After(90 * time.Second):
		t.Fatal("not started within 90 s of NATS coming up")
	}
	waitFor(t, "/readyz 200", 10*time.Second, func() bool { return get("/readyz") == http.StatusOK })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("did not stop")
	}
}

// TestStopWhileWaitingForNATS: SIGTERM while the daemon waits for NATS
// ends it at once, cleanly.
func TestStopWhileWaitingForNATS(t *testing.T) {
	r := newReloadRig(t)
	cfg := externalNATSConfig(filepath.Join(r.dir, "data"), `""`, fmt.Sprintf("nats://127.0.0.1:%d", freePort(t)), "", r.feedURL, r.hookURL, "")
	if err := os.WriteFile(r.path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{ConfigPath: r.path, Mode: ModeWatch, Stdout: io.Discard, Getenv: func(string) string { return "" },
			Logger: slog.New(slog.DiscardHandler)})
	}()
	time.Sleep(2 * time.Second)
	stopped := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		if d := time.Since(stopped); d > 10*time.Second {
			t.Errorf("stopped after %v, the SPEC allows 10 s", d)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("did not stop within 15 s")
	}
}
