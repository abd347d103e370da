package strategies

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/cashews-go/cashews/detect"
	"github.com/cashews-go/cashews/internal/flight"
)

// Option configures cashews.Wrap. The root package's options (TTL, Key, Tags...) and every strategy
// are Options.
type Option interface {
	ApplyWrap(*Config)
}

// Decision is what a [Condition] decides about a result.
type Decision uint8

// The decisions.
const (
	Skip       Decision = iota // store nothing
	StoreValue                 // store the value (the error was nil)
	StoreError                 // store the error, to replay it on hits until the entry expires
)

// Condition decides whether a result of the wrapped function is stored.
type Condition func(value any, err error) Decision

// Config is the configuration of one Wrap call, filled by its options. Strategies read it in
// Decorate through [Env.Config]; they must not change it.
type Config struct {
	TTL        time.Duration               // the TTL option
	TTLFunc    func(arg any) time.Duration // the TTL as a function of the argument, or nil
	Key        string                      // the key template; "" for the default key
	Prefix     string                      // prepended to the key
	Tags       []string                    // tag templates
	Condition  Condition                   // nil: store every successful result
	Replay     []error                     // errors a condition may store, replayed on hits
	MinLatency time.Duration               // results computed faster than this are not stored
	NoDedup    bool                        // concurrent calls for one key each run the function
	Name       string                      // the function's name, for the default key and errors
	Version    string                      // bumped by hand to make old entries misses
	Strategy   Strategy                    // nil: simple
	Errs       []error                     // mistakes found while applying the options
}

// SetStrategy sets the strategy of the Wrap call, and records a mistake when one is already set:
// a Wrap has one strategy, and strategies stack by nesting Wrap calls.
func (c *Config) SetStrategy(s Strategy) {
	if c.Strategy != nil {
		c.Errs = append(c.Errs, fmt.Errorf("%w: two strategies (%s and %s) in one Wrap; nest Wrap calls to stack them", ErrConfig, c.Strategy.Name(), s.Name()))
		return
	}
	c.Strategy = s
}

// HasTTL reports whether the Wrap call has a TTL.
func (c *Config) HasTTL() bool { return c.TTL > 0 || c.TTLFunc != nil }

// Env is what a strategy works with: the cache, the entries of the wrapped function, and helpers that
// apply the common options (deduplication, conditions, minimum latency, detect).
type Env struct {
	Cache   Cache
	Entries Entries
	Config  *Config
	Name    string // the wrapped function's name

	group flight.Group[any]
}

// RequireTTL returns a configuration error naming the strategy when the Wrap call has no TTL.
func (e *Env) RequireTTL(strategy string) error {
	if !e.Config.HasTTL() {
		return fmt.Errorf("%w: %s: the %s strategy stores results and needs a TTL (cashews.TTL)", ErrConfig, e.Name, strategy)
	}
	return nil
}

// Now returns the cache's time.
func (e *Env) Now() time.Time { return e.Cache.Clock().Now() }

type recomputeKey struct{}

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
	return e.Entries.Get(ctx, key)
}

// Load runs fn once for all concurrent callers with the same key, unless the Wrap call turned
// deduplication off. fn runs detached from each caller's cancellation; each caller waits on its own
// context. A panic in fn reaches every caller as an error.
func (e *Env) Load(ctx context.Context, key string, fn func(ctx context.Context) (any, error)) (any, error) {
	if e.Config.NoDedup {
		return fn(ctx)
	}
	v, _, err := e.group.Do(ctx, key, fn)
	return v, err
}

// Fill computes call's result on a miss and stores it with the entry turning stale after
// staleAfter, once for concurrent callers (see Load). Inside the shared load it looks in the cache
// again: a caller that missed may start its load just after another load stored the result, and
// then it takes that result instead of running the function a second time.
func (e *Env) Fill(ctx context.Context, next Func, call Call, staleAfter time.Duration) (any, error) {
	return e.Load(ctx, call.Key, func(ctx context.Context) (any, error) {
		if entry, found, err := e.Get(ctx, call.Key); err == nil && found && !e.Stale(entry) {
			return entry.Value, entry.Err
		}
		return e.Run(ctx, next, call, staleAfter)
	})
}

// Run calls next and stores its result as the condition and the minimum latency say, with the
// entry turning stale after staleAfter (zero: never). It returns next's result.
func (e *Env) Run(ctx context.Context, next Func, call Call, staleAfter time.Duration) (any, error) {
	start := e.Now()
	v, err := next(ctx, call)
	e.Save(ctx, call, v, err, e.Now().Sub(start), staleAfter)
	return v, err
}

// Save stores a result of call when the condition and the minimum latency allow it, and reports
// whether it did. A failure to store is not the caller's problem: it is returned for strategies
// that care, and otherwise dropped (the result is still good).
func (e *Env) Save(ctx context.Context, call Call, v any, err error, elapsed, staleAfter time.Duration) (bool, error) {
	d := e.decide(v, err)
	if d == Skip || elapsed < e.Config.MinLatency {
		return false, nil
	}
	entry := e.NewEntry(call, staleAfter)
	if d == StoreValue {
		entry.Value = v
	} else {
		entry.Err = err
	}
	return e.Entries.Set(ctx, call.Key, entry, call.TTL, call.Tags)
}

// NewEntry returns an entry for call with its expiry and stale times set from now.
func (e *Env) NewEntry(call Call, staleAfter time.Duration) *Entry {
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
func (e *Env) Hit(ctx context.Context, strategy string, call Call, entry *Entry, covered error) {
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

// NotZero is a Condition that stores successful results that are not the zero value of their type.
func NotZero(v any, err error) Decision {
	if err != nil || v == nil || reflect.ValueOf(v).IsZero() {
		return Skip
	}
	return StoreValue
}

// AlsoErrors returns a Condition that stores successful results and the errors matching any of
// targets (errors.Is), which hits then replay.
func AlsoErrors(targets ...error) Condition {
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

// OnlyErrors returns a Condition that stores only the errors matching any of targets, which hits then
// replay, and no successful result.
func OnlyErrors(targets ...error) Condition {
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
