package strategies_test

import (
	"context"
	"net/url"
	"path/filepath"
	"testing"
	"time"

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

// lockHeld reports whether the lock at key is held: a held lock is a key of the backend. (The
// Cache's own lock queries take a token and are not exported.)
func lockHeld(ctx context.Context, c *cashews.Cache, key string) (bool, error) {
	return c.Exists(ctx, key)
}

// lockHeldAfter waits up to wait (and while ctx lasts) for the lock at key to be released, retrying
// with a backoff from 1 ms to 100 ms, and reports whether it is still held.
func lockHeldAfter(ctx context.Context, c *cashews.Cache, key string, wait time.Duration) (bool, error) {
	deadline := time.Now().Add(wait)
	for d := time.Millisecond; ; d = min(2*d, 100*time.Millisecond) {
		held, err := lockHeld(ctx, c, key)
		if err != nil || !held || time.Now().After(deadline) {
			return held, err
		}
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return true, ctx.Err()
		}
	}
}
