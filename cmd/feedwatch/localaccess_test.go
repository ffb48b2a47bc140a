package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBacktestRunningEmbeddedNoListen: the contract's backtest and dead
// commands read a running daemon's store "through NATS" with the default
// nats.embedded_listen "" too: the daemon leaves a private loopback address
// and token in data_dir (owner-only) and removes it when it stops.
func TestBacktestRunningEmbeddedNoListen(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the daemon")
	}
	t.Parallel()
	r := newBacktestRig(t)
	r.cfg = r.cfgNoListen
	r.start(t)
	access := filepath.Join(r.dir, "data", "nats-local.json")
	st, err := os.Stat(access)
	if err != nil {
		t.Fatalf("running daemon left no access file: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("access file mode %v, want 0600", st.Mode().Perm())
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		// Exit 1 (archive empty) until the first poll is archived.
		code, out, errOut := runCLI(t, nil, "backtest", "--json", "--config", r.cfg, "--since", "0")
		if code == 0 && strings.Contains(out, "Xinjiang camps report") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("backtest against the running daemon: exit %d: %s%s", code, out, errOut)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code, out, errOut := runCLI(t, nil, "dead", "list", "--config", r.cfg); code != 0 {
		t.Errorf("dead list against the running daemon: exit %d: %s%s", code, out, errOut)
	}
	r.stop(t)
	if _, err := os.Stat(access); !os.IsNotExist(err) {
		t.Errorf("access file left after stop: %v", err)
	}
	// Stopped: read from data_dir, as before.
	if got, _ := jsonHits(t, "--config", r.cfg, "--since", "0"); len(got) == 0 {
		t.Error("stopped daemon: no hits")
	}
}

// TestBacktestIgnoresNotifierTemplates: backtest sends nothing, so a
// notifier template that does not parse is a warning there, not a refusal.
func TestBacktestIgnoresNotifierTemplates(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "feedwatch.yaml")
	body := "data_dir: ./data\nprofiles:\n  - {name: xj, keywords: [Xinjiang]}\nnotifiers:\n  c:\n    type: console\n    template: '{{.Nope'\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, nil, "backtest", "--config", cfg)
	if code != 1 || !strings.Contains(errOut, "no archive") || !strings.Contains(errOut, "notifiers.c") {
		t.Errorf("backtest with a bad template: exit %d: %s", code, errOut)
	}
	if code, _, _ := runCLI(t, nil, "check", "--config", cfg); code == 0 {
		t.Error("check accepted the bad template")
	}
}
