package main

import (
	"fmt"
	"strings"

	"github.com/cashews-go/cashews/bench"
)

type status int

const (
	met     status = iota
	missed         // by the median of the per-round ratios
	unknown        // not measured
)

// A target of issues 7 and 16, evaluated on this run.
type target struct {
	name     string
	measured string
	status   status
	why      string // for a miss: why, and what would close it
	timed    bool   // judged on timings (not a count), so the machine's load can sway it
	busy     bool   // judged on rounds that include busy ones
}

// label is the verdict without Markdown.
func (t target) label() string { return strings.ReplaceAll(t.verdict(), "**", "") }

func (t target) verdict() string {
	switch t.status {
	case met:
		return "**met**"
	case missed:
		return "**missed**"
	}
	return "not measured"
}

// check is one comparison inside a target: the per-round ratio of a to b must be at most limit
// (strict: below it), judged on the median of the rounds, or on every round (the worst) when every
// is set; and a's allocations per operation must be at most maxAllocs when that is not negative.
type check struct {
	label     string
	a, b      string // benchmark names
	limit     float64
	strict    bool
	every     bool
	maxAllocs float64
}

func (c check) within(v float64) bool {
	if c.strict {
		return v < c.limit
	}
	return v <= c.limit
}

// evalChecks runs the checks on the per-round ratios.
func evalChecks(res *results, checks []check) (measured string, st status, busy bool) {
	var parts []string
	st = met
	for _, c := range checks {
		rs, ok := res.ratio(c.a, c.b)
		if !ok {
			parts = append(parts, c.label+": not measured")
			st = unknown
			continue
		}
		busy = busy || rs.busy
		judged := rs.median
		if c.every {
			judged = rs.worst
		}
		part := fmt.Sprintf("%s %.2f× (best round %.2f×, worst %.2f×, %d round(s))", c.label, rs.median, rs.best, rs.worst, rs.n)
		ok = c.within(judged)
		if c.maxAllocs >= 0 {
			if sa, found := res.get(c.a); found {
				part += fmt.Sprintf(", %.0f allocs/op", sa.allocs)
				ok = ok && sa.allocs <= c.maxAllocs
			}
		}
		parts = append(parts, part)
		if !ok && st == met {
			st = missed
		}
	}
	return strings.Join(parts, "; "), st, busy
}

func ratioTarget(name string, res *results, checks []check, why string) target {
	m, st, busy := evalChecks(res, checks)
	t := target{name: name, measured: m, status: st, why: why, timed: true, busy: busy}
	if st == unknown {
		t.why = "Some benchmarks did not run (see the notes at the end)."
	}
	return t
}

func evaluate(res *results, hits []bench.HitRatio, cold []coldResult) []target {
	mem := func(op, lib, mode string) string { return fmt.Sprintf("BenchmarkMemory/%s/%s/%s", op, lib, mode) }
	var ts []target

	var otterChecks, aheadChecks []check
	for _, peer := range []string{"otter", "otter-coarse"} {
		for _, lib := range []struct {
			name  string
			limit float64
		}{{"cashews", 1.2}, {"cashews-backend", 1.0}} {
			for _, m := range []struct{ mode, what string }{{"seq", "1 g"}, {"par", "N g"}} {
				otterChecks = append(otterChecks, check{label: fmt.Sprintf("%s vs %s %s", lib.name, peer, m.what), a: mem("Get", lib.name, m.mode), b: mem("Get", peer, m.mode), limit: lib.limit, maxAllocs: 0})
			}
		}
	}
	for _, peer := range []string{"ristretto", "golang-lru", "go-cache"} {
		for _, m := range []struct{ mode, what string }{{"seq", "1 g"}, {"par", "N g"}} {
			aheadChecks = append(aheadChecks, check{label: fmt.Sprintf("vs %s %s", peer, m.what), a: mem("Get", "cashews", m.mode), b: mem("Get", peer, m.mode), limit: 1, strict: true, maxAllocs: -1})
		}
	}
	ts = append(ts,
		ratioTarget("Memory Get through the Cache within 1.2× of otter's GetIfPresent, the bare backend at most 1.0×, no allocation; against otter with its defaults and with its coarse clock (1 g = 1 goroutine, N g = GOMAXPROCS)", res, otterChecks, whyOtter),
		ratioTarget("Memory Get ahead of ristretto, golang-lru and go-cache (cashews through the Cache)", res, aheadChecks, whyAhead),
		hitTarget(hits),
		ratioTarget("Wrap hit on mem:// at most 0.8× sturdyc's in every round, at most 1 allocation; ahead of go-redis/cache's local tier", res, []check{
			{label: "vs sturdyc 1 g", a: "BenchmarkLoaderHit/cashews-wrap/seq", b: "BenchmarkLoaderHit/sturdyc/seq", limit: 0.8, every: true, maxAllocs: 1},
			{label: "vs sturdyc N g", a: "BenchmarkLoaderHit/cashews-wrap/par", b: "BenchmarkLoaderHit/sturdyc/par", limit: 0.8, every: true, maxAllocs: 1},
			{label: "vs go-redis/cache 1 g", a: "BenchmarkLoaderHit/cashews-wrap/seq", b: "BenchmarkLoaderHit/go-redis-cache-local/seq", limit: 1, strict: true, maxAllocs: -1},
			{label: "vs go-redis/cache N g", a: "BenchmarkLoaderHit/cashews-wrap/par", b: "BenchmarkLoaderHit/go-redis-cache-local/par", limit: 1, strict: true, maxAllocs: -1},
		}, whyWrap),
		coldTarget(cold),
		ratioTarget("redis:// Get within 1.1× of raw rueidis, at most 3 allocations", res, []check{
			{label: "1 goroutine", a: "BenchmarkRedis/Get/cashews-rueidis/g1", b: "BenchmarkRedis/Get/rueidis/g1", limit: 1.1, maxAllocs: 3},
			{label: "64 goroutines", a: "BenchmarkRedis/Get/cashews-rueidis/g64", b: "BenchmarkRedis/Get/rueidis/g64", limit: 1.1, maxAllocs: 3},
		}, whyRedis),
		ratioTarget("Client-side hit within 1.2× of rueidis' DoCache, at most 1 allocation", res, []check{
			{label: "1 goroutine", a: "BenchmarkRedisClientSide/Hit/cashews-csc/seq", b: "BenchmarkRedisClientSide/Hit/rueidis-docache/seq", limit: 1.2, maxAllocs: 1},
			{label: "N goroutines", a: "BenchmarkRedisClientSide/Hit/cashews-csc/par", b: "BenchmarkRedisClientSide/Hit/rueidis-docache/par", limit: 1.2, maxAllocs: 1},
		}, whyCSC),
		ratioTarget("Disk Get within 2× of the plain SQLite select", res, []check{
			{label: "1 goroutine", a: "BenchmarkDisk/Get/cashews-disk/seq", b: "BenchmarkDisk/Get/sqlite/seq", limit: 2, maxAllocs: -1},
			{label: "N goroutines", a: "BenchmarkDisk/Get/cashews-disk/par", b: "BenchmarkDisk/Get/sqlite/par", limit: 2, maxAllocs: -1},
		}, whyDisk),
		ratioTarget("Disk Set within 1.5× of a plain SQLite upsert that changes the value", res, []check{
			{label: "1 goroutine", a: "BenchmarkDisk/Set/cashews-disk/seq", b: "BenchmarkDisk/Set/sqlite/seq", limit: 1.5, maxAllocs: -1},
		}, whyDiskSet),
	)
	return ts
}

func hitTarget(hits []bench.HitRatio) target {
	t := target{name: "Hit ratio at least LRU's (golang-lru, same capacity and trace) on every trace", status: met, why: whyHit}
	if len(hits) == 0 {
		t.status, t.measured, t.why = unknown, "not measured", "The hit-ratio count did not run."
		return t
	}
	type col struct {
		trace    string
		capacity int
	}
	lru := map[col]float64{}
	for _, h := range hits {
		if h.Lib == "golang-lru" {
			lru[col{h.Trace, h.Capacity}] = h.Ratio
		}
	}
	var parts []string
	for _, h := range hits {
		if h.Lib != "cashews" {
			continue
		}
		base := lru[col{h.Trace, h.Capacity}]
		parts = append(parts, fmt.Sprintf("%s cap %d: %.4f vs %.4f", h.Trace, h.Capacity, h.Ratio, base))
		if h.Ratio < base {
			t.status = missed
		}
	}
	t.measured = strings.Join(parts, "; ")
	return t
}

func coldTarget(cold []coldResult) target {
	t := target{name: "Exactly one loader run per cold key (1,000 concurrent callers)", status: met, why: whyCold}
	var parts []string
	for _, c := range cold {
		if !c.lib.Ours {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s: %d runs for %d keys, %d failed calls", c.lib.Name, c.runs, bench.ColdKeys, c.failed))
		if c.runs != bench.ColdKeys || c.failed > 0 || c.err != nil {
			t.status = missed
		}
	}
	if len(parts) == 0 {
		t.status, t.why = unknown, "The cold-key count did not run."
		parts = append(parts, "not measured")
	}
	t.measured = strings.Join(parts, "; ")
	return t
}

// The explanations shown under a missed target: why, and what would close it. They are written from
// the code and from the allocation counts, which do not depend on the machine's load.
const (
	whyOtter = `The memory backend's Get takes no lock and writes nothing that other readers read: a
lock-free table of atomic pointers per shard, a coarse clock for the TTL check on the system clock,
the SIEVE bit written only when it is not set yet. What remains per Get: hashing the key, probing
the table, one load of the coarse clock; through the Cache, the route (no matching when one backend
takes every key), the disable switches and the call through the Backend interface, about 70
instructions (see instructions/op). otter with its defaults reads the system clock on every Get,
which on this virtual machine costs hundreds of nanoseconds; otter-coarse is otter with its own
coarse clock, the like-for-like comparison.`
	whyAhead = `go-cache's Get is a map read under one sync.RWMutex, with no size bound, no eviction
bookkeeping and no routing. Ours adds, per Get: the Cache's prefix routing and disable switches,
hashing the key to a shard, the clock read for the TTL and the SIEVE visited bit (see the bare
backend row for the Cache's share). What would close it: route without matching when the Cache
has a single backend, hash once, and read a coarse clock; with an unbounded cache and one
goroutine, go-cache's single map is the floor a sharded, bounded cache can only approach.`
	whyHit = `On the recency traces (an LRU stack, a shifting hot set) LRU is the best policy there is
(on the LRU stack model it is optimal): SIEVE lets newcomers go first and keeps entries that were
hit once in a while. The ghost filter (keys evicted lately come back already visited) takes it from
about 65-80% to about 95% of LRU's hit ratio there; otter's W-TinyLFU stays below LRU there too.
Closing the rest needs LRU's exact order, that is a write on every hit (a list move, or a read
buffer drained under a lock as otter does), which the lock-free read path exists to avoid.`
	whyDiskSet = `A disk Set writes the row's page; its entries in the expiry and store-time indexes move
(two more pages each) only when a time moves to another second (format version 3 indexes times by
second). What remains over a plain upsert: the triggers that keep the buckets (evaluated on every
write), the wider row, the Cache's encoding and the backend's bookkeeping in Go.`
	whyWrap = `A Wrap hit on mem:// allocates nothing (its key string comes from the Wrap's table of
recent keys; an argument that is not pointer-shaped goes to the strategies in an interface, which
allocates, an int under 256 does not) and reads no system clock (the entry's expiry is checked on
the Cache's coarse clock); sturdyc's hit makes three allocations and reads the system clock. Its
instructions (callgrind, about 1,500 per hit against sturdyc's 1,670): rendering the key about 300
(the template program 170, the integer, the buffer), finding it in the key table about 120 (hashing
70), the strategy, the stats adds on the running processor's stripe, the health layer and the Cache
Get with the memory backend's lookup the rest. What would close the gap in every round: a key
program specialised for a single placeholder, a cheaper hash for short keys, and fewer layers
between the strategy and the backend on a hit.`
	whyCold  = `Every concurrent caller of a cold key must share one load (internal/flight).`
	whyRedis = `Our Get makes 2 allocations where raw rueidis makes 1: the reply's string (rueidis' too)
and the []byte in the interface Backend.Get returns. No deadline context is derived per command
(commands share one per 32nd of the timeout when the caller's context cannot end), GET comes from
rueidis' builder, and the reply's bytes are returned once (the raw payload in place). What is left
per call: the Cache's routing, the health breaker and the stats add, and three reads of the system
clock (the shared deadline, and the guard's start and end, which trip it on a command slower than
the timeout), 100-200 ns each on this VM, against a round trip of tens of µs; with 64 goroutines the
client and redis-server share the 2 cores, so the ratio moves with the machine's load.`
	whyCSC = `A client-side hit through the Cache makes no allocation: one lock-free lookup in the index
over the per-connection local caches (sync.Map: no lock, no shared write), the value kept as the
interface Get returns and handed as it is to the reads the Cache marks, the format header checked in
place, the hit counted on the running processor's stripe. It reads the system clock once, for the
local expiry, as rueidis' DoCache does.`
	whyDisk = `A disk Get through the Cache picks the shard, runs the select (with the expiry check) on a
pooled reader connection and decodes the format header; the plain select does only the query.`
)
