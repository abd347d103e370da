// Package otel connects a cashews Cache to OpenTelemetry: [RegisterMetrics] reports its statistics
// (Cache.Stats) through the metrics API, and [Tracing] is a command hook that makes a span
// per command when the caller's context carries a trace. It is a module of its own, so that the
// cashews module never depends on OpenTelemetry:
//
//	import cashewsotel "github.com/cashews-go/cashews/contrib/otel"
//
//	reg, err := cashewsotel.RegisterMetrics(c, otel.GetMeterProvider())
//	defer reg.Unregister()
//	err = c.Use(cashewsotel.Tracing(otel.GetTracerProvider()))
//
// The instruments are asynchronous counters read at each collection (names as the metric
// semantic conventions spell them; the attributes are in braces):
//
//	cashews.backend.hits, .misses, .sets, .deletes, .errors,
//	  .suppressed_errors, .breaker_opens                       {cashews.backend, cashews.prefix}
//	cashews.backend.evictions                                  {cashews.backend, cashews.prefix, cashews.cause}
//	cashews.suppressed_errors                                  every error routed around
//	cashews.function.calls, .hits, .misses, .loads, .load_errors,
//	  .refreshes, .rate_limited, .breaker_refused              {cashews.function}
//	cashews.function.stale                                     {cashews.function, cashews.strategy}
//	cashews.function.load.time (seconds)                       {cashews.function}
//	cashews.http.requests                                      {cashews.route, cashews.outcome}
//	cashews.http.revalidations                                 {cashews.route}
//
// The metrics API has no asynchronous histogram, so a wrapped function's load latency is reported
// as the total time of its loads (cashews.function.load.time): divided by cashews.function.loads it
// gives the mean. The Prometheus adapter (contrib/prometheus) reports the whole histogram.
package otel

import (
	"context"
	"time"

	"github.com/cashews-go/cashews"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// scope is the instrumentation scope of the meter and the tracer.
const scope = "github.com/cashews-go/cashews/contrib/otel"

type counter64 struct {
	name, unit, help string
}

var backendInstruments = []struct {
	counter64
	value func(cashews.BackendStats) int64
}{
	{counter64{"cashews.backend.hits", "{key}", "Keys that reads of the backend found."}, func(s cashews.BackendStats) int64 { return s.Hits }},
	{counter64{"cashews.backend.misses", "{key}", "Keys that reads of the backend did not find."}, func(s cashews.BackendStats) int64 { return s.Misses }},
	{counter64{"cashews.backend.sets", "{value}", "Values written to the backend."}, func(s cashews.BackendStats) int64 { return s.Sets }},
	{counter64{"cashews.backend.deletes", "{key}", "Keys deleted from the backend."}, func(s cashews.BackendStats) int64 { return s.Deletes }},
	{counter64{"cashews.backend.errors", "{error}", "Commands of the backend that failed for the backend's reasons."}, func(s cashews.BackendStats) int64 { return s.Errors }},
	{counter64{"cashews.backend.suppressed_errors", "{error}", "Errors of the backend routed around."}, func(s cashews.BackendStats) int64 { return s.Suppressed }},
	{counter64{"cashews.backend.breaker_opens", "{opening}", "Times the backend's health breaker opened."}, func(s cashews.BackendStats) int64 { return s.BreakerOpens }},
}

var funcInstruments = []struct {
	counter64
	value func(cashews.FuncStats) int64
}{
	{counter64{"cashews.function.calls", "{call}", "Calls of the wrapped function."}, func(s cashews.FuncStats) int64 { return s.Calls }},
	{counter64{"cashews.function.hits", "{call}", "Calls of the wrapped function answered from cache."}, func(s cashews.FuncStats) int64 { return s.Hits }},
	{counter64{"cashews.function.misses", "{call}", "Calls of the wrapped function that waited for the function."}, func(s cashews.FuncStats) int64 { return s.Misses }},
	{counter64{"cashews.function.loads", "{run}", "Runs of the wrapped function."}, func(s cashews.FuncStats) int64 { return s.Loads }},
	{counter64{"cashews.function.load_errors", "{run}", "Runs of the wrapped function that failed."}, func(s cashews.FuncStats) int64 { return s.LoadErrors }},
	{counter64{"cashews.function.refreshes", "{refresh}", "Background refreshes of the wrapped function started."}, func(s cashews.FuncStats) int64 { return s.Refreshes }},
	{counter64{"cashews.function.rate_limited", "{call}", "Calls of the wrapped function a rate limit refused."}, func(s cashews.FuncStats) int64 { return s.RateLimited }},
	{counter64{"cashews.function.breaker_refused", "{call}", "Calls of the wrapped function a circuit breaker refused."}, func(s cashews.FuncStats) int64 { return s.BreakerRefused }},
}

// RegisterMetrics makes the instruments above on a meter of mp (the global provider when nil) and
// registers a callback that reads c.Stats() at each collection. Unregister the returned
// registration to stop.
func RegisterMetrics(c *cashews.Cache, mp metric.MeterProvider) (metric.Registration, error) {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := mp.Meter(scope)
	var all []metric.Observable
	counter := func(c counter64) (metric.Int64ObservableCounter, error) {
		inst, err := m.Int64ObservableCounter(c.name, metric.WithUnit(c.unit), metric.WithDescription(c.help))
		if err == nil {
			all = append(all, inst)
		}
		return inst, err
	}
	backend := make([]metric.Int64ObservableCounter, len(backendInstruments))
	for i, bi := range backendInstruments {
		var err error
		if backend[i], err = counter(bi.counter64); err != nil {
			return nil, err
		}
	}
	funcs := make([]metric.Int64ObservableCounter, len(funcInstruments))
	for i, fi := range funcInstruments {
		var err error
		if funcs[i], err = counter(fi.counter64); err != nil {
			return nil, err
		}
	}
	evictions, err := counter(counter64{"cashews.backend.evictions", "{entry}", "Entries the backend evicted, by cause: size, bytes or expired."})
	if err != nil {
		return nil, err
	}
	suppressed, err := counter(counter64{"cashews.suppressed_errors", "{error}", "Every error of the cache routed around."})
	if err != nil {
		return nil, err
	}
	stale, err := counter(counter64{"cashews.function.stale", "{call}", "Stale results of the wrapped function served, by strategy: early, soft or failover."})
	if err != nil {
		return nil, err
	}
	requests, err := counter(counter64{"cashews.http.requests", "{request}", "Requests of the HTTP response cache, by outcome: hit, stale, miss or bypass."})
	if err != nil {
		return nil, err
	}
	revalidations, err := counter(counter64{"cashews.http.revalidations", "{request}", "Requests of the HTTP response cache to the handler to refresh a stale response."})
	if err != nil {
		return nil, err
	}
	loadTime, err := m.Float64ObservableCounter("cashews.function.load.time", metric.WithUnit("s"),
		metric.WithDescription("Total time the runs of the wrapped function took."))
	if err != nil {
		return nil, err
	}
	all = append(all, loadTime)

	return m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		s := c.Stats()
		for _, b := range s.Backends {
			at := metric.WithAttributes(attribute.String("cashews.backend", b.Name), attribute.String("cashews.prefix", b.Prefix))
			for i, bi := range backendInstruments {
				o.ObserveInt64(backend[i], bi.value(b), at)
			}
			for _, e := range []struct {
				cause string
				n     int64
			}{{"size", b.Evictions.Size}, {"bytes", b.Evictions.Bytes}, {"expired", b.Evictions.Expired}} {
				o.ObserveInt64(evictions, e.n, metric.WithAttributes(attribute.String("cashews.backend", b.Name),
					attribute.String("cashews.prefix", b.Prefix), attribute.String("cashews.cause", e.cause)))
			}
		}
		o.ObserveInt64(suppressed, s.Total.Suppressed)
		for name, f := range s.Funcs {
			at := metric.WithAttributes(attribute.String("cashews.function", name))
			for i, fi := range funcInstruments {
				o.ObserveInt64(funcs[i], fi.value(f), at)
			}
			o.ObserveFloat64(loadTime, f.LoadLatency.Sum.Seconds(), at)
			for _, st := range []struct {
				strategy string
				n        int64
			}{{"early", f.StaleEarly}, {"soft", f.StaleSoft}, {"failover", f.StaleFailover}} {
				o.ObserveInt64(stale, st.n, metric.WithAttributes(attribute.String("cashews.function", name), attribute.String("cashews.strategy", st.strategy)))
			}
		}
		for route, r := range s.Routes {
			for _, oc := range []struct {
				outcome string
				n       int64
			}{{"hit", r.Hits}, {"stale", r.Stale}, {"miss", r.Misses}, {"bypass", r.Bypasses}} {
				o.ObserveInt64(requests, oc.n, metric.WithAttributes(attribute.String("cashews.route", route), attribute.String("cashews.outcome", oc.outcome)))
			}
			o.ObserveInt64(revalidations, r.Revalidations, metric.WithAttributes(attribute.String("cashews.route", route)))
		}
		return nil
	}, all...)
}

// TracingOption configures [Tracing].
type TracingOption func(*tracing)

type tracing struct {
	keys bool
}

// WithKeys adds the command's key (or glob pattern) to its span as cashews.key, and the keys of a
// bulk command as cashews.keys. Keys are left out by default: they often hold user ids or other
// data that traces should not carry.
func WithKeys() TracingOption {
	return func(t *tracing) { t.keys = true }
}

// Tracing returns a command hook (for Cache.Use) that makes a span per command, a child of
// the span in the caller's context, when there is one; a command whose context carries no trace
// gets none, so the cache never starts traces of its own. The span is named "cashews." and the
// command ("cashews.get"), of kind client, with the attributes cashews.command, cashews.backend
// (the redacted URL) and cashews.prefix, cashews.ok (a read's hit, or a write that took effect),
// the keys if WithKeys says so, and the command's error, which sets the span's status. tp nil is the
// global TracerProvider.
func Tracing(tp trace.TracerProvider, opts ...TracingOption) cashews.Hook {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	cfg := tracing{}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	tracer := tp.Tracer(scope)
	return func(next cashews.Handler) cashews.Handler {
		return func(ctx context.Context, call *cashews.Call) (cashews.Result, error) {
			if !trace.SpanContextFromContext(ctx).IsValid() {
				return next(ctx, call)
			}
			attrs := []attribute.KeyValue{
				attribute.String("cashews.command", call.Command().String()),
				attribute.String("cashews.backend", call.Backend()),
				attribute.String("cashews.prefix", call.Prefix()),
			}
			if cfg.keys {
				if k := call.Key(); k != "" {
					attrs = append(attrs, attribute.String("cashews.key", k))
				}
				if ks := call.Keys(); len(ks) > 0 {
					attrs = append(attrs, attribute.StringSlice("cashews.keys", ks))
				}
			}
			ctx, span := tracer.Start(ctx, "cashews."+call.Command().String(),
				trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...), trace.WithTimestamp(time.Now()))
			defer span.End()
			res, err := next(ctx, call)
			span.SetAttributes(attribute.Bool("cashews.ok", res.OK))
			if err != nil {
				span.RecordError(err)
				span.SetStatus(codes.Error, err.Error())
			}
			return res, err
		}
	}
}
