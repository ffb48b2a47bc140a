// Package deploy_test checks the packaging files (Dockerfile, .dockerignore,
// compose.yaml) for what no Docker engine is needed to see: a CI machine
// without Docker still catches a regression here.
package deploy_test

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// qualified reports whether an image reference names its registry (a host
// with a dot or a port before the first slash), so that no registry search
// order can substitute another image.
func qualified(ref string) bool {
	host, _, ok := strings.Cut(ref, "/")
	return ok && (strings.Contains(host, ".") || strings.Contains(host, ":"))
}

func TestDockerfile(t *testing.T) {
	// deploy/Dockerfile is the root one (a link), so both
	// `docker build .` and `docker build -f deploy/Dockerfile .` work.
	root, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if here, err := os.ReadFile("Dockerfile"); err != nil || string(here) != string(root) {
		t.Errorf("deploy/Dockerfile is not the root Dockerfile: %v", err)
	}
	f, err := os.Open("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var froms []string
	var user string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "FROM":
			froms = append(froms, fields[1])
		case "USER":
			user = fields[1]
		case "VOLUME":
			t.Errorf("VOLUME %s: split deployments would get a volume that nothing writes", fields[1])
		}
	}
	if len(froms) == 0 {
		t.Fatal("no FROM line")
	}
	for _, ref := range froms {
		if !qualified(ref) {
			t.Errorf("FROM %s: base image not fully qualified", ref)
		}
	}
	if user == "" || strings.HasPrefix(user, "root") || strings.HasPrefix(user, "0") {
		t.Errorf("USER %q: the image must not run as root", user)
	}
}

func TestDockerignore(t *testing.T) {
	b, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	for _, want := range []string{".git", "examples/data/", "/feedwatch"} {
		if !slices.Contains(lines, want) {
			t.Errorf(".dockerignore lacks %q", want)
		}
	}
}

type service struct {
	Image   string    `yaml:"image"`
	Build   yaml.Node `yaml:"build"`
	Volumes []string  `yaml:"volumes"`
}

func TestCompose(t *testing.T) {
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Services map[string]service  `yaml:"services"`
		Volumes  map[string]struct{} `yaml:"volumes"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	builds, used := 0, map[string]bool{}
	var fwImage string
	for name, s := range c.Services {
		if !s.Build.IsZero() {
			builds++
			fwImage = s.Image
		}
		if strings.HasPrefix(name, "nats") && !qualified(s.Image) {
			t.Errorf("service %s: image %q not fully qualified", name, s.Image)
		}
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			used[src] = true
		}
	}
	if builds != 1 || fwImage == "" {
		t.Fatalf("%d services build the image (want 1, with an image name the others reuse)", builds)
	}
	for name, s := range c.Services {
		if !strings.HasPrefix(name, "nats") && s.Image != fwImage {
			t.Errorf("service %s uses image %q, not the one built (%q)", name, s.Image, fwImage)
		}
	}
	for v := range c.Volumes {
		if !used[v] {
			t.Errorf("volume %s is mounted by no service", v)
		}
	}
	watchers, notifiers := 0, 0
	for name := range c.Services {
		switch {
		case strings.HasPrefix(name, "watch"):
			watchers++
		case strings.HasPrefix(name, "notify"):
			notifiers++
		}
	}
	if watchers < 2 || notifiers < 2 || len(c.Volumes) < 3 {
		t.Errorf("compose runs %d watchers, %d notifiers, %d NATS volumes; the SPEC's shape is 3 NATS servers, 2 and 2", watchers, notifiers, len(c.Volumes))
	}
}
