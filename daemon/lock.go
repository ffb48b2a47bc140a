package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// lockName is the file in data_dir that one daemon holds locked while it
// runs: two processes on one embedded JetStream store (or one checkpoint)
// would corrupt it.
const lockName = "feedwatch.lock"

// dataDirLock is a held flock on data_dir/feedwatch.lock. The kernel drops
// it when the process dies, so a crash never leaves a stale lock behind.
type dataDirLock struct{ f *os.File }

// lockDataDir takes the lock without waiting. When another process holds
// it, the error names that process (pid, command, start time), which the
// holder wrote into the file.
func lockDataDir(dir string, mode fmt.Stringer, now time.Time) (*dataDirLock, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data_dir %s: %w", dir, err)
	}
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("data_dir %s: lock: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, inUseError{dir: dir, holder: describeHolder(holder)}
		}
		return nil, fmt.Errorf("data_dir %s: lock: %w", dir, err)
	}
	host, _ := os.Hostname()
	info := fmt.Sprintf("pid %d, feedwatch %s, host %s, since %s\n", os.Getpid(), mode, host, now.UTC().Format(time.RFC3339))
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(info), 0)
	}
	return &dataDirLock{f: f}, nil
}

// inUseError is the lock held by another process, which holder names.
type inUseError struct{ dir, holder string }

func (e inUseError) Error() string {
	return fmt.Sprintf("data_dir %s is in use by another feedwatch (%s): stop it, or give this one its own data_dir", e.dir, e.holder)
}

// describeHolder turns the lock file's content into words for the error;
// the content is another process's, so it is kept to one short line.
func describeHolder(b []byte) string {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	s := strconv.QuoteToASCII(string(bytes.TrimSpace(line)))
	s = s[1 : len(s)-1]
	if s == "" {
		return "it did not say which"
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// release unlocks; the file stays (removing it would race a starting
// process that already opened it).
func (l *dataDirLock) release() {
	if l == nil || l.f == nil {
		return
	}
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
}
