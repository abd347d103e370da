package bench

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"

	"github.com/cashews-go/cashews"
	_ "github.com/cashews-go/cashews/backends/redis"
	_ "github.com/cashews-go/cashews/backends/redis/goredis" // driver=go-redis
)

// The Redis workload: 1,024 keys holding 64-byte values, a Zipf (s = 1.01) trace of 2^16 keys
// over them (seed 13), on the redis-server of CASHEWS_BENCH_REDIS. Get and Set run on 1 and on 64
// goroutines. Our Cache uses codec=raw (values are []byte, stored as they are behind the 2-byte
// format header), so that the comparison is of the plumbing, not of an encoding, and timeout=5s
// (each command is still bounded by it) so that a busy machine does not fail commands.
// Sets have the TTL ([TTL]) in every client.
const redisKeys = 1024

var (
	redisTrace = sync.OnceValue(func() Trace { return NewTrace(13, 1<<16, redisKeys, 1.01, "bench:") })
	redisValue = []byte(strings.Repeat("v", 64))
)

// redisClient is one way of getting and setting a []byte in Redis.
type redisClient struct {
	name string
	open func(addr string) (get func(ctx context.Context, key string) ([]byte, bool, error),
		set func(ctx context.Context, key string, v []byte) error, closeFn func(), err error)
}

func cashewsRedis(params string) func(string) (func(context.Context, string) ([]byte, bool, error), func(context.Context, string, []byte) error, func(), error) {
	return func(addr string) (func(context.Context, string) ([]byte, bool, error), func(context.Context, string, []byte) error, func(), error) {
		c := cashews.New()
		if err := c.Setup(fmt.Sprintf("redis://%s/0?codec=raw&timeout=5s%s", addr, params)); err != nil {
			c.Close()
			return nil, nil, nil, err
		}
		get := func(ctx context.Context, key string) ([]byte, bool, error) { return cashews.Get[[]byte](ctx, c, key) }
		set := func(ctx context.Context, key string, v []byte) error {
			_, err := c.Set(ctx, key, v, TTL)
			return err
		}
		return get, set, func() { c.Close() }, nil
	}
}

func rawRueidis(csc bool) func(string) (func(context.Context, string) ([]byte, bool, error), func(context.Context, string, []byte) error, func(), error) {
	return func(addr string) (func(context.Context, string) ([]byte, bool, error), func(context.Context, string, []byte) error, func(), error) {
		rc, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: !csc})
		if err != nil {
			return nil, nil, nil, err
		}
		get := func(ctx context.Context, key string) ([]byte, bool, error) {
			var r rueidis.RedisResult
			if csc {
				r = rc.DoCache(ctx, rc.B().Get().Key(key).Cache(), time.Minute)
			} else {
				r = rc.Do(ctx, rc.B().Get().Key(key).Build())
			}
			v, err := r.AsBytes()
			if rueidis.IsRedisNil(err) {
				return nil, false, nil
			}
			return v, err == nil, err
		}
		set := func(ctx context.Context, key string, v []byte) error {
			return rc.Do(ctx, rc.B().Set().Key(key).Value(rueidis.BinaryString(v)).Ex(TTL).Build()).Error()
		}
		return get, set, rc.Close, nil
	}
}

func rawGoRedis(addr string) (func(context.Context, string) ([]byte, bool, error), func(context.Context, string, []byte) error, func(), error) {
	rdb := goredis.NewClient(&goredis.Options{Addr: addr})
	get := func(ctx context.Context, key string) ([]byte, bool, error) {
		v, err := rdb.Get(ctx, key).Bytes()
		if err == goredis.Nil {
			return nil, false, nil
		}
		return v, err == nil, err
	}
	set := func(ctx context.Context, key string, v []byte) error { return rdb.Set(ctx, key, v, TTL).Err() }
	return get, set, func() { rdb.Close() }, rdb.Ping(context.Background()).Err()
}

func cashewsMemBytes(string) (func(context.Context, string) ([]byte, bool, error), func(context.Context, string, []byte) error, func(), error) {
	c := cashews.New()
	if err := c.Setup("mem://?size=100000"); err != nil {
		c.Close()
		return nil, nil, nil, err
	}
	get := func(ctx context.Context, key string) ([]byte, bool, error) { return cashews.Get[[]byte](ctx, c, key) }
	set := func(ctx context.Context, key string, v []byte) error {
		_, err := c.Set(ctx, key, v, TTL)
		return err
	}
	return get, set, func() { c.Close() }, nil
}

var (
	redisClients = []redisClient{
		{"cashews-rueidis", cashewsRedis("")},
		{"cashews-goredis", cashewsRedis("&driver=go-redis")},
		{"rueidis", rawRueidis(false)},
		{"goredis", rawGoRedis},
	}
	// cscClients are the client-side cache hits: ours, rueidis' DoCache, and a mem:// hit for scale.
	cscClients = []redisClient{
		{"cashews-csc", cashewsRedis("&client_side=true")},
		{"rueidis-docache", rawRueidis(true)},
		{"cashews-mem", cashewsMemBytes},
	}
)

// flushRedis empties the server's database.
func flushRedis(b *testing.B, addr string) {
	rdb := goredis.NewClient(&goredis.Options{Addr: addr})
	defer rdb.Close()
	if err := rdb.FlushDB(context.Background()).Err(); err != nil {
		b.Fatal(err)
	}
}

// openWarm opens cl on an empty database, stores every key of the workload through cl itself (our
// Cache writes its format header, so each client reads what it wrote) and reads each once, which
// loads them into client-side caches.
func openWarm(b *testing.B, cl redisClient, addr string) (get func(context.Context, string) ([]byte, bool, error), set func(context.Context, string, []byte) error) {
	flushRedis(b, addr)
	get, set, closeFn, err := cl.open(addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(closeFn)
	ctx := context.Background()
	for _, k := range redisTrace().Names {
		if err := set(ctx, k, redisValue); err != nil {
			b.Fatalf("%s: set %s: %v", cl.name, k, err)
		}
	}
	for _, k := range redisTrace().Names {
		if _, found, err := get(ctx, k); err != nil || !found {
			b.Fatalf("%s: get %s: found %v, %v", cl.name, k, found, err)
		}
	}
	return get, set
}

func runRedisClients(b *testing.B, clients []redisClient, ops []string, goroutines []int) {
	addr := redisAddr(b)
	tr := redisTrace()
	mask := len(tr.Keys) - 1
	ctx := context.Background()
	for _, opName := range ops {
		b.Run(opName, func(b *testing.B) {
			for _, cl := range clients {
				b.Run(cl.name, func(b *testing.B) {
					get, set := openWarm(b, cl, addr)
					var f op
					switch opName {
					case "Get":
						f = func(i int) (bool, bool) {
							_, found, err := get(ctx, tr.Keys[i&mask])
							if err != nil {
								b.Fatal(err)
							}
							return found, true
						}
					case "Set":
						f = func(i int) (bool, bool) {
							if err := set(ctx, tr.Keys[i&mask], redisValue); err != nil {
								b.Fatal(err)
							}
							return false, false
						}
					}
					for _, g := range goroutines {
						if g == 1 {
							b.Run("g1", func(b *testing.B) { seq(b, f) })
						} else {
							b.Run(fmt.Sprintf("g%d", g), func(b *testing.B) { par(b, g, f) })
						}
					}
				})
			}
		})
	}
}

func BenchmarkRedis(b *testing.B) {
	runRedisClients(b, redisClients, []string{"Get", "Set"}, []int{1, 64})
}

// BenchmarkRedisClientSide compares client-side cache hits: every key was read once, so every Get
// is served from local memory. cashews-mem is the same Get on mem://, the yardstick of the target.
func BenchmarkRedisClientSide(b *testing.B) {
	b.Run("Hit", func(b *testing.B) {
		for _, cl := range cscClients {
			b.Run(cl.name, func(b *testing.B) {
				runOne(b, cl)
			})
		}
	})
}

func runOne(b *testing.B, cl redisClient) {
	addr := redisAddr(b)
	tr := redisTrace()
	mask := len(tr.Keys) - 1
	ctx := context.Background()
	get, _ := openWarm(b, cl, addr)
	f := func(i int) (bool, bool) {
		_, found, err := get(ctx, tr.Keys[i&mask])
		if err != nil {
			b.Fatal(err)
		}
		return found, true
	}
	modes(b, runtime.GOMAXPROCS(0), f)
}
