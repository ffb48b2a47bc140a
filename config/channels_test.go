package config_test

import (
	"os"
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
