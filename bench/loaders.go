package bench

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	rediscache "github.com/go-redis/cache/v9"
	"github.com/maypok86/otter/v2"
	goredis "github.com/redis/go-redis/v9"
	"github.com/viccon/sturdyc"

	"github.com/cashews-go/cashews"
	_ "github.com/cashews-go/cashews/backends/redis" // redis:// for the Redis tier
)

// LoadFunc is a data source: what the wrapped loaders put a cache in front of.
type LoadFunc func(ctx context.Context, id int) (User, error)

// LoaderLib is one way of putting a cache in front of a [LoadFunc].
type LoaderLib struct {
	Name  string
	Ours  bool
	Redis bool // needs a Redis server
	// New returns the cached form of load, and a function that releases what it opened. addr
	// is the Redis server's host:port, for the libraries that need one.
	New func(load LoadFunc, addr string) (get LoadFunc, closeFn func(), err error)
}

// LoaderLibs returns the wrapped loaders compared, ours first. The Redis tier libraries need a
// Redis server (their Redis field is true).
func LoaderLibs() []LoaderLib {
	return []LoaderLib{
		{Name: "cashews-wrap", Ours: true, New: wrapCashews("mem://?size=100000")},
		{Name: "sturdyc", New: newSturdyc},
		{Name: "go-redis-cache-local", New: newRedisCache(true, false)},
		{Name: "otter-loader", New: newOtterLoader},
		{Name: "cashews-wrap-redis", Ours: true, Redis: true, New: wrapCashews("redis://%s/0?timeout=5s")},
		{Name: "cashews-wrap-redis-csc", Ours: true, Redis: true, New: wrapCashews("redis://%s/0?timeout=5s&client_side=true")},
		{Name: "go-redis-cache-redis", Redis: true, New: newRedisCache(false, true)},
		{Name: "go-redis-cache-both", Redis: true, New: newRedisCache(true, true)},
	}
}

// wrapCashews is cashews.Wrap with the key template "user:{.}" on a Cache set up with url (a %s
// in it is replaced by the Redis address).
func wrapCashews(url string) func(LoadFunc, string) (LoadFunc, func(), error) {
	return func(load LoadFunc, addr string) (LoadFunc, func(), error) {
		c := cashews.New()
		u := url
		if strings.Contains(url, "%s") {
			u = fmt.Sprintf(url, addr)
		}
		if err := c.Setup(u); err != nil {
			c.Close()
			return nil, nil, err
		}
		get, err := cashews.Wrap(c, load, cashews.TTL(TTL), cashews.Key("user:{.}"))
		if err != nil {
			c.Close()
			return nil, nil, err
		}
		return get, func() { c.Clear(bg); c.Close() }, nil
	}
}

// sturdyc: GetOrFetch on a Client[User] with its key built as the user would build it.
func newSturdyc(load LoadFunc, _ string) (LoadFunc, func(), error) {
	c := sturdyc.New[User](100_000, 16, TTL, 10)
	get := func(ctx context.Context, id int) (User, error) {
		return c.GetOrFetch(ctx, "user:"+strconv.Itoa(id), func(ctx context.Context) (User, error) {
			return load(ctx, id)
		})
	}
	return get, func() {}, nil
}

// go-redis/cache: Once with a TinyLFU local tier, a Redis tier, or both. Values are msgpack
// encoded, also in the local tier (that is the library's design).
func newRedisCache(local, remote bool) func(LoadFunc, string) (LoadFunc, func(), error) {
	return func(load LoadFunc, addr string) (LoadFunc, func(), error) {
		var opt rediscache.Options
		if local {
			opt.LocalCache = rediscache.NewTinyLFU(100_000, TTL)
		}
		var rdb *goredis.Client
		if remote {
			rdb = goredis.NewClient(&goredis.Options{Addr: addr})
			if err := rdb.Ping(bg).Err(); err != nil {
				rdb.Close()
				return nil, nil, err
			}
			opt.Redis = rdb
		}
		cd := rediscache.New(&opt)
		get := func(ctx context.Context, id int) (User, error) {
			var u User
			err := cd.Once(&rediscache.Item{
				Ctx:   ctx,
				Key:   "user:" + strconv.Itoa(id),
				Value: &u,
				TTL:   TTL,
				Do: func(it *rediscache.Item) (any, error) {
					return load(it.Context(), id)
				},
			})
			return u, err
		}
		closeFn := func() {
			if rdb != nil {
				rdb.FlushDB(bg)
				rdb.Close()
			}
		}
		return get, closeFn, nil
	}
}

// otter v2's Get with a Loader (not named in issue 7; shown because it is the fastest in-memory
// peer with a deduplicating loader). Its key is the int itself: no string to build.
func newOtterLoader(load LoadFunc, _ string) (LoadFunc, func(), error) {
	c, err := otter.New(&otter.Options[int, User]{
		MaximumSize:      100_000,
		ExpiryCalculator: otter.ExpiryWriting[int, User](TTL),
	})
	if err != nil {
		return nil, nil, err
	}
	loader := otter.LoaderFunc[int, User](func(ctx context.Context, id int) (User, error) { return load(ctx, id) })
	get := func(ctx context.Context, id int) (User, error) { return c.Get(ctx, id, loader) }
	return get, func() { c.StopAllGoroutines() }, nil
}

// ColdKeys is the number of distinct cold keys [ColdKeyLoads] tries.
const ColdKeys = 5

// ColdKeyLoads starts callers goroutines that call the cached loader of lib for the same cold key
// at once (they wait on one barrier), for [ColdKeys] keys in turn, and returns how many times the
// source ran in all and the number of calls that failed. The source takes sourceDelay, as a
// database would, so that the callers overlap it. addr is the Redis server for libraries that
// need one.
func ColdKeyLoads(lib LoaderLib, callers int, sourceDelay time.Duration, addr string) (runs int, failed int, err error) {
	var mu sync.Mutex
	load := func(ctx context.Context, id int) (User, error) {
		mu.Lock()
		runs++
		mu.Unlock()
		select {
		case <-time.After(sourceDelay):
		case <-ctx.Done():
			return User{}, ctx.Err()
		}
		return User{ID: id, Name: "user " + strconv.Itoa(id)}, nil
	}
	get, closeFn, err := lib.New(load, addr)
	if err != nil {
		return 0, 0, err
	}
	defer closeFn()
	ctx, cancel := context.WithTimeout(bg, time.Minute)
	defer cancel()
	var errs []error
	for k := range ColdKeys {
		id := 1_000_000 + k
		start := make(chan struct{})
		var wg sync.WaitGroup
		for range callers {
			wg.Go(func() {
				<-start
				u, err := get(ctx, id)
				if err == nil && u.ID != id {
					err = fmt.Errorf("got user %d, want %d", u.ID, id)
				}
				if err != nil {
					mu.Lock()
					failed++
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
	}
	mu.Lock()
	defer mu.Unlock()
	if len(errs) > 0 {
		return runs, failed, fmt.Errorf("%d of %d calls failed; first: %w", failed, callers*ColdKeys, errs[0])
	}
	return runs, failed, nil
}
