package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/matcher"
	"github.com/feedwatch/feedwatch/watcher/fetch"
)

// checkProfiles reports query and keyword problems the matcher finds.
func checkProfiles(c *config.Config) []config.Problem {
	var out []config.Problem
	for i, p := range c.Profiles {
		for _, err := range matcher.CheckProfile(MatcherProfile(p)) {
			out = append(out, problemAt(fmt.Sprintf("profiles[%d]", i), err))
		}
	}
	return out
}

// CheckConfig is what "feedwatch check" runs: the load of the daemon
// command role (RoleRun, RoleWatch, RoleNotify; RoleCheck makes every
// missing ${VAR} a warning, for a shell without the daemon's secrets),
// FEEDWATCH_* variables in environ that set nothing as warnings, local
// feed files and NATS credential files that must exist, and a usable
// data_dir.
func CheckConfig(path string, getenv func(string) string, environ []string, version string, role config.Role) (*config.Config, error) {
	return LoadConfig(path, getenv, version, config.WithRole(role),
		config.WithEnviron(environ), config.WithChecks(checkFeedFiles, checkDataDir, checkNATSFiles))
}

// checkNATSFiles reports nats.creds and TLS files that cannot be read: the
// daemon would otherwise wait for NATS for ever, retrying.
func checkNATSFiles(c *config.Config) []config.Problem {
	var out []config.Problem
	for _, f := range []struct{ key, path string }{
		{"nats.creds", c.NATS.Creds}, {"nats.tls_ca", c.NATS.TLSCA}, {"nats.tls_cert", c.NATS.TLSCert}, {"nats.tls_key", c.NATS.TLSKey},
	} {
		if f.path == "" {
			continue
		}
		fh, err := os.Open(f.path) // as the NATS client opens it: relative to the working folder
		if err != nil {
			msg := fmt.Sprintf("cannot read %q: %v", f.path, errors.Unwrap(err))
			if errors.Is(err, fs.ErrNotExist) {
				msg = fmt.Sprintf("no such file: %q", f.path)
			}
			out = append(out, config.Problem{Path: f.key, Msg: msg})
			continue
		}
		_ = fh.Close()
	}
	return out
}

// checkFeedFiles reports feeds that name a local file (a path or file://)
// which does not exist. The daemon would keep retrying it with backoff;
// at check time it is almost always a typo in the path.
func checkFeedFiles(c *config.Config) []config.Problem {
	var out []config.Problem
	for i, f := range c.Feeds {
		p, local, err := fetch.LocalPath(f.URL, baseDir(c))
		if !local || err != nil || f.URL == "" {
			continue // config.Validate judges URLs that do not parse
		}
		if _, err := os.Stat(p); err != nil {
			msg := fmt.Sprintf("cannot read the feed file %q", p)
			if errors.Is(err, fs.ErrNotExist) {
				msg = fmt.Sprintf("no such file: %q", p)
			}
			out = append(out, config.Problem{Path: fmt.Sprintf("feeds[%d].url", i), Msg: msg})
		}
	}
	return out
}

// problemAt turns a matcher error such as `query: unexpected ")" at column
// 14` into a problem at base.query, so `check` can name the key and its
// line. (Notifier channels give their keys as data: build.Problems.)
func problemAt(base string, err error) config.Problem {
	msg := err.Error()
	if field, rest, ok := strings.Cut(msg, ": "); ok && field != "" && !strings.ContainsAny(field, " \t\"") {
		return config.Problem{Path: base + "." + field, Msg: rest}
	}
	return config.Problem{Path: base, Msg: msg}
}

// checkDataDir reports a data_dir the embedded server could not use (a
// file, a symlink loop, a folder it cannot write), which would otherwise
// surface only as the server never getting ready. With an external NATS
// server data_dir is not used, so it is not checked.
func checkDataDir(c *config.Config) []config.Problem {
	if c.NATS.URL != "" || c.DataDir == "" {
		return nil
	}
	if err := usableDir(c.DataDir); err != nil {
		return []config.Problem{{Path: "data_dir", Msg: err.Error()}}
	}
	return nil
}

// usableDir checks that dir is, or can be created as, a writable folder.
// It creates no folder: a missing one is judged by its nearest existing
// parent, where a probe file is created and removed.
func usableDir(dir string) error {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if errors.Is(err, fs.ErrNotExist) {
			if _, lerr := os.Lstat(d); lerr == nil {
				return fmt.Errorf("%s is a symlink to nothing", d)
			}
			if parent := filepath.Dir(d); parent != d {
				continue
			}
		}
		if err != nil {
			return fmt.Errorf("cannot use %s: %w", d, unwrapPath(err))
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a folder", d)
		}
		f, err := os.CreateTemp(d, ".feedwatch-probe-*")
		if err != nil {
			return fmt.Errorf("cannot write in %s: %w", d, unwrapPath(err))
		}
		name := f.Name()
		_ = f.Close()
		_ = os.Remove(name)
		return nil
	}
}

// unwrapPath drops the *PathError's own copy of the path, which the
// message already names.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
