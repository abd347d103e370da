package redis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/internal/redistest"
	"github.com/cashews-go/cashews/internal/testenv"
)

// The Cluster fault suite: a real cluster of 3 masters and 3 replicas (cluster-node-timeout 2s),
// and the events a cluster lives with. Each scenario runs the three drivers at once (rueidis,
// go-redis, rueidis with client-side caching), each under a load of 64 goroutines of 70% Get /
// 20% Set / 10% Incr over 10,000 keys, and checks each driver:
//
//   - reshard: 2,000 slots move from one master to another; KeysCount, Scan and DeleteMatch,
//     called in turn on each driver all along, are exact in every call;
//   - replica_down: a replica killed; the keyspace commands keep working, and exact;
//   - master_down: a master killed and kept down; every key is served again within 1s of its
//     replica's promotion, and the keyspace commands are exact;
//   - partition: a master frozen with SIGSTOP (its connections stay open), its replica promoted
//     while a writer writes new versions of its keys there, then SIGCONT: no read returns a value
//     replaced more than 1s before, and with client-side caching fewer stale ones than raw rueidis
//     DoCache reading the same keys.
//
// It asserts wall-clock bounds, so it runs only with CASHEWS_TIMING_TESTS=1:
//
//	CASHEWS_TIMING_TESTS=1 go test -race -count=1 -run TestClusterFaults -v ./backends/redis/

const (
	faultLoadKeys  = 10000 // strings read and written by the load
	faultCounters  = 1000  // counters incremented by the load
	faultFillKeys  = 10000 // keys nobody touches
	faultScanKeys  = 3000  // the keys Scan must find
	faultDelKeys   = 500   // the keys each DeleteMatch must remove
	faultNodeLimit = 2 * time.Second
	// staleGrace is how long a read may return the value a write just replaced before it counts
	// as stale: a client-side cache learns of a write by another client from an invalidation,
	// which the tests bound at 50ms.
	staleGrace = 50 * time.Millisecond
)

// faultStatic is the number of keys that exist throughout the scenarios.
const faultStatic = faultLoadKeys + faultCounters + faultFillKeys + faultScanKeys

var faultDrivers = []struct{ name, params string }{
	{"rueidis", ""},
	{"go-redis", "driver=go-redis"},
	{"client_side", "client_side=true"},
}

func TestClusterFaults(t *testing.T) {
	testenv.RequireTiming(t)
	cl := redistest.StartClusterWith(t, redistest.ClusterOptions{Masters: 3, Replicas: 1, NodeTimeout: faultNodeLimit})
	fillCluster(t, cl)
	t.Run("reshard", func(t *testing.T) { testReshard(t, cl) })
	t.Run("replica_down", func(t *testing.T) { testReplicaDown(t, cl) })
	t.Run("master_down", func(t *testing.T) { testMasterDown(t, cl) })
	t.Run("partition", func(t *testing.T) { testPartition(t, cl) })
}

// fillCluster writes the keys of the scenarios: the load's strings and counters, the keys nobody
// touches and those Scan looks for, all without expiry.
func fillCluster(t *testing.T, cl *redistest.Cluster) {
	ctx := testCtx(t)
	b := openURL(t, withParams(cl.URL(), relaxed))
	var items []backends.Item
	add := func(key, value string) { items = append(items, backends.Item{Key: key, Value: []byte(value)}) }
	for i := range faultLoadKeys {
		add(loadKey(i), "v-"+loadKey(i))
	}
	for i := range faultCounters {
		add("lc:"+strconv.Itoa(i), "0")
	}
	for i := range faultFillKeys {
		add("fill:"+strconv.Itoa(i), "x")
	}
	for i := range faultScanKeys {
		add("scan:"+strconv.Itoa(i), "s")
	}
	if err := b.SetMany(ctx, items); err != nil {
		t.Fatalf("fill: %v", err)
	}
	if n, err := b.KeysCount(ctx); n != faultStatic || err != nil {
		t.Fatalf("KeysCount after fill: got %d, %v; want %d", n, err, faultStatic)
	}
}

func loadKey(i int) string { return "ld:" + strconv.Itoa(i) }

// loadPause is what each goroutine of a load waits between calls.
var loadPause = map[bool]time.Duration{false: 25 * time.Millisecond, true: 100 * time.Millisecond}[raceEnabled]

// clusterLoad is 64 goroutines of 70% Get, 20% Set and 10% Incr over the fill's keys, each pausing
// 25ms between calls (three loads run at once on two cores), 100ms under the race detector,
// recording every call.
type clusterLoad struct {
	started time.Time
	stop    chan struct{}
	wg      sync.WaitGroup
	wrong   atomic.Int64 // Get returned another key's value
	mu      sync.Mutex
	calls   []call
	incrs   atomic.Int64 // acknowledged increments
}

func startClusterLoad(b *Backend) *clusterLoad {
	l := &clusterLoad{started: time.Now(), stop: make(chan struct{})}
	for g := range 64 {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 2))
			var local []call
			defer func() {
				l.mu.Lock()
				l.calls = append(l.calls, local...)
				l.mu.Unlock()
			}()
			for {
				select {
				case <-l.stop:
					return
				case <-time.After(loadPause):
				}
				i := rng.IntN(faultLoadKeys)
				k := loadKey(i)
				start := time.Now()
				var err error
				switch op := rng.IntN(10); {
				case op < 7:
					var v any
					var found bool
					v, found, err = b.Get(context.Background(), k)
					if err == nil && (!found || string(v.([]byte)) != "v-"+k) {
						l.wrong.Add(1)
					}
				case op < 9:
					_, err = b.Set(context.Background(), k, []byte("v-"+k), 0, backends.SetAlways)
				default:
					_, err = b.Incr(context.Background(), "lc:"+strconv.Itoa(i%faultCounters), 1, 0)
					if err == nil {
						l.incrs.Add(1)
					}
				}
				local = append(local, call{at: start.Sub(l.started), dur: time.Since(start), err: err})
			}
		}()
	}
	return l
}

// end stops the load and returns its calls in the order they started.
func (l *clusterLoad) end() []call {
	close(l.stop)
	l.wg.Wait()
	slices.SortFunc(l.calls, func(a, b call) int { return int(a.at - b.at) })
	return l.calls
}

// summary describes calls: how many, how many failed, and the first error.
func summary(calls []call) string {
	errs := 0
	var first error
	for _, c := range calls {
		if c.err != nil {
			errs++
			if first == nil {
				first = c.err
			}
		}
	}
	if first == nil {
		return fmt.Sprintf("%d calls, 0 errors", len(calls))
	}
	return fmt.Sprintf("%d calls, %d errors (first: %v)", len(calls), errs, first)
}

// redirects counts the calls whose error shows a MOVED or ASK redirection.
func redirects(calls []call) int {
	n := 0
	for _, c := range calls {
		if c.err != nil && (strings.Contains(c.err.Error(), "MOVED") || strings.Contains(c.err.Error(), "ASK ")) {
			n++
		}
	}
	return n
}

// driverRun is one driver in a scenario: a backend with the default timeout for the load and
// the reads, one with a timeout of 2s for the keyspace commands (whose many round trips a loaded
// machine slows down), the load's calls and the keyspace checks.
type driverRun struct {
	name  string
	b, kb *Backend
	load  *clusterLoad
	calls []call
	check *keyspaceChecker
}

// openDrivers opens every driver on the cluster.
func openDrivers(t *testing.T, cl *redistest.Cluster) []*driverRun {
	var ds []*driverRun
	for _, d := range faultDrivers {
		ds = append(ds, &driverRun{
			name: d.name,
			b:    openURL(t, withParams(cl.URL(), d.params)),
			kb:   openURL(t, withParams(cl.URL(), "timeout=2s&"+d.params)),
		})
	}
	for _, d := range ds {
		d.check = &keyspaceChecker{b: d.kb, cl: cl, name: d.name, countRange: [2]int64{faultStatic, faultStatic}}
	}
	return ds
}

func startLoads(ds []*driverRun) {
	for _, d := range ds {
		d.load = startClusterLoad(d.b)
	}
}

func endLoads(ds []*driverRun) {
	for _, d := range ds {
		d.calls = d.load.end()
	}
}

// keyspaceChecker counts, for one driver, the KeysCount, Scan and DeleteMatch calls and those whose
// answer was not exact. Each DeleteMatch removes 500 keys it has just written, and every node is
// then asked (KEYS) whether one is left.
type keyspaceChecker struct {
	b    *Backend
	cl   *redistest.Cluster
	name string

	counts, scans, deletes          int // calls
	badCounts, badScans, badDeletes int // calls with a wrong answer
	errs                            int // calls that failed
	firstBad, firstErr              string
	countRange                      [2]int64
	round                           int
}

// checking runs one driver's check after another's, so that the keys a DeleteMatch check writes
// never meet another check's KeysCount, until stopped.
type checking struct {
	stop, done chan struct{}
	rounds     atomic.Int64 // checks done
}

// wait waits until n checks are done (at most a minute).
func (c *checking) wait(n int64) {
	for deadline := time.Now().Add(time.Minute); c.rounds.Load() < n && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
}

func startChecking(ds []*driverRun) *checking {
	c := &checking{stop: make(chan struct{}), done: make(chan struct{})}
	go func() { // owned by the test: end waits for it
		defer close(c.done)
		for i := 0; ; i++ {
			select {
			case <-c.stop:
				return
			default:
			}
			ds[i%len(ds)].check.check()
			c.rounds.Add(1)
		}
	}()
	return c
}

// end stops the checks after the current one.
func (c *checking) end() {
	close(c.stop)
	<-c.done
}

func (c *keyspaceChecker) bad(kind *int, format string, args ...any) {
	*kind++
	if c.firstBad == "" {
		c.firstBad = fmt.Sprintf(format, args...)
	}
}

func (c *keyspaceChecker) failed(op string, err error) {
	c.errs++
	if c.firstErr == "" {
		c.firstErr = op + ": " + err.Error()
	}
}

// check runs one round: KeysCount, Scan, then SetMany and DeleteMatch of 500 keys.
func (c *keyspaceChecker) check() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c.round++
	c.counts++
	if n, err := c.b.KeysCount(ctx); err != nil {
		c.failed("KeysCount", err)
	} else {
		c.countRange[0], c.countRange[1] = min(c.countRange[0], n), max(c.countRange[1], n)
		if n != faultStatic {
			c.bad(&c.badCounts, "KeysCount: got %d, want %d", n, faultStatic)
		}
	}

	c.scans++
	seen := map[string]int{}
	var scanErr error
	for page, err := range c.b.Scan(ctx, "scan:*", 100) {
		if err != nil {
			scanErr = err
			break
		}
		for _, k := range page {
			seen[k]++
		}
	}
	if scanErr != nil {
		c.failed("Scan", scanErr)
	} else {
		dups := 0
		for _, n := range seen {
			if n > 1 {
				dups++
			}
		}
		if len(seen) != faultScanKeys || dups > 0 {
			c.bad(&c.badScans, "Scan scan:*: got %d distinct keys (%d yielded more than once), want %d once each", len(seen), dups, faultScanKeys)
		}
	}

	prefix := "dm:" + c.name + ":" + strconv.Itoa(c.round) + ":"
	items := make([]backends.Item, faultDelKeys)
	for i := range items {
		items[i] = backends.Item{Key: prefix + strconv.Itoa(i), Value: []byte("d")}
	}
	if err := c.b.SetMany(ctx, items); err != nil {
		c.failed("SetMany", err)
		purge(ctx, c.b, c.cl, prefix)
		return
	}
	c.deletes++
	n, err := c.b.DeleteMatch(ctx, prefix+"*")
	if err != nil {
		c.failed("DeleteMatch", err)
		purge(ctx, c.b, c.cl, prefix)
		return
	}
	if left := left(c.cl, prefix); n != faultDelKeys || left > 0 {
		c.bad(&c.badDeletes, "DeleteMatch %s*: removed %d, %d left on the nodes; want %d removed, none left", prefix, n, left, faultDelKeys)
		purge(ctx, c.b, c.cl, prefix)
	}
}

// left counts the keys with prefix on the running nodes (KEYS on each).
func left(cl *redistest.Cluster, prefix string) int {
	n := 0
	for _, s := range cl.Servers() {
		if v, err := s.Do("KEYS", prefix+"*"); err == nil {
			n += len(v.([]any))
		}
	}
	return n
}

// purge removes the keys with prefix that a failed or wrong DeleteMatch left, one by one, so that
// KeysCount stays exact for the next checks.
func purge(ctx context.Context, b *Backend, cl *redistest.Cluster, prefix string) {
	for try := 0; try < 100 && left(cl, prefix) > 0; try++ {
		for _, s := range cl.Servers() {
			if v, err := s.Do("KEYS", prefix+"*"); err == nil {
				for _, k := range v.([]any) {
					_, _ = b.Delete(ctx, k.(string))
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *keyspaceChecker) String() string {
	s := fmt.Sprintf("KeysCount %d/%d exact (range %d..%d), Scan %d/%d exact, DeleteMatch %d/%d exact, %d calls failed",
		c.counts-c.badCounts, c.counts, c.countRange[0], c.countRange[1], c.scans-c.badScans, c.scans,
		c.deletes-c.badDeletes, c.deletes, c.errs)
	if c.firstBad != "" {
		s += "; first wrong answer: " + c.firstBad
	}
	if c.firstErr != "" {
		s += "; first error: " + c.firstErr
	}
	return s
}

// checkExact fails the test when a keyspace call was wrong or failed, or when fewer than min
// rounds ran.
func (c *keyspaceChecker) checkExact(t *testing.T, min int) {
	t.Helper()
	if c.badCounts+c.badScans+c.badDeletes > 0 || c.errs > 0 {
		t.Errorf("keyspace commands not exact in every call: %s", c)
	}
	if c.round < min {
		t.Errorf("%d rounds of keyspace calls, want at least %d", c.round, min)
	}
}

// checkLoad fails the test when a read returned a wrong value or a call failed with MOVED or ASK.
func (d *driverRun) checkLoad(t *testing.T) {
	t.Helper()
	if n := d.load.wrong.Load(); n > 0 {
		t.Errorf("%d reads returned a wrong value, want 0", n)
	}
	if n := redirects(d.calls); n > 0 {
		t.Errorf("%d calls failed with MOVED or ASK, want 0", n)
	}
}

// testReshard moves 2,000 slots from one master to another under load, while each driver calls
// KeysCount, Scan and DeleteMatch in turn: each call must be exact. Every 250 slots the migration
// waits for one more check, so that each driver is checked at least twice while slots move.
func testReshard(t *testing.T, cl *redistest.Cluster) {
	masters := cl.Masters()
	from, to := masters[0], masters[1]
	slots := cl.SlotsOf(from)[:2000]
	ds := openDrivers(t, cl)
	startLoads(ds)
	time.Sleep(200 * time.Millisecond)
	c := startChecking(ds)
	start := time.Now()
	moved := 0
	err := cl.Migrate(from, to).Run(slots, func(int) {
		if moved++; moved%250 == 0 {
			c.wait(int64(moved / 250))
		}
	})
	took := time.Since(start)
	c.end()
	endLoads(ds)
	if err != nil {
		t.Fatalf("migration: %v", err)
	}
	t.Logf("2,000 slots moved from %s to %s in %s", from.Addr(), to.Addr(), took.Round(time.Millisecond))
	for _, d := range ds {
		t.Run(d.name, func(t *testing.T) {
			t.Logf("load: %s, %d wrong values, %d MOVED/ASK errors", summary(d.calls), d.load.wrong.Load(), redirects(d.calls))
			t.Logf("keyspace: %s", d.check)
			d.check.checkExact(t, 2)
			d.checkLoad(t)
		})
	}
}

// testReplicaDown kills a replica under load: the keyspace commands keep working, and exact, and
// the load's calls do not fail.
func testReplicaDown(t *testing.T, cl *redistest.Cluster) {
	master := cl.Masters()[0]
	replica := cl.ReplicaOf(master)
	if replica == nil {
		t.Fatalf("no replica of %s", master.Addr())
	}
	ds := openDrivers(t, cl)
	stalls := startStallMeter(t)
	startLoads(ds)
	time.Sleep(200 * time.Millisecond)
	killed := time.Now()
	replica.Kill()
	defer func() {
		replica.Restart()
		cl.WaitOK(60 * time.Second)
	}()
	c := startChecking(ds)
	time.Sleep(2 * time.Second)
	c.wait(int64(len(ds))) // a check of each driver at least
	c.end()
	endLoads(ds)
	t.Logf("replica %s of %s killed", replica.Addr(), master.Addr())
	for _, d := range ds {
		t.Run(d.name, func(t *testing.T) {
			t.Logf("load: %s, %d wrong values", summary(d.calls), d.load.wrong.Load())
			t.Logf("keyspace while the replica is down: %s", d.check)
			d.check.checkExact(t, 1)
			d.checkLoad(t)
			if bad := failingBuckets(d, killed, stalls); len(bad) > 0 {
				t.Errorf("while a replica was down, more than 10%% of the calls failed in the 100ms stretches starting %v after the kill (beyond machine stalls), want none", bad)
			}
		})
	}
}

// testMasterDown kills a master under load and keeps it down: within 1s of its replica's
// promotion every key is served again (no call fails), and the keyspace commands are exact.
func testMasterDown(t *testing.T, cl *redistest.Cluster) {
	victim := cl.Masters()[0]
	replica := cl.ReplicaOf(victim)
	if replica == nil {
		t.Fatalf("no replica of %s", victim.Addr())
	}
	ds := openDrivers(t, cl)
	stalls := startStallMeter(t)
	startLoads(ds)
	time.Sleep(300 * time.Millisecond)
	killed := time.Now()
	victim.Kill()
	defer func() {
		victim.Restart()
		cl.WaitRole(victim, "slave", 30*time.Second)
		cl.WaitOK(60 * time.Second)
	}()
	promoted := cl.WaitRole(replica, "master", 30*time.Second)
	time.Sleep(2 * time.Second)
	for _, d := range ds { // a round each, the old master still down
		d.check.check()
	}
	endLoads(ds)
	t.Logf("master %s killed; replica %s promoted %s later", victim.Addr(), replica.Addr(), promoted.Sub(killed).Round(time.Millisecond))
	for _, d := range ds {
		t.Run(d.name, func(t *testing.T) {
			var before, after []call // failed calls before and after the promotion
			var last call
			for _, call := range d.calls {
				at := d.load.started.Add(call.at)
				if call.err == nil || at.Before(killed) {
					continue
				}
				if at.Before(promoted) {
					before = append(before, call)
				} else {
					after = append(after, call)
				}
				last = call
			}
			lastEnd := time.Duration(0) // after the promotion, when the last failed call ended
			if last.err != nil {
				lastEnd = max(0, d.load.started.Add(last.at+last.dur).Sub(promoted))
			}
			// Served again: after the last 100ms stretch in which more than 10% of the calls failed
			// (a third of the keys are the dead master's), stretches of machine stalls aside.
			back := time.Duration(0)
			if bad := failingBuckets(d, promoted, stalls); len(bad) > 0 {
				back = bad[len(bad)-1] + 100*time.Millisecond
			}
			t.Logf("load: %s; %d failed before the promotion, %d after, the last ending %s after it; every key served again %s after the promotion; %d wrong values, %d MOVED/ASK errors",
				summary(d.calls), len(before), len(after), lastEnd.Round(time.Millisecond), back, d.load.wrong.Load(), redirects(d.calls))
			if len(after) > 0 {
				t.Logf("first failure after the promotion: %v", after[0].err)
			}
			t.Logf("keyspace after the promotion, the old master still down: %s", d.check)
			if back > time.Second {
				t.Errorf("more than 10%% of the calls failed until %s after the promotion (beyond machine stalls), want every key served again within 1s", back)
			}
			d.check.checkExact(t, 1)
			d.checkLoad(t)
		})
	}
}

// stalenessLog records the versions a writer wrote and acknowledged, and the reads of them, to
// count the reads that returned a value already replaced for longer than staleGrace.
type stalenessLog struct {
	mu   sync.Mutex
	acks map[string][]time.Time // acks[key][v-1]: when version v was acknowledged (zero: not)
}

// stale returns how old the value of version v of key was at time at: zero when no later version
// had been acknowledged, otherwise how long ago the first later one was.
func (s *stalenessLog) stale(key string, v int, at time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ack := range s.acks[key][min(v, len(s.acks[key])):] {
		if !ack.IsZero() && ack.Before(at) {
			return at.Sub(ack)
		}
	}
	return 0
}

// staleReads is what a reader saw.
type staleReads struct {
	reads, errs, stale int
	worst              time.Duration
	last               time.Time // the start of the last stale read
	lastErr            time.Time // the end of the last failed read
	lastErrMsg         string
	errAt              []time.Time // when each failed read ended
}

// errorsAfter returns how many reads failed after t.
func (r staleReads) errorsAfter(t time.Time) int {
	n := 0
	for _, at := range r.errAt {
		if at.After(t) {
			n++
		}
	}
	return n
}

func (r staleReads) String() string {
	s := fmt.Sprintf("%d reads, %d errors, %d stale by more than %s (the oldest %s old)", r.reads, r.errs, r.stale, staleGrace, r.worst.Round(time.Millisecond))
	if r.lastErrMsg != "" {
		s += " (last error: " + r.lastErrMsg + ")"
	}
	return s
}

// since describes when t was relative to ref.
func since(t, ref time.Time, what string) string {
	if t.IsZero() {
		return "none"
	}
	return t.Sub(ref).Round(time.Millisecond).String() + " after " + what
}

// readLoop reads keys with get from 16 goroutines until stop is closed and counts the stale reads.
func readLoop(keys []string, log *stalenessLog, stop <-chan struct{}, get func(ctx context.Context, key string) (string, error)) func() staleReads {
	var (
		mu  sync.Mutex
		out staleReads
		wg  sync.WaitGroup
	)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r staleReads
			defer func() {
				mu.Lock()
				out.reads += r.reads
				out.errs += r.errs
				out.stale += r.stale
				out.worst = max(out.worst, r.worst)
				if r.last.After(out.last) {
					out.last = r.last
				}
				if r.lastErr.After(out.lastErr) {
					out.lastErr, out.lastErrMsg = r.lastErr, r.lastErrMsg
				}
				out.errAt = append(out.errAt, r.errAt...)
				mu.Unlock()
			}()
			for i := g; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(time.Millisecond):
				}
				key := keys[i%len(keys)]
				start := time.Now()
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				v, err := get(ctx, key)
				cancel()
				r.reads++
				if err != nil {
					r.errs++
					r.lastErr = time.Now()
					r.lastErrMsg = err.Error()
					r.errAt = append(r.errAt, r.lastErr)
					continue
				}
				n, _ := strconv.Atoi(v)
				if age := log.stale(key, n, start); age > staleGrace {
					r.stale++
					r.worst = max(r.worst, age)
					r.last = start
				}
			}
		}()
	}
	return func() staleReads { wg.Wait(); return out }
}

// failingBuckets returns the 100ms stretches after from (as offsets) in which more than 10% of the
// driver's calls failed, leaving out those during which the machine stalled for 50ms or more.
func failingBuckets(d *driverRun, from time.Time, stalls *stallMeter) []time.Duration {
	type bucket struct{ calls, failed int }
	buckets := map[int]*bucket{}
	for _, c := range d.calls {
		at := d.load.started.Add(c.at)
		if at.Before(from) {
			continue
		}
		i := int(at.Sub(from) / (100 * time.Millisecond))
		if buckets[i] == nil {
			buckets[i] = &bucket{}
		}
		buckets[i].calls++
		if c.err != nil {
			buckets[i].failed++
		}
	}
	var out []time.Duration
	for i, b := range buckets {
		start := from.Add(time.Duration(i) * 100 * time.Millisecond)
		if b.failed*10 > b.calls && stalls.during(start, start.Add(100*time.Millisecond)) < 50*time.Millisecond {
			out = append(out, time.Duration(i)*100*time.Millisecond)
		}
	}
	slices.Sort(out)
	return out
}

// testPartition freezes a master (SIGSTOP: its connections stay open, nothing answers), lets its
// replica be promoted while a writer writes new versions of the master's keys to it, then resumes
// the old master, which rejoins as a replica. 16 readers on each driver read those keys all along:
// none may return a value replaced more than 1s before; with client-side caching the reader must
// also return fewer stale values than raw rueidis DoCache reading the same keys at the same time.
func testPartition(t *testing.T, cl *redistest.Cluster) {
	victim := cl.Masters()[0]
	replica := cl.ReplicaOf(victim)
	if replica == nil {
		t.Fatalf("no replica of %s", victim.Addr())
	}
	own := map[int]bool{}
	for _, s := range cl.SlotsOf(victim) {
		own[s] = true
	}
	var keys []string
	for n := 0; len(keys) < 200; n++ {
		if k := "p:" + strconv.Itoa(n); own[redistest.Slot(k)] {
			keys = append(keys, k)
		}
	}
	log := &stalenessLog{acks: map[string][]time.Time{}}
	versions := map[string]int{}
	write := func(c *goredis.Client, key string) {
		versions[key]++
		v := versions[key]
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		err := c.Set(ctx, key, strconv.Itoa(v), 0).Err()
		cancel()
		log.mu.Lock()
		for len(log.acks[key]) < v {
			log.acks[key] = append(log.acks[key], time.Time{})
		}
		if err == nil {
			log.acks[key][v-1] = time.Now()
		}
		log.mu.Unlock()
	}
	node := func(s *redistest.Server) *goredis.Client {
		c := goredis.NewClient(&goredis.Options{Addr: s.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1})
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	var target atomic.Pointer[goredis.Client] // where the writer writes; nil: nowhere
	first := node(victim)
	for _, k := range keys {
		write(first, k)
	}
	target.Store(first)
	stopWriter, writerDone := make(chan struct{}), make(chan struct{})
	go func() { // owned by the test: it waits for writerDone
		defer close(writerDone)
		for n := 0; ; n++ {
			select {
			case <-stopWriter:
				return
			case <-time.After(500 * time.Microsecond):
			}
			if c := target.Load(); c != nil {
				write(c, keys[n%len(keys)])
			}
		}
	}()

	stop := make(chan struct{})
	readers := map[string]func() staleReads{}
	for _, d := range faultDrivers {
		b := openURL(t, withParams(cl.URL(), d.params))
		readers[d.name] = readLoop(keys, log, stop, func(ctx context.Context, key string) (string, error) {
			v, _, err := b.Get(ctx, key)
			if err != nil {
				return "", err
			}
			s, _ := v.([]byte)
			return string(s), nil
		})
	}
	rc, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: cl.Addrs()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rc.Close)
	raw := readLoop(keys, log, stop, func(ctx context.Context, key string) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
		v, err := rc.DoCache(ctx, rc.B().Get().Key(key).Cache(), DefaultClientSideTTL).ToString()
		if rueidis.IsRedisNil(err) {
			return "", nil
		}
		return v, err
	})
	time.Sleep(500 * time.Millisecond)
	frozen := time.Now()
	target.Store(nil)
	victim.Freeze()
	thawed := false
	defer func() {
		if !thawed {
			victim.Thaw()
		}
		cl.WaitRole(victim, "slave", 30*time.Second)
		cl.WaitOK(60 * time.Second)
	}()
	promoted := cl.WaitRole(replica, "master", 30*time.Second)
	target.Store(node(replica))
	time.Sleep(1500 * time.Millisecond)
	victim.Thaw()
	thawed = true
	healed := time.Now()
	time.Sleep(2500 * time.Millisecond)
	close(stop)
	got := map[string]staleReads{}
	for name, r := range readers {
		got[name] = r()
	}
	r := raw()
	close(stopWriter)
	<-writerDone
	t.Logf("master %s frozen; replica %s promoted %s later; resumed %s after the promotion",
		victim.Addr(), replica.Addr(), promoted.Sub(frozen).Round(time.Millisecond), healed.Sub(promoted).Round(time.Millisecond))
	describe := func(r staleReads) string {
		return fmt.Sprintf("%s; last stale read %s; last error %s; errors from 0.5s, 1s after the promotion: %d, %d",
			r, since(r.last, healed, "the heal"), since(r.lastErr, promoted, "the promotion"),
			r.errorsAfter(promoted.Add(500*time.Millisecond)), r.errorsAfter(promoted.Add(time.Second)))
	}
	t.Logf("raw rueidis DoCache: %s", describe(r))
	for _, d := range faultDrivers {
		t.Run(d.name, func(t *testing.T) {
			g := got[d.name]
			t.Logf("reader: %s", describe(g))
			if g.worst > time.Second {
				t.Errorf("a read returned a value replaced %s before, want at most 1s", g.worst)
			}
			if strings.Contains(d.params, "client_side=true") && g.stale > 0 && g.stale >= r.stale {
				t.Errorf("%d stale reads, want fewer than raw rueidis' %d", g.stale, r.stale)
			}
		})
	}
}
