package cashews

import (
	"context"
	"errors"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/internal/stats"
)

// Stats is a snapshot of what a Cache counted since it was created: per backend, per wrapped
// function and per HTTP route of package middleware. [Cache.Stats] returns it.
type Stats struct {
	// Total sums the backends' counts (Name and Prefix are empty). Its Suppressed is
	// [Cache.SuppressedErrors]: it also counts the failures routed around at keys that no backend
	// takes.
	Total BackendStats
	// Backends has one entry per backend set up, in the order they were set up (a backend stays
	// after Close).
	Backends []BackendStats
	// Funcs has the counts of the wrapped functions, by name: the [Name] option, else the
	// function's qualified name, else (an anonymous function) its key template. Wraps that share a
	// name share their counts.
	Funcs map[string]FuncStats
	// Routes has the counts of the HTTP response cache (package middleware), by route name.
	Routes map[string]RouteStats
}

// BackendStats counts the commands of one backend, as the backend answered them. Commands turned
// off (Cache.Disable, WithDisabled) reach no backend and are not counted.
type BackendStats struct {
	Name   string // the backend's URL with passwords and secrets redacted, as BackendName says
	Prefix string // its routing prefix
	// Hits and Misses count the keys that reads (get, get_many, and so every typed read, GetOrSet
	// and wrapped function) found and did not find. A read that failed is neither: it is an error.
	Hits, Misses int64
	// Sets counts the values written: a set or tagged set that stored (not one that IfAbsent or
	// IfPresent turned down), each item of a set_many that succeeded.
	Sets int64
	// Deletes counts the keys removed by delete, delete_many, delete_match and delete_tags (clear
	// is not counted: backends do not say how many keys it removed).
	Deletes int64
	// Errors counts the commands that failed for the backend's reasons: it could not be reached,
	// did not answer in time, its health breaker is open, or anything else that is not the caller's
	// mistake (an invalid argument, a wrong type, not an integer) or the end of the caller's own
	// context. Errors that suppress=true hid from the caller are counted here too.
	Errors int64
	// Suppressed counts the errors of this backend routed around: hidden by suppress=true, routed
	// around by wrapped functions and GetOrSet failing open, and stored entries that failed to
	// decode and were computed again.
	Suppressed int64
	// BreakerOpens counts the times the backend's health breaker opened (see "When the cache
	// fails" in the README).
	BreakerOpens int64
	// Evictions counts the entries the backend removed by itself, by cause, for backends that
	// count them (backends.EvictionCounter: mem:// and disk://); zero for others.
	Evictions backends.Evictions
}

// add adds o's counts to s.
func (s *BackendStats) add(o BackendStats) {
	s.Hits += o.Hits
	s.Misses += o.Misses
	s.Sets += o.Sets
	s.Deletes += o.Deletes
	s.Errors += o.Errors
	s.Suppressed += o.Suppressed
	s.BreakerOpens += o.BreakerOpens
	s.Evictions.Size += o.Evictions.Size
	s.Evictions.Bytes += o.Evictions.Bytes
	s.Evictions.Expired += o.Evictions.Expired
}

// FuncStats counts the calls of a wrapped function. Each Wrap counts its own calls, whatever the
// strategy; the counts of one call's cache reads and writes are its backend's as well.
type FuncStats struct {
	// Calls counts every call.
	Calls int64
	// Hits counts the calls answered from a stored entry without waiting for the function (for
	// early, stale entries served while a refresh runs too; for hit, while the entry has hits
	// left).
	Hits int64
	// Misses counts the calls that found no entry they could serve (none, expired, stale for
	// soft, used up for hit, unreadable) and waited for the function: their own run or one they
	// shared. Failover, rate limits, breakers, bloom and perf read no entry before the function
	// runs, so their calls are neither hits nor misses.
	Misses int64
	// Loads counts the runs of the function (concurrent calls that share a run count one;
	// background refreshes count), and LoadErrors those that returned an error other than
	// ErrNotFound, or panicked.
	Loads, LoadErrors int64
	// LoadLatency is how long the runs took, by the Cache's clock.
	LoadLatency Latency
	// StaleEarly counts the calls served a stale entry while early refreshes it (they are hits
	// too); StaleSoft the calls served a stale entry by soft because the function failed;
	// StaleFailover the calls served the last good result by failover because the function failed.
	StaleEarly, StaleSoft, StaleFailover int64
	// Refreshes counts the background refreshes started (early, and hit with UpdateAfter).
	Refreshes int64
	// RateLimited counts the calls a rate limit refused (over the limit, banned, or refused
	// because its backend failed under FailClosed), and BreakerRefused those a circuit breaker
	// refused (open, half-open with its trials under way, or FailClosed).
	RateLimited, BreakerRefused int64
}

// latencyBounds are the bounds of the load latency buckets.
var latencyBounds = stats.Bounds

// LatencyBounds returns the upper bounds of the buckets of [Latency]: 100µs, 250µs, 500µs, 1ms,
// 2.5ms, 5ms, 10ms, 25ms, 50ms, 100ms, 250ms, 500ms, 1s, 2.5s, 5s and 10s.
func LatencyBounds() []time.Duration { return append([]time.Duration(nil), latencyBounds[:]...) }

// Latency is a histogram of durations with the fixed buckets of [LatencyBounds], with their sum,
// shortest and longest.
type Latency struct {
	Count    int64
	Sum      time.Duration
	Min, Max time.Duration // zero before the first
	// Buckets[i] counts the durations of at most LatencyBounds()[i] that are longer than the bound
	// before it; the last bucket counts those longer than every bound. They are not cumulative.
	Buckets [len(latencyBounds) + 1]int64
}

// Mean returns the mean duration, or zero when there is none.
func (l Latency) Mean() time.Duration {
	if l.Count == 0 {
		return 0
	}
	return l.Sum / time.Duration(l.Count)
}

// RouteStats counts what the HTTP response cache (middleware.Cache) did for one route.
type RouteStats struct {
	// Hits counts the requests answered with a fresh stored response (a 304 from a stored one
	// included).
	Hits int64
	// Stale counts the requests answered with a stale stored response: allowed by the request's
	// max-stale, by stale-while-revalidate (a background revalidation starts), or by
	// stale-if-error because the handler failed.
	Stale int64
	// Misses counts the requests that went to the handler with nothing stored they could use
	// (or were told only-if-cached), including those that waited for another request's response
	// (collapsed) and those the client asked to refetch (AllowClientRefresh).
	Misses int64
	// Revalidations counts the requests to the handler to refresh a stored stale response,
	// conditional or not, in the foreground or in the background (stale-while-revalidate).
	Revalidations int64
	// Bypasses counts the requests the cache did not look at: unsafe methods (which invalidate),
	// OPTIONS, TRACE and CONNECT, GET or HEAD with content.
	Bypasses int64
}

// Stats returns what the Cache counted since it was created. The counts of one backend, function or
// route are read while commands run, each counter at once but not all together: the snapshot is not
// a transaction.
func (c *Cache) Stats() Stats {
	if c == nil {
		return Stats{}
	}
	s := Stats{Funcs: map[string]FuncStats{}, Routes: map[string]RouteStats{}}
	if p := c.stats.backends.Load(); p != nil {
		for _, b := range *p {
			bs := b.snapshot()
			s.Backends = append(s.Backends, bs)
			s.Total.add(bs)
		}
	}
	s.Total.Suppressed = c.suppressed.Load()
	c.stats.mu.Lock()
	funcs, routes := maps.Clone(c.stats.funcs), maps.Clone(c.stats.routes)
	c.stats.mu.Unlock()
	for name, f := range funcs {
		s.Funcs[name] = funcSnapshot(f)
	}
	for name, r := range routes {
		n := r.r.Snapshot()
		s.Routes[name] = RouteStats{
			Hits: n[stats.RouteHits], Stale: n[stats.RouteStale], Misses: n[stats.RouteMisses],
			Revalidations: n[stats.RouteRevalidations], Bypasses: n[stats.RouteBypasses],
		}
	}
	return s
}

func funcSnapshot(f *stats.Func) FuncStats {
	n := f.Snapshot()
	return FuncStats{
		Calls: n.Counts[stats.Calls], Hits: n.Counts[stats.FuncHits], Misses: n.Counts[stats.FuncMisses],
		Loads: n.Counts[stats.Loads], LoadErrors: n.Counts[stats.LoadErrors],
		LoadLatency: Latency{Count: n.Counts[stats.Loads], Sum: n.Sum, Min: n.Min, Max: n.Max, Buckets: n.Buckets},
		StaleEarly:  n.Counts[stats.StaleEarly], StaleSoft: n.Counts[stats.StaleSoft], StaleFailover: n.Counts[stats.StaleFailover],
		Refreshes: n.Counts[stats.Refreshes], RateLimited: n.Counts[stats.RateLimited], BreakerRefused: n.Counts[stats.BreakerRefused],
	}
}

// statsRegistry holds the counters of a Cache.
type statsRegistry struct {
	backends atomic.Pointer[[]*backendStats] // every backend set up, in order; appended under Cache.mu

	mu     sync.Mutex
	funcs  map[string]*stats.Func
	routes map[string]*RouteCounter
}

// addBackend records the counters of a backend set up (called under Cache.mu).
func (r *statsRegistry) addBackend(b *backendStats) {
	var list []*backendStats
	if p := r.backends.Load(); p != nil {
		list = *p
	}
	list = append(list[:len(list):len(list)], b)
	r.backends.Store(&list)
}

// fn returns the counters of the wrapped functions named name, made on first use.
func (r *statsRegistry) fn(name string) *stats.Func {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.funcs[name]
	if f == nil {
		f = stats.NewFunc()
		if r.funcs == nil {
			r.funcs = map[string]*stats.Func{}
		}
		r.funcs[name] = f
	}
	return f
}

// RouteCounter counts what the HTTP response cache did for one route: package middleware gets one
// from [Cache.RouteCounter] and counts every request it serves. Counting is striped, as the Cache's
// own: it adds no contended write to a request.
type RouteCounter struct{ r *stats.Route }

// Hit counts a request answered with a fresh stored response.
func (r *RouteCounter) Hit() { r.r.Inc(stats.RouteHits) }

// Stale counts a request answered with a stale stored response.
func (r *RouteCounter) Stale() { r.r.Inc(stats.RouteStale) }

// Miss counts a request that went to the handler with nothing stored it could use.
func (r *RouteCounter) Miss() { r.r.Inc(stats.RouteMisses) }

// Revalidation counts a request to the handler that refreshes a stored stale response.
func (r *RouteCounter) Revalidation() { r.r.Inc(stats.RouteRevalidations) }

// Bypass counts a request the cache did not look at.
func (r *RouteCounter) Bypass() { r.r.Inc(stats.RouteBypasses) }

// RouteCounter returns the counter of the HTTP route named route, which [Cache.Stats] reports in
// Routes; every call with the same name returns the same counter. A nil Cache returns a counter
// that no Stats reports.
func (c *Cache) RouteCounter(route string) *RouteCounter {
	if c == nil {
		return &RouteCounter{r: stats.NewRoute()}
	}
	c.stats.mu.Lock()
	defer c.stats.mu.Unlock()
	rc := c.stats.routes[route]
	if rc == nil {
		rc = &RouteCounter{r: stats.NewRoute()}
		if c.stats.routes == nil {
			c.stats.routes = map[string]*RouteCounter{}
		}
		c.stats.routes[route] = rc
	}
	return rc
}

// backendStats is the counters of one backend, with what names it.
type backendStats struct {
	name, prefix string
	n            *stats.Backend
	evictions    backends.EvictionCounter // nil: the backend counts none
}

func newBackendStats(name, prefix string, b backends.Backend) *backendStats {
	st := &backendStats{name: name, prefix: prefix, n: stats.NewBackend()}
	st.evictions, _ = b.(backends.EvictionCounter)
	return st
}

func (b *backendStats) snapshot() BackendStats {
	n := b.n.Snapshot()
	s := BackendStats{
		Name: b.name, Prefix: b.prefix,
		Hits: n[stats.Hits], Misses: n[stats.Misses], Sets: n[stats.Sets], Deletes: n[stats.Deletes],
		Errors: n[stats.Errors], Suppressed: n[stats.Suppressed], BreakerOpens: n[stats.BreakerOpens],
	}
	if b.evictions != nil {
		s.Evictions = b.evictions.Evictions()
	}
	return s
}

// failed counts err, the error of a command, when it is the backend's: not the caller's mistake nor
// the end of the caller's context.
func (b *backendStats) failed(ctx context.Context, err error) {
	if err == nil {
		return
	}
	if !errors.Is(err, backends.ErrUnavailable) {
		if ctx.Err() != nil {
			return // the caller gave up
		}
		for _, mistake := range []error{backends.ErrInvalidArgument, backends.ErrWrongType, backends.ErrNotInteger, backends.ErrClosed, errors.ErrUnsupported} {
			if errors.Is(err, mistake) {
				return
			}
		}
	}
	b.n.Inc(stats.Errors)
}

// readMany counts a read of several keys.
func (b *backendStats) readMany(ctx context.Context, entries []backends.Entry, err error) {
	if err != nil {
		b.failed(ctx, err)
		return
	}
	hits := 0
	for _, e := range entries {
		if e.Found {
			hits++
		}
	}
	b.n.Add(stats.Hits, int64(hits))
	b.n.Add(stats.Misses, int64(len(entries)-hits))
}

// wrote counts a write of one value that stored (ok) or failed.
func (b *backendStats) wrote(ctx context.Context, ok bool, err error) {
	if err != nil {
		b.failed(ctx, err)
	} else if ok {
		b.n.Inc(stats.Sets)
	}
}

// wroteMany counts a write of n values, which all stored unless it failed.
func (b *backendStats) wroteMany(ctx context.Context, n int, err error) {
	if err != nil {
		b.failed(ctx, err)
	} else {
		b.n.Add(stats.Sets, int64(n))
	}
}

// count counts the answer of a command that ran on the backend (see healthCheck).
func (b *backendStats) count(ctx context.Context, call *Call, res Result, err error) {
	switch call.cmd {
	case CmdGet:
		b.read(ctx, res.OK, err)
	case CmdGetMany:
		entries, _ := res.Value.([]backends.Entry)
		b.readMany(ctx, entries, err)
	case CmdSet:
		b.wrote(ctx, res.OK, err)
	case CmdSetMany:
		b.wroteMany(ctx, len(call.keys), err)
	case CmdDelete:
		if res.OK {
			b.deleted(1)
		}
		b.failed(ctx, err)
	case CmdDeleteMany, CmdDeleteMatch, CmdDeleteTags:
		n, _ := res.Value.(int)
		b.deleted(n)
		b.failed(ctx, err)
	default:
		b.failed(ctx, err)
	}
}

// read counts a read of one key. It is the hit path's, so it is small enough to be inlined.
func (b *backendStats) read(ctx context.Context, found bool, err error) {
	switch {
	case err != nil:
		b.failed(ctx, err)
	case found:
		b.n.Inc(stats.Hits)
	default:
		b.n.Inc(stats.Misses)
	}
}

// deleted counts n keys a delete command removed (some may be gone before it failed; its error is
// counted apart).
func (b *backendStats) deleted(n int) { b.n.Add(stats.Deletes, int64(n)) }
