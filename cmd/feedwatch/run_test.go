package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRunExampleBinary runs the README's first command against the built
// binary: the example's hits appear on stdout, SIGTERM exits 0 in time.
func TestRunExampleBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	run := func(wait time.Duration, until ...string) (string, string) {
		cmd := exec.Command(bin, "run", "--config", "../../examples/feedwatch.yaml")
		cmd.Env = append(os.Environ(),
			"FEEDWATCH_DATA_DIR="+filepath.Join(dir, "data"),
			fmt.Sprintf("FEEDWATCH_HTTP_LISTEN=127.0.0.1:%d", port))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 100)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		var got strings.Builder
		deadline := time.After(wait)
	wait:
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					break wait
				}
				got.WriteString(l + "\n")
				if len(until) > 0 && containsAll(got.String(), until) {
					break wait
				}
			case <-deadline:
				break wait
			}
		}
		t.Logf("ran %v", time.Since(start))
		stop := time.Now()
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		go func() { _, _ = io.Copy(io.Discard, stdout) }()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("exit: %v\n%s", err, stderr.String())
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatal("no exit within 10 s of SIGTERM")
		}
		t.Logf("stopped in %v", time.Since(stop))
		return got.String(), stderr.String()
	}

	wants := []string{"US declares China's treatment of Uyghurs in Xinjiang a genocide", "Trade Bill amendment"}
	out, logs := run(10*time.Second, wants...)
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q within 10 s:\n%s\nlogs:\n%s", want, out, logs)
		}
	}
	if strings.Contains(out, "Rain delays") {
		t.Errorf("unrelated item shown:\n%s", out)
	}
	// Second run on the same data_dir: nothing again.
	out, logs = run(4 * time.Second)
	if strings.Contains(out, "Xinjiang") {
		t.Errorf("second run repeated hits:\n%s\nlogs:\n%s", out, logs)
	}
}

func containsAll(s string, subs []string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}
