// Package strategies holds the caching strategies that cashews.Wrap puts around a function:
// failover, hit, early, soft, locked, rate limits (fixed and sliding window), circuit breaker, bloom
// and perf (simple, the default, is in package cashews). Each is an option of Wrap:
//
//	getUser, err := cashews.Wrap(c, fetchUser, cashews.TTL(time.Hour),
//		strategies.Failover(strategies.FailoverOn(ErrUpstream)))
//
// A strategy decorates one small function type, [cashews.Func], once at Wrap time; the hot path
// takes no lock to find its chain. This package is built on package cashews, as any third-party
// strategy is: it implements [cashews.Strategy] and works through [cashews.Env]. Wrapped functions
// stack by nesting Wrap calls, as Python decorators stack: the outer Wrap's strategy sees the inner
// wrapped function as its function, so a failover around a rate limit around a loader falls back
// to the cached value when the limiter refuses.
package strategies
