// Package bench compares cashews with the Go libraries a user would pick instead, on the same
// machine in the same run: in-memory caches (otter, ristretto, golang-lru, ttlcache, go-cache),
// loader wrappers (sturdyc, go-redis/cache), raw Redis clients (rueidis, go-redis), plain SQLite
// (modernc.org/sqlite) and an HTTP cache (gregjones/httpcache).
//
// It is a module of its own, so that the peers never enter the library's go.mod. The benchmarks
// are ordinary Go benchmarks in this package's tests; cmd/report runs them all, starts its own
// redis-server, and writes RESULTS.md and chart.svg:
//
//	cd bench && go run ./cmd/report            # the full run (15 minutes on a busy 2-core VM)
//	cd bench && go run ./cmd/report -quick     # one short round, to iterate
//
// The counts that are not timings (hit ratio at a fixed capacity, loader runs per cold key) are
// computed by [HitRatios] and [ColdKeyLoads], which cmd/report calls in process.
//
// Every workload has a fixed seed: the keys follow a Zipf distribution (see [Trace]), caches are
// warmed before the timer starts, and every library stores the same values with the same TTL.
package bench
