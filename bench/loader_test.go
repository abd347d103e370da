package bench

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"testing"
)

// The wrapped-loader workload: 1,024 user ids, a Zipf (s = 1.01) trace of 2^16 ids over them
// (seed 11), every id loaded once before the timer starts, so every call is a hit. The source
// returns at once; a hit never calls it.
const loaderIDs = 1024

var loaderTrace = sync.OnceValue(func() []int {
	tr := NewTrace(11, 1<<16, loaderIDs, 1.01, "")
	ids := make([]int, len(tr.Keys))
	for i, k := range tr.Keys {
		ids[i], _ = strconv.Atoi(k)
	}
	return ids
})

func fetchUser(_ context.Context, id int) (User, error) {
	return User{ID: id, Name: "user " + strconv.Itoa(id), Email: "user@example.com"}, nil
}

// BenchmarkLoaderHit is the in-memory loaders; BenchmarkLoaderRedisHit the Redis tier (run apart,
// with fewer iterations, as each call is a round trip unless a local tier answers).
func BenchmarkLoaderHit(b *testing.B)      { benchLoaders(b, false) }
func BenchmarkLoaderRedisHit(b *testing.B) { benchLoaders(b, true) }

func benchLoaders(b *testing.B, redis bool) {
	ids := loaderTrace()
	mask := len(ids) - 1
	ctx := context.Background()
	for _, lib := range LoaderLibs() {
		if lib.Redis != redis {
			continue
		}
		b.Run(lib.Name, func(b *testing.B) {
			addr := ""
			if lib.Redis {
				addr = redisAddr(b)
			}
			get, closeFn, err := lib.New(fetchUser, addr)
			if err != nil {
				b.Fatal(err)
			}
			defer closeFn()
			for id := range loaderIDs {
				if _, err := get(ctx, id); err != nil {
					b.Fatal(err)
				}
			}
			f := func(i int) (bool, bool) {
				id := ids[i&mask]
				u, err := get(ctx, id)
				if err != nil || u.ID != id {
					b.Fatalf("get(%d) = %v, %v; want user %d", id, u.ID, err, id)
				}
				return true, false
			}
			goroutines := runtime.GOMAXPROCS(0)
			if lib.Redis {
				goroutines = 64
			}
			modes(b, goroutines, f)
		})
	}
}
