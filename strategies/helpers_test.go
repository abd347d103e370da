package strategies_test

import (
	"net/url"
	"path/filepath"
	"testing"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/backends/backendtest"
	_ "github.com/cashews-go/cashews/backends/disk"
	_ "github.com/cashews-go/cashews/backends/redis"
	"github.com/cashews-go/cashews/internal/redistest"
)

// backendURLs are the setups every strategy test runs on. Every strategy makes its time decisions
// from the Cache's clock and what it stores, so the same fake-clock tests hold on every backend;
// backend TTLs only clean up. Redis gets its own server per test (the helper skips without
// redis-server, and fails instead with CASHEWS_REQUIRE_REDIS=1) and a command timeout that a loaded
// CI machine running -race can keep.
var backendURLs = map[string]func(t testing.TB) string{
	"mem":      func(testing.TB) string { return "mem://" },
	"mem-copy": func(testing.TB) string { return "mem://?copy=true&secret=test" },
	"disk": func(t testing.TB) string {
		return "disk://" + (&url.URL{Path: filepath.Join(t.TempDir(), "cache")}).String() + "?shards=2"
	},
	"redis": func(t testing.TB) string { return redistest.Start(t).URL() + "?timeout=15s&dial_timeout=15s" },
}

// forEachBackend runs test once per backend with a Cache set up on it and its fake clock.
func forEachBackend(t *testing.T, test func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock)) {
	for name, url := range backendURLs {
		t.Run(name, func(t *testing.T) {
			clock := backendtest.NewClock()
			c := cashews.New(cashews.WithClock(clock))
			t.Cleanup(func() { c.Close() })
			if err := c.Setup(url(t)); err != nil {
				t.Fatal(err)
			}
			test(t, c, clock)
		})
	}
}
