// Package strategies holds the caching strategies that cashews.Wrap puts around a function: simple,
// failover, hit, early, soft, locked, rate limits (fixed and sliding window), circuit breaker, bloom
// and perf. Each is an option of Wrap:
//
//	getUser := cashews.Wrap(c, fetchUser, cashews.TTL(time.Hour),
//		strategies.Failover(strategies.FailoverOn(ErrUpstream)))
//
// A strategy decorates one small function type, [Func], once at Wrap time; the hot path takes no
// lock to find its chain. Strategies reach the cache through the [Cache] and [Entries] interfaces,
// which the root package implements, so this package does not import it. Wrapped functions stack by
// nesting Wrap calls, as Python decorators stack: the outer Wrap's strategy sees the inner wrapped
// function as its function, so a failover around a rate limit around a loader falls back to the
// cached value when the limiter refuses.
package strategies

import (
	"context"
	"errors"
	"time"

	"github.com/cashews-go/cashews/backends"
)

// Errors of the strategies. Match them with errors.Is; the root package re-exports them.
var (
	// ErrNotFound is what a loader returns to say that its source has nothing for the key. Nothing
	// is stored for it, and failover and soft do not cover it unless told to.
	ErrNotFound = errors.New("cashews: not found")
	// ErrRateLimited is returned by a rate-limited function called over its limit.
	ErrRateLimited = errors.New("cashews: rate limited")
	// ErrCircuitOpen is returned by a function whose circuit breaker is open.
	ErrCircuitOpen = errors.New("cashews: circuit open")
	// ErrPerfDegraded is returned by a function that the perf strategy found slower than its record,
	// while the degradation lasts.
	ErrPerfDegraded = errors.New("cashews: performance degraded")
	// ErrConfig is wrapped by every configuration mistake that Wrap reports.
	ErrConfig = errors.New("cashews: bad Wrap configuration")
)

// Call is one call of a wrapped function as strategies see it. It is passed by value: a strategy
// may change its copy (a different TTL, say) before calling next.
type Call struct {
	Key  string        // the cache key rendered from the argument
	TTL  time.Duration // the TTL of this call's result (the TTL option, or its function of the argument)
	Tags []string      // the rendered tags
	Arg  any           // the argument of the wrapped function
}

// Func computes or fetches the result of a call. The innermost Func runs the wrapped function.
type Func func(ctx context.Context, call Call) (any, error)

// Strategy puts a behaviour around a Func. Wrap calls Decorate once; an error there is a
// configuration mistake that Wrap reports (wrap it with [ErrConfig]).
type Strategy interface {
	// ApplyWrap makes the strategy an option of Wrap; it calls Config.SetStrategy.
	Option
	// Name is the strategy's name for detect and errors ("simple", "failover", ...).
	Name() string
	// Decorate returns next with the strategy around it.
	Decorate(next Func, env *Env) (Func, error)
}

// Entry is what a wrapped function stores for a call: its result and the strategy's bookkeeping.
// The memory backend keeps the *Entry as it is: never modify an Entry after storing it.
type Entry struct {
	Value   any   // the result of the function
	Err     error // an error result stored by a condition and replayed on hits, or nil
	Expires int64 // when the entry expires (Unix nanoseconds); 0 if never
	Stale   int64 // when the entry turns stale for early and soft (Unix nanoseconds); 0 if never
}

// Entries stores the entries of one wrapped function. The root package implements it for the
// function's result type: for byte backends it encodes the Value as that type, with a fingerprint
// of the type's shape, so that an entry written by an older build of a changed type reads as a miss.
type Entries interface {
	// Get returns the entry at key; a missing, expired or outdated entry is (nil, false, nil).
	Get(ctx context.Context, key string) (*Entry, bool, error)
	// Set stores e at key for ttl (zero: no expiry) with tags, and reports whether it stored.
	Set(ctx context.Context, key string, e *Entry, ttl time.Duration, tags []string) (bool, error)
}

// Cache is the part of *cashews.Cache that strategies use.
type Cache interface {
	Delete(ctx context.Context, key string) (bool, error)
	DeleteMatch(ctx context.Context, pattern string) (int, error)
	Exists(ctx context.Context, key string) (bool, error)
	Incr(ctx context.Context, key string, by int64, ttl time.Duration) (int64, error)
	Expire(ctx context.Context, key string, ttl time.Duration) (bool, error)
	GetExpire(ctx context.Context, key string) (time.Duration, bool, error)
	SetLock(ctx context.Context, key, token string, ttl time.Duration) (bool, error)
	Unlock(ctx context.Context, key, token string) (bool, error)
	IsLocked(ctx context.Context, key string, wait time.Duration) (bool, error)
	SliceIncr(ctx context.Context, key string, window time.Duration, limit int64) (int64, bool, error)
	GetBits(ctx context.Context, key string, size int, indexes ...int64) ([]int64, error)
	IncrBits(ctx context.Context, key string, size int, by int64, indexes ...int64) ([]int64, error)
	// Go runs fn in a goroutine the Cache owns: its context ends at Close, which waits for it.
	Go(fn func(ctx context.Context)) bool
	// Clock tells the time.
	Clock() backends.Clock
	// BackendName returns the redacted URL of the backend for key, for detect.
	BackendName(key string) string
	// Bypass records that a strategy routed around a failure of the cache at key: it logs err once
	// per burst and counts it in the Cache's SuppressedErrors.
	Bypass(ctx context.Context, key string, err error)
}
