package redis

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/bits"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/rueidis"

	"github.com/cashews-go/cashews/backends"
)

// Redis Cluster: the topology as the masters report it, and the keyspace commands (Scan,
// DeleteMatch, KeysCount, Clear) made exact while slots move between masters.
//
// A key lives in one of 16384 hash slots, and a slot is served by one master. While a slot
// migrates from a source master to a target, its keys move one batch at a time (MIGRATE), so for
// a while they are split between the two, and a scan of the source that runs before a batch moves
// and a scan of the target that ran before it arrived both miss it. So a keyspace command on Cluster:
//
//  1. takes a snapshot of the topology: every master's own line of CLUSTER NODES (the slots it
//     serves, those it is migrating or importing, its config epoch);
//  2. does its work on every master (SCAN MATCH, DBSIZE);
//  3. takes a second snapshot. The slots whose state differs between the two, or that were
//     migrating in either, are unsettled: their keys may have moved during the work;
//  4. goes over the unsettled slots again, slot by slot (CLUSTER GETKEYSINSLOT, an atomic
//     snapshot of one slot on one node, or COUNTKEYSINSLOT), asking the source of a migration
//     before its target: a key that moves between the two queries is then seen by the second, and
//     one that moves later by the first. A round counts for a slot only when the slot's state was
//     the same before and after it; the others go round again.
//
// Scan remembers the keys it yielded, to yield each once; KeysCount counts each key once.

// numSlots is the number of hash slots of a Redis Cluster.
const numSlots = 16384

// maxRecoveryRounds bounds the rounds over unsettled slots: a slot needs another round only when
// its state changed during the last one, which a migration does a few times per slot.
const maxRecoveryRounds = 30

// errTopology is the error of a keyspace command whose topology could not be read.
var errTopology = errors.New("cluster topology")

// slotSet is a set of hash slots.
type slotSet [numSlots / 64]uint64

func (s *slotSet) add(slot uint16)      { s[slot/64] |= 1 << (slot % 64) }
func (s *slotSet) has(slot uint16) bool { return s[slot/64]&(1<<(slot%64)) != 0 }

func (s *slotSet) addRange(lo, hi int) {
	for i := lo; i <= hi; {
		if i%64 == 0 && i+63 <= hi { // a whole word
			s[i/64] = ^uint64(0)
			i += 64
			continue
		}
		s.add(uint16(i))
		i++
	}
}

// andNot returns the slots of s that are not in o.
func (s *slotSet) andNot(o *slotSet) (r slotSet) {
	for i := range s {
		r[i] = s[i] &^ o[i]
	}
	return r
}

func (s *slotSet) union(o *slotSet) {
	for i := range s {
		s[i] |= o[i]
	}
}

func (s *slotSet) empty() bool { return s.count() == 0 }

func (s *slotSet) each(f func(slot uint16)) {
	for i, w := range s {
		for w != 0 {
			b := bits.TrailingZeros64(w)
			f(uint16(i*64 + b))
			w &^= 1 << b
		}
	}
}

func (s *slotSet) count() int {
	n := 0
	for _, w := range s {
		n += bits.OnesCount64(w)
	}
	return n
}

// nodeLine is one line of CLUSTER NODES: a node as the answering node sees it. Migrating and
// importing slots appear only on the answering node's own line ("myself").
type nodeLine struct {
	id        string
	addr      string // host:port to connect to: the hostname when the node announces one, else the IP
	ip        string // ip:port
	myself    bool
	master    bool
	failed    bool // flagged fail: the cluster agreed it is down
	suspected bool // flagged fail?: the answering node cannot reach it
	epoch     uint64
	slots     slotSet
	migrating map[uint16]string // slot: the ID of the node it goes to
	importing map[uint16]string // slot: the ID of the node it comes from
}

// parseNodes parses the reply of CLUSTER NODES.
func parseNodes(text string) ([]nodeLine, error) {
	var out []nodeLine
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < 8 {
			return nil, fmt.Errorf("unexpected CLUSTER NODES line %q", shorten(line))
		}
		n := nodeLine{id: f[0]}
		// ip:port@cport[,hostname]; the IP may be IPv6 and is empty for a node without address.
		endpoint, hostname, _ := strings.Cut(f[1], ",")
		endpoint, _, _ = strings.Cut(endpoint, "@")
		if i := strings.LastIndexByte(endpoint, ':'); i > 0 {
			ip, port := endpoint[:i], endpoint[i+1:]
			n.ip = net.JoinHostPort(ip, port)
			n.addr = n.ip
			if hostname != "" && !strings.Contains(hostname, "=") { // Redis 7.2 adds key=value fields
				n.addr = net.JoinHostPort(hostname, port)
			}
		}
		for _, flag := range strings.Split(f[2], ",") {
			switch flag {
			case "myself":
				n.myself = true
			case "master":
				n.master = true
			case "fail":
				n.failed = true
			case "fail?":
				n.suspected = true
			}
		}
		epoch, err := strconv.ParseUint(f[6], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("unexpected config epoch in CLUSTER NODES line %q", shorten(line))
		}
		n.epoch = epoch
		for _, r := range f[8:] {
			if strings.HasPrefix(r, "[") { // [slot->-id] migrating, [slot-<-id] importing
				body := strings.TrimSuffix(strings.TrimPrefix(r, "["), "]")
				if s, id, ok := strings.Cut(body, "->-"); ok {
					if slot, err := strconv.Atoi(s); err == nil && slot >= 0 && slot < numSlots {
						if n.migrating == nil {
							n.migrating = map[uint16]string{}
						}
						n.migrating[uint16(slot)] = id
					}
				} else if s, id, ok := strings.Cut(body, "-<-"); ok {
					if slot, err := strconv.Atoi(s); err == nil && slot >= 0 && slot < numSlots {
						if n.importing == nil {
							n.importing = map[uint16]string{}
						}
						n.importing[uint16(slot)] = id
					}
				}
				continue
			}
			lo, hi, ok := strings.Cut(r, "-")
			if !ok {
				hi = lo
			}
			a, err1 := strconv.Atoi(lo)
			b, err2 := strconv.Atoi(hi)
			if err1 != nil || err2 != nil || a < 0 || b >= numSlots || a > b {
				return nil, fmt.Errorf("unexpected slot range %q in CLUSTER NODES", shorten(r))
			}
			n.slots.addRange(a, b)
		}
		out = append(out, n)
	}
	return out, nil
}

// shorten cuts s for an error message.
func shorten(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// clusterNode is a master of a topology snapshot, as it describes itself.
type clusterNode struct {
	nodeLine
	ex executor
}

// migration is a slot on its way from one master to another (node IDs).
type migration struct{ from, to string }

// topology is a snapshot of the masters that serve slots, each as it describes itself.
type topology struct {
	nodes []*clusterNode // the masters, by address
	byID  map[string]*clusterNode
	// owner is, for each slot, the index in nodes of the master that serves it: -1 for none, -2
	// when several say they do.
	owner [numSlots]int16
	// moving are the slots some master is migrating or importing.
	moving map[uint16][]migration
}

// unsettled returns the slots that are migrating or importing, or that no master serves (the
// masters answered at slightly different times, and a slot moved in between; or the cluster does
// not cover it).
func (t *topology) unsettled() slotSet {
	var s slotSet
	for slot := range t.moving {
		s.add(slot)
	}
	for slot, o := range t.owner {
		if o == -1 {
			s.add(uint16(slot))
		}
	}
	return s
}

// ownerID returns the ID of the slot's master ("" when none or several) and its config epoch.
func (t *topology) ownerID(slot uint16) (string, uint64) {
	switch i := t.owner[slot]; {
	case i >= 0:
		return t.nodes[i].id, t.nodes[i].epoch
	case i == -2:
		ids := []string{}
		for _, n := range t.nodes {
			if n.slots.has(slot) {
				ids = append(ids, n.id+"@"+strconv.FormatUint(n.epoch, 10))
			}
		}
		return strings.Join(ids, ","), 0
	}
	return "", 0
}

// sameSlot reports whether slot is in the same state in t and o: the same master, with the same
// config epoch (a slot that left a master and came back bumps it), and the same migrations.
func (t *topology) sameSlot(o *topology, slot uint16) bool {
	a, ea := t.ownerID(slot)
	b, eb := o.ownerID(slot)
	return a == b && ea == eb && slices.Equal(t.moving[slot], o.moving[slot])
}

// changed returns the slots whose state differs between t and o.
func (t *topology) changed(o *topology) slotSet {
	var s slotSet
	if t.same(o) {
		return s
	}
	for slot := range numSlots {
		if !t.sameSlot(o, uint16(slot)) {
			s.add(uint16(slot))
		}
	}
	return s
}

// same reports whether t and o have the same masters, each with the same config epoch, slots and
// migrations.
func (t *topology) same(o *topology) bool {
	if len(t.nodes) != len(o.nodes) {
		return false
	}
	for i, n := range t.nodes {
		m := o.nodes[i]
		if n.id != m.id || n.epoch != m.epoch || n.slots != m.slots || !maps.Equal(n.migrating, m.migrating) || !maps.Equal(n.importing, m.importing) {
			return false
		}
	}
	return true
}

// holders returns the masters that may hold keys of slot, in the order to ask them: the sources of
// its migrations (and its master, when it is not a target) first, then the targets.
func (t *topology) holders(slot uint16) (first, then []*clusterNode) {
	targets := map[string]bool{}
	for _, m := range t.moving[slot] {
		targets[m.to] = true
	}
	add := func(list []*clusterNode, n *clusterNode) []*clusterNode {
		if n != nil && !slices.Contains(list, n) {
			list = append(list, n)
		}
		return list
	}
	for _, m := range t.moving[slot] {
		first = add(first, t.byID[m.from])
	}
	for _, n := range t.nodes {
		if n.slots.has(slot) && !targets[n.id] {
			first = add(first, n)
		}
	}
	for _, m := range t.moving[slot] {
		then = add(then, t.byID[m.to])
	}
	for _, n := range t.nodes {
		if n.slots.has(slot) && targets[n.id] {
			then = add(then, n)
		}
	}
	return first, then
}

// involved returns the slots whose keys node may hold: those it serves, migrates or imports.
func (t *topology) involved(n *clusterNode) slotSet {
	s := n.slots
	for slot := range n.migrating {
		s.add(slot)
	}
	for slot := range n.importing {
		s.add(slot)
	}
	return s
}

// nodeAnswer is what one node said to CLUSTER NODES.
type nodeAnswer struct {
	addr  string
	lines []nodeLine
	err   error
}

// topology reads the cluster's topology from its masters: it asks the masters of the last
// snapshot (at first, every node the driver knows) for CLUSTER NODES, works out from the answers
// which masters serve the slots now (for each slot, the claim of the highest config epoch, as
// Redis decides) and asks those it has not asked yet, until every master that serves a slot, or
// migrates or imports one, has described itself. A replica or a node that does not answer is
// skipped, unless it serves slots.
func (b *Backend) topology(ctx context.Context) (*topology, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cands := b.lastMasters.Load()
	if cands == nil || len(*cands) == 0 {
		all := b.ex.knownNodes()
		if len(all) == 0 {
			// Not connected yet (a backend that connects in the background): a PING waits for
			// the first attempt, or says why there is no connection.
			cctx, cancel := b.withTimeout(ctx)
			r := b.ex.do(cctx, plainCmd(true, "PING"))
			cancel()
			if r.err != nil {
				return nil, r.err
			}
			all = b.ex.knownNodes()
		}
		cands = &all
	}
	answers := map[string]nodeAnswer{}
	ask := func(addrs []string) {
		var todo []string
		for _, a := range addrs {
			if _, done := answers[a]; !done && !slices.Contains(todo, a) {
				todo = append(todo, a)
			}
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, a := range todo {
			wg.Add(1)
			go func() { // owned by this call: it waits for them
				defer wg.Done()
				ans := nodeAnswer{addr: a}
				ex, err := b.ex.node(a)
				if err == nil {
					cctx, cancel := b.withTimeout(ctx)
					var text string
					text, _, err = ex.do(cctx, plainCmd(true, "CLUSTER", "NODES")).str()
					cancel()
					if err == nil {
						ans.lines, err = parseNodes(text)
					}
				}
				ans.err = err
				mu.Lock()
				answers[a] = ans
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
	ask(*cands)
	for round := 0; ; round++ {
		// The masters that serve slots now: for each slot, the claim of the highest config epoch
		// among every claim heard (a node's own line first on a tie).
		addrOf := map[string]string{}   // node ID: address
		selfOf := map[string]nodeLine{} // node ID: its own line, from the node itself
		var claims []*nodeLine
		answered := false
		for _, a := range answers {
			if a.err != nil {
				continue
			}
			answered = true
			for i := range a.lines {
				l := &a.lines[i]
				if l.addr != "" {
					addrOf[l.id] = l.addr
				}
				if l.myself {
					selfOf[l.id] = *l
				}
				if l.master {
					claims = append(claims, l)
				}
			}
		}
		slices.SortStableFunc(claims, func(a, b *nodeLine) int {
			switch {
			case a.epoch != b.epoch:
				return cmp.Compare(b.epoch, a.epoch)
			case a.myself != b.myself:
				if a.myself {
					return -1
				}
				return 1
			}
			return 0
		})
		need := map[string]bool{}
		var assigned slotSet
		for _, l := range claims {
			if won := l.slots.andNot(&assigned); !won.empty() {
				need[l.id] = true
				assigned.union(&won)
			}
		}
		if !answered {
			// Nobody answered: ask every node the driver knows, once.
			if round == 0 {
				ask(b.ex.knownNodes())
				continue
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			return nil, b.topologyError(answers)
		}
		for id := range need {
			for _, m := range selfOf[id].migrating {
				need[m] = true
			}
			for _, m := range selfOf[id].importing {
				need[m] = true
			}
		}
		var missing, down []string
		var downErrs []error
		for id := range need {
			if l, ok := selfOf[id]; ok && l.master {
				continue
			}
			addr := addrOf[id]
			if addr == "" {
				down = append(down, id+" (no address)")
				continue
			}
			if a, asked := answers[addr]; asked {
				if a.err != nil {
					down = append(down, fmt.Sprintf("%s: %v", addr, a.err))
					downErrs = append(downErrs, a.err)
				} else {
					// It answered but no longer calls itself a master: the others' claim is stale.
					down = append(down, addr+" is not a master")
				}
				continue
			}
			missing = append(missing, addr)
		}
		if len(missing) > 0 && round < 4 {
			ask(missing)
			continue
		}
		if len(down) > 0 || len(missing) > 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			slices.Sort(down)
			err := fmt.Errorf("%w: masters serving slots did not answer: %s", errTopology, strings.Join(append(down, missing...), "; "))
			if len(downErrs) > 0 {
				err = fmt.Errorf("%w (%w)", err, downErrs[0]) // a timeout stays a timeout for errors.Is
			}
			return nil, err
		}
		t := &topology{byID: map[string]*clusterNode{}, moving: map[uint16][]migration{}}
		for id := range need {
			l := selfOf[id]
			ex, err := b.ex.node(answersAddr(answers, id, addrOf[id]))
			if err != nil {
				return nil, fmt.Errorf("%w: %v", errTopology, err)
			}
			n := &clusterNode{nodeLine: l, ex: ex}
			t.nodes = append(t.nodes, n)
			t.byID[id] = n
		}
		slices.SortFunc(t.nodes, func(a, b *clusterNode) int { return strings.Compare(a.addr, b.addr) })
		for i := range t.owner {
			t.owner[i] = -1
		}
		for i, n := range t.nodes {
			n.slots.each(func(s uint16) {
				if t.owner[s] == -1 {
					t.owner[s] = int16(i)
				} else {
					t.owner[s] = -2
				}
			})
			for s, to := range n.migrating {
				t.moving[s] = append(t.moving[s], migration{n.id, to})
			}
			for s, from := range n.importing {
				t.moving[s] = append(t.moving[s], migration{from, n.id})
			}
		}
		for s, ms := range t.moving {
			slices.SortFunc(ms, func(a, b migration) int {
				return strings.Compare(a.from+a.to, b.from+b.to)
			})
			t.moving[s] = slices.Compact(ms)
		}
		addrs := make([]string, len(t.nodes))
		for i, n := range t.nodes {
			addrs[i] = answersAddr(answers, n.id, n.addr)
		}
		b.lastMasters.Store(&addrs)
		return t, nil
	}
}

// answersAddr returns the address a node answered on (the driver's spelling of it), or addr.
func answersAddr(answers map[string]nodeAnswer, id, addr string) string {
	for a, ans := range answers {
		if ans.err != nil {
			continue
		}
		for _, l := range ans.lines {
			if l.myself && l.id == id {
				return a
			}
		}
	}
	return addr
}

// topologyError describes why no node answered.
func (b *Backend) topologyError(answers map[string]nodeAnswer) error {
	var msgs []string
	var first error
	for a, ans := range answers {
		msgs = append(msgs, fmt.Sprintf("%s: %v", a, ans.err))
		if first == nil {
			first = ans.err
		}
	}
	slices.Sort(msgs)
	if len(msgs) == 0 {
		return fmt.Errorf("%w: the client knows no node", errTopology)
	}
	return fmt.Errorf("%w: no node answered CLUSTER NODES: %s (%w)", errTopology, strings.Join(msgs, "; "), first)
}

// clusterTopology is topology with the backend's error wrapping.
func (b *Backend) clusterTopology(ctx context.Context, op string) (*topology, error) {
	t, err := b.topology(ctx)
	if err != nil {
		return nil, b.fail(ctx, op, "", err)
	}
	return t, nil
}

// keysInSlot returns the keys of slot on node (CLUSTER GETKEYSINSLOT, an atomic snapshot), asking
// again with a larger count while the answer is full.
func (b *Backend) keysInSlot(ctx context.Context, n *clusterNode, slot uint16) ([]string, error) {
	count := 1000
	for {
		cctx, cancel := b.withTimeout(ctx)
		keys, err := n.ex.do(cctx, plainCmd(true, "CLUSTER", "GETKEYSINSLOT", strconv.Itoa(int(slot)), strconv.Itoa(count))).strs()
		cancel()
		if err != nil {
			return nil, b.fail(ctx, "CLUSTER GETKEYSINSLOT", "", fmt.Errorf("on %s: %w", n.addr, err))
		}
		if len(keys) < count {
			return keys, nil
		}
		count *= 8
	}
}

// countSlots returns the number of keys of each slot on node (CLUSTER COUNTKEYSINSLOT, in
// pipelines of up to 1000).
func (b *Backend) countSlots(ctx context.Context, n *clusterNode, slots []uint16) ([]int64, error) {
	out := make([]int64, 0, len(slots))
	for start := 0; start < len(slots); start += chunk {
		part := slots[start:min(start+chunk, len(slots))]
		cs := make([]command, len(part))
		for i, s := range part {
			cs[i] = plainCmd(true, "CLUSTER", "COUNTKEYSINSLOT", strconv.Itoa(int(s)))
		}
		cctx, cancel := b.withTimeout(ctx)
		rs := n.ex.doMulti(cctx, cs)
		cancel()
		for _, r := range rs {
			c, err := r.int()
			if err != nil {
				return nil, b.fail(ctx, "CLUSTER COUNTKEYSINSLOT", "", fmt.Errorf("on %s: %w", n.addr, err))
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// settle goes over the unsettled slots u until each has had a round during which its state did
// not change (see the top of this file), starting from snapshot t. In each round, found receives
// the keys of each slot on its holders, sources first (a key may repeat); with count set, a slot
// that is not migrating is counted (COUNTKEYSINSLOT) rather than listed, and counted receives its
// count instead. accept is called for a slot when its round was good: what that round found holds.
// pattern, when not empty, lets a master with many slots to go over be scanned (SCAN MATCH)
// rather than asked slot by slot.
func (b *Backend) settle(ctx context.Context, op string, t *topology, u slotSet, pattern string, count bool,
	found func(slot uint16, keys []string) error, counted func(slot uint16, n int64), accept func(slot uint16)) error {
	var uncovered slotSet // in the last round, slots no master served
	for round := 0; !u.empty(); round++ {
		if round == maxRecoveryRounds {
			return b.fail(ctx, op, "", fmt.Errorf("%w: %d slots kept changing over %d rounds", errTopology, u.count(), round))
		}
		if round > 2 { // give a migration step or a failover a moment to complete
			sleep(ctx, time.Duration(min(round, 20))*time.Millisecond)
		}
		var firstBy, thenBy = map[*clusterNode][]uint16{}, map[*clusterNode][]uint16{}
		uncovered = slotSet{}
		u.each(func(s uint16) {
			first, then := t.holders(s)
			if len(first)+len(then) == 0 {
				uncovered.add(s) // not accepted this round: asked again on the next snapshot
			}
			for _, n := range first {
				firstBy[n] = append(firstBy[n], s)
			}
			for _, n := range then {
				thenBy[n] = append(thenBy[n], s)
			}
		})
		type result struct {
			keys  map[uint16][]string
			count map[uint16]int64
		}
		res := result{keys: map[uint16][]string{}, count: map[uint16]int64{}}
		for _, phase := range []map[*clusterNode][]uint16{firstBy, thenBy} {
			for n, slots := range phase {
				var countable, listed []uint16
				for _, s := range slots {
					if _, moving := t.moving[s]; count && !moving {
						countable = append(countable, s)
					} else {
						listed = append(listed, s)
					}
				}
				if len(countable) > 0 {
					cs, err := b.countSlots(ctx, n, countable)
					if err != nil {
						return err
					}
					for i, s := range countable {
						res.count[s] += cs[i]
					}
				}
				if pattern != "" && len(listed) > 64 {
					// Many slots (after a failover): one SCAN MATCH of the master, kept to them.
					var want slotSet
					for _, s := range listed {
						want.add(s)
					}
					for keys, err := range b.scanNode(ctx, n.ex, pattern, deleteScanCount) {
						if err != nil {
							return err
						}
						for _, k := range keys {
							if s := keySlot(k); want.has(s) {
								res.keys[s] = append(res.keys[s], k)
							}
						}
					}
					continue
				}
				for _, s := range listed {
					keys, err := b.keysInSlot(ctx, n, s)
					if err != nil {
						return err
					}
					res.keys[s] = append(res.keys[s], keys...)
				}
			}
		}
		// Hand over what was found (for each slot listed, even without keys), then keep the
		// slots whose state held.
		var err error
		u.each(func(s uint16) {
			if err != nil || uncovered.has(s) {
				return
			}
			if c, ok := res.count[s]; ok {
				counted(s, c)
				return
			}
			keys := res.keys[s]
			if pattern != "" {
				matched := keys[:0]
				for _, k := range keys {
					if backends.Match(pattern, k) && !internalKey(k) {
						matched = append(matched, k)
					}
				}
				keys = matched
			}
			err = found(s, keys)
		})
		if err != nil {
			return err
		}
		next, err := b.clusterTopology(ctx, op)
		if err != nil {
			return err
		}
		var again slotSet
		u.each(func(s uint16) {
			if uncovered.has(s) {
				if first, then := next.holders(s); len(first)+len(then) == 0 {
					// Served by no master in two snapshots in a row: the cluster does not cover
					// it (a migration seen half done, which looks the same, does not last), and
					// no key of it can be read.
					accept(s)
					return
				}
				again.add(s)
				return
			}
			if !t.sameSlot(next, s) {
				again.add(s)
				return
			}
			accept(s)
		})
		u, t = again, next
	}
	return nil
}

// clusterScan is Scan on Cluster: SCAN MATCH on every master, then the unsettled slots again; each
// key is yielded once.
func (b *Backend) clusterScan(ctx context.Context, pattern string, batch int, yield func([]string, error) bool) {
	t, err := b.clusterTopology(ctx, "SCAN")
	if err != nil {
		yield(nil, err)
		return
	}
	seen := map[string]struct{}{}
	var buf []string
	stopped := false
	emit := func(keys []string) bool {
		for _, k := range keys {
			if _, dup := seen[k]; dup {
				continue
			}
			seen[k] = struct{}{}
			buf = append(buf, k)
			for len(buf) >= batch {
				out := append([]string(nil), buf[:batch]...)
				buf = buf[batch:]
				if !yield(out, nil) {
					stopped = true
					return false
				}
			}
		}
		return true
	}
	for _, n := range t.nodes {
		mine := t.involved(n)
		for keys, err := range b.scanNode(ctx, n.ex, pattern, batch) {
			if err != nil {
				yield(nil, err)
				return
			}
			kept := keys[:0]
			for _, k := range keys {
				if mine.has(keySlot(k)) { // a key of a slot the node neither serves nor imports is not readable
					kept = append(kept, k)
				}
			}
			if !emit(kept) {
				return
			}
		}
	}
	after, err := b.clusterTopology(ctx, "SCAN")
	if err != nil {
		yield(nil, err)
		return
	}
	u := t.changed(after)
	u.union(ptr(t.unsettled()))
	u.union(ptr(after.unsettled()))
	err = b.settle(ctx, "SCAN", after, u, pattern, false,
		func(_ uint16, keys []string) error {
			if !emit(keys) {
				return errStopped
			}
			return nil
		}, nil, func(uint16) {})
	if stopped {
		return
	}
	if err != nil {
		yield(nil, err)
		return
	}
	if len(buf) > 0 {
		yield(buf, nil)
	}
}

// errStopped ends settle when the caller of Scan stopped iterating.
var errStopped = errors.New("stopped")

func ptr[T any](v T) *T { return &v }

// clusterDeleteMatch is DeleteMatch on Cluster: SCAN MATCH and UNLINK on every master, then the
// unsettled slots again.
func (b *Backend) clusterDeleteMatch(ctx context.Context, pattern string) (int, error) {
	t, err := b.clusterTopology(ctx, "DeleteMatch")
	if err != nil {
		return 0, err
	}
	total := 0
	for _, n := range t.nodes {
		for keys, err := range b.scanNode(ctx, n.ex, pattern, deleteScanCount) {
			if err != nil {
				return total, err
			}
			c, err := b.deleteKeys(ctx, keys)
			total += c
			if err != nil {
				return total, err
			}
		}
	}
	after, err := b.clusterTopology(ctx, "DeleteMatch")
	if err != nil {
		return total, err
	}
	u := t.changed(after)
	u.union(ptr(t.unsettled()))
	u.union(ptr(after.unsettled()))
	err = b.settle(ctx, "DeleteMatch", after, u, pattern, false,
		func(_ uint16, keys []string) error {
			for start := 0; start < len(keys); start += chunk {
				c, err := b.deleteKeys(ctx, keys[start:min(start+chunk, len(keys))])
				total += c
				if err != nil {
					return err
				}
			}
			return nil
		}, nil, func(uint16) {})
	return total, err
}

// clusterKeysCount is KeysCount on Cluster. When no slot is migrating and the topology is the same
// before and after, it is DBSIZE summed over the masters; otherwise each slot is counted on its
// master (COUNTKEYSINSLOT) and the unsettled slots are counted again, each key of a migrating slot
// once.
func (b *Backend) clusterKeysCount(ctx context.Context) (int64, error) {
	t, err := b.clusterTopology(ctx, "DBSIZE")
	if err != nil {
		return 0, err
	}
	if len(t.moving) == 0 {
		var total int64
		for _, n := range t.nodes {
			cctx, cancel := b.withTimeout(ctx)
			c, err := n.ex.do(cctx, plainCmd(true, "DBSIZE")).int()
			cancel()
			if err != nil {
				return 0, b.fail(ctx, "DBSIZE", "", fmt.Errorf("on %s: %w", n.addr, err))
			}
			total += c
		}
		after, err := b.clusterTopology(ctx, "DBSIZE")
		if err != nil {
			return 0, err
		}
		if changed := t.changed(after); len(after.moving) == 0 && changed.empty() {
			return total, nil
		}
		t = after
	}
	// Slot by slot.
	counts := make([]int64, numSlots)
	for _, n := range t.nodes {
		var slots []uint16
		n.slots.each(func(s uint16) {
			if t.owner[s] >= 0 {
				if _, moving := t.moving[s]; !moving {
					slots = append(slots, s)
				}
			}
		})
		cs, err := b.countSlots(ctx, n, slots)
		if err != nil {
			return 0, err
		}
		for i, s := range slots {
			counts[s] = cs[i]
		}
	}
	after, err := b.clusterTopology(ctx, "DBSIZE")
	if err != nil {
		return 0, err
	}
	u := t.changed(after)
	u.union(ptr(t.unsettled()))
	u.union(ptr(after.unsettled()))
	for s, o := range after.owner {
		if o == -2 { // several masters say they serve it: count it on each, each key once
			u.add(uint16(s))
		}
	}
	var total int64
	for s, c := range counts {
		if !u.has(uint16(s)) {
			total += c
		}
	}
	// The unsettled slots: each key once (a key that moves during a round can be seen twice).
	pending := map[uint16]int64{} // the last round's count of each slot
	err = b.settle(ctx, "DBSIZE", after, u, "", true,
		func(s uint16, ks []string) error { // this round's keys of the slot, on all its holders
			set := make(map[string]struct{}, len(ks))
			for _, k := range ks {
				set[k] = struct{}{}
			}
			pending[s] = int64(len(set))
			return nil
		},
		func(s uint16, n int64) { pending[s] = n },
		func(s uint16) { total += pending[s] })
	if err != nil {
		return 0, err
	}
	return total, nil
}

// clusterClear is Clear on Cluster: FLUSHDB on every master.
func (b *Backend) clusterClear(ctx context.Context) error {
	t, err := b.clusterTopology(ctx, "FLUSHDB")
	if err != nil {
		return err
	}
	for _, n := range t.nodes {
		cctx, cancel := b.withTimeout(ctx)
		_, _, err := n.ex.do(cctx, plainCmd(false, "FLUSHDB")).str()
		cancel()
		if err != nil {
			return b.fail(ctx, "FLUSHDB", "", fmt.Errorf("on %s: %w", n.addr, err))
		}
	}
	return nil
}

// errSlotMoving replaces a MOVED or ASK redirection that reached the backend: the driver follows
// them, so one left over means the slot map kept changing until the deadline. It is a fault (the
// backend could not answer), never a reply the caller has to understand.
var errSlotMoving = errors.New("the cluster's slot map changed and the client did not catch up in time")

// redisErrReply is the reply of an error from Redis. Redirections and the errors of a cluster
// in the middle of a failover (CLUSTERDOWN, TRYAGAIN, LOADING) are faults: the backend could not
// answer, as when a node does not.
func redisErrReply(err error) reply {
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "MOVED ") || strings.HasPrefix(msg, "ASK "):
		return reply{err: errSlotMoving, fault: true}
	case strings.HasPrefix(msg, "CLUSTERDOWN ") || strings.HasPrefix(msg, "TRYAGAIN ") || strings.HasPrefix(msg, "LOADING "):
		return reply{err: err, fault: true}
	}
	return errReply(err)
}

// clusterRetry follows up a command's reply r on a go-redis ClusterClient: a redirection the
// client did not follow (it gives up after MaxRedirects) reloads the slot map and runs the command
// again (again), until the context ends; a node that did not answer, or a cluster in the middle of
// a failover, reloads the slot map (go-redis itself only reloads on MOVED, or every
// cluster_refresh_interval), so that a failover is followed within moments of the promotion.
func clusterRetry(ctx context.Context, reload func(context.Context), r reply, again func() reply) reply {
	r = retryTryAgain(ctx, r, again)
	for attempt := 1; r.fault; attempt++ {
		reload(ctx)
		if !errors.Is(r.err, errSlotMoving) || attempt > 10 {
			return r
		}
		sleep(ctx, time.Duration(attempt)*2*time.Millisecond)
		if ctx.Err() != nil {
			return r
		}
		r = again()
	}
	return r
}

// clusterRefresh returns the interval of the drivers' periodic slot-map reload.
func (o Options) clusterRefresh() time.Duration {
	if o.ClusterRefreshInterval > 0 {
		return o.ClusterRefreshInterval
	}
	return DefaultClusterRefreshInterval
}

// nodeDialer returns how a rueidis Cluster executor opens a client of one node it does not know:
// the cluster client's options, without client-side caching, dialing within the backend's timeout.
func nodeDialer(opt rueidis.ClientOption, o Options) func(addr string) (rueidis.Client, error) {
	opt.ForceSingleClient = true
	opt.DisableCache = true
	opt.NewCacheStoreFn = nil
	opt.ClusterOption = rueidis.ClusterOption{}
	if t := o.timeout(); t > 0 && (opt.Dialer.Timeout <= 0 || opt.Dialer.Timeout > max(t, 100*time.Millisecond)) {
		opt.Dialer.Timeout = max(t, 100*time.Millisecond)
	}
	return func(addr string) (rueidis.Client, error) {
		opt := opt
		opt.InitAddress = []string{addr}
		return rueidis.NewClient(opt)
	}
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// retryTryAgain runs a command again (again) while Redis answers TRYAGAIN: a command on several keys
// of a slot that is migrating, while the keys are split between the source and the target. Redis
// did not run it, so running it again is safe; the migration moves them within moments. It gives up
// at the context's end or after 30 attempts.
func retryTryAgain(ctx context.Context, r reply, again func() reply) reply {
	for attempt := 1; r.err != nil && strings.HasPrefix(r.err.Error(), "TRYAGAIN") && attempt <= 30; attempt++ {
		sleep(ctx, time.Duration(min(attempt, 10))*time.Millisecond)
		if ctx.Err() != nil {
			return r
		}
		r = again()
	}
	return r
}
