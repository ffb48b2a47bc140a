package natstest

import (
	"net"
	"testing"
	"time"
)

// TestStartClusterRetriesTakenPort: a port that was free when picked but
// is bound by someone else before the node listens costs a retry on fresh
// ports, not the test.
func TestStartClusterRetriesTakenPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	picks := 0
	pick := func(t testing.TB) int {
		picks++
		if picks == 1 {
			return taken // the first node's client port
		}
		return nodePort(t)
	}
	c := startCluster(t, 3, pick, 2*time.Second)
	for _, nd := range c.Nodes {
		if !nd.Running() || nd.ClientPort == taken {
			t.Errorf("node %s: running %v on client port %d (taken: %d)", nd.Name, nd.Running(), nd.ClientPort, taken)
		}
	}
	if picks != 12 {
		t.Errorf("%d ports picked, want 6 per try, two tries", picks)
	}
}
