package otel_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cashews-go/cashews"
	cashewsotel "github.com/cashews-go/cashews/contrib/otel"
	"github.com/cashews-go/cashews/strategies"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// sums returns the data points of the Int64 sum named name, by their attributes.
func sums(t *testing.T, rm metricdata.ResourceMetrics, name string) map[attribute.Distinct]metricdata.DataPoint[int64] {
	t.Helper()
	out := map[attribute.Distinct]metricdata.DataPoint[int64]{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			s, ok := m.Data.(metricdata.Sum[int64])
			if !ok || !s.IsMonotonic || s.Temporality != metricdata.CumulativeTemporality {
				t.Fatalf("%s is %T (monotonic and cumulative?); want a cumulative Int64 counter", name, m.Data)
			}
			for _, dp := range s.DataPoints {
				out[dp.Attributes.Equivalent()] = dp
			}
		}
	}
	return out
}

func value(t *testing.T, points map[attribute.Distinct]metricdata.DataPoint[int64], kv ...attribute.KeyValue) int64 {
	t.Helper()
	set := attribute.NewSet(kv...)
	dp, ok := points[set.Equivalent()]
	if !ok {
		t.Fatalf("no data point with %v", set.Encoded(attribute.DefaultEncoder()))
	}
	return dp.Value
}

// TestRegisterMetrics drives a known sequence of calls and checks what a manual reader of the SDK
// collects.
func TestRegisterMetrics(t *testing.T) {
	c := cashews.New()
	defer c.Close()
	if err := c.Setup("mem://"); err != nil {
		t.Fatal(err)
	}
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	reg, err := cashewsotel.RegisterMetrics(c, mp)
	if err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	c.Set(ctx, "a", 1, 0)
	cashews.Get[int](ctx, c, "a")
	cashews.Get[int](ctx, c, "b")
	errDown := errors.New("down")
	fail := false
	get := cashews.MustWrap(c, func(ctx context.Context, id int) (int, error) {
		if fail {
			return 0, errDown
		}
		return id, nil
	}, cashews.Name("get"), cashews.Key("get:{.}"), cashews.TTL(time.Hour), strategies.Soft(time.Nanosecond))
	get(ctx, 1) // miss, load
	fail = true
	get(ctx, 1) // stale by now: a miss, the load fails, the stale result served
	c.RouteCounter("api").Hit()

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	mem := []attribute.KeyValue{attribute.String("cashews.backend", "mem://"), attribute.String("cashews.prefix", "")}
	for name, want := range map[string]int64{"cashews.backend.hits": 2, "cashews.backend.misses": 2, "cashews.backend.sets": 2} {
		if got := value(t, sums(t, rm, name), mem...); got != want {
			t.Errorf("%s = %d; want %d", name, got, want)
		}
	}
	fn := attribute.String("cashews.function", "get")
	for name, want := range map[string]int64{"cashews.function.calls": 2, "cashews.function.misses": 2, "cashews.function.loads": 2, "cashews.function.load_errors": 1} {
		if got := value(t, sums(t, rm, name), fn); got != want {
			t.Errorf("%s = %d; want %d", name, got, want)
		}
	}
	if got := value(t, sums(t, rm, "cashews.function.stale"), fn, attribute.String("cashews.strategy", "soft")); got != 1 {
		t.Errorf("soft stale = %d; want 1", got)
	}
	if got := value(t, sums(t, rm, "cashews.backend.evictions"), append(mem, attribute.String("cashews.cause", "size"))...); got != 0 {
		t.Errorf("size evictions = %d; want 0", got)
	}
	if got := value(t, sums(t, rm, "cashews.http.requests"), attribute.String("cashews.route", "api"), attribute.String("cashews.outcome", "hit")); got != 1 {
		t.Errorf("http hits = %d; want 1", got)
	}

	if err := reg.Unregister(); err != nil {
		t.Fatal(err)
	}
	rm = metricdata.ResourceMetrics{}
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	if n := len(sums(t, rm, "cashews.backend.hits")); n != 0 {
		t.Errorf("%d data points after Unregister; want none", n)
	}
}

// TestTracing: a command under a traced context gets a child span with its attributes and error;
// one without a trace gets none.
func TestTracing(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	c := cashews.New()
	defer c.Close()
	if err := c.Setup("mem://"); err != nil {
		t.Fatal(err)
	}
	if err := c.Use(cashewsotel.Tracing(tp, cashewsotel.WithKeys())); err != nil {
		t.Fatal(err)
	}

	c.Set(context.Background(), "untraced", 1, 0) // no trace: no span
	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
	c.Set(ctx, "k", 1, 0)
	cashews.Get[int](ctx, c, "k")
	cashews.Get[int](ctx, c, "nope")
	if _, err := c.Incr(ctx, "k", 1, 0); err != nil {
		t.Fatal(err)
	}
	c.Set(ctx, "s", "text", 0)
	if _, err := c.Incr(ctx, "s", 1, 0); !errors.Is(err, cashews.ErrNotInteger) {
		t.Fatalf("Incr of text = %v; want ErrNotInteger", err)
	}
	parent.End()

	spans := exp.GetSpans()
	type want struct {
		name, key string
		ok        bool
		failed    bool
	}
	wants := []want{
		{"cashews.set", "k", true, false},
		{"cashews.get", "k", true, false},
		{"cashews.get", "nope", false, false},
		{"cashews.incr", "k", true, false},
		{"cashews.set", "s", true, false},
		{"cashews.incr", "s", false, true},
	}
	if len(spans) != len(wants)+1 {
		t.Fatalf("%d spans; want %d commands and the parent: %v", len(spans), len(wants), spans)
	}
	for i, w := range wants {
		s := spans[i]
		attrs := map[attribute.Key]attribute.Value{}
		for _, kv := range s.Attributes {
			attrs[kv.Key] = kv.Value
		}
		if s.Name != w.name || attrs["cashews.key"].AsString() != w.key || attrs["cashews.ok"].AsBool() != w.ok ||
			attrs["cashews.backend"].AsString() != "mem://" || s.SpanKind != trace.SpanKindClient {
			t.Errorf("span %d: %s %v (%v); want %s with key %q, ok %v on mem://, client", i, s.Name, attrs, s.SpanKind, w.name, w.key, w.ok)
		}
		if s.Parent.SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("span %d: parent %v; want the request's span", i, s.Parent.SpanID())
		}
		if failed := s.Status.Code == codes.Error; failed != w.failed || (w.failed && len(s.Events) == 0) {
			t.Errorf("span %d: status %v with %d events; want failed %v with the error recorded", i, s.Status, len(s.Events), w.failed)
		}
	}
}

// TestTracingLeavesKeysOut: without WithKeys, spans carry no keys.
func TestTracingLeavesKeysOut(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	c := cashews.New()
	defer c.Close()
	c.Setup("mem://")
	c.Use(cashewsotel.Tracing(tp))
	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
	cashews.GetMany[int](ctx, c, "a", "b")
	parent.End()
	spans := exp.GetSpans()
	if len(spans) != 2 || spans[0].Name != "cashews.get_many" {
		t.Fatalf("spans = %v; want get_many and the parent", spans)
	}
	for _, kv := range spans[0].Attributes {
		if kv.Key == "cashews.key" || kv.Key == "cashews.keys" {
			t.Errorf("span has %s without WithKeys", kv.Key)
		}
	}
}
