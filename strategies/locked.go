package strategies

import (
	"context"
	"errors"
	"fmt"
	"github.com/cashews-go/cashews"
	"math/rand/v2"
	"time"

	"github.com/cashews-go/cashews/internal/quote"
	"github.com/cashews-go/cashews/internal/stats"
)

// FailMode says what a guard (a lock, a rate limit, a circuit breaker) does when the backend that
// keeps its state cannot answer: Redis is gone, a command times out. It is an option of [Locked],
// [RateLimit], [SlidingRateLimit] and [CircuitBreaker]:
//
//	strategies.RateLimit(100, time.Minute, strategies.FailClosed)
//
// The backend cannot answer in two ways. Either a command returns an error (a backend that is down
// answers lock commands and counters with an error matching cashews.ErrUnavailable, even with
// suppress=true: locks and counters never pretend), or a command turned off with Cache.Disable
// answers with zeros and false. The guards tell such an answer from a real one where a real one
// cannot be zero (a counter just incremented), and treat both ways alike when a FailMode is given.
// A guard that fails open logs the failure once per burst and counts it (Cache.SuppressedErrors).
// Errors about the call itself (an invalid argument, a closed Cache) and the end of the caller's own
// context are returned whatever the mode.
type FailMode uint8

const (
	// FailOpen runs the function as if the guard had let the call through: no lock is held, the
	// call is not counted.
	FailOpen FailMode = iota + 1
	// FailClosed refuses the call without running the function: the error wraps the backend's
	// error and, for rate limits and breakers, matches cashews.ErrRateLimited or cashews.ErrCircuitOpen, so that a
	// failover around the guard can serve a cached result.
	FailClosed
)

// String returns the mode's name.
func (m FailMode) String() string {
	switch m {
	case FailOpen:
		return "FailOpen"
	case FailClosed:
		return "FailClosed"
	}
	return fmt.Sprintf("FailMode(%d)", uint8(m))
}

func (m FailMode) valid() bool { return m == FailOpen || m == FailClosed }

// errNoAnswer stands for a backend that answered with the zeros of a disabled command where a real
// answer cannot be zero.
var errNoAnswer = errors.New("cashews: the backend gave no answer (a disabled command)")

// backendOutage reports whether err means that the backend could not answer, which a FailMode decides
// about, rather than a mistake in the call, a closed Cache, or the end of the caller's context.
func backendOutage(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil {
		return false
	}
	for _, e := range []error{cashews.ErrInvalidArgument, cashews.ErrWrongType, cashews.ErrNotInteger, cashews.ErrClosed} {
		if errors.Is(err, e) {
			return false
		}
	}
	return true
}

// LockSuffix is appended to a call's key to name its lock. A suffix, not a prefix, so that the lock
// lives in the backend that the Cache routes the call's key to.
const LockSuffix = ":_cashews:lock"

// LockOption configures [Locked].
type LockOption interface {
	applyLock(*lockConfig)
}

type lockOptionFunc func(*lockConfig)

func (f lockOptionFunc) applyLock(c *lockConfig) { f(c) }

func (m FailMode) applyLock(c *lockConfig) { c.fail, c.failSet = m, true }

type lockConfig struct {
	ttl              time.Duration
	minWait, maxWait time.Duration
	fail             FailMode // 0: the default, closed on errors, open on no answer
	failSet          bool
}

// LockTTL sets how long a caller holds the lock at most (default 1 minute; it must be positive).
// The backend releases a lock whose holder died when its TTL runs out. A function that runs longer
// than the TTL loses the lock while it runs, and then another caller may take it: choose a TTL
// longer than the function ever takes.
func LockTTL(d time.Duration) LockOption {
	return lockOptionFunc(func(c *lockConfig) { c.ttl = d })
}

// LockBackoff sets how a waiter polls a held lock: first after about min, then doubling up to max,
// with jitter (default 1 ms to 100 ms). Both must be positive, and max no less than min.
func LockBackoff(min, max time.Duration) LockOption {
	return lockOptionFunc(func(c *lockConfig) { c.minWait, c.maxWait = min, max })
}

type locked struct{ cfg lockConfig }

// Locked lets one caller at a time run the function for a key, across every process that shares the
// backend: a caller takes a lock in the backend (key + ":_cashews:lock", with a random owner token,
// for [LockTTL]), runs the function and releases the lock, also when the function fails or panics.
// Other callers wait, polling with a backoff ([LockBackoff]), until their own context ends; then
// they return an error wrapping the context's error.
//
// With a TTL (cashews.TTL), Locked also caches, so that a cold key is computed once in the cluster:
// a caller looks up the key; on a miss it takes the lock and looks again, then computes, stores and
// releases. Waiters look up the key between their attempts and return the stored result as soon as
// it is there. Concurrent callers in one process share one waiter unless the Wrap has NoDedup; the
// shared waiter goes on for the others when one caller gives up, until it gets the lock or finds the
// result. Without a TTL, Locked only serializes the calls; nothing is stored. A waiter that sees the
// lock free but cannot take it increments key + ":_cashews:lock:probe" to tell a race from a
// backend that gives no answer.
//
// A read of the entry that fails is a miss, as for every caching strategy (unless the Wrap is
// strict). When the lock cannot be taken because the backend cannot answer (see [FailMode]), the
// error (matching cashews.ErrUnavailable when the backend is down, with or without suppress=true,
// since locks never pretend) is returned to the caller by default: two callers must not run
// together, and the caller sees the outage. When the lock commands are turned off (set_lock,
// is_locked and incr disabled with Cache.Disable), the function runs without the lock by default,
// as it would without a cache. [FailOpen] runs the function without the lock in both cases;
// [FailClosed] returns an error in both.
func Locked(opts ...LockOption) cashews.WrapOption {
	cfg := lockConfig{ttl: time.Minute, minWait: time.Millisecond, maxWait: 100 * time.Millisecond}
	for _, o := range opts {
		if o != nil {
			o.applyLock(&cfg)
		}
	}
	return cashews.WithStrategy(&locked{cfg: cfg})
}

func (*locked) Name() string { return "locked" }

func (s *locked) Decorate(next cashews.Func, env *cashews.Env) (cashews.Func, error) {
	c := s.cfg
	switch {
	case c.ttl <= 0:
		return nil, fmt.Errorf("%w: %s: locked: the lock TTL %v must be positive", cashews.ErrConfig, env.Name, c.ttl)
	case c.minWait <= 0 || c.maxWait < c.minWait:
		return nil, fmt.Errorf("%w: %s: locked: the backoff from %v to %v must be positive and not shrink", cashews.ErrConfig, env.Name, c.minWait, c.maxWait)
	case c.failSet && !c.fail.valid():
		return nil, fmt.Errorf("%w: %s: locked: unknown %v", cashews.ErrConfig, env.Name, c.fail)
	}
	l := &lockRun{cfg: c, env: env, next: next}
	if env.Config.HasTTL() {
		return l.cached, nil
	}
	return l.serialized, nil
}

type lockRun struct {
	cfg  lockConfig
	env  *cashews.Env
	next cashews.Func
}

// lockState is how acquire ended.
type lockState uint8

const (
	lockHeld  lockState = iota // the caller holds the lock
	lockFound                  // the poll found what the caller waited for
	lockDown                   // the backend could not answer; the error says how
	lockEnded                  // the caller's context ended, or a command failed for another reason
)

// serialized runs next under the lock.
func (l *lockRun) serialized(ctx context.Context, call cashews.WrapCall) (any, error) {
	key := call.Key + LockSuffix
	lock, state, err := l.acquire(ctx, key, nil)
	switch state {
	case lockDown:
		if l.runsOpen(ctx, key, err) {
			return l.next(ctx, call)
		}
		return nil, l.downError(call, err)
	case lockEnded:
		return nil, err
	}
	defer l.release(ctx, lock)
	return l.next(ctx, call)
}

// cached serves call from cache, or computes it under the lock.
func (l *lockRun) cached(ctx context.Context, call cashews.WrapCall) (any, error) {
	mark := l.env.Mark(ctx)
	entry, found, err := l.env.Get(ctx, call.Key)
	if err != nil {
		if backendOutage(ctx, err) && l.runsOpen(ctx, call.Key, err) {
			return l.next(ctx, call)
		}
		if !l.env.RouteAround(ctx, call.Key, err) {
			return nil, err
		}
	} else if found {
		l.env.Stats.Inc(stats.FuncHits)
		l.env.Hit(ctx, "locked", call, entry, nil)
		return entry.Value, entry.Err
	}
	l.env.Stats.Inc(stats.FuncMisses)
	return l.env.LoadAfter(ctx, call.Key, mark, func(ctx context.Context) (any, error) { return l.fill(ctx, call) })
}

// fill takes the lock, or waits until another caller stored the result, and computes the result if
// it is still missing once the lock is held.
func (l *lockRun) fill(ctx context.Context, call cashews.WrapCall) (any, error) {
	key := call.Key + LockSuffix
	var entry *cashews.Entry
	lock, state, err := l.acquire(ctx, key, func(ctx context.Context) (bool, error) {
		e, found, err := l.env.Get(ctx, call.Key)
		entry = e
		return found, err
	})
	switch state {
	case lockFound:
		l.env.Hit(ctx, "locked", call, entry, nil)
		return entry.Value, entry.Err
	case lockDown:
		if l.runsOpen(ctx, key, err) {
			return l.env.Run(ctx, l.next, call, 0)
		}
		return nil, l.downError(call, err)
	case lockEnded:
		return nil, err
	}
	defer l.release(ctx, lock)
	entry, found, err := l.env.Get(ctx, call.Key)
	if err != nil {
		if !(backendOutage(ctx, err) && l.runsOpen(ctx, call.Key, err)) && !l.env.RouteAround(ctx, call.Key, err) {
			return nil, err
		}
	} else if found {
		l.env.Hit(ctx, "locked", call, entry, nil)
		return entry.Value, entry.Err
	}
	return l.env.Run(ctx, l.next, call, 0)
}

// runsOpen reports whether the function runs without the lock at key after the backend failed with
// err, and records a failure it routes around.
func (l *lockRun) runsOpen(ctx context.Context, key string, err error) bool {
	open := l.cfg.fail == FailOpen
	if l.cfg.fail == 0 {
		open = errors.Is(err, errNoAnswer)
	}
	if open && !errors.Is(err, errNoAnswer) {
		l.env.Bypass(ctx, key, err)
	}
	return open
}

func (l *lockRun) downError(call cashews.WrapCall, err error) error {
	return fmt.Errorf("cashews: %s: lock %s: %w", l.env.Name, quote.String(call.Key+LockSuffix), err)
}

// release gives the lock back, even when the caller's context has ended. An error is dropped: the
// lock then expires with its TTL.
func (l *lockRun) release(ctx context.Context, lock *cashews.Lock) {
	_ = lock.Unlock(context.WithoutCancel(ctx))
}

// acquire takes the lock at key, waiting while another owner holds it. Between attempts it calls
// poll, when given; when poll reports true, acquire returns lockFound without the lock.
func (l *lockRun) acquire(ctx context.Context, key string, poll func(context.Context) (bool, error)) (*cashews.Lock, lockState, error) {
	c := l.env.Cache
	failed := func(err error) (*cashews.Lock, lockState, error) {
		if backendOutage(ctx, err) {
			return nil, lockDown, err
		}
		if ctx.Err() != nil {
			return nil, lockEnded, fmt.Errorf("cashews: %s: waiting for lock %s: %w", l.env.Name, quote.String(key), ctx.Err())
		}
		return nil, lockEnded, err
	}
	wait := l.cfg.minWait
	for {
		lock, ok, err := l.env.Claim(ctx, key, l.cfg.ttl)
		if err != nil {
			return failed(err)
		}
		if ok {
			return lock, lockHeld, nil
		}
		// Not taken: another owner holds the lock, or the Cache hid a failure (suppress) or the
		// command is off. A held lock is seen as held; when it is not, an increment, which never
		// answers zero for real, tells a lock released meanwhile from a backend that gives no
		// answer.
		held, err := l.env.Locked(ctx, key)
		if err != nil {
			return failed(err)
		}
		if !held {
			n, err := c.Incr(ctx, key+":probe", 1, l.cfg.ttl)
			if err != nil {
				return failed(err)
			}
			if n == 0 {
				return nil, lockDown, errNoAnswer
			}
		}
		if poll != nil {
			done, err := poll(ctx)
			if err != nil {
				return failed(err)
			}
			if done {
				return nil, lockFound, nil
			}
		}
		if err := lockSleep(ctx, wait/2+rand.N(wait/2+1)); err != nil {
			return failed(err)
		}
		wait = min(2*wait, l.cfg.maxWait)
	}
}

// sleep waits for d or until ctx ends.
func lockSleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
