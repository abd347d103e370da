// Package stats holds the counters behind cashews.Cache.Stats: those of a backend, of a wrapped
// function and of an HTTP route. Each is a stripe.Set, so counting on the hit path never writes a
// cache line that another core writes. The root package turns them into its public snapshot types.
package stats

import (
	"sync/atomic"
	"time"

	"github.com/cashews-go/cashews/internal/stripe"
)

// The counters of a backend.
const (
	Hits = iota
	Misses
	Sets
	Deletes
	Errors
	Suppressed
	BreakerOpens
	NumBackend
)

// Backend counts the commands of one backend.
type Backend struct {
	set *stripe.Set
}

// NewBackend returns the counters of a backend.
func NewBackend() *Backend { return &Backend{set: stripe.New(NumBackend)} }

// Inc adds one to counter i. It inlines into its callers.
func (b *Backend) Inc(i int) { b.set.Add(i, 1) }

// Add adds n to counter i.
func (b *Backend) Add(i int, n int64) {
	if n != 0 {
		b.set.Add(i, n)
	}
}

// Snapshot returns the counters, indexed by the constants above.
func (b *Backend) Snapshot() [NumBackend]int64 {
	var out [NumBackend]int64
	b.set.Snapshot(out[:0:NumBackend])
	return out
}

// The counters of a wrapped function.
const (
	Calls = iota
	FuncHits
	FuncMisses
	Loads
	LoadErrors
	StaleEarly
	StaleSoft
	StaleFailover
	Refreshes
	RateLimited
	BreakerRefused
	loadNanos   // the sum of the loads' durations
	firstBucket // the latency buckets, len(Bounds)+1 of them
	numFunc     = firstBucket + len(Bounds) + 1
)

// Bounds are the upper bounds of the load latency buckets; a last bucket takes what is above them.
var Bounds = [...]time.Duration{
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

// Func counts the calls of one wrapped function. A nil *Func counts nothing.
type Func struct {
	set      *stripe.Set
	min, max atomic.Int64 // the shortest and longest load, in nanoseconds; min is -1 before any
}

// NewFunc returns the counters of a wrapped function.
func NewFunc() *Func {
	f := &Func{set: stripe.New(numFunc)}
	f.min.Store(-1)
	return f
}

// Inc adds one to counter i. It inlines into the strategies.
func (f *Func) Inc(i int) {
	if f != nil {
		f.set.Add(i, 1)
	}
}

// Inc2 adds one to counters i and j.
func (f *Func) Inc2(i, j int) {
	if f != nil {
		f.set.Inc2(i, j)
	}
}

// Load records a run of the function that took d, and failed if failed.
func (f *Func) Load(d time.Duration, failed bool) {
	if f == nil {
		return
	}
	d = max(d, 0)
	b := len(Bounds)
	for i, bound := range Bounds {
		if d <= bound {
			b = i
			break
		}
	}
	f.set.Inc2(Loads, firstBucket+b)
	f.set.Add(loadNanos, int64(d))
	if failed {
		f.set.Inc(LoadErrors)
	}
	for {
		m := f.min.Load()
		if m >= 0 && m <= int64(d) || f.min.CompareAndSwap(m, int64(d)) {
			break
		}
	}
	for {
		m := f.max.Load()
		if m >= int64(d) || f.max.CompareAndSwap(m, int64(d)) {
			break
		}
	}
}

// FuncSnapshot is what a Func counted.
type FuncSnapshot struct {
	Counts   [loadNanos]int64 // indexed by Calls ... BreakerRefused
	Sum      time.Duration
	Min, Max time.Duration
	Buckets  [len(Bounds) + 1]int64
}

// Snapshot returns the counters.
func (f *Func) Snapshot() FuncSnapshot {
	var all [numFunc]int64
	f.set.Snapshot(all[:0:numFunc])
	s := FuncSnapshot{Sum: time.Duration(all[loadNanos]), Max: time.Duration(f.max.Load())}
	copy(s.Counts[:], all[:loadNanos])
	copy(s.Buckets[:], all[firstBucket:])
	if m := f.min.Load(); m >= 0 {
		s.Min = time.Duration(m)
	}
	return s
}

// The counters of an HTTP route.
const (
	RouteHits = iota
	RouteStale
	RouteMisses
	RouteRevalidations
	RouteBypasses
	NumRoute
)

// Route counts what the response cache did for one route.
type Route struct {
	set *stripe.Set
}

// NewRoute returns the counters of a route.
func NewRoute() *Route { return &Route{set: stripe.New(NumRoute)} }

// Inc adds one to counter i.
func (r *Route) Inc(i int) { r.set.Inc(i) }

// Snapshot returns the counters, indexed by the constants above.
func (r *Route) Snapshot() [NumRoute]int64 {
	var out [NumRoute]int64
	r.set.Snapshot(out[:0:NumRoute])
	return out
}
