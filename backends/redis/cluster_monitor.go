package redis

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"maps"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
)

// The masters' health, watched for a rueidis Cluster client (clusterMonitor).
//
// A master that stops answering but keeps its connections open (a frozen process, a partition)
// leaves rueidis waiting on those connections: a command that runs out of time does not close a
// busy pipelined connection, and rueidis reloads its slot map only after a redirection or a
// connection error, so once a replica is promoted in the master's place it keeps sending the
// master's slots to the old master until that one wakes up. And Redis keeps a connection's local
// cache in step by sending invalidations on it: from a frozen master none come, the writes go to
// the promoted replica, and a client that still finds the old master's values in the old
// connection's cache serves them stale. So the monitor, every monitorTick:
//
//   - sends PING to each master over the client's own connection (and to a former master while it
//     does not answer). A node that has not answered for closeAfter, and that the cluster too
//     considers down (flagged fail or fail? in the slot map) or replaced (it serves no slot any
//     more), has its connections closed (the backend dialed them; see connRegistry): the commands
//     waiting on them fail, rueidis reloads its slot map (it does on a broken connection) and keeps
//     doing so while the node does not answer, so it follows a promotion. A node that is merely slow
//     (a loaded machine) keeps its connections;
//   - reads the slot map (CLUSTER NODES, from one master in turn: every viewEvery, and every tick
//     while a master does not answer), keeping for each slot the claim of the highest config
//     epoch, as Redis does.
//
// With client-side caching, it also keeps, for each slot, the node whose connection may serve it
// from memory (slotGuard): the slot's master, while it answers its PINGs within healthTimeout.
// Each store learns which node its connection goes to from a probe: a read of keys of its own
// (cashews:probe:...) sent through that node's client. A store caches a reply only when its node
// serves the key's slot and is healthy, and only if the slot's generation did not change since the
// read was sent; a cached value counts only while the generation is the one it was read in. Losing
// a node's health or a slot's master bumps the generation, so the values stop counting at once
// (their memory goes when they are next looked up, or evicted).
const (
	monitorTick   = 100 * time.Millisecond
	healthTimeout = 300 * time.Millisecond
	closeAfter    = time.Second
	viewEvery     = time.Second
)

// slotGuard is, for the client-side caches of a Cluster client, which node may serve each slot
// from memory, and the slots' generations.
type slotGuard struct {
	gens  [numSlots]atomic.Uint32
	owner [numSlots]atomic.Int32 // index in nodes of the healthy master serving the slot; -1: none
	wires int                    // pipelined connections per node (2^pipeline_multiplex)

	prefix  string                           // of the probe keys: "cashews:probe:<random>:"
	probes  atomic.Pointer[map[string]int32] // probe key: node index
	unknown chan struct{}                    // a store does not know its node yet (buffered 1)

	mu    sync.Mutex
	nodes []string // node addresses, by index (only grows)
	index map[string]int32
}

func newSlotGuard(wires int) *slotGuard {
	var r [6]byte
	_, _ = rand.Read(r[:])
	g := &slotGuard{
		wires:   wires,
		prefix:  "cashews:probe:" + hex.EncodeToString(r[:]) + ":",
		unknown: make(chan struct{}, 1),
		index:   map[string]int32{},
	}
	for i := range g.owner {
		g.owner[i].Store(-1)
	}
	g.probes.Store(&map[string]int32{})
	return g
}

// probe reports whether key is a probe key; if so, the store learns its node.
func (g *slotGuard) probe(s *localStore, key string) bool {
	if !strings.HasPrefix(key, g.prefix) {
		return false
	}
	if n, ok := (*g.probes.Load())[key]; ok {
		s.node.Store(n)
	}
	return true
}

// mayCache reports whether store s may cache a reply for slot read at generation gen: its node
// serves the slot, answers, and nothing changed since the read was sent. Always on one server.
func (g *slotGuard) mayCache(s *localStore, slot uint16, gen uint32) bool {
	if g == nil {
		return true
	}
	n := s.node.Load()
	return n >= 0 && g.owner[slot].Load() == n && g.gens[slot].Load() == gen
}

// newStore notes that a store does not know its node yet, for the monitor to probe it.
func (g *slotGuard) newStore() {
	select {
	case g.unknown <- struct{}{}:
	default:
	}
}

// nodeIndex returns the index of the node at addr, adding it (and its probe keys) when new.
func (g *slotGuard) nodeIndex(addr string) int32 {
	g.mu.Lock()
	defer g.mu.Unlock()
	if i, ok := g.index[addr]; ok {
		return i
	}
	i := int32(len(g.nodes))
	g.nodes = append(g.nodes, addr)
	g.index[addr] = i
	next := make(map[string]int32, len(*g.probes.Load())+g.wires)
	for k, v := range *g.probes.Load() {
		next[k] = v
	}
	for _, k := range g.probeKeys(i) {
		next[k] = i
	}
	g.probes.Store(&next)
	return i
}

// probeKeys returns the probe keys of node i: one for each of its pipelined connections (rueidis
// picks a node's connection by the low bits of the key's slot).
func (g *slotGuard) probeKeys(i int32) []string {
	mask := uint16(g.wires - 1)
	seen := map[uint16]bool{}
	var keys []string
	for n := 0; len(keys) < g.wires; n++ {
		k := g.prefix + strconv.Itoa(int(i)) + ":" + strconv.Itoa(n)
		if w := keySlot(k) & mask; !seen[w] {
			seen[w] = true
			keys = append(keys, k)
		}
	}
	return keys
}

// setOwners installs the node that may serve each slot from memory (-1: none); a slot whose node
// changes changes generation, so that what was cached for it no longer counts.
func (g *slotGuard) setOwners(owners *[numSlots]int32) {
	for s := range owners {
		if g.owner[s].Load() != owners[s] {
			g.owner[s].Store(owners[s])
			g.gens[s].Add(1)
		}
	}
}

// clusterMonitor watches the masters of a rueidis Cluster client (see above).
type clusterMonitor struct {
	r     *rueidisExec
	g     *slotGuard // nil without client-side caching
	conns *connRegistry

	stop, done chan struct{}
	closeOnce  sync.Once

	// Owned by the monitor's goroutine.
	claimAddr  [numSlots]string // the master of each slot, by the highest config epoch heard
	claimEpoch [numSlots]uint64
	healthy    map[string]bool
	masters    map[string]bool      // the masters of the slots, by claimAddr
	first      bool                 // the slots' nodes were never installed
	lastOK     map[string]time.Time // when each master last answered (or was first seen)
	down       map[string]bool      // flagged fail or fail? in the last slot map read
	lastView   time.Time
	next       int // the node to ask for the slot map next
}

// startClusterMonitor reads the slot map, checks the masters and probes the connections once, then
// watches them in a goroutine until close is called.
func startClusterMonitor(r *rueidisExec, g *slotGuard, conns *connRegistry) *clusterMonitor {
	m := &clusterMonitor{r: r, g: g, conns: conns, stop: make(chan struct{}), done: make(chan struct{}),
		healthy: map[string]bool{}, lastOK: map[string]time.Time{}, down: map[string]bool{}, first: true}
	m.round()
	go m.run() // owned by the backend: Close calls stopMonitor, which waits for it
	return m
}

func (m *clusterMonitor) run() {
	defer close(m.done)
	t := time.NewTicker(monitorTick)
	defer t.Stop()
	var unknown chan struct{}
	if m.g != nil {
		unknown = m.g.unknown
	}
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		case <-unknown:
		}
		m.round()
	}
}

// close stops the monitor and waits for it. It is idempotent.
func (m *clusterMonitor) close() {
	m.closeOnce.Do(func() { close(m.stop) })
	<-m.done
}

// round reads the slot map when due, checks every master's health, installs the slots' nodes and
// probes the stores that do not know their node.
func (m *clusterMonitor) round() {
	nodes := m.r.c.Nodes()
	sick := false
	for _, ok := range m.healthy {
		sick = sick || !ok
	}
	changed := false
	if sick || time.Since(m.lastView) >= viewEvery {
		changed = m.readView(nodes)
	}
	if changed || m.masters == nil {
		m.masters = map[string]bool{}
		for _, a := range m.claimAddr {
			if a != "" {
				m.masters[a] = true
			}
		}
	}
	masters := m.masters
	before := m.healthy
	watched := maps.Clone(masters) // and the former masters that still do not answer
	for a, ok := range m.healthy {
		if !ok {
			watched[a] = true
		}
	}
	m.ping(nodes, watched)
	now := time.Now()
	for a := range watched {
		if m.healthy[a] || m.lastOK[a].IsZero() {
			m.lastOK[a] = now
		} else if now.Sub(m.lastOK[a]) >= closeAfter && (m.down[a] || !masters[a]) {
			m.conns.closeNode(a)
		}
	}
	if m.g == nil {
		return
	}
	if changed || !maps.Equal(before, m.healthy) || m.first {
		m.first = false
		index := map[string]int32{}
		for a := range masters {
			index[a] = -1
			if m.healthy[a] {
				index[a] = m.g.nodeIndex(a)
			}
		}
		var owners [numSlots]int32
		for s, a := range m.claimAddr {
			owners[s] = -1
			if a != "" {
				owners[s] = index[a]
			}
		}
		m.g.setOwners(&owners)
	}
	m.probe(nodes)
}

// readView asks one master after another (healthy ones first) for CLUSTER NODES until one answers,
// and keeps, for each slot, the claim of the highest config epoch.
func (m *clusterMonitor) readView(nodes map[string]rueidis.Client) (changed bool) {
	var order []string
	for a, ok := range m.healthy {
		if ok {
			order = append(order, a)
		}
	}
	for a := range nodes {
		if !m.healthy[a] {
			order = append(order, a)
		}
	}
	if len(order) == 0 {
		return false
	}
	m.next++
	for i := range order {
		a := order[(m.next+i)%len(order)]
		n, ok := nodes[a]
		if !ok {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), healthTimeout)
		text, _, err := fromRueidis(n.Do(ctx, n.B().Arbitrary("CLUSTER", "NODES").Build())).str()
		cancel()
		if err != nil {
			continue
		}
		lines, err := parseNodes(text)
		if err != nil {
			continue
		}
		clear(m.down)
		for _, l := range lines {
			addr := l.addr // as the client spells it: its slot map's address, else the hostname or IP
			if _, known := nodes[addr]; !known {
				if _, known := nodes[l.ip]; known {
					addr = l.ip
				}
			}
			if l.failed || l.suspected {
				m.down[addr] = true
			}
			if !l.master {
				continue
			}
			l.slots.each(func(s uint16) {
				if m.claimAddr[s] == "" || l.epoch > m.claimEpoch[s] || (l.epoch == m.claimEpoch[s] && l.myself) {
					changed = changed || m.claimAddr[s] != addr
					m.claimAddr[s], m.claimEpoch[s] = addr, l.epoch
				}
			})
		}
		m.lastView = time.Now()
		return changed
	}
	return false
}

// ping sends PING to every master over the client's connection and records which answered within
// healthTimeout.
func (m *clusterMonitor) ping(nodes map[string]rueidis.Client, masters map[string]bool) {
	ctx, cancel := context.WithTimeout(context.Background(), healthTimeout)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	healthy := map[string]bool{}
	for a := range masters {
		n, ok := nodes[a]
		if !ok {
			continue // not known to the client yet: nothing of it is cached
		}
		wg.Add(1)
		go func() { // owned by ping: it waits for them
			defer wg.Done()
			err := n.Do(ctx, n.B().Ping().Build()).Error()
			mu.Lock()
			healthy[a] = err == nil
			mu.Unlock()
		}()
	}
	wg.Wait()
	m.healthy = healthy
}

// probe reads the probe keys of every node through its client when some store does not know its
// node: each store that sees a probe key learns its node (when the read is sent, so even a node
// that does not answer is probed).
func (m *clusterMonitor) probe(nodes map[string]rueidis.Client) {
	unknown := false
	for _, s := range *m.r.stores.stores.Load() {
		unknown = unknown || s.node.Load() < 0
	}
	if !unknown {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), healthTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for a, n := range nodes {
		keys := m.g.probeKeys(m.g.nodeIndex(a))
		wg.Add(1)
		go func() { // owned by probe: it waits for them
			defer wg.Done()
			cmds := make([]rueidis.CacheableTTL, len(keys))
			for i, k := range keys {
				cmds[i] = rueidis.CT(n.B().Get().Key(k).Cache(), time.Millisecond)
			}
			n.DoMultiCache(ctx, cmds...)
		}()
	}
	wg.Wait()
}

// connRegistry keeps the connections a rueidis client dialed, by node address, so that the monitor
// can close those of a node that stopped answering.
type connRegistry struct {
	mu     sync.Mutex
	byAddr map[string]map[*trackedConn]struct{}
}

func newConnRegistry() *connRegistry {
	return &connRegistry{byAddr: map[string]map[*trackedConn]struct{}{}}
}

// trackedConn is a connection in the registry until it is closed.
type trackedConn struct {
	net.Conn
	raw  net.Conn // the TCP connection under TLS: closing it never waits for the peer
	reg  *connRegistry
	addr string
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.reg.mu.Lock()
		delete(c.reg.byAddr[c.addr], c)
		c.reg.mu.Unlock()
	})
	return c.Conn.Close()
}

// dial is the client's DialCtxFn: TCP, then TLS when cfg is set (with the host as server name
// unless cfg names one, as tls.Dialer does), recorded in the registry.
func (r *connRegistry) dial(ctx context.Context, addr string, d *net.Dialer, cfg *tls.Config) (net.Conn, error) {
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	conn := raw
	if cfg != nil {
		if cfg.ServerName == "" {
			host, _, _ := net.SplitHostPort(addr)
			cfg = cfg.Clone()
			cfg.ServerName = host
		}
		tc := tls.Client(raw, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = raw.Close()
			return nil, err
		}
		conn = tc
	}
	c := &trackedConn{Conn: conn, raw: raw, reg: r, addr: addr}
	r.mu.Lock()
	if r.byAddr[addr] == nil {
		r.byAddr[addr] = map[*trackedConn]struct{}{}
	}
	r.byAddr[addr][c] = struct{}{}
	r.mu.Unlock()
	return c, nil
}

// closeNode closes the connections to addr: whatever waits on them fails at once.
func (r *connRegistry) closeNode(addr string) {
	r.mu.Lock()
	var cs []*trackedConn
	for c := range r.byAddr[addr] {
		cs = append(cs, c)
	}
	r.mu.Unlock()
	for _, c := range cs {
		_ = c.raw.Close()
	}
}
