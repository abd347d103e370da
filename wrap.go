package cashews

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/internal/stats"
	"github.com/cashews-go/cashews/keytemplate"
)

// TTL sets how long results are stored. A negative TTL is a configuration error; a TTL longer
// than backends.MaxTTL (100 years) counts as MaxTTL.
func TTL(d time.Duration) WrapOption {
	return wrapOption(func(c *WrapConfig) {
		if d < 0 {
			c.errs = append(c.errs, fmt.Errorf("%w: negative TTL %v", ErrConfig, d))
		}
		c.TTL = backends.CapTTL(d)
	})
}

// TTLFunc sets the TTL of each result from the function's argument. The argument type must be the
// wrapped function's; a mismatch, or a nil f, is a configuration error.
func TTLFunc[A any](f func(arg A) time.Duration) WrapOption {
	return wrapOption(func(c *WrapConfig) {
		if f == nil {
			c.errs = append(c.errs, fmt.Errorf("%w: TTLFunc with a nil function", ErrConfig))
			return
		}
		c.ttlFunc = f // Wrap checks A against its function's argument type
	})
}

// Key sets the key template, rendered from the argument on every call (see package keytemplate):
// "user:{ID}:{Lang:lower}". Without it the key is the function's qualified name and every field of
// the argument.
func Key(template string) WrapOption {
	return wrapOption(func(c *WrapConfig) { c.Key, c.key, c.keyArg = template, nil, nil })
}

// KeyPrefix puts p in front of every key of the wrapped function, template or default.
func KeyPrefix(p string) WrapOption {
	return wrapOption(func(c *WrapConfig) { c.Prefix = p })
}

// StoreIf sets the condition that decides which results are stored (default: every successful
// result, zero values included). See [NotZero], [StoreErrors] and [OnlyStoreErrors].
func StoreIf(cond Condition) WrapOption {
	return wrapOption(func(c *WrapConfig) { c.Condition = cond })
}

// StoreErrors stores successful results and also the errors matching any of targets, which hits
// replay until they expire: a call that failed with such an error fails the same way, from cache.
// The replayed error matches its target with errors.Is and keeps the original message.
func StoreErrors(targets ...error) WrapOption {
	return wrapOption(func(c *WrapConfig) {
		checkTargets(c, "StoreErrors", targets)
		c.Condition, c.Replay = alsoErrors(targets...), targets
	})
}

// checkTargets makes StoreErrors and OnlyStoreErrors without targets, or with a nil one, a
// configuration error: such an option would store nothing it was meant to.
func checkTargets(c *WrapConfig, option string, targets []error) {
	if len(targets) == 0 {
		c.errs = append(c.errs, fmt.Errorf("%w: %s() without errors stores no error: name the errors to store", ErrConfig, option))
	}
	for i, t := range targets {
		if t == nil {
			c.errs = append(c.errs, fmt.Errorf("%w: %s: error %d is nil, which no error matches", ErrConfig, option, i+1))
		}
	}
}

// OnlyStoreErrors stores only the errors matching any of targets, replayed on hits, and no result:
// a negative cache for failures.
func OnlyStoreErrors(targets ...error) WrapOption {
	return wrapOption(func(c *WrapConfig) {
		checkTargets(c, "OnlyStoreErrors", targets)
		c.Condition, c.Replay = onlyErrors(targets...), targets
	})
}

// MinLatency stores only results that took at least d to compute: fast results are cheaper to
// compute again than to keep.
func MinLatency(d time.Duration) WrapOption {
	return wrapOption(func(c *WrapConfig) { c.MinLatency = d })
}

// NoDedup turns off the in-process deduplication of concurrent calls for the same key, which is on by
// default (concurrent callers of a cold key share one run of the function).
func NoDedup() WrapOption {
	return wrapOption(func(c *WrapConfig) { c.NoDedup = true })
}

// Strict makes the wrapped function return the errors of the cache instead of routing around them
// (see [WithStrict], which makes every wrapped function of a Cache strict). By default a wrapped
// function fails open: when the cache cannot be read the function runs, and when its result cannot
// be stored it is returned all the same. The guards of the strategies (locks, rate limits,
// breakers) keep their own fail modes (strategies.FailMode) either way.
func Strict() WrapOption {
	return wrapOption(func(c *WrapConfig) { c.Strict = true })
}

// LoadTimeout bounds each shared run of the wrapped function to d: its context ends after d, even
// while callers still wait (their own contexts bound their waits in any case). Without it the
// Cache's default applies ([WithLoadTimeout]); a run otherwise ends when the function returns or
// when every caller waiting for it has given up. d must not be negative.
func LoadTimeout(d time.Duration) WrapOption {
	return wrapOption(func(c *WrapConfig) {
		if d < 0 {
			c.errs = append(c.errs, fmt.Errorf("%w: negative LoadTimeout %v", ErrConfig, d))
		}
		c.LoadTimeout = d
	})
}

// Name names the wrapped function for its default key and for errors. Anonymous functions have no
// good name of their own, so they need Name or a Key template.
func Name(name string) WrapOption {
	return wrapOption(func(c *WrapConfig) { c.Name = name })
}

// Version sets a version that is part of every stored entry's fingerprint: change it to make every
// entry stored with another version a miss. Entries also carry a fingerprint of the result type's
// shape (field names and types), so a deploy that changes the type makes old entries misses by
// itself.
func Version(v string) WrapOption {
	return wrapOption(func(c *WrapConfig) { c.Version = v })
}

// Wrap returns fn with a caching strategy around it: the strategy among opts (by default
// [Simple], which stores each result for the TTL), the key rendered from the argument by the
// Key template, and the common options. The result has fn's type, so wrapped functions stack by
// nesting Wrap calls.
//
// A wrapped function fails open: when the cache cannot be read, fn runs and its result is returned;
// when the result cannot be stored, it is returned all the same; the failure is logged once per
// burst and counted ([Cache.SuppressedErrors]). [Strict] (or a Cache made [WithStrict]) returns the
// cache's errors instead. A stored entry that fails to decode is recomputed and replaced in either
// mode. Concurrent callers of a cold key share one run of fn (see [NoDedup], [LoadTimeout]).
//
// Configuration mistakes are found here, not on the first call: a key or tag template that does not
// parse or names a field the argument does not have, a missing TTL, two strategies, an anonymous
// function without Name or Key, a function that returns an iterator (iter.Seq or iter.Seq2: Wrap
// would cache the iterator, not its values; [WrapSeq] and [WrapSeq2] cache sequences), StoreErrors
// or OnlyStoreErrors without errors, a result type that the codec of the backend its keys go to
// cannot encode (a struct with a chan field under JSON; see Cache.EncodeErrors for what only run
// time shows). Wrap returns the error; [MustWrap]
// panics with it, as regexp.MustCompile does, for wrapped functions made where a mistake can only be
// in the program (a package-level var, say). The error matches ErrConfig, or is a
// *keytemplate.SyntaxError or *keytemplate.FieldError.
func Wrap[A, R any](c *Cache, fn func(context.Context, A) (R, error), opts ...WrapOption) (func(context.Context, A) (R, error), error) {
	if fn == nil {
		return nil, fmt.Errorf("%w: Wrap of a nil function", ErrConfig)
	}
	cfg, name, err := wrapConfig("Wrap", c, fn, opts)
	if err != nil {
		return nil, err
	}
	if errs := resolve[A, R](cfg, name); len(errs) > 0 {
		return nil, fmt.Errorf("cashews: Wrap %s: %w", name, errors.Join(errs...))
	}
	if isIterator(reflect.TypeFor[R]()) {
		return nil, fmt.Errorf("%w: %s returns %v, an iterator: Wrap does not cache iterators (it would store the iterator, not what it yields): use WrapSeq or WrapSeq2, or wrap a function that returns the collected values (slices.Collect, maps.Collect)", ErrConfig, name, reflect.TypeFor[R]())
	}
	if cfg.Key == "" && anonymous(name) {
		return nil, fmt.Errorf("%w: %s is an anonymous function: give it a Key template or a Name, so that its keys mean something and stay the same across builds", ErrConfig, name)
	}

	tmpl, err := keyTemplate[A](cfg, name)
	if err != nil {
		return nil, fmt.Errorf("cashews: Wrap %s: %w", name, err)
	}
	tags := make([]*keytemplate.Template[A], len(cfg.Tags))
	for i, src := range cfg.Tags {
		if tags[i], err = keytemplate.Compile[A](src); err != nil {
			return nil, fmt.Errorf("cashews: Wrap %s: tag: %w", name, err)
		}
	}

	defaultKeyPrefix := "" // a template has the prefix compiled in; the default key gets it here
	if cfg.Key == "" {
		defaultKeyPrefix = cfg.Prefix
	}
	if err := checkResultType[R](c, defaultKeyPrefix+literalPrefix(tmpl.String())); err != nil {
		return nil, fmt.Errorf("cashews: Wrap %s: %w", name, err)
	}

	strategy := cfg.strategy
	if strategy == nil {
		strategy = simple{}
	}
	if err := c.requireStrategy(strategy.Name(), defaultKeyPrefix+literalPrefix(tmpl.String())); err != nil {
		return nil, fmt.Errorf("cashews: Wrap %s: %w", name, err)
	}
	st := c.stats.fn(statsName(name, tmpl.String()))
	env := &Env{
		Cache:       c,
		entries:     newEntries[R](c, shapeOf[R](cfg.Version), cfg.Replay),
		Config:      cfg,
		Name:        name,
		Strict:      cfg.Strict || c.strict,
		LoadTimeout: cfg.LoadTimeout,
		Stats:       st,
	}
	if env.LoadTimeout == 0 {
		env.LoadTimeout = c.loadTimeout
	}
	inner := func(ctx context.Context, call WrapCall) (any, error) {
		a, _ := call.Arg.(A)
		start := c.clock.Now()
		failed := true // until fn returns: a panic is a failure
		defer func() { st.Load(c.clock.Now().Sub(start), failed) }()
		r, err := fn(ctx, a)
		failed = err != nil && !errors.Is(err, ErrNotFound)
		return r, err
	}
	chain, err := strategy.Decorate(inner, env)
	if err != nil {
		return nil, fmt.Errorf("cashews: Wrap %s: %w", name, err)
	}

	keys := newKeyTable()
	return func(ctx context.Context, a A) (R, error) {
		st.Inc(stats.Calls)
		var zero R
		key, err := renderKey(ctx, keys, tmpl, defaultKeyPrefix, a)
		if err != nil {
			return zero, fmt.Errorf("cashews: %s: key: %w", name, err)
		}
		call := WrapCall{Key: key, TTL: cfg.TTL, Arg: a}
		if cfg.TTLFunc != nil {
			call.TTL = backends.CapTTL(cfg.TTLFunc(call.Arg))
		}
		if len(tags) > 0 {
			call.Tags = make([]string, len(tags))
			for i, t := range tags {
				if call.Tags[i], err = t.Render(ctx, a); err != nil {
					return zero, fmt.Errorf("cashews: %s: tag: %w", name, err)
				}
			}
		}
		v, err := chain(ctx, call)
		if v == nil {
			return zero, err
		}
		r, ok := v.(R)
		if !ok {
			return zero, fmt.Errorf("%w: %s: the strategy returned %T, want %v", ErrWrongType, name, v, reflect.TypeFor[R]())
		}
		return r, err
	}, nil
}

// MustWrap is [Wrap] that panics with a configuration mistake instead of returning it.
func MustWrap[A, R any](c *Cache, fn func(context.Context, A) (R, error), opts ...WrapOption) func(context.Context, A) (R, error) {
	w, err := Wrap(c, fn, opts...)
	if err != nil {
		panic(err)
	}
	return w
}

// Wrap0 is [Wrap] for a function without an argument. Its key template may use only context values
// ("{@tenant}"); without one, the key is the function's name.
func Wrap0[R any](c *Cache, fn func(context.Context) (R, error), opts ...WrapOption) (func(context.Context) (R, error), error) {
	if fn == nil {
		return nil, fmt.Errorf("%w: Wrap0 of a nil function", ErrConfig)
	}
	name := funcName(fn)
	adapted := func(ctx context.Context, _ struct{}) (R, error) { return fn(ctx) }
	w, err := Wrap(c, adapted, append([]WrapOption{Name(name)}, opts...)...)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) (R, error) { return w(ctx, struct{}{}) }, nil
}

// MustWrap0 is [Wrap0] that panics with a configuration mistake instead of returning it.
func MustWrap0[R any](c *Cache, fn func(context.Context) (R, error), opts ...WrapOption) func(context.Context) (R, error) {
	w, err := Wrap0(c, fn, opts...)
	if err != nil {
		panic(err)
	}
	return w
}

// keyTemplate returns the key template of a Wrap call for arguments of type A: the one a
// KeyTemplate option compiled already, the Key template compiled with the KeyPrefix in front, or
// the default key (whose KeyPrefix the caller puts in front of each rendered key).
func keyTemplate[A any](cfg *WrapConfig, name string) (*keytemplate.Template[A], error) {
	if t, ok := cfg.key.(*keytemplate.Template[A]); ok && cfg.Prefix == "" {
		return t, nil // compiled by NewKey
	}
	if cfg.Key == "" {
		return keytemplate.Default[A](name)
	}
	return keytemplate.Compile[A](escapeTemplate(cfg.Prefix) + cfg.Key)
}

// statsName returns the name under which a Wrap counts its calls (see Stats.Funcs): its name (the
// Name option, else the function's qualified name), or its key template when that name is an
// anonymous function's ("main.main.func1" says little, and every nested Wrap would share
// "cashews.MustWrap[...].func2").
func statsName(name, template string) string {
	if anonymous(name) {
		return template
	}
	return name
}

// isIterator reports whether t is an iterator: a function of the shape of iter.Seq or iter.Seq2,
// func(yield func(V) bool) or func(yield func(K, V) bool), whatever its name.
func isIterator(t reflect.Type) bool {
	if t.Kind() != reflect.Func || t.NumIn() != 1 || t.NumOut() != 0 {
		return false
	}
	y := t.In(0)
	return y.Kind() == reflect.Func && (y.NumIn() == 1 || y.NumIn() == 2) && y.NumOut() == 1 && y.Out(0).Kind() == reflect.Bool
}

// funcName returns the qualified name of a function, without the "-fm" of method values.
func funcName(fn any) string {
	f := runtime.FuncForPC(reflect.ValueOf(fn).Pointer())
	if f == nil {
		return ""
	}
	return strings.TrimSuffix(f.Name(), "-fm")
}

var anonymousName = regexp.MustCompile(`\.func\d+(\.\d+)*$|^$`)

// anonymous reports whether name is that of a function literal ("main.main.func1").
func anonymous(name string) bool { return anonymousName.MatchString(name) }

// escapeTemplate makes s a template that renders as s.
func escapeTemplate(s string) string {
	return strings.NewReplacer("{", "{{", "}", "}}").Replace(s)
}

// wrapConfig applies the options of a wrapper (kind: Wrap, WrapMany, WrapSeq) of fn and names it:
// its Name option, or fn's own name.
func wrapConfig(kind string, c *Cache, fn any, opts []WrapOption) (*WrapConfig, string, error) {
	if c == nil {
		return nil, "", fmt.Errorf("%w: %s with a nil *cashews.Cache", ErrConfig, kind)
	}
	cfg := &WrapConfig{}
	for _, o := range opts {
		if o == nil {
			return nil, "", fmt.Errorf("%w: nil option", ErrConfig)
		}
		o.applyWrap(cfg)
	}
	name := cfg.Name
	if name == "" {
		name = funcName(fn)
	}
	return cfg, name, nil
}
