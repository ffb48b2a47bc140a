package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if builtDir != "" {
		_ = os.RemoveAll(builtDir)
	}
	os.Exit(code)
}

// builtDir holds the test binary once built; TestMain removes it.
var builtDir string

// buildOnce builds the binary once for the subprocess tests.
var buildOnce = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "feedwatch-bin")
	if err != nil {
		return "", err
	}
	builtDir = dir
	bin := filepath.Join(dir, "feedwatch")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return "", fmt.Errorf("build: %v\n%s", err, out)
	}
	return bin, nil
})

// startBinary starts the built binary with args, stdout discarded and
// stderr to stderr (nil: discarded); the test's cleanup kills it if it
// still runs.
func startBinary(t *testing.T, bin string, stderr io.Writer, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if stderr != nil {
		cmd.Stderr = stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

// TestKillDuringSend kills the daemon (SIGKILL) while a webhook delivery is
// in flight, before it could be acked or recorded, and restarts it: the hit
// is delivered again after the consumer's AckWait, with the same hit id (so
// the receiver can drop the repeat), and never a third time. The window
// after a send is recorded and before its ack is covered, without timing
// games, by daemon.TestCrashBetweenSendAndAck.
func TestKillDuringSend(t *testing.T) {
	t.Parallel() // own servers, data_dir and processes; mostly waiting on timeouts
	if testing.Short() {
		t.Skip("builds the binary and waits for AckWait")
	}
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	pub := time.Now().UTC().Format(time.RFC1123Z)
	feed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `<?xml version="1.0"?><rss version="2.0"><channel><title>World</title>
<item><title>Xinjiang story</title><link>https://news.example.org/x</link><guid>x-1</guid><pubDate>%s</pubDate></item>
</channel></rss>`, pub)
	}))
	defer feed.Close()

	var mu sync.Mutex
	var ids []string
	arrived := make(chan struct{}, 10)
	release := make(chan struct{})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		ids = append(ids, r.Header.Get("X-Feedwatch-Hit-Id"))
		first := len(ids) == 1
		mu.Unlock()
		arrived <- struct{}{}
		if first {
			<-release // the sender is killed while waiting for this answer
		}
	}))
	defer hook.Close()
	defer close(release)

	dir := t.TempDir()
	cfg := filepath.Join(dir, "feedwatch.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: %s
http: {listen: ""}
watcher: {interval: 1s}
feeds:
  - url: %s/rss
    name: world
profiles:
  - name: xinjiang
    keywords: [Xinjiang]
notifiers:
  hook:
    type: webhook
    url: %s/hook
`, filepath.Join(dir, "data"), feed.URL, hook.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	start := func() *exec.Cmd { return startBinary(t, bin, nil, "run", "--config", cfg) }
	wait := func(what string, d time.Duration) {
		select {
		case <-arrived:
		case <-time.After(d):
			t.Fatalf("no %s within %v", what, d)
		}
	}

	cmd := start()
	wait("first delivery", 15*time.Second)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	cmd = start()
	wait("redelivery after the crash", 60*time.Second)
	select {
	case <-arrived:
		t.Fatal("a third delivery")
	case <-time.After(3 * time.Second):
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ids) != 2 || ids[0] == "" || ids[0] != ids[1] {
		t.Fatalf("hit ids %q: want the same id twice", ids)
	}
}
