package inputtest

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/internal/redistest"
)

// backendURLs returns the setup URL of every backend, each on its own store.
func backendURLs(t *testing.T) map[string]string {
	t.Helper()
	urls := map[string]string{
		"mem":      "mem://",
		"mem-copy": "mem://?copy=true",
		"disk":     "disk://" + t.TempDir() + "?shards=2",
	}
	if redistest.Available() || os.Getenv(redistest.RequireEnv) == "1" {
		srv := redistest.Start(t)
		urls["redis"] = srv.URL() + "?timeout=10s"
		urls["redis-goredis"] = srv.URL() + "?timeout=10s&driver=go-redis"
	}
	return urls
}

// TestHugeKeyErrorsAreShort stores a value at a 10 MB key and makes commands fail on it: each
// error quotes the key shortened, with its length, on every backend.
func TestHugeKeyErrorsAreShort(t *testing.T) {
	key := strings.Repeat("k", 10<<20)
	for name, u := range backendURLs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			c := cashews.New()
			defer c.Close()
			if err := c.Setup(u); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Set(ctx, key, "not a number", 0); err != nil {
				t.Fatalf("Set(10 MB key) = %v", err)
			}
			check := func(what string, err error, target error) {
				t.Helper()
				if err == nil || (target != nil && !errors.Is(err, target)) {
					t.Fatalf("%s = %v; want an error matching %v", what, err, target)
				}
				if n := len(err.Error()); n > 2000 {
					t.Errorf("%s: error of %d bytes (%.120s...); want under 2000, the key shortened", what, n, err)
				}
			}
			_, err := c.Incr(ctx, key, 1, 0)
			check("Incr", err, cashews.ErrNotInteger)
			if !strings.Contains(err.Error(), "(10485760 bytes)") {
				t.Errorf("Incr error %.300q...; want the key shortened with its length", err)
			}
			_, err = c.SetAdd(ctx, key, 0, "m")
			check("SetAdd", err, cashews.ErrWrongType)
			_, _, err = cashews.Get[int](ctx, c, key)
			check("Get[int]", err, nil)
		})
	}
	t.Run("no backend", func(t *testing.T) {
		c := cashews.New()
		defer c.Close()
		if err := c.Setup("mem://", cashews.WithPrefix("user:")); err != nil {
			t.Fatal(err)
		}
		_, err := c.Set(context.Background(), key, 1, 0)
		if !errors.Is(err, cashews.ErrNoBackend) || len(err.Error()) > 2000 {
			t.Fatalf("Set(10 MB key, no route) = error of %d bytes matching ErrNoBackend: %v; want ErrNoBackend under 2000 bytes", len(err.Error()), errors.Is(err, cashews.ErrNoBackend))
		}
	})
}
