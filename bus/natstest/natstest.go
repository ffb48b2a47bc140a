// Package natstest runs real nats-server instances with JetStream inside
// tests: one server, or a cluster of servers with routes on loopback ports,
// each with its own store directory, that tests can stop and restart like
// machines. It is the same server code as production; nothing is faked.
package natstest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Node is one server of a cluster. Its store directory and ports survive a
// Shutdown, so Restart brings back the same member with its data.
type Node struct {
	Name        string
	Dir         string
	ClientPort  int
	ClusterPort int
	routes      []string
	cluster     string
	srv         *server.Server
}

// Cluster is a set of routed servers with JetStream.
type Cluster struct {
	Nodes []*Node
	t     testing.TB
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// nodePort returns a free loopback port below the kernel's ephemeral range
// (32768 and up on Linux): a node keeps its ports across Shutdown and
// Restart, and a port from the ephemeral range could meanwhile become the
// local end of some other process's connection or listener.
func nodePort(t testing.TB) int {
	t.Helper()
	for range 100 {
		p := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		l.Close()
		return p
	}
	return FreePort(t)
}

// StartCluster starts n routed servers (n >= 1) with JetStream, waits until
// the cluster has a JetStream meta leader, and shuts every node down when the
// test ends.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	return startCluster(t, n, nodePort, freshReady)
}

// startCluster is StartCluster with the port picker and the time a fresh
// node gets to listen as parameters (for its test).
func startCluster(t testing.TB, n int, pick func(testing.TB) int, ready time.Duration) *Cluster {
	t.Helper()
	base := t.TempDir()
	// The ports were free when picked, but another test (of this process
	// or another package's) may bind one before the node does: start
	// again on fresh ports rather than fail the test.
	var err error
	for attempt := range clusterTries {
		c := &Cluster{t: t}
		name := fmt.Sprintf("fwtest%d", time.Now().UnixNano()%1e6)
		for i := range n {
			c.Nodes = append(c.Nodes, &Node{
				Name:        fmt.Sprintf("n%d", i+1),
				Dir:         filepath.Join(base, fmt.Sprintf("try%d", attempt), fmt.Sprintf("n%d", i+1)),
				ClientPort:  pick(t),
				ClusterPort: pick(t),
				cluster:     name,
			})
		}
		for _, nd := range c.Nodes {
			for _, o := range c.Nodes {
				if o != nd {
					nd.routes = append(nd.routes, fmt.Sprintf("nats://127.0.0.1:%d", o.ClusterPort))
				}
			}
		}
		err = nil
		for _, nd := range c.Nodes {
			if err = nd.startWithin(ready); err != nil {
				break
			}
		}
		if err != nil {
			c.Shutdown()
			t.Logf("natstest: start cluster, try %d: %v", attempt+1, err)
			continue
		}
		t.Cleanup(c.Shutdown)
		c.WaitMetaLeader(30 * time.Second)
		return c
	}
	t.Fatal(err)
	return nil
}

// clusterTries is how often StartCluster picks ports; freshReady is how
// long a node with an empty store gets to listen (it has nothing to
// recover, so longer means a port was taken).
const (
	clusterTries = 3
	freshReady   = 20 * time.Second
)

// URL is the comma-separated client URL list of every node, as a user
// would put it in nats.url.
func (c *Cluster) URL() string {
	urls := make([]string, len(c.Nodes))
	for i, nd := range c.Nodes {
		urls[i] = nd.URL()
	}
	return strings.Join(urls, ",")
}

// Shutdown stops every running node.
func (c *Cluster) Shutdown() {
	for _, nd := range c.Nodes {
		nd.Shutdown()
	}
}

// WaitMetaLeader waits until the cluster answers JetStream API requests
// (it has a meta leader, needed before streams can be created) and fails
// the test after d.
func (c *Cluster) WaitMetaLeader(d time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if c.jetStreamAnswers() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("natstest: no JetStream meta leader after %s", d)
}

func (c *Cluster) jetStreamAnswers() bool {
	nc, err := nats.Connect(c.URL(), nats.Timeout(time.Second))
	if err != nil {
		return false
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = js.AccountInfo(ctx)
	return err == nil
}

// Server is the node's running server, or nil after Shutdown.
func (nd *Node) Server() *server.Server { return nd.srv }

// URL is the node's client URL.
func (nd *Node) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", nd.ClientPort) }

// Running reports whether the node is up.
func (nd *Node) Running() bool { return nd.srv != nil && nd.srv.Running() }

// Shutdown stops the node, as a machine going away: clients connected to it
// see their connection drop. Its store stays for Restart.
func (nd *Node) Shutdown() {
	if nd.srv == nil {
		return
	}
	nd.srv.Shutdown()
	nd.srv.WaitForShutdown()
	nd.srv = nil
}

// Restart starts a stopped node again on the same ports and store.
func (nd *Node) Restart(t testing.TB) {
	t.Helper()
	if nd.srv != nil {
		return
	}
	if err := nd.start(); err != nil {
		t.Fatal(err)
	}
}

func (nd *Node) start() error {
	// A restarted node recovers its JetStream store before it listens,
	// which on a loaded CI machine can take a while.
	return nd.startWithin(60 * time.Second)
}

func (nd *Node) startWithin(ready time.Duration) error {
	o := &server.Options{
		ServerName: nd.Name,
		Host:       "127.0.0.1",
		Port:       nd.ClientPort,
		JetStream:  true,
		StoreDir:   nd.Dir,
		NoSigs:     true,
		NoLog:      true,
	}
	if len(nd.routes) > 0 {
		o.Cluster = server.ClusterOpts{Name: nd.cluster, Host: "127.0.0.1", Port: nd.ClusterPort}
		o.Routes = server.RoutesFromStr(strings.Join(nd.routes, ","))
	}
	s, err := server.NewServer(o)
	if err != nil {
		return fmt.Errorf("natstest: node %s: %w", nd.Name, err)
	}
	go s.Start()
	if !s.ReadyForConnections(ready) {
		s.Shutdown()
		return fmt.Errorf("natstest: node %s not ready after %s%s", nd.Name, ready, nd.portsTaken())
	}
	nd.srv = s
	return nil
}

// portsTaken says which of the node's ports another process holds (a port
// freed by Shutdown can be handed to someone else before Restart).
func (nd *Node) portsTaken() string {
	var out string
	for _, p := range []int{nd.ClientPort, nd.ClusterPort} {
		if p == 0 {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			out += fmt.Sprintf("; port %d: %v", p, err)
			continue
		}
		l.Close()
	}
	return out
}

// Start runs one standalone server with JetStream on a loopback port, its
// store in a fresh temp dir, stopped when the test ends.
func Start(t testing.TB) *Node {
	t.Helper()
	nd := &Node{Name: "n1", Dir: t.TempDir(), ClientPort: nodePort(t)}
	if err := nd.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nd.Shutdown)
	return nd
}
