package crossbackend_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/backends/backendtest"
	_ "github.com/cashews-go/cashews/backends/disk"
	_ "github.com/cashews-go/cashews/backends/redis"
	_ "github.com/cashews-go/cashews/backends/redis/goredis" // driver=go-redis
	"github.com/cashews-go/cashews/internal/redistest"
)

const testSecret = "0123456789abcdef0123456789abcdef"

// setup is one backend configuration the stored-value tests run on.
type setup struct {
	name   string
	bytes  bool // a byte backend (values are encoded)
	secret bool // set up with secret=
	url    func(t testing.TB) string
	redis  func() *redistest.Server // the server of a Redis setup, once url has run
	logs   *syncBuffer              // what the Cache logged
	url0   string                   // the URL the last forEachSetup set up
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func diskURL(t testing.TB, params string) string {
	return "disk://" + (&url.URL{Path: filepath.Join(t.TempDir(), "cache")}).String() + "?shards=2" + params
}

// setups returns every backend configuration: mem:// in both modes, disk and Redis, each byte
// backend with and without a secret.
func setups() []*setup {
	var out []*setup
	out = append(out,
		&setup{name: "mem", url: func(testing.TB) string { return "mem://" }},
		&setup{name: "mem-copy", bytes: true, url: func(testing.TB) string { return "mem://?copy=true" }},
		&setup{name: "mem-copy-secret", bytes: true, secret: true, url: func(testing.TB) string { return "mem://?copy=true&secret=" + testSecret }},
		&setup{name: "disk", bytes: true, url: func(t testing.TB) string { return diskURL(t, "") }},
		&setup{name: "disk-secret", bytes: true, secret: true, url: func(t testing.TB) string { return diskURL(t, "&secret="+testSecret) }},
	)
	for _, secret := range []bool{false, true} {
		s := &setup{name: "redis", bytes: true, secret: secret}
		if secret {
			s.name = "redis-secret"
		}
		var srv *redistest.Server
		s.redis = func() *redistest.Server { return srv }
		s.url = func(t testing.TB) string {
			srv = redistest.Start(t)
			u := srv.URL() + "?timeout=15s&dial_timeout=15s"
			if secret {
				u += "&secret=" + testSecret
			}
			return u
		}
		out = append(out, s)
	}
	return out
}

// forEachSetup runs test on a new Cache for every setup that keep accepts (nil: every one).
func forEachSetup(t *testing.T, keep func(*setup) bool, test func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock, s *setup)) {
	for _, s := range setups() {
		if keep != nil && !keep(s) {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			clock := backendtest.NewClock()
			s.logs = &syncBuffer{}
			c := cashews.New(cashews.WithClock(clock), cashews.WithLogger(slog.New(slog.NewTextHandler(s.logs, nil))))
			t.Cleanup(func() { c.Close() })
			s.url0 = s.url(t)
			if err := c.Setup(s.url0); err != nil {
				t.Fatal(err)
			}
			test(t, c, clock, s)
		})
	}
}

func signed(s *setup) bool { return s.secret }

// newCache returns a Cache with a fake clock and the backends of urls ("prefix=url" routes a prefix).
func newCache(t testing.TB, urls ...string) (*cashews.Cache, *backendtest.Clock) {
	t.Helper()
	clock := backendtest.NewClock()
	c := cashews.New(cashews.WithClock(clock))
	t.Cleanup(func() { c.Close() })
	for _, u := range urls {
		var opts []cashews.SetupOption
		if p, rest, ok := strings.Cut(u, "="); ok && !strings.Contains(p, "://") {
			opts, u = append(opts, cashews.WithPrefix(p)), rest
		}
		if err := c.Setup(u, opts...); err != nil {
			t.Fatalf("Setup(%q): %v", u, err)
		}
	}
	return c, clock
}

type query struct {
	ID   int
	Lang string
}

func counted(runs *atomic.Int64) func(context.Context, query) (string, error) {
	return func(ctx context.Context, q query) (string, error) {
		runs.Add(1)
		return fmt.Sprintf("user %d %s", q.ID, q.Lang), nil
	}
}

// TestForgedValues: under a secret, a value another client wrote without the secret never decodes,
// counters included, whichever type it is read as.
func TestForgedValues(t *testing.T) {
	forEachSetup(t, signed, func(t *testing.T, c *cashews.Cache, _ *backendtest.Clock, s *setup) {
		ctx := context.Background()
		// forge writes raw bytes at key, as a client without the secret does.
		forge := func(key, raw string) {
			t.Helper()
			if srv := s.redis; srv != nil && srv() != nil {
				srv().MustDo("SET", key, raw)
				return
			}
			if _, err := c.SetRaw(ctx, key, raw, 0); err != nil {
				t.Fatal(err)
			}
		}
		mustSet(t, c, "k", "alpha")
		forge("k", "12345")
		if v, found, err := cashews.Get[string](ctx, c, "k"); !errors.Is(err, cashews.ErrTampered) {
			t.Errorf("Get[string] of a forged counter = %q, %v, %v; want ErrTampered", v, found, err)
		}
		if v, found, err := cashews.Get[any](ctx, c, "k"); !errors.Is(err, cashews.ErrTampered) {
			t.Errorf("Get[any] of a forged counter = %v, %v, %v; want ErrTampered", v, found, err)
		}
		if v, found, err := cashews.Get[int64](ctx, c, "k"); !errors.Is(err, cashews.ErrTampered) {
			t.Errorf("Get[int64] of a forged counter = %v, %v, %v; want ErrTampered", v, found, err)
		}
		// GetOrSet never serves the forged value: it fails, or it loads and replaces it.
		v, err := cashews.GetOrSet(ctx, c, "k", time.Hour, func(context.Context) (string, error) { return "loaded", nil })
		if v == "12345" || (err != nil && !errors.Is(err, cashews.ErrTampered)) || (err == nil && v != "loaded") {
			t.Errorf("GetOrSet over a forged counter = %q, %v; want ErrTampered or the loaded value", v, err)
		}

		// A signed counter replaced with another number.
		mustSet(t, c, "n", 7)
		if n, _, err := cashews.Get[int64](ctx, c, "n"); n != 7 || err != nil {
			t.Fatalf("Get[int64] of a signed 7 = %d, %v", n, err)
		}
		forge("n", "-999999")
		if n, found, err := cashews.Get[int64](ctx, c, "n"); !errors.Is(err, cashews.ErrTampered) {
			t.Errorf("Get[int64] of a forged -999999 = %d, %v, %v; want ErrTampered", n, found, err)
		}
		if n, err := c.Incr(ctx, "n", 1, 0); !errors.Is(err, cashews.ErrTampered) || !errors.Is(err, cashews.ErrNotInteger) {
			t.Errorf("Incr of a forged counter = %d, %v; want ErrTampered and ErrNotInteger", n, err)
		}
		// Forged between two increments (the second starts from the counter the first wrote).
		for i := 1; i <= 2; i++ {
			if n, err := c.Incr(ctx, "m", 1, 0); n != int64(i) || err != nil {
				t.Fatalf("Incr %d = %d, %v", i, n, err)
			}
		}
		forge("m", "1000")
		if n, err := c.Incr(ctx, "m", 1, 0); !errors.Is(err, cashews.ErrTampered) {
			t.Errorf("Incr after a forged write = %d, %v; want ErrTampered", n, err)
		}

		// Every value that fails verification is ErrTampered, not ErrFormat.
		mustSet(t, c, "v", "value")
		good, _, err := c.GetRaw(ctx, "v")
		if err != nil {
			t.Fatal(err)
		}
		changed := append([]byte{0x02}, good.([]byte)[1:]...)
		for name, raw := range map[string]string{
			"changed version byte": string(changed),
			"empty value":          "",
			"no header":            "value",
			"json":                 `"value"`,
		} {
			forge("v", raw)
			if v, found, err := cashews.Get[string](ctx, c, "v"); !errors.Is(err, cashews.ErrTampered) || errors.Is(err, cashews.ErrFormat) {
				t.Errorf("%s: Get = %q, %v, %v; want ErrTampered, not ErrFormat", name, v, found, err)
			}
		}
	})
}

func mustSet(t *testing.T, c *cashews.Cache, key string, v any) {
	t.Helper()
	if ok, err := c.Set(context.Background(), key, v, 0); !ok || err != nil {
		t.Fatalf("Set(%q, %v) = %v, %v", key, v, ok, err)
	}
}

// TestCountersSeededBySet: an integer stored by Set is a counter Incr accepts, on every backend, and
// so is SetRaw's decimal text (except under a secret, where raw values are not signed).
func TestCountersSeededBySet(t *testing.T) {
	forEachSetup(t, nil, func(t *testing.T, c *cashews.Cache, _ *backendtest.Clock, s *setup) {
		ctx := context.Background()
		for i, seed := range []any{10, int64(10), uint8(10), int32(10), time.Duration(10)} {
			key := fmt.Sprintf("n%d", i)
			mustSet(t, c, key, seed)
			if n, err := c.Incr(ctx, key, 1, 0); n != 11 || err != nil {
				t.Errorf("Set(%T(10)) then Incr = %d, %v; want 11", seed, n, err)
			}
			if n, found, err := cashews.Get[int](ctx, c, key); n != 11 || !found || err != nil {
				t.Errorf("Get[int] after Incr = %d, %v, %v; want 11", n, found, err)
			}
			if v, _, err := cashews.Get[string](ctx, c, key); !errors.Is(err, cashews.ErrWrongType) {
				t.Errorf("Get[string] of a counter = %q, %v; want ErrWrongType", v, err)
			}
		}
		// A string is not a counter, whatever its text.
		mustSet(t, c, "s", "10")
		if n, err := c.Incr(ctx, "s", 1, 0); !errors.Is(err, cashews.ErrNotInteger) {
			t.Errorf("Set(\"10\") then Incr = %d, %v; want ErrNotInteger", n, err)
		}
		// Decimal text written raw is a counter, unless a secret says every value must be signed.
		for _, raw := range []any{"10", []byte("10")} {
			if _, err := c.SetRaw(ctx, "raw", raw, 0); err != nil {
				t.Fatal(err)
			}
			n, err := c.Incr(ctx, "raw", 1, 0)
			switch {
			case s.secret && (!errors.Is(err, cashews.ErrTampered) || !errors.Is(err, cashews.ErrNotInteger)):
				t.Errorf("SetRaw(%q) then Incr under a secret = %d, %v; want ErrTampered and ErrNotInteger", raw, n, err)
			case !s.secret && (n != 11 || err != nil):
				t.Errorf("SetRaw(%q) then Incr = %d, %v; want 11", raw, n, err)
			}
			if !s.secret {
				if got, _, err := cashews.Get[int64](ctx, c, "raw"); got != 11 || err != nil {
					t.Errorf("Get[int64] after SetRaw and Incr = %d, %v", got, err)
				}
			}
		}
	})
}

// TestSignedIncr: under a secret Incr is still atomic, creates with the TTL, keeps the TTL, and
// refuses what Incr refuses elsewhere.
func TestSignedIncr(t *testing.T) {
	check := func(t *testing.T, c *cashews.Cache) {
		ctx := context.Background()
		const workers, each = 8, 40
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for range each {
					if _, err := c.Incr(ctx, "hits", 1, time.Hour); err != nil {
						t.Errorf("Incr: %v", err)
						return
					}
				}
			})
		}
		wg.Wait()
		if n, found, err := cashews.Get[int64](ctx, c, "hits"); n != workers*each || !found || err != nil {
			t.Errorf("after %d concurrent Incr, Get = %d, %v, %v", workers*each, n, found, err)
		}
		if ttl, found, err := c.GetExpire(ctx, "hits"); !found || err != nil || ttl <= 0 || ttl > time.Hour {
			t.Errorf("GetExpire of a counter created with a TTL of 1h = %v, %v, %v", ttl, found, err)
		}
		if n, err := c.Incr(ctx, "hits", -workers*each, time.Minute); n != 0 || err != nil {
			t.Errorf("Incr(-%d) = %d, %v; want 0", workers*each, n, err)
		}
		if ttl, _, _ := c.GetExpire(ctx, "hits"); ttl <= time.Minute {
			t.Errorf("a later Incr with another TTL changed the TTL to %v; want the first one kept", ttl)
		}
		mustSet(t, c, "max", int64(1<<63-1))
		if n, err := c.Incr(ctx, "max", 1, 0); !errors.Is(err, cashews.ErrInvalidArgument) {
			t.Errorf("Incr past MaxInt64 = %d, %v; want ErrInvalidArgument", n, err)
		}
		mustSet(t, c, "text", "abc")
		if n, err := c.Incr(ctx, "text", 1, 0); !errors.Is(err, cashews.ErrNotInteger) || errors.Is(err, cashews.ErrTampered) {
			t.Errorf("Incr of a signed string = %d, %v; want ErrNotInteger only", n, err)
		}
		if _, err := c.SetAdd(ctx, "set", 0, "m"); err != nil {
			t.Fatal(err)
		}
		if n, err := c.Incr(ctx, "set", 1, 0); !errors.Is(err, cashews.ErrWrongType) {
			t.Errorf("Incr of a set = %d, %v; want ErrWrongType", n, err)
		}
	}
	forEachSetup(t, signed, func(t *testing.T, c *cashews.Cache, _ *backendtest.Clock, _ *setup) { check(t, c) })
	t.Run("redis-cluster-secret", func(t *testing.T) {
		cl := redistest.StartCluster(t, 3)
		c := cashews.New()
		t.Cleanup(func() { c.Close() })
		if err := c.Setup(cl.URL() + "&timeout=15s&dial_timeout=15s&secret=" + testSecret); err != nil {
			t.Fatal(err)
		}
		check(t, c)
	})
}

// TestSignedIncrAcrossCaches: two Caches sharing a store (two processes, as far as the store can
// tell) increment one signed counter at once; compare-and-swap loses no increment.
func TestSignedIncrAcrossCaches(t *testing.T) {
	urls := map[string]func(t *testing.T) string{
		"disk-secret": func(t *testing.T) string { return diskURL(t, "&secret="+testSecret) },
		"redis-secret": func(t *testing.T) string {
			return redistest.Start(t).URL() + "?timeout=15s&dial_timeout=15s&secret=" + testSecret
		},
	}
	for name, u := range urls {
		t.Run(name, func(t *testing.T) {
			url := u(t)
			caches := make([]*cashews.Cache, 2)
			for i := range caches {
				caches[i] = cashews.New()
				t.Cleanup(func() { caches[i].Close() })
				if err := caches[i].Setup(url); err != nil {
					t.Fatal(err)
				}
			}
			const each = 4 // goroutines per Cache
			const n = 30   // increments per goroutine
			var wg sync.WaitGroup
			for _, c := range caches {
				for range each {
					wg.Go(func() {
						for range n {
							if _, err := c.Incr(context.Background(), "shared", 1, 0); err != nil {
								t.Errorf("Incr: %v", err)
								return
							}
						}
					})
				}
			}
			wg.Wait()
			if got, _, err := cashews.Get[int](context.Background(), caches[0], "shared"); got != len(caches)*each*n || err != nil {
				t.Errorf("after %d increments from two Caches, Get = %d, %v", len(caches)*each*n, got, err)
			}
		})
	}
}

// TestBulkReadsSkipNonValues: GetMany and GetMatch leave out keys that hold no value, on every
// backend, and keep the values.
func TestBulkReadsSkipNonValues(t *testing.T) {
	forEachSetup(t, nil, func(t *testing.T, c *cashews.Cache, _ *backendtest.Clock, s *setup) {
		ctx := context.Background()
		if _, err := c.Incr(ctx, "a", 1, 0); err != nil {
			t.Fatal(err)
		}
		for _, idx := range [][]int64{{7}, {8}, {20}} { // 0x01 0x80: the start of a signed value's header
			if _, err := c.IncrBits(ctx, "b", 1, 1, idx...); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := c.SetAdd(ctx, "s", 0, "m"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.SliceIncr(ctx, "w", time.Minute, 10); err != nil {
			t.Fatal(err)
		}
		mustSet(t, c, "v", "value")
		failing := cashews.MustWrap(c, func(context.Context, int) (string, error) { return "", errBoom },
			cashews.TTL(time.Hour), cashews.Key("e"), cashews.StoreErrors(errBoom))
		failing(ctx, 1)

		got, err := cashews.GetMany[any](ctx, c, "a", "b", "s", "w", "v", "e", "missing")
		want := map[string]any{"a": int64(1), "v": "value"}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("GetMany[any] = %#v, %v; want %#v", got, err, want)
		}
		matched := map[string]any{}
		for kv, err := range cashews.GetMatch[any](ctx, c, "*") {
			if err != nil {
				t.Fatalf("GetMatch[any](*): %v", err)
			}
			matched[kv.Key] = kv.Value
		}
		if !reflect.DeepEqual(matched, want) {
			t.Errorf("GetMatch[any](*) = %#v; want %#v", matched, want)
		}
		// Under a secret, the bit array that starts like a signed value is logged as one that fails
		// its check, once per burst; nothing else is.
		logged := strings.Count(s.logs.String(), "fails its signature check")
		if wantLogged := map[bool]int{false: 0, true: 1}[s.secret && s.bytes && !strings.HasPrefix(s.name, "mem")]; logged != wantLogged {
			t.Errorf("%d records of values failing their signature check; want %d:\n%s", logged, wantLogged, s.logs.String())
		}
		// A value of another type is still an error, as for Get.
		if got, err := cashews.GetMany[string](ctx, c, "a", "v"); !errors.Is(err, cashews.ErrWrongType) {
			t.Errorf("GetMany[string] over a counter = %v, %v; want ErrWrongType", got, err)
		}
	})
}

var errBoom = errors.New("boom")

type point struct{ X, Y int }
type otherPoint struct{ X, Y int }

// TestTypedReadsEverywhere: Get[T] gives the same answer on every backend.
func TestTypedReadsEverywhere(t *testing.T) {
	forEachSetup(t, nil, func(t *testing.T, c *cashews.Cache, _ *backendtest.Clock, s *setup) {
		ctx := context.Background()
		mustSet(t, c, "p", point{1, 2})
		if p, found, err := cashews.Get[point](ctx, c, "p"); p != (point{1, 2}) || !found || err != nil {
			t.Errorf("Get[point] = %v, %v, %v", p, found, err)
		}
		wrong := map[string]func() error{
			"*point":     func() error { _, _, err := cashews.Get[*point](ctx, c, "p"); return err },
			"otherPoint": func() error { _, _, err := cashews.Get[otherPoint](ctx, c, "p"); return err },
			"string":     func() error { _, _, err := cashews.Get[string](ctx, c, "p"); return err },
			"int":        func() error { _, _, err := cashews.Get[int](ctx, c, "p"); return err },
		}
		for name, try := range wrong {
			if err := try(); !errors.Is(err, cashews.ErrWrongType) {
				t.Errorf("Get[%s] of a point = %v; want ErrWrongType", name, err)
			}
		}
		mustSet(t, c, "pp", &point{3, 4})
		if p, _, err := cashews.Get[*point](ctx, c, "pp"); err != nil || p == nil || *p != (point{3, 4}) {
			t.Errorf("Get[*point] of a *point = %v, %v", p, err)
		}
		if _, _, err := cashews.Get[point](ctx, c, "pp"); !errors.Is(err, cashews.ErrWrongType) {
			t.Errorf("Get[point] of a *point = %v; want ErrWrongType", err)
		}
		mustSet(t, c, "n", 300)
		if n, _, err := cashews.Get[uint16](ctx, c, "n"); n != 300 || err != nil {
			t.Errorf("Get[uint16] of an int = %d, %v", n, err)
		}
		if n, _, err := cashews.Get[int8](ctx, c, "n"); !errors.Is(err, cashews.ErrWrongType) {
			t.Errorf("Get[int8] of 300 = %d, %v; want ErrWrongType", n, err)
		}
		mustSet(t, c, "nil", nil)
		if p, found, err := cashews.Get[*point](ctx, c, "nil"); p != nil || !found || err != nil {
			t.Errorf("Get[*point] of nil = %v, %v, %v; want nil, true, nil", p, found, err)
		}
		if n, _, err := cashews.Get[int](ctx, c, "nil"); !errors.Is(err, cashews.ErrWrongType) {
			t.Errorf("Get[int] of nil = %d, %v; want ErrWrongType", n, err)
		}

		// What Get[any] gives: the stored Go value on mem://, the codec's generic value elsewhere.
		wantAny := any(point{1, 2})
		wantInt := any(300)
		if s.bytes {
			wantAny, wantInt = map[string]any{"X": 1.0, "Y": 2.0}, int64(300)
		}
		if v, _, err := cashews.Get[any](ctx, c, "p"); !reflect.DeepEqual(v, wantAny) || err != nil {
			t.Errorf("Get[any] of a point = %#v, %v; want %#v", v, err, wantAny)
		}
		if v, _, err := cashews.Get[any](ctx, c, "n"); !reflect.DeepEqual(v, wantInt) || err != nil {
			t.Errorf("Get[any] of an int = %#v, %v; want %#v", v, err, wantInt)
		}

		// Values another version wrote, without a recorded type, keep decoding.
		if s.bytes && !s.secret {
			if _, err := c.SetRaw(ctx, "old", "\x01\x00"+`{"X":5,"Y":6}`, 0); err != nil {
				t.Fatal(err)
			}
			if p, _, err := cashews.Get[point](ctx, c, "old"); p != (point{5, 6}) || err != nil {
				t.Errorf("Get[point] of a value without a recorded type = %v, %v", p, err)
			}
		}
	})
}

// TestWrapEntriesReadableByKey: Get[R] at a wrapped function's key returns its result, and a Set of
// an R there is served by the wrapped function, on every backend.
func TestWrapEntriesReadableByKey(t *testing.T) {
	forEachSetup(t, nil, func(t *testing.T, c *cashews.Cache, clock *backendtest.Clock, s *setup) {
		ctx := context.Background()
		var runs atomic.Int64
		get := cashews.MustWrap(c, counted(&runs), cashews.TTL(time.Hour), cashews.Key("q:{ID}:{Lang:lower}"))
		if v, err := get(ctx, query{1, "EN"}); v != "user 1 EN" || err != nil {
			t.Fatalf("first call = %q, %v", v, err)
		}
		if v, found, err := cashews.Get[string](ctx, c, "q:1:en"); v != "user 1 EN" || !found || err != nil {
			t.Errorf("Get[string] at the wrapped function's key = %q, %v, %v; want its result", v, found, err)
		}
		if v, _, err := cashews.Get[int](ctx, c, "q:1:en"); !errors.Is(err, cashews.ErrWrongType) {
			t.Errorf("Get[int] at the wrapped function's key = %d, %v; want ErrWrongType", v, err)
		}
		got, err := cashews.GetMany[string](ctx, c, "q:1:en", "q:9:en")
		if err != nil || !reflect.DeepEqual(got, map[string]string{"q:1:en": "user 1 EN"}) {
			t.Errorf("GetMany[string] over a wrapped function's keys = %v, %v", got, err)
		}

		mustSet(t, c, "q:2:en", "preset")
		before := runs.Load()
		if v, err := get(ctx, query{2, "EN"}); v != "preset" || err != nil || runs.Load() != before {
			t.Errorf("call at a key Set stored = %q, %v (runs %d -> %d); want the stored value, without running", v, err, before, runs.Load())
		}
		// A value of another type there is recomputed and replaced.
		mustSet(t, c, "q:3:en", 42)
		if v, err := get(ctx, query{3, "EN"}); v != "user 3 EN" || err != nil || runs.Load() != before+1 {
			t.Errorf("call at a key holding an int = %q, %v; want the function's result", v, err)
		}
		// An entry past its expiry by the Cache's clock is a miss for Get too.
		clock.Advance(2 * time.Hour)
		if v, found, err := cashews.Get[string](ctx, c, "q:1:en"); found || err != nil {
			t.Errorf("Get after the entry's TTL by the Cache's clock = %q, %v, %v; want a miss", v, found, err)
		}
	})
}

var errCustom = errors.New("custom")

// TestReplayedErrorsAlike: a stored error replays with the same identity on every backend.
func TestReplayedErrorsAlike(t *testing.T) {
	forEachSetup(t, nil, func(t *testing.T, c *cashews.Cache, _ *backendtest.Clock, s *setup) {
		ctx := context.Background()
		fail := func(context.Context, int) (string, error) { return "", fmt.Errorf("lookup 1: %w", errCustom) }
		storeAll := func(_ any, err error) cashews.Decision {
			if err != nil {
				return cashews.StoreError
			}
			return cashews.StoreValue
		}
		custom := cashews.MustWrap(c, fail, cashews.TTL(time.Hour), cashews.Key("c:{.}"), cashews.StoreIf(storeAll))
		listed := cashews.MustWrap(c, fail, cashews.TTL(time.Hour), cashews.Key("l:{.}"), cashews.StoreErrors(errCustom))
		for name, f := range map[string]func(context.Context, int) (string, error){"custom": custom, "listed": listed} {
			if _, err := f(ctx, 1); !errors.Is(err, errCustom) {
				t.Fatalf("%s: first call = %v; want the function's own error", name, err)
			}
			_, err := f(ctx, 1) // a hit
			var re *cashews.ReplayedError
			if !errors.As(err, &re) || err.Error() != "lookup 1: custom" {
				t.Errorf("%s: replayed error = %T %v; want a *ReplayedError with the original message", name, err, err)
			}
			if want := name == "listed"; errors.Is(err, errCustom) != want {
				t.Errorf("%s: errors.Is(replayed, errCustom) = %v; want %v (a target given to StoreErrors)", name, !want, want)
			}
		}
		if _, _, err := cashews.Get[string](ctx, c, "l:1"); !errors.Is(err, cashews.ErrWrongType) {
			t.Errorf("Get at a key holding an error result = %v; want ErrWrongType", err)
		}
	})
}

// TestUnstorableResults: a result type the codec cannot encode is rejected at Wrap; what only run
// time shows is logged once per burst and counted, and the caller still gets the result.
func TestUnstorableResults(t *testing.T) {
	type withChan struct {
		Name string
		C    chan int
	}
	fn := func(context.Context, int) (withChan, error) { return withChan{Name: "x"}, nil }

	c, _ := newCache(t, "mem://", "b:=mem://?copy=true", "g:=mem://?copy=true&codec=gob")
	for key, bad := range map[string]bool{"a:{.}": false, "b:{.}": true, "{.}": true, "g:{.}": false, "b{{x}}:{.}": false} {
		_, err := cashews.Wrap(c, fn, cashews.TTL(time.Hour), cashews.Key(key))
		if bad && (!errors.Is(err, cashews.ErrConfig) || !strings.Contains(err.Error(), "chan int at .C")) {
			t.Errorf("Wrap with Key %q (keys may go to b:, json) = %v; want ErrConfig naming the chan field", key, err)
		}
		if !bad && err != nil {
			t.Errorf("Wrap with Key %q = %v; want nil", key, err)
		}
	}
	if _, err := cashews.Wrap(c, fn, cashews.TTL(time.Hour), cashews.Name("fn"), cashews.KeyPrefix("b:")); !errors.Is(err, cashews.ErrConfig) {
		t.Errorf("Wrap with the default key under KeyPrefix(b:) = %v; want ErrConfig", err)
	}

	// What the type does not show: an interface field holding a chan.
	type holder struct{ V any }
	var logs bytes.Buffer
	clock := backendtest.NewClock()
	c2 := cashews.New(cashews.WithClock(clock), cashews.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	t.Cleanup(func() { c2.Close() })
	if err := c2.Setup("mem://?copy=true"); err != nil {
		t.Fatal(err)
	}
	get := cashews.MustWrap(c2, func(_ context.Context, i int) (holder, error) { return holder{V: make(chan int)}, nil },
		cashews.TTL(time.Hour), cashews.Key("h:{.}"))
	ctx := context.Background()
	for i := range 3 {
		if v, err := get(ctx, i); err != nil || v.V == nil {
			t.Fatalf("call %d = %v, %v; want the result despite the failed store", i, v, err)
		}
	}
	if n := c2.EncodeErrors(); n != 3 {
		t.Errorf("EncodeErrors() = %d after 3 failed stores; want 3", n)
	}
	if n := strings.Count(logs.String(), "could not be stored"); n != 1 {
		t.Errorf("%d log records for a burst of 3 failures; want 1:\n%s", n, logs.String())
	}
	clock.Advance(11 * time.Second)
	get(ctx, 9)
	if n := strings.Count(logs.String(), "could not be stored"); n != 2 || !strings.Contains(logs.String(), "unlogged_since_last_record=2") {
		t.Errorf("after the burst, %d records; want 2, the second counting the 2 unlogged:\n%s", n, logs.String())
	}
}
