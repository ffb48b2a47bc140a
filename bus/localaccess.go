package bus

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// LocalAccessName is the file in data_dir through which feedwatch's own
// commands reach a running daemon's embedded server when
// nats.embedded_listen is off.
const LocalAccessName = "nats-local.json"

// LocalAccess is what that file holds.
type LocalAccess struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

// writeLocalAccess writes the file atomically, readable by its owner only:
// the token lets a client into the server.
func writeLocalAccess(path, url, token string) error {
	data, err := json.Marshal(LocalAccess{URL: url, Token: token})
	if err != nil {
		return fmt.Errorf("local access file %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".nats-local-*")
	if err != nil {
		return fmt.Errorf("local access file %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("local access file %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("local access file %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("local access file %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("local access file %s: %w", path, err)
	}
	return nil
}

// ReadLocalAccess reads the file a running daemon wrote; os.ErrNotExist
// when there is none (an older daemon, or one that listens on
// nats.embedded_listen).
func ReadLocalAccess(path string) (LocalAccess, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return LocalAccess{}, err
	}
	var la LocalAccess
	if err := json.Unmarshal(data, &la); err != nil {
		return LocalAccess{}, fmt.Errorf("local access file %s: %w", path, err)
	}
	// Only a loopback server written by feedwatch is trusted with the
	// token: a file edited to point elsewhere would send it away.
	if !strings.HasPrefix(la.URL, "nats://127.0.0.1:") || la.Token == "" {
		return LocalAccess{}, fmt.Errorf("local access file %s: %w", path, errors.New("not a loopback server with a token"))
	}
	return la, nil
}
