package cashews

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/detect"
	"github.com/cashews-go/cashews/internal/flight"
	"github.com/cashews-go/cashews/internal/stats"
)

// Env is what a strategy works with: the cache, the entries of the wrapped function, and helpers that
// apply the common options (deduplication, conditions, minimum latency, detect, failing open).
type Env struct {
	Cache  *Cache      // the Cache of the Wrap
	Config *WrapConfig // the Wrap's configuration, read-only
	Name   string      // the wrapped function's name
	// Strict is true when backend errors reach the caller ([Strict], or a Cache made with
	// [WithStrict]); otherwise strategies route around a cache that fails (see [Env.RouteAround]).
	Strict bool
	// LoadTimeout bounds each shared run of the function ([LoadTimeout], or the Cache's
	// default); zero means no bound of its own.
	LoadTimeout time.Duration
	// Stats counts what the strategies do with the function's calls (hits, misses, stale results
	// served, refreshes, refusals), for [Cache.Stats]; Wrap sets it, and nil counts nothing.
	Stats *stats.Func

	entries entryStore
	group   flight.Group[any]
}

// ReadMark is taken before a strategy reads an entry, and given to [Env.Fill] or [Env.LoadAfter]
// after a miss: a run of the function that finished after the mark may have stored what the read
// missed, and then its result is taken instead of running the function again.
type ReadMark = flight.Mark

// Mark returns the mark of a read about to begin in ctx (see [ReadMark]). In a context made by
// [Recompute] it returns a mark that takes no finished run's result: such a caller runs the function.
func (e *Env) Mark(ctx context.Context) ReadMark {
	if recomputeUsed.Load() && ctx.Value(recomputeKey{}) != nil {
		return flight.NoMark
	}
	return e.group.Mark()
}

// RouteAround decides about a backend error err that a strategy met at key. When the Wrap is not
// strict and err is the cache's trouble (not the end of the caller's context, a closed Cache or a
// key that no backend takes), it records the failure (logged once per burst and counted in
// Cache.SuppressedErrors) and returns true: the strategy goes on as if the cache had missed or
// stored. Otherwise it returns false, and the strategy returns err.
func (e *Env) RouteAround(ctx context.Context, key string, err error) bool {
	if e.Strict || !routable(ctx, err) {
		return false
	}
	e.Cache.bypass(ctx, key, err)
	return true
}

// Bypass records that the strategy routed around a failure of the cache at key (a guard failing
// open, say): it logs err once per burst and counts it in [Cache.SuppressedErrors].
func (e *Env) Bypass(ctx context.Context, key string, err error) { e.Cache.bypass(ctx, key, err) }

// routable reports whether err, met while using the cache, may be routed around: any error but the
// end of the caller's context and the mistakes of the program: a closed Cache, a key that no
// backend takes, an invalid argument.
func routable(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil {
		return false
	}
	for _, e := range []error{backends.ErrClosed, backends.ErrNoBackend, backends.ErrInvalidArgument} {
		if errors.Is(err, e) {
			return false
		}
	}
	return true
}

// RequireTTL returns a configuration error naming the strategy when the Wrap call has no TTL.
func (e *Env) RequireTTL(strategy string) error {
	if !e.Config.HasTTL() {
		return fmt.Errorf("%w: %s: the %s strategy stores results and needs a TTL (cashews.TTL)", ErrConfig, e.Name, strategy)
	}
	return nil
}

// Now returns the cache's time.
func (e *Env) Now() time.Time { return e.Cache.clock.Now() }

type recomputeKey struct{}

// recomputeUsed becomes true the first time Recompute is called; until then Get skips the lookup.
var recomputeUsed atomic.Bool

// Recompute returns a context in which wrapped functions ignore their cached entries: they run and
// store their result again ("invalidate further").
func Recompute(ctx context.Context) context.Context {
	recomputeUsed.Store(true)
	return context.WithValue(ctx, recomputeKey{}, true)
}

// Get returns the entry at key, or a miss in a context made by [Recompute].
func (e *Env) Get(ctx context.Context, key string) (*Entry, bool, error) {
	if recomputeUsed.Load() && ctx.Value(recomputeKey{}) != nil {
		return nil, false, nil
	}
	return e.entries.Get(ctx, key)
}

// GetEntry returns the entry at key as it is stored, in any context: for a strategy's own state
// kept as an entry (perf's degradation), which [Recompute] does not concern.
func (e *Env) GetEntry(ctx context.Context, key string) (*Entry, bool, error) {
	return e.entries.Get(ctx, key)
}

// SetEntry stores entry at key for ttl (zero: no expiry) with tags, and reports whether it stored.
func (e *Env) SetEntry(ctx context.Context, key string, entry *Entry, ttl time.Duration, tags []string) (bool, error) {
	return e.entries.Set(ctx, key, entry, ttl, tags)
}

// Load runs fn once for all concurrent callers with the same key, unless the Wrap call turned
// deduplication off. fn runs detached from each caller's cancellation, bounded by the load timeout;
// each caller waits on its own context, and when every caller has given up, fn's context is
// cancelled and the next caller starts a new run. A panic in fn reaches every caller as an error.
func (e *Env) Load(ctx context.Context, key string, fn func(ctx context.Context) (any, error)) (any, error) {
	return e.LoadAfter(ctx, key, flight.NoMark, fn)
}

// LoadAfter is [Env.Load] for a caller that read key and missed after taking mark: if a run for key
// finished after the mark, its result is returned instead of running fn.
func (e *Env) LoadAfter(ctx context.Context, key string, mark ReadMark, fn func(ctx context.Context) (any, error)) (any, error) {
	if e.Config.NoDedup {
		if e.LoadTimeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, e.LoadTimeout)
			defer cancel()
		}
		return fn(ctx)
	}
	v, _, err := e.group.Do(ctx, key, mark, e.LoadTimeout, fn)
	return v, err
}

// Fill computes call's result on a miss and stores it with the entry turning stale after
// staleAfter, once for concurrent callers (see [Env.LoadAfter]; mark is the one taken before the
// read that missed). It does not read the cache again: a miss costs one read and one write.
func (e *Env) Fill(ctx context.Context, next Func, call WrapCall, staleAfter time.Duration, mark ReadMark) (any, error) {
	return e.LoadAfter(ctx, call.Key, mark, func(ctx context.Context) (any, error) {
		return e.Run(ctx, next, call, staleAfter)
	})
}

// Run calls next and stores its result as the condition and the minimum latency say, with the
// entry turning stale after staleAfter (zero: never). It returns next's result.
func (e *Env) Run(ctx context.Context, next Func, call WrapCall, staleAfter time.Duration) (any, error) {
	start := e.Now()
	v, err := next(ctx, call)
	e.Save(ctx, call, v, err, e.Now().Sub(start), staleAfter)
	return v, err
}

// Save stores a result of call when the condition and the minimum latency allow it, and reports
// whether it did. A failure to store is not the caller's problem: unless the Wrap is strict, it is
// routed around (logged once per burst, counted, and reported as not stored); a strict Wrap gets
// the error back, for strategies that care (the result is still good).
func (e *Env) Save(ctx context.Context, call WrapCall, v any, err error, elapsed, staleAfter time.Duration) (bool, error) {
	d := e.decide(v, err)
	if d == Skip || elapsed < e.Config.MinLatency {
		return false, nil
	}
	if e.Config.ResultTTL != nil {
		if call.TTL = e.Config.ResultTTL(v, err); call.TTL <= 0 {
			return false, nil
		}
		call.TTL = backends.CapTTL(call.TTL)
	}
	entry := e.NewEntry(call, staleAfter)
	if d == StoreValue {
		entry.Value = v
	} else {
		entry.Err = err
	}
	ok, serr := e.entries.Set(ctx, call.Key, entry, call.TTL, call.Tags)
	if serr != nil && e.RouteAround(ctx, call.Key, serr) {
		return false, nil
	}
	return ok, serr
}

// NewEntry returns an entry for call with its expiry and stale times set from now.
func (e *Env) NewEntry(call WrapCall, staleAfter time.Duration) *Entry {
	now := e.Now()
	entry := &Entry{}
	if call.TTL > 0 {
		entry.Expires = now.Add(call.TTL).UnixNano()
	}
	if staleAfter > 0 {
		entry.Stale = now.Add(staleAfter).UnixNano()
	}
	return entry
}

func (e *Env) decide(v any, err error) Decision {
	if e.Config.Condition != nil {
		return e.Config.Condition(v, err)
	}
	if err != nil {
		return Skip
	}
	return StoreValue
}

// Hit records that call was served from cache by strategy, for detect. covered is the error a
// failover covered, or nil.
func (e *Env) Hit(ctx context.Context, strategy string, call WrapCall, entry *Entry, covered error) {
	d := detect.FromContext(ctx)
	if d == nil {
		return
	}
	h := detect.Hit{Key: call.Key, Strategy: strategy, Backend: e.Cache.BackendName(call.Key), Err: covered}
	if entry != nil && entry.Expires > 0 {
		h.TTL = time.Duration(entry.Expires - e.Now().UnixNano())
	}
	d.Add(h)
}

// Stale reports whether entry turned stale by now.
func (e *Env) Stale(entry *Entry) bool {
	return entry.Stale > 0 && e.Now().UnixNano() >= entry.Stale
}

// NotZero is a condition for [StoreIf] that stores only successful results that are not the zero
// value of their type.
func NotZero(v any, err error) Decision {
	if err != nil || v == nil || reflect.ValueOf(v).IsZero() {
		return Skip
	}
	return StoreValue
}

// alsoErrors returns a Condition that stores successful results and the errors matching any of
// targets (errors.Is), which hits then replay.
func alsoErrors(targets ...error) Condition {
	return func(v any, err error) Decision {
		if err == nil {
			return StoreValue
		}
		if matchAny(err, targets) {
			return StoreError
		}
		return Skip
	}
}

// onlyErrors returns a Condition that stores only the errors matching any of targets, which hits then
// replay, and no successful result.
func onlyErrors(targets ...error) Condition {
	return func(v any, err error) Decision {
		if err != nil && matchAny(err, targets) {
			return StoreError
		}
		return Skip
	}
}

func matchAny(err error, targets []error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

// Claim takes the lock at key for ttl unless another owner holds it, for a strategy's guard (a
// refresh lock, a claim), and reports whether it did; the *Lock releases it. Unlike
// [Cache.TryLock], a set_lock command that is off ([Cache.Disable], [WithDisabled]) or whose
// failure the backend hides (suppress=true) takes nothing and reports false.
func (e *Env) Claim(ctx context.Context, key string, ttl time.Duration) (*Lock, bool, error) {
	token := newToken()
	ok, err := e.Cache.setLock(ctx, key, token, ttl)
	if err != nil || !ok {
		return nil, false, err
	}
	return &Lock{c: e.Cache, key: key, token: token}, true, nil
}

// Locked reports whether the lock at key is held.
func (e *Env) Locked(ctx context.Context, key string) (bool, error) {
	return e.Cache.isLocked(ctx, key, 0)
}
