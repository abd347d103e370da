package redistest

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// clusterSlots is the number of hash slots of a Redis Cluster.
const clusterSlots = 16384

// Cluster is a Redis Cluster of masters without replicas started by [StartCluster].
type Cluster struct {
	t        testing.TB
	nodes    []*Server
	busPorts []int
}

// StartCluster starts masters redis-server processes in cluster mode (at least 1; 3 is the usual
// test size), each on its own free loopback port with its cluster bus on another (all distinct),
// with --cluster-node-timeout 30000 (a loaded machine may stall a node for seconds; no test needs a failover) and extraArgs after the defaults. It splits the 16384 hash slots
// evenly between them with CLUSTER ADDSLOTSRANGE, joins them with CLUSTER MEET (again, while some
// node does not know them all: a handshake can time out on a loaded machine) and waits until every
// node reports cluster_state:ok and knows every other node, which takes about two seconds. Cleanup
// kills them. Without redis-server on PATH the test is skipped (or fails, see the package
// documentation). The nodes are [Server]s: a test can Kill, Restart, Freeze or Thaw one of them.
func StartCluster(t testing.TB, masters int, extraArgs ...string) *Cluster {
	t.Helper()
	if masters < 1 {
		t.Fatalf("redistest: StartCluster with %d masters: want at least 1", masters)
	}
	bin := binary(t)
	c := &Cluster{t: t}
	var busPorts []int
	for attempt := 0; ; attempt++ {
		// Every node's port and cluster bus port, all distinct.
		ports, err := freePorts(2 * masters)
		if err != nil {
			t.Fatalf("redistest: find free ports: %v", err)
		}
		c.nodes, busPorts = nil, ports[masters:]
		for i := 0; i < masters && err == nil; i++ {
			args := append([]string{
				"--cluster-enabled", "yes",
				"--cluster-config-file", "nodes.conf",
				"--cluster-node-timeout", "30000", // no node is declared failed during a machine stall
				"--cluster-port", strconv.Itoa(busPorts[i]),
				"--cluster-require-full-coverage", "yes",
			}, extraArgs...)
			var n *Server
			if n, err = startOn(t, bin, ports[i], args); err == nil {
				c.nodes = append(c.nodes, n)
			}
		}
		if err == nil {
			break
		}
		for _, n := range c.nodes {
			n.Kill()
		}
		if attempt == 4 {
			t.Fatalf("redistest: start the cluster's nodes: %v", err)
		}
	}
	// Slots: node i gets [i*N/masters, (i+1)*N/masters).
	for i, n := range c.nodes {
		lo, hi := i*clusterSlots/masters, (i+1)*clusterSlots/masters-1
		n.MustDo("CLUSTER", "ADDSLOTSRANGE", strconv.Itoa(lo), strconv.Itoa(hi))
	}
	c.busPorts = busPorts
	c.meet()
	c.WaitOK(60 * time.Second)
	return c
}

// meet introduces every node to the first one. A handshake that times out (on a loaded machine) is
// forgotten by Redis, so WaitOK calls meet again while some node does not know them all.
func (c *Cluster) meet() {
	for i, n := range c.nodes[1:] {
		c.nodes[0].MustDo("CLUSTER", "MEET", "127.0.0.1", strconv.Itoa(n.Port()), strconv.Itoa(c.busPorts[i+1]))
	}
}

// WaitOK waits until every running node reports cluster_state:ok and knows all the nodes, and fails
// the test after timeout.
func (c *Cluster) WaitOK(timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	lastMeet := time.Now()
	for {
		bad, unknown := "", false
		for _, n := range c.nodes {
			v, err := n.Do("CLUSTER", "INFO")
			if err != nil {
				bad = fmt.Sprintf("%s: %v", n.Addr(), err)
				break
			}
			info, _ := v.(string)
			known := strings.Contains(info, fmt.Sprintf("cluster_known_nodes:%d\r", len(c.nodes)))
			if !strings.Contains(info, "cluster_state:ok") || !known {
				bad, unknown = fmt.Sprintf("%s: %s", n.Addr(), strings.ReplaceAll(info, "\r\n", " ")), !known
				break
			}
		}
		if bad == "" {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("redistest: cluster not ok after %s: %s", timeout, bad)
		}
		if unknown && time.Since(lastMeet) > 3*time.Second {
			c.meet()
			lastMeet = time.Now()
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Nodes returns the cluster's masters.
func (c *Cluster) Nodes() []*Server { return c.nodes }

// Addrs returns the masters' addresses.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.Addr()
	}
	return out
}

// URL returns a setup URL naming every master: "redis://A1,A2,A3/?cluster=true".
func (c *Cluster) URL() string {
	return "redis://" + strings.Join(c.Addrs(), ",") + "/?cluster=true"
}

// Do sends a command to every master and returns the first error.
func (c *Cluster) Do(args ...string) error {
	for _, n := range c.nodes {
		if _, err := n.Do(args...); err != nil {
			return fmt.Errorf("%s: %w", n.Addr(), err)
		}
	}
	return nil
}
