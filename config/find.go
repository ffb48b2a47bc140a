package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// fileNames are tried in each folder of the search, in this order.
var fileNames = []string{"feedwatch.yaml", "feedwatch.yml", "feedwatch.toml", "feedwatch.json"}

// Find resolves the config path: the --config flag value, else
// $FEEDWATCH_CONFIG, else the first file that exists of ./feedwatch.yaml,
// $XDG_CONFIG_HOME/feedwatch/feedwatch.yaml ($HOME/.config when
// XDG_CONFIG_HOME is unset) and /etc/feedwatch/feedwatch.yaml. In each folder
// feedwatch.yml, .toml and .json are tried after .yaml. A path given by flag
// or variable is returned as is, even if missing, so the error names it.
func Find(flag string, getenv func(string) string) (string, error) {
	return find(flag, getenv, isFile)
}

func find(flag string, getenv func(string) string, exists func(string) bool) (string, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if flag != "" {
		return flag, nil
	}
	if p := getenv("FEEDWATCH_CONFIG"); p != "" {
		return p, nil
	}
	dirs := []string{"."}
	if x := getenv("XDG_CONFIG_HOME"); x != "" {
		dirs = append(dirs, filepath.Join(x, "feedwatch"))
	} else if h := getenv("HOME"); h != "" {
		dirs = append(dirs, filepath.Join(h, ".config", "feedwatch"))
	}
	dirs = append(dirs, "/etc/feedwatch")
	var tried []string
	for _, d := range dirs {
		for _, n := range fileNames {
			p := filepath.Join(d, n)
			if d == "." {
				p = "./" + n
			}
			if exists(p) {
				return p, nil
			}
		}
		tried = append(tried, filepath.Join(d, fileNames[0]))
	}
	return "", errors.New("no config file found (tried " + strings.Join(tried, ", ") + "); pass --config or set FEEDWATCH_CONFIG")
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
