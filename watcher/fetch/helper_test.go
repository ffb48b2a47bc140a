package fetch

import (
	"testing"
	"time"
)

// newFetcher builds a Fetcher for a test from c, with the limits it leaves
// zero set to the config's defaults (New itself takes only explicit values).
func newFetcher(t testing.TB, c Config) *Fetcher {
	t.Helper()
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	if c.MaxBody == 0 {
		c.MaxBody = 10 << 20
	}
	if c.Concurrency == 0 {
		c.Concurrency = 32
	}
	if c.PerHost == 0 {
		c.PerHost = 2
	}
	f, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestNewTakesExplicitLimits: zero limits are refused, not replaced by
// defaults of this package's own; an empty User-Agent sends none.
func TestNewTakesExplicitLimits(t *testing.T) {
	ok := Config{Timeout: time.Second, MaxBody: 1, Concurrency: 1, PerHost: 1}
	for name, mod := range map[string]func(*Config){
		"timeout":     func(c *Config) { c.Timeout = 0 },
		"max body":    func(c *Config) { c.MaxBody = 0 },
		"concurrency": func(c *Config) { c.Concurrency = 0 },
		"per host":    func(c *Config) { c.PerHost = 0 },
	} {
		c := ok
		mod(&c)
		if _, err := New(c); err == nil {
			t.Errorf("zero %s accepted", name)
		}
	}
	if _, err := New(ok); err != nil {
		t.Fatal(err)
	}
}
