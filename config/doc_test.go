package config

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/config.md from the schema")

// TestConfigDoc keeps docs/config.md in step with the schema.
func TestConfigDoc(t *testing.T) {
	if missing := undocumented(testChannels); len(missing) > 0 {
		t.Fatalf("keys without a description: %s\nadd them to keyDocs in config/doc.go", strings.Join(missing, ", "))
	}
	path := filepath.Join("..", "docs", "config.md")
	want := reference(testChannels)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("docs/config.md is out of date with the config schema (%v): run\n\tgo test ./config -run TestConfigDoc -update", err)
	}
}

// TestConfigDocNamesKeysPeopleLookFor: the keys users could not find.
func TestConfigDocNamesKeysPeopleLookFor(t *testing.T) {
	doc := string(reference(testChannels))
	for _, k := range []string{
		"`notifiers.<name>.url`", "`feeds[].headers`", "`watcher.state_retention`", "`watcher.user_agent`",
		"`watcher.allow_private_redirects`", "`nats.creds`", "`nats.user`", "`nats.password`", "`nats.token`",
		"`nats.tls_ca`", "`nats.tls_cert`", "`nats.tls_key`", "`nats.embedded_listen`",
	} {
		if !strings.Contains(doc, "| "+k+" |") {
			t.Errorf("the reference lacks %s", k)
		}
	}
}
