package bench

import (
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// redisAddr returns the Redis server the benchmarks use (host:port from CASHEWS_BENCH_REDIS, which
// cmd/report sets after starting its own redis-server), or skips.
func redisAddr(tb testing.TB) string {
	addr := os.Getenv("CASHEWS_BENCH_REDIS")
	if addr == "" {
		tb.Skip("CASHEWS_BENCH_REDIS is not set: no Redis server (cmd/report starts one)")
	}
	return addr
}

// An op is one timed operation on the i-th element of a workload. It reports whether it counts
// as a hit, and whether it was a lookup at all (writes are not).
type op func(i int) (hit, lookup bool)

// seq runs f(0), f(1), ... on one goroutine, timed, and reports the hit ratio of its lookups.
// cmd/report counts instructions inside this function, found by its name (valgrind
// --toggle-collect=*bench.seq): keep the name. Callgrind counts per thread, so for the count the
// report sets CASHEWS_BENCH_LOCK_THREAD=1, which keeps the goroutine on its thread across system
// calls (the Go scheduler would otherwise resume it on another, uncounted thread).
func seq(b *testing.B, f op) {
	if os.Getenv("CASHEWS_BENCH_LOCK_THREAD") == "1" {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	b.ReportAllocs()
	var hits, gets int64
	i := 0
	defer reportCPU(b)()
	for b.Loop() {
		h, l := f(i)
		if l {
			gets++
			if h {
				hits++
			}
		}
		i++
	}
	reportHits(b, hits, gets)
}

// par runs f from goroutines goroutines in all (RunParallel with SetParallelism; rounded to a
// multiple of GOMAXPROCS), each starting at its own offset so that they do not walk the same keys
// in step, and reports the hit ratio of the lookups. Counters are per goroutine, added at the end,
// so that counting shares no cache line.
func par(b *testing.B, goroutines int, f op) {
	b.ReportAllocs()
	b.SetParallelism(max(1, goroutines/runtime.GOMAXPROCS(0)))
	var seed, hits, gets atomic.Int64
	defer reportCPU(b)()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seed.Add(1)) * 9973
		var h, g int64
		for pb.Next() {
			hit, l := f(i)
			if l {
				g++
				if hit {
					h++
				}
			}
			i++
		}
		hits.Add(h)
		gets.Add(g)
	})
	reportHits(b, hits.Load(), gets.Load())
}

func reportHits(b *testing.B, hits, gets int64) {
	if gets > 0 {
		b.ReportMetric(float64(hits)/float64(gets), "hit-ratio")
	}
}

// modes runs f as the "seq" (one goroutine) and "par" (goroutines in all) sub-benchmarks.
func modes(b *testing.B, goroutines int, f op) {
	b.Run("seq", func(b *testing.B) { seq(b, f) })
	b.Run("par", func(b *testing.B) { par(b, goroutines, f) })
}

// cpuTime returns the CPU time (user and system) the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time this process spent per operation (cpu-ns/op) next to the wall
// time: on a shared machine the wall time measures the load as much as the code, the CPU time much
// less. It counts every goroutine of the process (GC, background maintenance) and none of another
// process (redis-server). Call it as defer reportCPU(b)().
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		}
	}
}
