package middleware

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cashews-go/cashews"
)

// TestRouteStats drives a known sequence of requests through two routes and checks the counts the
// Cache reports for each.
func TestRouteStats(t *testing.T) {
	c, clk := newCache(t, "mem://")
	var down atomic.Bool
	users := &origin{serve: func(w http.ResponseWriter, r *http.Request, n int) {
		if r.URL.Path == "/err" && down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Cache-Control", "max-age=10, stale-if-error=600")
		w.Header().Set("ETag", `"v1"`)
		io.WriteString(w, "users")
	}}
	srv := serve(t, c, users, Route("users"))
	get(t, srv.URL+"/u")                                       // miss
	get(t, srv.URL+"/u")                                       // hit
	get(t, srv.URL+"/u", "If-None-Match", `"v1"`)              // hit (a 304 from the stored response)
	get(t, srv.URL+"/u", "Cache-Control", "only-if-cached")    // hit
	get(t, srv.URL+"/none", "Cache-Control", "only-if-cached") // miss (504)
	do(t, http.MethodOptions, srv.URL+"/u")                    // bypass
	do(t, http.MethodPost, srv.URL+"/u")                       // bypass (and drops /u)
	get(t, srv.URL+"/u")                                       // miss
	get(t, srv.URL+"/err")                                     // miss
	clk.Advance(30 * time.Second)
	down.Store(true)
	get(t, srv.URL+"/u")                               // stale: revalidated (304 from the handler)
	get(t, srv.URL+"/u", "Cache-Control", "max-stale") // fresh again after the 304: hit
	get(t, srv.URL+"/err").want(t, 200, "users")       // revalidation fails: stale-if-error
	get(t, srv.URL+"/u", "Cache-Control", "max-stale=0")

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/u", strings.NewReader("body"))
	resp, err := http.DefaultClient.Do(req) // a GET with content: bypass
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	other := serve(t, c, headersHandler("Cache-Control", "max-age=10"))
	get(t, other.URL+"/o") // miss on the default route
	get(t, other.URL+"/o") // hit

	s := c.Stats()
	if got, want := s.Routes["users"], (cashews.RouteStats{Hits: 5, Stale: 1, Misses: 4, Revalidations: 2, Bypasses: 3}); got != want {
		t.Errorf("users: %+v; want %+v", got, want)
	}
	if got, want := s.Routes["default"], (cashews.RouteStats{Hits: 1, Misses: 1}); got != want {
		t.Errorf("default: %+v; want %+v", got, want)
	}
	if _, err := Cache(c, Route("")); err == nil {
		t.Error(`Route("") is accepted; want a configuration error`)
	}
}

// TestRouteStatsStaleWhileRevalidate: a stale-while-revalidate answer is stale, and its background
// refresh a revalidation.
func TestRouteStatsStaleWhileRevalidate(t *testing.T) {
	c, clk := newCache(t, "mem://")
	o := headersHandler("Cache-Control", "max-age=10, stale-while-revalidate=60")
	srv := serve(t, c, o, Route("swr"))
	get(t, srv.URL+"/s")
	clk.Advance(30 * time.Second)
	get(t, srv.URL+"/s")
	waitFor(t, func() bool { return c.Stats().Routes["swr"].Revalidations == 1 })
	waitFor(t, func() bool { return o.calls.Load() == 2 })
	if got, want := c.Stats().Routes["swr"], (cashews.RouteStats{Stale: 1, Misses: 1, Revalidations: 1}); got != want {
		t.Errorf("swr: %+v; want %+v", got, want)
	}
}
