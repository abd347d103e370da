// Package prometheus exports the statistics of a cashews Cache (Cache.Stats) to Prometheus, as a
// prometheus.Collector that reads them at every scrape. It is a module of its own, so that the
// cashews module never depends on the Prometheus client:
//
//	import cashewsprom "github.com/cashews-go/cashews/contrib/prometheus"
//
//	prometheus.MustRegister(cashewsprom.NewCollector(c))
//	http.Handle("/metrics", promhttp.Handler())
//
// The metrics, with the default namespace "cashews" (every counter ends in _total):
//
//	cashews_backend_hits_total{backend,prefix}              keys that reads found
//	cashews_backend_misses_total{backend,prefix}            keys that reads did not find
//	cashews_backend_sets_total{backend,prefix}              values written
//	cashews_backend_deletes_total{backend,prefix}           keys deleted
//	cashews_backend_errors_total{backend,prefix}            commands failed for the backend's reasons
//	cashews_backend_suppressed_errors_total{backend,prefix} errors routed around
//	cashews_backend_breaker_opens_total{backend,prefix}     openings of the health breaker
//	cashews_backend_evictions_total{backend,prefix,cause}   entries evicted: cause is size, bytes or expired
//	cashews_suppressed_errors_total                         every error routed around (Cache.SuppressedErrors)
//	cashews_function_calls_total{function}                  calls of a wrapped function
//	cashews_function_hits_total{function}                   calls answered from cache
//	cashews_function_misses_total{function}                 calls that waited for the function
//	cashews_function_loads_total{function}                  runs of the function
//	cashews_function_load_errors_total{function}            runs that failed
//	cashews_function_load_duration_seconds{function}        a histogram of the runs' durations
//	cashews_function_stale_total{function,strategy}         stale results served: early, soft or failover
//	cashews_function_refreshes_total{function}              background refreshes started
//	cashews_function_rate_limited_total{function}           calls a rate limit refused
//	cashews_function_breaker_refused_total{function}        calls a circuit breaker refused
//	cashews_http_requests_total{route,outcome}              requests of the response cache: hit, stale, miss or bypass
//	cashews_http_revalidations_total{route}                 requests to the handler to refresh a stale response
//
// The label backend is the backend's URL with passwords and secrets redacted; function is the
// name the Cache counts a wrapped function under (see cashews.Stats); route is the name given
// with middleware.Route.
package prometheus

import (
	"github.com/cashews-go/cashews"
	prom "github.com/prometheus/client_golang/prometheus"
)

// Option configures [NewCollector].
type Option func(*config)

type config struct {
	namespace string
	labels    prom.Labels
}

// Namespace sets the prefix of every metric name (default "cashews").
func Namespace(ns string) Option {
	return func(c *config) { c.namespace = ns }
}

// ConstLabels adds labels with fixed values to every metric, to tell several Caches apart (for
// instance {"cache": "sessions"}).
func ConstLabels(labels prom.Labels) Option {
	return func(c *config) { c.labels = labels }
}

// Collector reports the statistics of a Cache. Make one with [NewCollector].
type Collector struct {
	c *cashews.Cache

	backend                         map[string]*prom.Desc // by counter name
	evictions, suppressed           *prom.Desc
	funcs                           map[string]*prom.Desc
	loadDuration, stale             *prom.Desc
	httpRequests, httpRevalidations *prom.Desc
	bounds                          []float64
}

var backendCounters = []struct {
	name, help string
	value      func(cashews.BackendStats) int64
}{
	{"hits", "Keys that reads of the backend found.", func(s cashews.BackendStats) int64 { return s.Hits }},
	{"misses", "Keys that reads of the backend did not find.", func(s cashews.BackendStats) int64 { return s.Misses }},
	{"sets", "Values written to the backend.", func(s cashews.BackendStats) int64 { return s.Sets }},
	{"deletes", "Keys deleted from the backend.", func(s cashews.BackendStats) int64 { return s.Deletes }},
	{"errors", "Commands of the backend that failed for the backend's reasons.", func(s cashews.BackendStats) int64 { return s.Errors }},
	{"suppressed_errors", "Errors of the backend routed around (suppress=true, wrapped functions failing open, entries recomputed).", func(s cashews.BackendStats) int64 { return s.Suppressed }},
	{"breaker_opens", "Times the backend's health breaker opened.", func(s cashews.BackendStats) int64 { return s.BreakerOpens }},
}

var funcCounters = []struct {
	name, help string
	value      func(cashews.FuncStats) int64
}{
	{"calls", "Calls of the wrapped function.", func(s cashews.FuncStats) int64 { return s.Calls }},
	{"hits", "Calls of the wrapped function answered from cache.", func(s cashews.FuncStats) int64 { return s.Hits }},
	{"misses", "Calls of the wrapped function that found no entry and waited for the function.", func(s cashews.FuncStats) int64 { return s.Misses }},
	{"loads", "Runs of the wrapped function.", func(s cashews.FuncStats) int64 { return s.Loads }},
	{"load_errors", "Runs of the wrapped function that failed.", func(s cashews.FuncStats) int64 { return s.LoadErrors }},
	{"refreshes", "Background refreshes of the wrapped function started.", func(s cashews.FuncStats) int64 { return s.Refreshes }},
	{"rate_limited", "Calls of the wrapped function a rate limit refused.", func(s cashews.FuncStats) int64 { return s.RateLimited }},
	{"breaker_refused", "Calls of the wrapped function a circuit breaker refused.", func(s cashews.FuncStats) int64 { return s.BreakerRefused }},
}

// NewCollector returns a Collector of c's statistics. Register it with a prometheus.Registerer;
// every scrape reads c.Stats().
func NewCollector(c *cashews.Cache, opts ...Option) *Collector {
	cfg := config{namespace: "cashews"}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	name := func(sub, n string) string { return prom.BuildFQName(cfg.namespace, sub, n) }
	desc := func(sub, n, help string, labels ...string) *prom.Desc {
		return prom.NewDesc(name(sub, n), help, labels, cfg.labels)
	}
	col := &Collector{c: c, backend: map[string]*prom.Desc{}, funcs: map[string]*prom.Desc{}}
	for _, b := range backendCounters {
		col.backend[b.name] = desc("backend", b.name+"_total", b.help, "backend", "prefix")
	}
	col.evictions = desc("backend", "evictions_total", "Entries the backend evicted, by cause: size, bytes or expired.", "backend", "prefix", "cause")
	col.suppressed = desc("", "suppressed_errors_total", "Every error of the cache routed around (Cache.SuppressedErrors).")
	for _, f := range funcCounters {
		col.funcs[f.name] = desc("function", f.name+"_total", f.help, "function")
	}
	col.loadDuration = desc("function", "load_duration_seconds", "How long runs of the wrapped function took.", "function")
	col.stale = desc("function", "stale_total", "Stale results of the wrapped function served, by strategy: early, soft or failover.", "function", "strategy")
	col.httpRequests = desc("http", "requests_total", "Requests of the HTTP response cache, by outcome: hit, stale, miss or bypass.", "route", "outcome")
	col.httpRevalidations = desc("http", "revalidations_total", "Requests of the HTTP response cache to the handler to refresh a stale response.", "route")
	for _, b := range cashews.LatencyBounds() {
		col.bounds = append(col.bounds, b.Seconds())
	}
	return col
}

// Describe sends the descriptions of every metric.
func (col *Collector) Describe(ch chan<- *prom.Desc) {
	for _, b := range backendCounters {
		ch <- col.backend[b.name]
	}
	for _, f := range funcCounters {
		ch <- col.funcs[f.name]
	}
	for _, d := range []*prom.Desc{col.evictions, col.suppressed, col.loadDuration, col.stale, col.httpRequests, col.httpRevalidations} {
		ch <- d
	}
}

// Collect reads the Cache's statistics and sends them as metrics.
func (col *Collector) Collect(ch chan<- prom.Metric) {
	s := col.c.Stats()
	counter := func(d *prom.Desc, v int64, labels ...string) {
		ch <- prom.MustNewConstMetric(d, prom.CounterValue, float64(v), labels...)
	}
	for _, b := range s.Backends {
		for _, bc := range backendCounters {
			counter(col.backend[bc.name], bc.value(b), b.Name, b.Prefix)
		}
		counter(col.evictions, b.Evictions.Size, b.Name, b.Prefix, "size")
		counter(col.evictions, b.Evictions.Bytes, b.Name, b.Prefix, "bytes")
		counter(col.evictions, b.Evictions.Expired, b.Name, b.Prefix, "expired")
	}
	counter(col.suppressed, s.Total.Suppressed)
	for name, f := range s.Funcs {
		for _, fc := range funcCounters {
			counter(col.funcs[fc.name], fc.value(f), name)
		}
		counter(col.stale, f.StaleEarly, name, "early")
		counter(col.stale, f.StaleSoft, name, "soft")
		counter(col.stale, f.StaleFailover, name, "failover")
		buckets := make(map[float64]uint64, len(col.bounds))
		var cumulative uint64
		for i, bound := range col.bounds {
			cumulative += uint64(f.LoadLatency.Buckets[i])
			buckets[bound] = cumulative
		}
		ch <- prom.MustNewConstHistogram(col.loadDuration, uint64(f.LoadLatency.Count), f.LoadLatency.Sum.Seconds(), buckets, name)
	}
	for route, r := range s.Routes {
		counter(col.httpRequests, r.Hits, route, "hit")
		counter(col.httpRequests, r.Stale, route, "stale")
		counter(col.httpRequests, r.Misses, route, "miss")
		counter(col.httpRequests, r.Bypasses, route, "bypass")
		counter(col.httpRevalidations, r.Revalidations, route)
	}
}
