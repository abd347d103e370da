package cashews_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/backends/backendtest"
)

// newCache returns a Cache on a fake clock with the given setup URLs, each "prefix=url" or a bare
// URL for the default route, closed at the end of the test.
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

func TestSetupParams(t *testing.T) {
	good := []string{
		"mem://",
		"mem://?size=100",
		"mem://?size=100&max_bytes=64MiB&check_interval=1d2h",
		"mem://?enable=true",
		"mem://?enable=0",
		"mem://?disable=yes",
		"mem://?disable=off",
		"mem://?suppress",
		"mem://?suppress=TRUE",
		"mem://?copy=true&codec=gob",
		"mem://?copy=true&codec=json&compress=gzip&compress_min=10",
		"mem://?copy=true&compress=zlib",
		"mem://?copy=true&secret=s3cret",
		"mem://?copy=true&secret=s3cret&digest=sha512",
		"mem://?copy=true&codec=raw",
	}
	for _, u := range good {
		t.Run(u, func(t *testing.T) {
			c := cashews.New()
			defer c.Close()
			if err := c.Setup(u); err != nil {
				t.Fatalf("Setup(%q) = %v; want nil", u, err)
			}
		})
	}

	bad := []struct {
		url  string
		want string // a part of the error message that names the problem
	}{
		{"redis://localhost", `add import _ "github.com/cashews-go/cashews/backends/redis"`},
		{"disk:///tmp/x", `backends/disk`},
		{"foo://", `unknown URL scheme "foo"`},
		{"localhost:6379", `unknown URL scheme "localhost"`},
		{"/just/a/path", `has no scheme`},
		{"mem://?sise=10", `unknown URL parameter "sise"`},
		{"mem://?size=10&a=1&b=2", `"a", "b"`},
		{"mem://?size=ten", `size="ten"`},
		{"mem://?size=1&size=2", `"size" is given 2 times`},
		{"mem://?enable=maybe", `enable="maybe"`},
		{"mem://?suppress=2", `suppress="2"`},
		{"mem://?check_interval=5", `check_interval="5"`},
		{"mem://?check_interval=1x", `check_interval="1x"`},
		{"mem://?max_bytes=12XB", `max_bytes="12XB"`},
		{"mem://?secret=x", `keeps Go values`},
		{"mem://?codec=json", `keeps Go values`},
		{"mem://?copy=true&codec=yaml", `yaml`},
		{"mem://?copy=true&compress=lz4", `lz4`},
		{"mem://?copy=true&secret=x&digest=md5", `md5`},
		{"mem://?copy=true&compress_min=-1", `compress_min`},
		{"mem://?%zz", `invalid URL escape`},
	}
	for _, tt := range bad {
		t.Run(tt.url, func(t *testing.T) {
			c := cashews.New()
			defer c.Close()
			err := c.Setup(tt.url)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Setup(%q) = %v; want an error containing %q", tt.url, err, tt.want)
			}
		})
	}
}

func TestSetupRedactsSecrets(t *testing.T) {
	c := cashews.New()
	defer c.Close()
	err := c.Setup("mem://?secret=hunter2&unknown=1")
	if err == nil {
		t.Fatal("Setup with an unknown parameter succeeded")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error %q shows the secret", err)
	}
}

func TestRoutingByLongestPrefix(t *testing.T) {
	c, _ := newCache(t, "mem://", "user:=mem://", "user:admin:=mem://")
	ctx := context.Background()
	var seen []string
	c.OnCommand(func(ctx context.Context, call *cashews.Call, res cashews.Result, err error) {
		seen = append(seen, call.Key()+"->"+call.Prefix())
	}, cashews.CmdSet)
	for _, k := range []string{"other", "user:1", "user:admin:2", "user:adm"} {
		if _, err := c.Set(ctx, k, k, 0); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"other->", "user:1->user:", "user:admin:2->user:admin:", "user:adm->user:"}
	if strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Fatalf("routes = %v; want %v", seen, want)
	}
	// The prefix stays part of the key.
	for _, k := range []string{"other", "user:1", "user:admin:2"} {
		v, found, err := cashews.Get[string](ctx, c, k)
		if err != nil || !found || v != k {
			t.Fatalf("Get(%q) = %q, %v, %v; want %q, true, nil", k, v, found, err, k)
		}
	}
}

func TestNoBackendForKey(t *testing.T) {
	c, _ := newCache(t, "user:=mem://")
	_, err := c.Set(context.Background(), "order:1", 1, 0)
	if !errors.Is(err, cashews.ErrNoBackend) || !strings.Contains(err.Error(), `"order:1"`) {
		t.Fatalf("Set on an unrouted key = %v; want ErrNoBackend naming the key", err)
	}
	_, _, err = cashews.Get[int](context.Background(), c, "order:1")
	if !errors.Is(err, cashews.ErrNoBackend) {
		t.Fatalf("Get on an unrouted key = %v; want ErrNoBackend", err)
	}
}

func TestSetupSamePrefixTwice(t *testing.T) {
	c, _ := newCache(t, "mem://")
	if err := c.Setup("mem://"); err == nil || !strings.Contains(err.Error(), "already set up") {
		t.Fatalf("second Setup for the same prefix = %v; want an error", err)
	}
}

func TestCloseIsIdempotentAndStopsGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	c := cashews.New()
	if err := c.Setup("mem://?check_interval=1ms"); err != nil {
		t.Fatal(err)
	}
	if err := c.Setup("mem://?check_interval=1ms", cashews.WithPrefix("a:")); err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	if !c.Go(func(ctx context.Context) { close(started); <-ctx.Done() }) {
		t.Fatal("Go refused before Close")
	}
	<-started
	if err := c.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close = %v; want nil", err)
	}
	if c.Go(func(context.Context) {}) {
		t.Fatal("Go ran after Close")
	}
	if _, err := c.Set(context.Background(), "k", 1, 0); !errors.Is(err, cashews.ErrClosed) {
		t.Fatalf("Set after Close = %v; want ErrClosed", err)
	}
	if err := c.Setup("mem://"); !errors.Is(err, cashews.ErrClosed) {
		t.Fatalf("Setup after Close = %v; want ErrClosed", err)
	}
	// The janitors and the background goroutine are gone.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		runtime.Gosched()
		time.Sleep(time.Millisecond) // polling for goroutine exit, not waiting for a TTL
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("goroutines after Close = %d; want <= %d", n, before)
	}
}

func TestDisableEnable(t *testing.T) {
	c, _ := newCache(t, "mem://", "off:=mem://?disable=true")
	ctx := context.Background()
	if ok, err := c.Set(ctx, "off:1", 1, 0); ok || err != nil {
		t.Fatalf("Set on a disabled backend = %v, %v; want false, nil", ok, err)
	}
	if _, err := c.Set(ctx, "k", 1, 0); err != nil {
		t.Fatal(err)
	}

	c.Disable(cashews.CmdGet)
	if _, found, err := cashews.Get[int](ctx, c, "k"); found || err != nil {
		t.Fatalf("Get with get disabled = %v, %v; want a miss", found, err)
	}
	if ok, _ := c.Exists(ctx, "k"); !ok {
		t.Fatal("Exists disabled along with Get")
	}
	if c.IsEnabled(ctx, "k", cashews.CmdGet) {
		t.Fatal("IsEnabled(get) = true after Disable(get)")
	}
	c.Enable()
	if v, found, err := cashews.Get[int](ctx, c, "k"); !found || err != nil || v != 1 {
		t.Fatalf("Get after Enable = %v, %v, %v; want 1, true, nil", v, found, err)
	}
	// Enable also turns on the backend that its URL disabled.
	if ok, err := c.Set(ctx, "off:1", 1, 0); !ok || err != nil {
		t.Fatalf("Set after Enable = %v, %v; want true, nil", ok, err)
	}
}

func TestDisableByContext(t *testing.T) {
	c, _ := newCache(t, "mem://")
	ctx := context.Background()
	c.Set(ctx, "k", "v", 0)

	off := cashews.WithDisabled(ctx)
	if _, found, _ := cashews.Get[string](off, c, "k"); found {
		t.Fatal("Get found a key in a context with the cache off")
	}
	if ok, _ := c.Set(off, "k2", "v", 0); ok {
		t.Fatal("Set stored in a context with the cache off")
	}
	if _, found, _ := cashews.Get[string](ctx, c, "k"); !found {
		t.Fatal("the context switch leaked to other contexts")
	}
	l, err := c.Lock(off, "lock", time.Second)
	if err != nil || l == nil {
		t.Fatalf("Lock with the cache off = %v, %v; want a granted no-op lock", l, err)
	}
	if locked, _ := cashews.IsLocked(ctx, c, "lock", 0); locked {
		t.Fatal("a lock taken with the cache off is held")
	}
	on := cashews.WithEnabled(off, cashews.CmdGet)
	if _, found, _ := cashews.Get[string](on, c, "k"); !found {
		t.Fatal("WithEnabled(get) did not re-enable get")
	}
	if ok, _ := c.Set(on, "k3", "v", 0); ok {
		t.Fatal("WithEnabled(get) re-enabled set")
	}
}

func TestHookOrder(t *testing.T) {
	c, _ := newCache(t, "mem://")
	var trace []string
	mw := func(name string) cashews.Hook {
		return func(next cashews.Handler) cashews.Handler {
			return func(ctx context.Context, call *cashews.Call) (cashews.Result, error) {
				trace = append(trace, name+" start "+call.Command().String())
				res, err := next(ctx, call)
				trace = append(trace, name+" end")
				return res, err
			}
		}
	}
	c.Use(mw("a"), mw("b"))
	c.Set(context.Background(), "k", 1, 0)
	want := "a start set,b start set,b end,a end"
	if got := strings.Join(trace, ","); got != want {
		t.Fatalf("trace = %s; want %s", got, want)
	}
}

func TestHookCanAnswer(t *testing.T) {
	c, _ := newCache(t, "mem://")
	c.Use(func(next cashews.Handler) cashews.Handler {
		return func(ctx context.Context, call *cashews.Call) (cashews.Result, error) {
			if call.Command() == cashews.CmdGet && call.Key() == "magic" {
				return cashews.Result{Value: 42, OK: true}, nil
			}
			return next(ctx, call)
		}
	})
	v, found, err := cashews.Get[int](context.Background(), c, "magic")
	if v != 42 || !found || err != nil {
		t.Fatalf("Get(magic) = %v, %v, %v; want 42, true, nil", v, found, err)
	}
}

func TestOnCommandSeesHitsAndMisses(t *testing.T) {
	c, _ := newCache(t, "mem://")
	ctx := context.Background()
	var mu sync.Mutex
	hits, misses := 0, 0
	c.OnCommand(func(ctx context.Context, call *cashews.Call, res cashews.Result, err error) {
		mu.Lock()
		defer mu.Unlock()
		if res.OK {
			hits++
		} else {
			misses++
		}
	}, cashews.CmdGet)
	c.Set(ctx, "a", 1, 0)
	for _, k := range []string{"a", "a", "b"} {
		cashews.Get[int](ctx, c, k)
	}
	if hits != 2 || misses != 1 {
		t.Fatalf("hits, misses = %d, %d; want 2, 1", hits, misses)
	}
}

func TestLogHook(t *testing.T) {
	c, _ := newCache(t, "mem://")
	var buf bytes.Buffer
	c.Use(cashews.LogHook(slog.New(slog.NewTextHandler(&buf, nil)), slog.LevelInfo))
	ctx := context.Background()
	c.Set(ctx, "user:1", "secret value", 0)
	cashews.Get[string](ctx, c, "user:1")
	c.Incr(ctx, "user:1", 1, 0) // not an integer: logged as an error
	out := buf.String()
	for _, want := range []string{"command=set", "command=get", "key=user:1", "ok=true", "level=ERROR", "not an integer"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "secret value") {
		t.Errorf("log shows a value:\n%s", out)
	}
}

// failing is a memory backend that fails on demand: a Redis outage, injected where a real component
// cannot produce it on demand.
type failing struct {
	backends.Full
	mu   sync.Mutex
	fail bool
}

var errDown = errors.New("connection refused")

func (f *failing) down() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return errDown
	}
	return nil
}

func (f *failing) Get(ctx context.Context, key string) (any, bool, error) {
	if err := f.down(); err != nil {
		return nil, false, err
	}
	return f.Full.Get(ctx, key)
}

func (f *failing) Set(ctx context.Context, key string, v any, ttl time.Duration, m backends.SetMode) (bool, error) {
	if err := f.down(); err != nil {
		return false, err
	}
	return f.Full.Set(ctx, key, v, ttl, m)
}

func (f *failing) Ping(ctx context.Context) error { return f.down() }

func newFailing(t *testing.T, params string, clock backends.Clock) (*cashews.Cache, *failing, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	c := cashews.New(cashews.WithClock(clock), cashews.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	t.Cleanup(func() { c.Close() })
	f := &failing{Full: newMemory(t, clock)}
	if err := c.SetupBackend(f, params); err != nil {
		t.Fatal(err)
	}
	return c, f, &logs
}

func TestSuppress(t *testing.T) {
	clock := backendtest.NewClock()
	c, f, logs := newFailing(t, "suppress=true", clock)
	ctx := context.Background()
	if ok, err := c.Set(ctx, "k", 1, 0); !ok || err != nil {
		t.Fatalf("Set while up = %v, %v", ok, err)
	}
	f.fail = true
	for i := 0; i < 100; i++ {
		if _, found, err := cashews.Get[int](ctx, c, "k"); found || err != nil {
			t.Fatalf("Get while down = %v, %v; want a miss with a nil error", found, err)
		}
		if ok, err := c.Set(ctx, "k", 2, 0); ok || err != nil {
			t.Fatalf("Set while down = %v, %v; want false, nil", ok, err)
		}
	}
	if n := c.SuppressedErrors(); n != 200 {
		t.Fatalf("SuppressedErrors = %d; want 200", n)
	}
	if n := strings.Count(logs.String(), "backend error suppressed"); n != 1 {
		t.Fatalf("logged %d records for one burst; want 1:\n%s", n, logs)
	}
	// The next burst, later, is logged again with the count of the unlogged failures.
	clock.Advance(time.Minute)
	cashews.Get[int](ctx, c, "k")
	if !strings.Contains(logs.String(), "unlogged_since_last_record=199") {
		t.Fatalf("second record lacks the count:\n%s", logs)
	}
	// A health check still sees the outage.
	if err := c.Ping(ctx); !errors.Is(err, errDown) {
		t.Fatalf("Ping while down = %v; want the backend's error", err)
	}
	// Errors about the caller's arguments are not suppressed.
	if _, err := c.Set(ctx, "k", 1, -time.Second); !errors.Is(err, cashews.ErrInvalidArgument) {
		t.Fatalf("Set with a negative TTL = %v; want ErrInvalidArgument", err)
	}
}

func TestWithoutSuppressErrorsReachCallers(t *testing.T) {
	c, f, _ := newFailing(t, "", backendtest.NewClock())
	f.fail = true
	if _, _, err := cashews.Get[int](context.Background(), c, "k"); !errors.Is(err, errDown) {
		t.Fatalf("Get while down = %v; want the backend's error (an outage is not a miss)", err)
	}
}

// TestSetupURLNames checks what Setup says about the URL it was given, and the name it keeps.
func TestSetupURLNames(t *testing.T) {
	c := cashews.New()
	t.Cleanup(func() { c.Close() })
	for raw, want := range map[string]string{
		"":                "setup URL is empty",
		"disk:///dir/a#b": `scheme "disk" has a fragment`,
		"mem://?size=1#":  `scheme "mem" has a fragment`,
	} {
		if err := c.Setup(raw); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Setup(%q) = %v; want an error containing %q", raw, err, want)
		}
	}
	if err := c.Setup("mem://?"); err != nil {
		t.Fatal(err)
	}
	if got := c.BackendName("k"); got != "mem://" {
		t.Errorf("BackendName after Setup(mem://?) = %q, want mem://", got)
	}
}
