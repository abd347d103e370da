package cashews_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cashews-go/cashews"
	"github.com/cashews-go/cashews/backends/memory"
	"github.com/cashews-go/cashews/strategies"
)

// forever is the largest Duration, a TTL that overflows any expiry time computed in nanoseconds.
const forever = time.Duration(math.MaxInt64)

// TestWrapLongTTL: a TTL over backends.MaxTTL (up to the largest Duration) caches like any other, for
// the simple strategy and for the strategies that compute expiry times from the TTL.
func TestWrapLongTTL(t *testing.T) {
	for name, opts := range map[string][]cashews.WrapOption{
		"simple":  {cashews.TTL(forever)},
		"hit":     {cashews.TTL(forever), strategies.Hit(3)},
		"TTLFunc": {cashews.TTLFunc(func(int) time.Duration { return forever })},
	} {
		for _, u := range []string{"mem://", "mem://?copy=true"} {
			t.Run(name+"/"+u, func(t *testing.T) {
				c, clock := newCache(t, u)
				var runs atomic.Int64
				f := cashews.MustWrap(c, func(ctx context.Context, n int) (int, error) {
					runs.Add(1)
					return n, nil
				}, append(opts, cashews.Key("k:{.}"))...)
				for range 2 {
					if _, err := f(context.Background(), 1); err != nil {
						t.Fatal(err)
					}
					clock.Advance(time.Hour)
				}
				if n := runs.Load(); n != 1 {
					t.Errorf("the function ran %d times in two calls with a TTL of %v; want 1", n, forever)
				}
			})
		}
	}
}

// TestNilInputs passes nil where the public API takes a function, a backend, an option or a Cache:
// each call returns an error (or, for MustWrap, panics with one that names the nil), and nothing panics
// later.
func TestNilInputs(t *testing.T) {
	ctx := context.Background()
	c, _ := newCache(t, "mem://")
	var nilCache *cashews.Cache
	var nilMem *memory.Backend
	var nilLoad func(context.Context) (int, error)
	var nilFn func(context.Context, int) (int, error)
	for _, tt := range []struct {
		name string
		call func() error
		want error
	}{
		{"SetupBackend(nil)", func() error { return c.SetupBackend(nil, "") }, cashews.ErrInvalidArgument},
		{"SetupBackend(typed nil)", func() error { return c.SetupBackend(nilMem, "") }, cashews.ErrInvalidArgument},
		{"Setup(nil option)", func() error { return c.Setup("mem://", nil) }, cashews.ErrInvalidArgument},
		{"Use(nil)", func() error { return c.Use(nil) }, cashews.ErrInvalidArgument},
		{"Use(mw, nil)", func() error { return c.Use(cashews.LogHook(nil, 0), nil) }, cashews.ErrInvalidArgument},
		{"Use(mw returning nil)", func() error {
			return c.Use(func(cashews.Handler) cashews.Handler { return nil })
		}, cashews.ErrInvalidArgument},
		{"OnCommand(nil)", func() error { return c.OnCommand(nil) }, cashews.ErrInvalidArgument},
		{"WithLock(nil)", func() error { return c.WithLock(ctx, "lock", time.Second, nil) }, cashews.ErrInvalidArgument},
		{"Set(nil option)", func() error { _, err := c.Set(ctx, "k", 1, 0, nil); return err }, cashews.ErrInvalidArgument},
		{"SetRaw(nil option)", func() error { _, err := c.SetRaw(ctx, "k", "v", 0, nil); return err }, cashews.ErrInvalidArgument},
		{"Scan(nil option)", func() error {
			for _, err := range c.Scan(ctx, "*", nil) {
				return err
			}
			return nil
		}, cashews.ErrInvalidArgument},
		{"GetOrSet(nil load)", func() error { _, err := cashews.GetOrSet(ctx, c, "k", 0, nilLoad); return err }, cashews.ErrInvalidArgument},
		{"Wrap(nil function)", func() error { _, err := cashews.Wrap(c, nilFn, cashews.TTL(time.Second)); return err }, cashews.ErrConfig},
		{"Wrap(nil Cache)", func() error {
			_, err := cashews.Wrap(nilCache, func(context.Context, int) (int, error) { return 0, nil }, cashews.TTL(time.Second), cashews.Key("k"))
			return err
		}, cashews.ErrConfig},
		{"Wrap(TTLFunc(nil))", func() error {
			_, err := cashews.Wrap(c, func(context.Context, int) (int, error) { return 0, nil }, cashews.TTLFunc[int](nil), cashews.Key("k"))
			return err
		}, cashews.ErrConfig},
		{"Get(nil Cache)", func() error { _, _, err := cashews.Get[int](ctx, nilCache, "k"); return err }, cashews.ErrInvalidArgument},
		{"GetMany(nil Cache)", func() error { _, err := cashews.GetMany[int](ctx, nilCache, "k"); return err }, cashews.ErrInvalidArgument},
		{"GetMatch(nil Cache)", func() error {
			for _, err := range cashews.GetMatch[int](ctx, nilCache, "*") {
				return err
			}
			return nil
		}, cashews.ErrInvalidArgument},
		{"GetOrSet(nil Cache)", func() error {
			_, err := cashews.GetOrSet(ctx, nilCache, "k", 0, func(context.Context) (int, error) { return 1, nil })
			return err
		}, cashews.ErrInvalidArgument},
		{"nil Cache Set", func() error { _, err := nilCache.Set(ctx, "k", 1, 0); return err }, cashews.ErrInvalidArgument},
		{"nil Cache Incr", func() error { _, err := nilCache.Incr(ctx, "k", 1, 0); return err }, cashews.ErrInvalidArgument},
		{"nil Cache Lock", func() error { _, err := nilCache.Lock(ctx, "k", time.Second); return err }, cashews.ErrInvalidArgument},
		{"nil Cache DeleteMatch", func() error { _, err := nilCache.DeleteMatch(ctx, "k*"); return err }, cashews.ErrInvalidArgument},
		{"nil Cache Ping", func() error { return nilCache.Ping(ctx) }, cashews.ErrInvalidArgument},
		{"nil Cache DeleteTags", func() error { _, err := nilCache.DeleteTags(ctx, "t"); return err }, cashews.ErrInvalidArgument},
		{"nil Cache TagKeys", func() error { _, err := nilCache.TagKeys(ctx, "t"); return err }, cashews.ErrInvalidArgument},
		{"nil Cache Use", func() error { return nilCache.Use(cashews.LogHook(nil, 0)) }, cashews.ErrInvalidArgument},
		{"nil Cache Close", func() error { return nilCache.Close() }, cashews.ErrInvalidArgument},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("panicked: %v; want an error matching %v", r, tt.want)
					}
				}()
				err = tt.call()
			}()
			if !errors.Is(err, tt.want) {
				t.Fatalf("error = %v; want one matching %v", err, tt.want)
			}
		})
	}
	// None of the nils above was kept: every command still works, and so does Close.
	if _, err := c.Set(ctx, "after", 1, 0); err != nil {
		t.Fatalf("Set after the nil calls = %v", err)
	}
	if n, err := c.DeleteMany(ctx, "after"); n != 1 || err != nil {
		t.Fatalf("DeleteMany after the nil calls = %d, %v", n, err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close after the nil calls = %v", err)
	}
}

// TestWrapNilFunction: Wrap and Wrap0 of a nil function panic with an error that says so, not with
// the "anonymous function" error meant for function literals.
func TestWrapNilFunction(t *testing.T) {
	c, _ := newCache(t, "mem://")
	var fn func(context.Context, int) (int, error)
	var fn0 func(context.Context) (int, error)
	for name, wrap := range map[string]func(){
		"Wrap":  func() { cashews.MustWrap(c, fn, cashews.TTL(time.Second)) },
		"Wrap0": func() { cashews.MustWrap0(c, fn0, cashews.TTL(time.Second)) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				r := recover()
				err, ok := r.(error)
				if !ok || !errors.Is(err, cashews.ErrConfig) || !strings.Contains(err.Error(), "nil function") || strings.Contains(err.Error(), "anonymous") {
					t.Fatalf("%s(nil) panicked with %v; want an ErrConfig error naming a nil function", name, r)
				}
			}()
			wrap()
		})
	}
}

// TestContradictoryParams: enable and disable that disagree are an error; agreeing ones are not.
func TestContradictoryParams(t *testing.T) {
	for u, bad := range map[string]bool{
		"mem://?enable=yes&disable=yes":   true,
		"mem://?enable=false&disable=off": true,
		"mem://?enable=yes&disable=no":    false,
		"mem://?enable=0&disable=1":       false,
	} {
		c := cashews.New()
		err := c.Setup(u)
		c.Close()
		if bad && (err == nil || !strings.Contains(err.Error(), "contradict")) {
			t.Errorf("Setup(%q) = %v; want an error saying enable and disable contradict each other", u, err)
		}
		if !bad && err != nil {
			t.Errorf("Setup(%q) = %v; want nil", u, err)
		}
	}
}

// TestDigestNeedsSecret: digest without secret would look like signed values and sign nothing.
func TestDigestNeedsSecret(t *testing.T) {
	for u, bad := range map[string]bool{
		"mem://?copy=true&digest=sha512":           true,
		"mem://?copy=true&digest=sha512&secret=":   true,
		"mem://?copy=true&digest=sha384&secret=S3": false,
		"mem://?copy=true&secret=S3":               false,
	} {
		c := cashews.New()
		err := c.Setup(u)
		c.Close()
		if bad && (err == nil || !strings.Contains(err.Error(), "no secret")) {
			t.Errorf("Setup(%q) = %v; want an error saying digest needs a secret", u, err)
		}
		if !bad && err != nil {
			t.Errorf("Setup(%q) = %v; want nil", u, err)
		}
	}
}

// TestJWTNeedsVerifier: no test of this package registers a JWT verifier, so a key template that
// uses jwt is a configuration error at Wrap, not a template that decodes tokens unverified.
func TestJWTNeedsVerifier(t *testing.T) {
	c, _ := newCache(t, "mem://")
	_, err := cashews.Wrap(c, func(ctx context.Context, token string) (string, error) { return "private", nil },
		cashews.TTL(time.Minute), cashews.Key("private:{.:jwt(sub)}"))
	if err == nil || !strings.Contains(err.Error(), "RegisterJWT") {
		t.Fatalf("Wrap with {.:jwt(sub)} and no verifier = %v; want an error asking for keytemplate.RegisterJWT", err)
	}
}
