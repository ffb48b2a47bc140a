package bus

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenUnusableDataDir: a data_dir the embedded server cannot use is an
// error naming data_dir at once, not "not ready after 30s".
func TestOpenUnusableDataDir(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	loop := filepath.Join(dir, "loop")
	if err := os.Symlink(loop, loop); err != nil {
		t.Fatal(err)
	}
	for name, dataDir := range map[string]string{"a regular file": file, "a symlink loop": loop} {
		t.Run(name, func(t *testing.T) {
			b, err := Open(context.Background(), Options{DataDir: dataDir})
			if err == nil {
				b.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), "data_dir "+dataDir) {
				t.Errorf("error does not name data_dir: %v", err)
			}
		})
	}
}
