package config

import "testing"

// TestDefaultWatcherIsTheLoadedDefault: a config that sets no watcher key
// loads exactly DefaultWatcher, the one User-Agent included.
func TestDefaultWatcherIsTheLoadedDefault(t *testing.T) {
	c, err := Parse("", []byte("profiles:\n  - name: a\n    keywords: [a]\n"), nil, WithVersion("1.2.3"))
	if err != nil {
		t.Fatal(err)
	}
	if want := DefaultWatcher("1.2.3"); c.Watcher != want {
		t.Errorf("loaded %+v\nwant    %+v", c.Watcher, want)
	}
	if got, want := DefaultWatcher("1.2.3").UserAgent, "feedwatch/1.2.3 (+https://github.com/feedwatch/feedwatch)"; got != want {
		t.Errorf("User-Agent %q, want %q", got, want)
	}
}
