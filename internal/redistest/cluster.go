package redistest

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// clusterSlots is the number of hash slots of a Redis Cluster.
const clusterSlots = 16384

// defaultNodeTimeout is the cluster-node-timeout of [StartCluster]: a loaded machine may stall a
// node for seconds, and no test that uses the default needs a failover.
const defaultNodeTimeout = 30 * time.Second

// ClusterOptions configure [StartClusterWith].
type ClusterOptions struct {
	// Masters is the number of masters, at least 1 (3 is the usual test size). The hash slots are
	// split evenly between them.
	Masters int
	// Replicas is the number of replicas of each master (0: none).
	Replicas int
	// NodeTimeout is the cluster-node-timeout: how long a node may not answer before the others
	// consider it failed and promote one of its replicas. Zero means 30s, so that a machine stall
	// never causes a failover; fault tests set a few seconds.
	NodeTimeout time.Duration
	// Args are passed to every redis-server after the defaults.
	Args []string
}

// Cluster is a Redis Cluster started by [StartCluster] or [StartClusterWith]: masters, and
// optionally replicas, each a [Server] that a test can Kill, Restart, Freeze or Thaw. After a
// failover the roles change: [Cluster.Nodes] still returns the servers started as masters, and
// [Cluster.Masters] asks the servers which are masters now.
type Cluster struct {
	t        testing.TB
	nodes    []*Server // the masters, as started
	replicas []*Server // the replicas, as started: replicas[i*r+j] is the j-th replica of nodes[i]
	all      []*Server // masters then replicas
	busPorts []int     // all[i]'s cluster bus port

	mu  sync.Mutex
	ids map[*Server]string // node IDs, asked once
}

// StartCluster starts masters redis-server processes in cluster mode (at least 1; 3 is the usual
// test size), without replicas, each on its own free loopback port with its cluster bus on another
// (all distinct), with --cluster-node-timeout 30000 (a loaded machine may stall a node for
// seconds; no test needs a failover) and extraArgs after the defaults. It splits the 16384 hash
// slots evenly between them with CLUSTER ADDSLOTSRANGE, joins them with CLUSTER MEET (again, while
// some node does not know them all: a handshake can time out on a loaded machine) and waits until
// every node reports cluster_state:ok and knows every other node, which takes about two seconds.
// Cleanup kills them. Without redis-server on PATH the test is skipped (or fails, see the package
// documentation). The nodes are [Server]s: a test can Kill, Restart, Freeze or Thaw one of them.
func StartCluster(t testing.TB, masters int, extraArgs ...string) *Cluster {
	t.Helper()
	return StartClusterWith(t, ClusterOptions{Masters: masters, Args: extraArgs})
}

// StartClusterWith starts a cluster as [StartCluster] does, with opts.Replicas replicas of each
// master (CLUSTER REPLICATE) and opts.NodeTimeout as the cluster-node-timeout. It returns once
// every node reports cluster_state:ok and knows every other node, and every replica's link to its
// master is up.
func StartClusterWith(t testing.TB, opts ClusterOptions) *Cluster {
	t.Helper()
	if opts.Masters < 1 {
		t.Fatalf("redistest: StartCluster with %d masters: want at least 1", opts.Masters)
	}
	if opts.Replicas < 0 {
		t.Fatalf("redistest: StartClusterWith with %d replicas per master: want 0 or more", opts.Replicas)
	}
	timeout := opts.NodeTimeout
	if timeout <= 0 {
		timeout = defaultNodeTimeout
	}
	bin := binary(t)
	total := opts.Masters * (1 + opts.Replicas)
	c := &Cluster{t: t, ids: make(map[*Server]string)}
	for attempt := 0; ; attempt++ {
		// Every node's port and cluster bus port, all distinct.
		ports, err := freePorts(2 * total)
		if err != nil {
			t.Fatalf("redistest: find free ports: %v", err)
		}
		c.all, c.busPorts = nil, ports[total:]
		for i := 0; i < total && err == nil; i++ {
			args := append([]string{
				"--cluster-enabled", "yes",
				"--cluster-config-file", "nodes.conf",
				"--cluster-node-timeout", strconv.FormatInt(timeout.Milliseconds(), 10),
				"--cluster-port", strconv.Itoa(c.busPorts[i]),
				"--cluster-require-full-coverage", "yes",
				"--repl-diskless-sync-delay", "0", // a replica syncs at once, not after 5s
			}, opts.Args...)
			var n *Server
			if n, err = startOn(t, bin, ports[i], args); err == nil {
				c.all = append(c.all, n)
			}
		}
		if err == nil {
			break
		}
		for _, n := range c.all {
			n.Kill()
		}
		if attempt == 4 {
			t.Fatalf("redistest: start the cluster's nodes: %v", err)
		}
	}
	c.nodes, c.replicas = c.all[:opts.Masters], c.all[opts.Masters:]
	// Slots: master i gets [i*N/masters, (i+1)*N/masters).
	for i, n := range c.nodes {
		lo, hi := i*clusterSlots/opts.Masters, (i+1)*clusterSlots/opts.Masters-1
		n.MustDo("CLUSTER", "ADDSLOTSRANGE", strconv.Itoa(lo), strconv.Itoa(hi))
	}
	c.meet()
	c.WaitOK(60 * time.Second)
	if opts.Replicas > 0 {
		for i, r := range c.replicas {
			master := c.nodes[i/opts.Replicas]
			c.replicate(r, master)
		}
		c.WaitOK(60 * time.Second)
	}
	return c
}

// replicate makes r a replica of master, retrying while r does not know master yet.
func (c *Cluster) replicate(r, master *Server) {
	c.t.Helper()
	id := c.NodeID(master)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := r.Do("CLUSTER", "REPLICATE", id)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("redistest: CLUSTER REPLICATE %s on %s: %v", id, r.Addr(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// meet introduces every node to the first one. A handshake that times out (on a loaded machine) is
// forgotten by Redis, so WaitOK calls meet again while some node does not know them all.
func (c *Cluster) meet() {
	for i, n := range c.all[1:] {
		c.all[0].MustDo("CLUSTER", "MEET", "127.0.0.1", strconv.Itoa(n.Port()), strconv.Itoa(c.busPorts[i+1]))
	}
}

// WaitOK waits until every running node (one killed or frozen is skipped) reports
// cluster_state:ok and knows all the nodes, and every running replica's link to its master is up;
// it fails the test after timeout.
func (c *Cluster) WaitOK(timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	lastMeet := time.Now()
	for {
		bad, unknown := "", false
		for _, n := range c.all {
			if !n.answering() {
				continue
			}
			v, err := n.Do("CLUSTER", "INFO")
			if err != nil {
				bad = fmt.Sprintf("%s: %v", n.Addr(), err)
				break
			}
			info, _ := v.(string)
			known := strings.Contains(info, fmt.Sprintf("cluster_known_nodes:%d\r", len(c.all)))
			if !strings.Contains(info, "cluster_state:ok") || !known {
				bad, unknown = fmt.Sprintf("%s: %s", n.Addr(), strings.ReplaceAll(info, "\r\n", " ")), !known
				break
			}
			v, err = n.Do("INFO", "replication")
			if err != nil {
				bad = fmt.Sprintf("%s: %v", n.Addr(), err)
				break
			}
			repl, _ := v.(string)
			if strings.Contains(repl, "role:slave") && !strings.Contains(repl, "master_link_status:up") {
				bad = fmt.Sprintf("%s: replica not in sync: %s", n.Addr(), strings.ReplaceAll(repl, "\r\n", " "))
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

// Nodes returns the servers started as masters (after a failover some may be replicas: see
// [Cluster.Masters]).
func (c *Cluster) Nodes() []*Server { return c.nodes }

// Replicas returns the servers started as replicas, those of Nodes()[0] first.
func (c *Cluster) Replicas() []*Server { return c.replicas }

// Servers returns every server of the cluster: the masters as started, then the replicas.
func (c *Cluster) Servers() []*Server { return c.all }

// Addrs returns the addresses of the servers started as masters.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.Addr()
	}
	return out
}

// URL returns a setup URL naming the servers started as masters:
// "redis://A1,A2,A3/?cluster=true".
func (c *Cluster) URL() string {
	return "redis://" + strings.Join(c.Addrs(), ",") + "/?cluster=true"
}

// Do sends a command to every server started as a master and returns the first error.
func (c *Cluster) Do(args ...string) error {
	for _, n := range c.nodes {
		if _, err := n.Do(args...); err != nil {
			return fmt.Errorf("%s: %w", n.Addr(), err)
		}
	}
	return nil
}

// NodeID returns the cluster node ID of s (CLUSTER MYID, asked once).
func (c *Cluster) NodeID(s *Server) string {
	c.t.Helper()
	c.mu.Lock()
	id, ok := c.ids[s]
	c.mu.Unlock()
	if ok {
		return id
	}
	id, _ = s.MustDo("CLUSTER", "MYID").(string)
	c.mu.Lock()
	c.ids[s] = id
	c.mu.Unlock()
	return id
}

// byID returns the server with node ID id, or nil.
func (c *Cluster) byID(id string) *Server {
	for _, s := range c.all {
		if c.NodeID(s) == id {
			return s
		}
	}
	return nil
}

// Role returns what s says it is (ROLE): "master" or "slave", or an error when it does not answer.
func (c *Cluster) Role(s *Server) (string, error) {
	v, err := s.Do("ROLE")
	if err != nil {
		return "", err
	}
	a, _ := v.([]any)
	if len(a) == 0 {
		return "", fmt.Errorf("redistest: ROLE on %s: unexpected reply %v", s.Addr(), v)
	}
	role, _ := a[0].(string)
	return role, nil
}

// Masters returns the running servers that are masters now and serve slots, in the order of
// [Cluster.Servers].
func (c *Cluster) Masters() []*Server {
	c.t.Helper()
	var out []*Server
	for _, s := range c.all {
		if !s.answering() {
			continue
		}
		if role, err := c.Role(s); err == nil && role == "master" && len(c.ownSlots(s)) > 0 {
			out = append(out, s)
		}
	}
	return out
}

// ReplicaOf returns a running replica of master (one whose ROLE names master's port), or nil.
func (c *Cluster) ReplicaOf(master *Server) *Server {
	c.t.Helper()
	for _, s := range c.all {
		if s == master || !s.answering() {
			continue
		}
		v, err := s.Do("ROLE")
		a, _ := v.([]any)
		if err != nil || len(a) < 3 || a[0] != "slave" {
			continue
		}
		if port, _ := a[2].(int64); int(port) == master.Port() {
			return s
		}
	}
	return nil
}

// MasterOf returns the server that serves slot now (as the first answering server sees it), or nil.
func (c *Cluster) MasterOf(slot int) *Server {
	c.t.Helper()
	for _, s := range c.all {
		if !s.answering() {
			continue
		}
		for _, l := range c.nodesLines(s) {
			if strings.Contains(l.flags, "master") && l.slots[slot] {
				return c.byID(l.id)
			}
		}
		return nil
	}
	return nil
}

// SlotsOf returns the slots s serves, as s itself says (CLUSTER NODES), in order.
func (c *Cluster) SlotsOf(s *Server) []int {
	c.t.Helper()
	return c.ownSlots(s)
}

func (c *Cluster) ownSlots(s *Server) []int {
	var out []int
	for _, l := range c.nodesLines(s) {
		if strings.Contains(l.flags, "myself") {
			for slot := 0; slot < clusterSlots; slot++ {
				if l.slots[slot] {
					out = append(out, slot)
				}
			}
		}
	}
	return out
}

// nodeLine is one line of CLUSTER NODES.
type nodeLine struct {
	id, addr, flags, master string
	slots                   []bool // the slots the line lists as served (not those migrating or importing)
}

// nodesLines returns s's CLUSTER NODES, parsed (nil when s does not answer).
func (c *Cluster) nodesLines(s *Server) []nodeLine {
	v, err := s.Do("CLUSTER", "NODES")
	if err != nil {
		return nil
	}
	text, _ := v.(string)
	var out []nodeLine
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		l := nodeLine{id: f[0], addr: f[1], flags: f[2], master: f[3], slots: make([]bool, clusterSlots)}
		for _, r := range f[8:] {
			if strings.HasPrefix(r, "[") {
				continue
			}
			lo, hi, ok := strings.Cut(r, "-")
			if !ok {
				hi = lo
			}
			a, err1 := strconv.Atoi(lo)
			b, err2 := strconv.Atoi(hi)
			if err1 != nil || err2 != nil {
				continue
			}
			for i := a; i <= b && i < clusterSlots; i++ {
				l.slots[i] = true
			}
		}
		out = append(out, l)
	}
	return out
}

// WaitReplicated waits until replica has processed every write that master made up to now, and
// fails the test after timeout. WAIT covers only the writes of the connection it is sent on, so it
// cannot wait for keys that a migration brought to master; the replication offsets that ROLE
// reports can.
func (c *Cluster) WaitReplicated(master, replica *Server, timeout time.Duration) {
	c.t.Helper()
	offset := func(s *Server, role string, at int) (int64, error) {
		v, err := s.Do("ROLE")
		if err != nil {
			return 0, err
		}
		a, ok := v.([]any)
		if !ok || len(a) <= at || a[0] != role {
			return 0, fmt.Errorf("ROLE on %s = %v, want a %s", s.Addr(), v, role)
		}
		n, ok := a[at].(int64)
		if !ok {
			return 0, fmt.Errorf("ROLE on %s = %v: no offset", s.Addr(), v)
		}
		return n, nil
	}
	target, err := offset(master, "master", 1)
	if err != nil {
		c.t.Fatalf("redistest: WaitReplicated: %v", err)
	}
	deadline := time.Now().Add(timeout)
	for {
		got, err := offset(replica, "slave", 4)
		if err == nil && got >= target {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("redistest: replica %s at offset %d (error %v) after %s, want %d as its master %s", replica.Addr(), got, err, timeout, target, master.Addr())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// WaitRole waits until s says it is role ("master" or "slave") and returns when it first saw it,
// polling every millisecond; it fails the test after timeout.
func (c *Cluster) WaitRole(s *Server, role string, timeout time.Duration) time.Time {
	c.t.Helper()
	conn, err := dialConn(s.Addr())
	if err != nil {
		c.t.Fatalf("redistest: WaitRole: %v", err)
	}
	defer conn.close()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		v, err := conn.do("ROLE")
		now := time.Now()
		if a, ok := v.([]any); err == nil && ok && len(a) > 0 {
			if last, _ = a[0].(string); last == role {
				return now
			}
		}
		if now.After(deadline) {
			c.t.Fatalf("redistest: %s is still %q (error %v) after %s, want %s", s.Addr(), last, err, timeout, role)
		}
		if err != nil { // a broken connection: dial again
			conn.close()
			if conn, err = dialConn(s.Addr()); err != nil {
				c.t.Fatalf("redistest: WaitRole: %v", err)
			}
		}
		time.Sleep(time.Millisecond)
	}
}

// Migration moves hash slots from one master to another while clients keep using the cluster, the
// way redis-cli --cluster reshard does: for each slot CLUSTER SETSLOT IMPORTING on the target and
// MIGRATING on the source, MIGRATE of its keys in batches, then CLUSTER SETSLOT NODE on the target,
// the source and the other masters. Its methods may be called from any goroutine; they return
// errors rather than failing the test.
type Migration struct {
	// Batch is the most keys one MIGRATE moves (10 when zero, as redis-cli).
	Batch int
	// Pause is slept after each slot, to spread a migration over time.
	Pause time.Duration

	c        *Cluster
	from, to *Server
}

// Migrate returns a migration of slots from one master to another; Run moves them.
func (c *Cluster) Migrate(from, to *Server) *Migration {
	return &Migration{c: c, from: from, to: to}
}

// Run moves slots, in order, and returns after the last or at the first error, once every node
// agrees on the slots' masters (see [Cluster.WaitConverged]; a replica promoted before it learned
// that its master took slots would drop their keys). The source must serve them. moved, when not
// nil, is called after each slot.
func (m *Migration) Run(slots []int, moved func(slot int)) error {
	batch := m.Batch
	if batch <= 0 {
		batch = 10
	}
	fromID, toID := m.c.NodeID(m.from), m.c.NodeID(m.to)
	var others []*Server // the other masters, told about each move
	for _, o := range m.c.Masters() {
		if o != m.from && o != m.to {
			others = append(others, o)
		}
	}
	conns := map[*Server]*conn{}
	defer func() {
		for _, c := range conns {
			c.close()
		}
	}()
	on := func(s *Server, args ...string) (any, error) {
		c := conns[s]
		if c == nil {
			var err error
			if c, err = dialConn(s.Addr()); err != nil {
				return nil, err
			}
			conns[s] = c
		}
		v, err := c.do(args...)
		var re replyError
		if err != nil && !errors.As(err, &re) {
			c.close()
			delete(conns, s)
		}
		if err != nil {
			return nil, fmt.Errorf("%s on %s: %w", strings.Join(args, " "), s.Addr(), err)
		}
		return v, nil
	}
	for _, slot := range slots {
		s := strconv.Itoa(slot)
		if _, err := on(m.to, "CLUSTER", "SETSLOT", s, "IMPORTING", fromID); err != nil {
			return err
		}
		if _, err := on(m.from, "CLUSTER", "SETSLOT", s, "MIGRATING", toID); err != nil {
			return err
		}
		for {
			v, err := on(m.from, "CLUSTER", "GETKEYSINSLOT", s, strconv.Itoa(batch))
			if err != nil {
				return err
			}
			keys, _ := v.([]any)
			if len(keys) == 0 {
				break
			}
			args := []string{"MIGRATE", "127.0.0.1", strconv.Itoa(m.to.Port()), "", "0", "5000", "KEYS"}
			for _, k := range keys {
				ks, _ := k.(string)
				args = append(args, ks)
			}
			if _, err := on(m.from, args...); err != nil {
				return err
			}
		}
		// The target first, so that the slot is never without an owner.
		if _, err := on(m.to, "CLUSTER", "SETSLOT", s, "NODE", toID); err != nil {
			return err
		}
		if _, err := on(m.from, "CLUSTER", "SETSLOT", s, "NODE", toID); err != nil {
			return err
		}
		for _, o := range others {
			if _, err := on(o, "CLUSTER", "SETSLOT", s, "NODE", toID); err != nil {
				return err
			}
		}
		if moved != nil {
			moved(slot)
		}
		if m.Pause > 0 {
			time.Sleep(m.Pause)
		}
	}
	return m.c.converged(30 * time.Second)
}

// WaitConverged waits until every running node (masters and replicas) sees the same master for
// every slot (CLUSTER NODES), and fails the test after timeout.
func (c *Cluster) WaitConverged(timeout time.Duration) {
	c.t.Helper()
	if err := c.converged(timeout); err != nil {
		c.t.Fatal(err)
	}
}

// converged is WaitConverged returning an error, for use from any goroutine.
func (c *Cluster) converged(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var first []string // the owner of each slot, as the first node sees it
		agree := true
		for _, s := range c.all {
			if !s.answering() {
				continue
			}
			owners := make([]string, clusterSlots)
			for _, l := range c.nodesLines(s) {
				if !strings.Contains(l.flags, "master") {
					continue
				}
				for slot, ok := range l.slots {
					if ok {
						owners[slot] = l.id
					}
				}
			}
			if first == nil {
				first = owners
			} else if !slices.Equal(first, owners) {
				agree = false
				break
			}
		}
		if agree {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redistest: the nodes do not agree on the slots' masters after %s", timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Slot returns the hash slot of key: CRC16 of the key, or of the part between the first { and the
// next } when it is not empty, modulo 16384.
func Slot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for b := 0; b < 8; b++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % clusterSlots
}
