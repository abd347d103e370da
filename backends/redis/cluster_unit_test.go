package redis

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/cashews-go/cashews/internal/redistest"
)

// TestKeySlot: the backend hashes keys to slots as redistest does (which its own test checks
// against CLUSTER KEYSLOT), hash tags included.
func TestKeySlot(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	keys := []string{"", "foo", "{user1000}.following", "foo{}{bar}", "{}foo", "a{b", "x}{y}", "{a}{b}"}
	for range 1000 {
		b := make([]byte, rng.IntN(20))
		for i := range b {
			const alphabet = "ab{}:xyz\x00\xff"
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		keys = append(keys, string(b))
	}
	for _, k := range keys {
		if got, want := int(keySlot(k)), redistest.Slot(k); got != want {
			t.Fatalf("keySlot(%q) = %d, want %d", k, got, want)
		}
	}
	if got := keySlot("foo"); got != 12182 {
		t.Fatalf("keySlot(foo) = %d, want 12182", got)
	}
}

// TestParseNodes: CLUSTER NODES lines with slot ranges, migrating and importing slots, hostnames,
// IPv6 and a node without address.
func TestParseNodes(t *testing.T) {
	text := "07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004,host-a slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected\n" +
		"e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460 [5461->-67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1] [93-<-292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f]\n" +
		"67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 ::1:30002@31002 master - 0 1426238316232 2 connected 5462-10922 10924\n" +
		"292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f :0@0 master,fail,noaddr - 1426238318243 1426238318243 3 disconnected\n"
	lines, err := parseNodes(text)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 4 {
		t.Fatalf("got %d lines, want 4", len(lines))
	}
	r, me, v6, gone := lines[0], lines[1], lines[2], lines[3]
	if r.master || r.addr != "host-a:30004" || r.ip != "127.0.0.1:30004" || r.epoch != 4 {
		t.Errorf("replica line: got %+v", r)
	}
	if !me.myself || !me.master || me.addr != "127.0.0.1:30001" || me.epoch != 1 || me.slots.count() != 5461 ||
		me.migrating[5461] != "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1" || me.importing[93] != "292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f" {
		t.Errorf("own line: got addr %s epoch %d, %d slots, migrating %v, importing %v", me.addr, me.epoch, me.slots.count(), me.migrating, me.importing)
	}
	if me.slots.has(5461) || !me.slots.has(0) || !me.slots.has(5460) {
		t.Error("own line: a migrating slot counted as served, or a served one missing")
	}
	if v6.addr != "[::1]:30002" || v6.slots.count() != 5462 || !v6.slots.has(10924) || v6.slots.has(10923) {
		t.Errorf("IPv6 line: got addr %s, %d slots", v6.addr, v6.slots.count())
	}
	if gone.addr != "" || !gone.failed || gone.slots.count() != 0 {
		t.Errorf("failed line: got %+v", gone)
	}
	for _, bad := range []string{"x y z", "id 1.2.3.4:1@2 master - 0 0 notanumber connected", "id 1.2.3.4:1@2 master - 0 0 1 connected 5-2", "id 1.2.3.4:1@2 master - 0 0 1 connected 16384"} {
		if _, err := parseNodes(bad); err == nil {
			t.Errorf("parseNodes(%q): no error", bad)
		}
	}
}

// topologyOf builds a snapshot from own lines.
func topologyOf(t *testing.T, own ...string) *topology {
	t.Helper()
	tp := &topology{byID: map[string]*clusterNode{}, moving: map[uint16][]migration{}}
	for i := range tp.owner {
		tp.owner[i] = -1
	}
	for _, text := range own {
		lines, err := parseNodes(text)
		if err != nil {
			t.Fatal(err)
		}
		n := &clusterNode{nodeLine: lines[0]}
		tp.nodes = append(tp.nodes, n)
		tp.byID[n.id] = n
	}
	for i, n := range tp.nodes {
		n.slots.each(func(s uint16) {
			if tp.owner[s] == -1 {
				tp.owner[s] = int16(i)
			} else {
				tp.owner[s] = -2
			}
		})
		for s, to := range n.migrating {
			tp.moving[s] = append(tp.moving[s], migration{n.id, to})
		}
		for s, from := range n.importing {
			tp.moving[s] = append(tp.moving[s], migration{from, n.id})
		}
	}
	return tp
}

// TestTopologyChanges: the slots whose keys may have moved between two snapshots are those whose
// master, its config epoch or migrations differ; a migrating slot is asked on its source first.
func TestTopologyChanges(t *testing.T) {
	before := topologyOf(t,
		"a 127.0.0.1:1@2 myself,master - 0 0 1 connected 0-99",
		"b 127.0.0.1:3@4 myself,master - 0 0 2 connected 100-16383")
	during := topologyOf(t,
		"a 127.0.0.1:1@2 myself,master - 0 0 1 connected 0-99 [5->-b]",
		"b 127.0.0.1:3@4 myself,master - 0 0 2 connected 100-16383 [5-<-a]")
	after := topologyOf(t,
		"a 127.0.0.1:1@2 myself,master - 0 0 1 connected 0-4 6-99",
		"b 127.0.0.1:3@4 myself,master - 0 0 3 connected 5 100-16383")
	if c := before.changed(before); !c.empty() {
		t.Fatalf("a snapshot differs from itself in %d slots", c.count())
	}
	c := before.changed(during)
	if c.count() != 1 || !c.has(5) {
		t.Fatalf("migration started: %d slots changed, want slot 5 only", c.count())
	}
	// After the move, b's epoch changed: every slot of b changed (its claim is newer), and slot 5.
	c = before.changed(after)
	if !c.has(5) || !c.has(150) || c.has(50) {
		t.Fatalf("migration done: changed has 5 %v, 150 %v, 50 %v; want true, true, false", c.has(5), c.has(150), c.has(50))
	}
	first, then := during.holders(5)
	if len(first) != 1 || first[0].id != "a" || len(then) != 1 || then[0].id != "b" {
		t.Fatalf("holders of a migrating slot: %v then %v, want a then b", ids(first), ids(then))
	}
	first, then = after.holders(5)
	if len(first) != 1 || first[0].id != "b" || len(then) != 0 {
		t.Fatalf("holders of a settled slot: %v then %v, want b alone", ids(first), ids(then))
	}
	if u := during.unsettled(); u.count() != 1 || !u.has(5) {
		t.Fatalf("unsettled: %d slots, want slot 5", u.count())
	}
	// Answers taken at different times may show a slot nobody serves: it is unsettled too.
	gap := topologyOf(t,
		"a 127.0.0.1:1@2 myself,master - 0 0 1 connected 0-4 6-99",
		"b 127.0.0.1:3@4 myself,master - 0 0 2 connected 100-16383")
	if u := gap.unsettled(); u.count() != 1 || !u.has(5) {
		t.Fatalf("unsettled with a slot nobody serves: %d slots, want slot 5", u.count())
	}
	if first, then := gap.holders(5); len(first)+len(then) != 0 {
		t.Fatalf("holders of a slot nobody serves: %v then %v, want none", ids(first), ids(then))
	}
}

func ids(ns []*clusterNode) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.id)
	}
	return out
}

// TestSlotGuard: on Cluster a store caches a reply only while its node serves the key's slot, and
// a cached value stops counting when the slot's node changes or misses a health check; a read sent
// before such a change is not cached when its reply comes.
func TestSlotGuard(t *testing.T) {
	ss := newStoreSet()
	g := newSlotGuard(1)
	ss.slots.Store(g)
	a, b := ss.newStore(1<<20).(*localStore), ss.newStore(1<<20).(*localStore)
	ia, ib := g.nodeIndex("a:1"), g.nodeIndex("b:1")
	// The probes tell each store its node.
	for _, st := range []struct {
		s *localStore
		i int32
	}{{a, ia}, {b, ib}} {
		for range 2 { // never joined: each probe goes to the node
			if _, e := st.s.Flight(g.probeKeys(st.i)[0], cachedCmd, time.Minute, time.Now()); e != nil {
				t.Fatal("a probe joined another read")
			}
		}
		if st.s.node.Load() != st.i {
			t.Fatalf("store node: got %d, want %d", st.s.node.Load(), st.i)
		}
	}
	const key = "k"
	slot := keySlot(key)
	owners := func(i int32) {
		var o [numSlots]int32
		for s := range o {
			o[s] = -1
		}
		o[slot] = i
		g.setOwners(&o)
	}
	read := func(s *localStore) {
		t.Helper()
		if _, e := s.Flight(key, cachedCmd, time.Minute, time.Now()); e != nil {
			t.Fatal("Flight joined a read, want a new one")
		}
		s.Update(key, cachedCmd, rueidis.RedisMessage{})
	}
	cached := func(s *localStore) bool {
		_, ok := s.peek(key, time.Now().UnixMilli(), g)
		return ok
	}

	owners(ia)
	read(b)
	if cached(b) {
		t.Fatal("the store of a node that does not serve the slot cached its reply")
	}
	read(a)
	if !cached(a) {
		t.Fatal("the store of the slot's node did not cache its reply")
	}
	if _, ok := ss.peek(key, time.Now()); !ok {
		t.Fatal("storeSet.peek missed the value")
	}
	owners(-1) // a's node missed a health check
	if cached(a) {
		t.Fatal("a value still counts after its node missed a health check")
	}
	if _, ok := ss.peek(key, time.Now()); ok {
		t.Fatal("storeSet.peek served a value of a node that missed a health check")
	}
	owners(ia)
	read(a)
	owners(ib) // the slot moved (a failover, a migration)
	if cached(a) {
		t.Fatal("a value still counts after its slot moved to another node")
	}
	// A read sent before the slot moves back is not cached when its reply comes.
	if _, e := a.Flight(key, cachedCmd, time.Minute, time.Now()); e != nil {
		t.Fatal("Flight joined a read")
	}
	owners(ia)
	a.Update(key, cachedCmd, rueidis.RedisMessage{})
	if cached(a) {
		t.Fatal("a reply to a read sent before the slot changed node was cached")
	}
	read(a)
	if !cached(a) {
		t.Fatal("a reply after the slot came back was not cached")
	}
	// A store that does not know its node caches nothing.
	c := ss.newStore(1 << 20).(*localStore)
	read(c)
	if cached(c) {
		t.Fatal("a store that does not know its node cached a reply")
	}
	select {
	case <-g.unknown:
	default:
		t.Fatal("a new store did not ask to be probed")
	}
	// On one server (no guard) everything is cached as before.
	one := newStoreSet().newStore(1 << 20).(*localStore)
	read(one)
	if _, ok := one.peek(key, time.Now().UnixMilli(), nil); !ok {
		t.Fatal("a single server's store did not cache")
	}
}

// TestProbeKeys: a node's probe keys reach each of its pipelined connections (rueidis picks one by
// the low bits of the key's slot) and are told apart from other nodes'.
func TestProbeKeys(t *testing.T) {
	g := newSlotGuard(8)
	i := g.nodeIndex("n:1")
	keys := g.probeKeys(i)
	seen := map[uint16]bool{}
	for _, k := range keys {
		seen[keySlot(k)&7] = true
		if n, ok := (*g.probes.Load())[k]; !ok || n != i {
			t.Fatalf("probe key %q maps to %d, %v", k, n, ok)
		}
	}
	if len(seen) != 8 {
		t.Fatalf("probe keys reach %d of 8 connections", len(seen))
	}
	if j := g.nodeIndex("m:2"); j == i || g.nodeIndex("n:1") != i {
		t.Fatal("node indexes are not stable and distinct")
	}
	if g.probe(&localStore{}, "user:"+strconv.Itoa(1)) {
		t.Fatal("a user key taken for a probe")
	}
}
