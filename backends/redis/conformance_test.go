package redis

import (
	"testing"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/backends/backendtest"
	"github.com/cashews-go/cashews/internal/redistest"
)

// harness opens a backend with open on a server whose database flush empties before each case.
func harness(open func(t testing.TB) *Backend, flush func(t testing.TB)) backendtest.Harness {
	return backendtest.Harness{
		New: func(t testing.TB, _ backends.Clock) backends.Backend {
			flush(t)
			return open(t)
		},
		RealTime: true,
	}
}

// TestConformance runs the conformance kit on each engine against a single server.
func TestConformance(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel() // each engine has its own server
			srv := redistest.Start(t)
			backendtest.Run(t, harness(
				func(t testing.TB) *Backend { return e.open(t, srv.URL()) },
				func(t testing.TB) { srv.MustDo("FLUSHALL") },
			))
		})
	}
}

// TestConformanceCluster runs the conformance kit against a 3-master Redis Cluster, with rueidis,
// with client-side caching and with go-redis, each on a Cluster of its own.
func TestConformanceCluster(t *testing.T) {
	for _, params := range []string{"", "client_side=true", "driver=go-redis"} {
		name := params
		if name == "" {
			name = "rueidis"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cl := redistest.StartCluster(t, 3)
			flush := func(t testing.TB) {
				if err := cl.Do("FLUSHALL"); err != nil {
					t.Fatalf("FLUSHALL: %v", err)
				}
			}
			backendtest.Run(t, harness(func(t testing.TB) *Backend {
				b := openURL(t, withParams(cl.URL(), relaxed+"&"+params))
				if !b.IsCluster() {
					t.Fatalf("%s: IsCluster is false, want true", cl.URL())
				}
				return b
			}, flush))
		})
	}
}
