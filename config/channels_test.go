package config_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/notifier/build"
)

// TestMain hands this package's tests the real notifier registry, which
// the config package itself must not import.
func TestMain(m *testing.M) {
	config.SetTestChannels(build.Channels())
	os.Exit(m.Run())
}

// TestConfigImportsNoChannel: channels reach config only through the
// registry's description (WithChannels), never as imports.
func TestConfigImportsNoChannel(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if strings.Contains(imp.Path.Value, "feedwatch/feedwatch/notifier") {
				t.Errorf("%s imports %s", name, imp.Path.Value)
			}
		}
	}
}
