package strategies

import (
	"context"
	"fmt"
	"github.com/cashews-go/cashews"
	"sync"
	"time"

	"github.com/cashews-go/cashews/detect"
	"github.com/cashews-go/cashews/internal/stats"
)

// DefaultRefreshTimeout bounds a background refresh of [Early] and [Hit] when [RefreshTimeout] is
// not given.
const DefaultRefreshTimeout = time.Minute

// EarlyLockSuffix is appended to a call's key to make the key of the lock that [Early] takes while
// it refreshes the entry ("user:1" → "user:1:_cashews:early-lock"). The lock lives in the same
// backend as the entry, so every process sharing that backend sees it.
const EarlyLockSuffix = ":_cashews:early-lock"

// EarlyOption configures [Early].
type EarlyOption interface{ applyEarly(*early) }

// RefreshOption is an option of both [Early] and [Hit].
type RefreshOption interface {
	EarlyOption
	HitOption
}

type refreshTimeout time.Duration

func (d refreshTimeout) applyEarly(e *early) { e.timeout = time.Duration(d) }
func (d refreshTimeout) applyHit(h *hit)     { h.timeout = time.Duration(d) }

// RefreshTimeout bounds each background refresh of [Early] and [Hit] to d (default
// [DefaultRefreshTimeout]): the refresh's context ends after d. For Early it is also the TTL of the
// refresh lock, so a process that dies while refreshing holds the lock no longer than d. A function
// that ignores its context can outlive d; then another refresh may start beside it.
func RefreshTimeout(d time.Duration) RefreshOption { return refreshTimeout(d) }

type early struct {
	earlyTTL time.Duration
	timeout  time.Duration
}

// Early refreshes entries in the background before they expire: cashews' early. A result is stored
// for the TTL and turns stale earlyTTL after it was stored. A call that finds a fresh entry returns
// it; a call that finds a stale entry returns it as well, and the first such call starts one
// background refresh, which runs the function again and replaces the entry. A call that finds no
// entry runs the function itself (concurrent calls for one key share that run, unless NoDedup).
// Every result served from cache, stale or not, records a detect hit.
//
// One refresh per key runs at a time across every process sharing the backend: the call that
// starts it first takes a lock at the entry's key plus [EarlyLockSuffix], with a random owner token
// and the refresh timeout as TTL, and releases it when the refresh ends; a call that does not get
// the lock starts nothing. When the backend fails to take the lock (or set_lock is disabled), no
// refresh starts: callers get the cached value until it expires, then recompute it in the
// foreground.
//
// The refresh is detached from the caller: its context carries the caller's values (a detect
// detector excepted) but not its cancellation. It is bounded by [RefreshTimeout] (default
// [DefaultRefreshTimeout]), runs in a goroutine that the Cache owns, and is cancelled by Cache.Close,
// which waits for it. A refresh that fails, or panics, leaves the stale entry in place, and the next
// call tries again. earlyTTL must be positive and, with a fixed TTL, shorter than it; with
// cashews.TTLFunc, a call whose TTL is not longer than earlyTTL just never turns stale.
func Early(earlyTTL time.Duration, opts ...EarlyOption) cashews.WrapOption {
	e := &early{earlyTTL: earlyTTL, timeout: DefaultRefreshTimeout}
	for _, o := range opts {
		if o != nil {
			o.applyEarly(e)
		}
	}
	return cashews.WithStrategy(e)
}

func (*early) Name() string { return "early" }

// EarlyRefresh returns the early TTL and the refresh timeout, for cashews.WrapMany, which refreshes
// the stale ids of a batch together.
func (e *early) EarlyRefresh() (earlyTTL, timeout time.Duration) { return e.earlyTTL, e.timeout }

func (e *early) Decorate(next cashews.Func, env *cashews.Env) (cashews.Func, error) {
	if err := env.RequireTTL("early"); err != nil {
		return nil, err
	}
	if e.earlyTTL <= 0 {
		return nil, fmt.Errorf("%w: %s: early: the early TTL %v must be positive", cashews.ErrConfig, env.Name, e.earlyTTL)
	}
	if env.Config.FixedTTL() && e.earlyTTL >= env.Config.TTL {
		return nil, fmt.Errorf("%w: %s: early: the early TTL %v must be shorter than the TTL %v", cashews.ErrConfig, env.Name, e.earlyTTL, env.Config.TTL)
	}
	if e.timeout <= 0 {
		return nil, fmt.Errorf("%w: %s: early: RefreshTimeout %v must be positive", cashews.ErrConfig, env.Name, e.timeout)
	}
	var refreshing sync.Map // keys with a refresh started by this Wrap, to spare the lock round trip
	return func(ctx context.Context, call cashews.WrapCall) (any, error) {
		mark := env.Mark(ctx)
		entry, found, err := env.Get(ctx, call.Key)
		if err != nil {
			if !env.RouteAround(ctx, call.Key, err) {
				return nil, err
			}
		} else if found {
			env.Hit(ctx, "early", call, entry, nil)
			if env.Stale(entry) {
				env.Stats.Inc2(stats.FuncHits, stats.StaleEarly)
				e.refresh(ctx, env, next, call, &refreshing)
			} else {
				env.Stats.Inc(stats.FuncHits)
			}
			return entry.Value, entry.Err
		}
		env.Stats.Inc(stats.FuncMisses)
		return env.Fill(ctx, next, call, e.earlyTTL, mark)
	}, nil
}

// refresh starts a background refresh of call's entry unless one is running.
func (e *early) refresh(ctx context.Context, env *cashews.Env, next cashews.Func, call cashews.WrapCall, refreshing *sync.Map) {
	if _, running := refreshing.LoadOrStore(call.Key, struct{}{}); running {
		return
	}
	lockKey := call.Key + EarlyLockSuffix
	lock, ok, err := env.Claim(ctx, lockKey, e.timeout)
	if err != nil || !ok {
		refreshing.Delete(call.Key)
		return
	}
	unlock := func(ctx context.Context) {
		refreshing.Delete(call.Key)
		// The refresh's context may be over (timeout, Close): release the lock under one of its own.
		// It gets at least 5s even when the refresh timeout is shorter: a lock left behind would block
		// refreshes of this key in every process until its TTL. Until Close returns the backends are open.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), max(e.timeout, 5*time.Second))
		defer cancel()
		_ = lock.Unlock(uctx)
	}
	started := goRefresh(ctx, env, e.timeout, func(rctx context.Context) {
		defer unlock(rctx)
		env.Run(rctx, next, call, e.earlyTTL)
	})
	if !started { // the Cache is closed
		unlock(ctx)
		return
	}
	env.Stats.Inc(stats.Refreshes)
}

// goRefresh runs refresh in a goroutine that the Cache owns and reports whether it started (it does
// not after Close). The refresh's context carries the values of the caller's context but not its
// cancellation, and ends after timeout or when the Cache closes. A detect detector in the caller's
// context is replaced by a fresh one, so that the caller's record does not change after it returned.
// A panic in refresh is recovered: the refresh failed, and what is stored stays as it was.
func goRefresh(caller context.Context, env *cashews.Env, timeout time.Duration, refresh func(ctx context.Context)) bool {
	caller = context.WithoutCancel(caller)
	return env.Cache.Go(func(bg context.Context) {
		ctx, cancel := context.WithTimeout(caller, timeout)
		defer cancel()
		stop := context.AfterFunc(bg, cancel)
		defer stop()
		if detect.FromContext(ctx) != nil {
			ctx, _ = detect.New(ctx)
		}
		defer func() { _ = recover() }()
		refresh(ctx)
	})
}
