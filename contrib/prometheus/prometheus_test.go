package prometheus_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cashews-go/cashews"
	cashewsprom "github.com/cashews-go/cashews/contrib/prometheus"
	"github.com/cashews-go/cashews/middleware"
	"github.com/cashews-go/cashews/strategies"
	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestCollector drives a known sequence of calls and checks what a real registry gathers.
func TestCollector(t *testing.T) {
	c := cashews.New()
	defer c.Close()
	if err := c.Setup("mem://?size=2"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c.Set(ctx, "a", 1, 0)
	cashews.Get[int](ctx, c, "a")
	cashews.Get[int](ctx, c, "b")
	c.Delete(ctx, "a")

	errDown := errors.New("down")
	var fail bool
	get := cashews.MustWrap(c, func(ctx context.Context, id int) (int, error) {
		if fail {
			return 0, errDown
		}
		return id, nil
	}, cashews.Name("get"), cashews.Key("get:{.}"), cashews.TTL(time.Hour), strategies.Failover())
	get(ctx, 1)
	fail = true
	get(ctx, 1) // the last good result

	mw, err := middleware.Cache(c, middleware.Route("api"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "ok")
	})))
	defer srv.Close()
	for range 2 {
		resp, err := http.Get(srv.URL + "/x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	reg := prom.NewPedanticRegistry() // checks that Collect matches Describe
	reg.MustRegister(cashewsprom.NewCollector(c, cashewsprom.ConstLabels(prom.Labels{"cache": "main"})))
	want := `
# HELP cashews_backend_hits_total Keys that reads of the backend found.
# TYPE cashews_backend_hits_total counter
cashews_backend_hits_total{backend="mem://?size=2",cache="main",prefix=""} 3
# HELP cashews_backend_misses_total Keys that reads of the backend did not find.
# TYPE cashews_backend_misses_total counter
cashews_backend_misses_total{backend="mem://?size=2",cache="main",prefix=""} 2
# HELP cashews_backend_sets_total Values written to the backend.
# TYPE cashews_backend_sets_total counter
cashews_backend_sets_total{backend="mem://?size=2",cache="main",prefix=""} 3
# HELP cashews_backend_deletes_total Keys deleted from the backend.
# TYPE cashews_backend_deletes_total counter
cashews_backend_deletes_total{backend="mem://?size=2",cache="main",prefix=""} 1
# HELP cashews_function_calls_total Calls of the wrapped function.
# TYPE cashews_function_calls_total counter
cashews_function_calls_total{cache="main",function="get"} 2
# HELP cashews_function_loads_total Runs of the wrapped function.
# TYPE cashews_function_loads_total counter
cashews_function_loads_total{cache="main",function="get"} 2
# HELP cashews_function_load_errors_total Runs of the wrapped function that failed.
# TYPE cashews_function_load_errors_total counter
cashews_function_load_errors_total{cache="main",function="get"} 1
# HELP cashews_function_stale_total Stale results of the wrapped function served, by strategy: early, soft or failover.
# TYPE cashews_function_stale_total counter
cashews_function_stale_total{cache="main",function="get",strategy="early"} 0
cashews_function_stale_total{cache="main",function="get",strategy="failover"} 1
cashews_function_stale_total{cache="main",function="get",strategy="soft"} 0
# HELP cashews_http_requests_total Requests of the HTTP response cache, by outcome: hit, stale, miss or bypass.
# TYPE cashews_http_requests_total counter
cashews_http_requests_total{cache="main",outcome="bypass",route="api"} 0
cashews_http_requests_total{cache="main",outcome="hit",route="api"} 1
cashews_http_requests_total{cache="main",outcome="miss",route="api"} 1
cashews_http_requests_total{cache="main",outcome="stale",route="api"} 0
`
	names := []string{
		"cashews_backend_hits_total", "cashews_backend_misses_total", "cashews_backend_sets_total",
		"cashews_backend_deletes_total", "cashews_function_calls_total", "cashews_function_loads_total",
		"cashews_function_load_errors_total", "cashews_function_stale_total", "cashews_http_requests_total",
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	// The histogram holds the two loads.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, mf := range mfs {
		if mf.GetName() != "cashews_function_load_duration_seconds" {
			continue
		}
		found = true
		h := mf.GetMetric()[0].GetHistogram()
		if h.GetSampleCount() != 2 || len(h.GetBucket()) != len(cashews.LatencyBounds()) {
			t.Errorf("load duration: %d samples in %d buckets; want 2 in %d", h.GetSampleCount(), len(h.GetBucket()), len(cashews.LatencyBounds()))
		}
	}
	if !found {
		t.Error("no cashews_function_load_duration_seconds gathered")
	}
	if n := testutil.CollectAndCount(cashewsprom.NewCollector(c), "cashews_backend_evictions_total"); n != 3 {
		t.Errorf("%d eviction series; want one per cause (3)", n)
	}
	if problems, err := testutil.CollectAndLint(cashewsprom.NewCollector(c)); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

// TestNamespace: the namespace option renames every metric.
func TestNamespace(t *testing.T) {
	c := cashews.New()
	defer c.Close()
	if err := c.Setup("mem://"); err != nil {
		t.Fatal(err)
	}
	cashews.Get[int](context.Background(), c, "k")
	want := `
# HELP app_cache_backend_misses_total Keys that reads of the backend did not find.
# TYPE app_cache_backend_misses_total counter
app_cache_backend_misses_total{backend="mem://",prefix=""} 1
`
	if err := testutil.CollectAndCompare(cashewsprom.NewCollector(c, cashewsprom.Namespace("app_cache")), strings.NewReader(want), "app_cache_backend_misses_total"); err != nil {
		t.Error(err)
	}
}
