package strategies

import (
	"context"
	"fmt"
	"github.com/cashews-go/cashews"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cashews-go/cashews/internal/quote"
	"github.com/cashews-go/cashews/internal/stats"
)

// HitCounterSuffix is appended to a call's key, followed by the stored entry's expiry in Unix
// nanoseconds, to make the key of the counter of that entry's hits ("user:1" →
// "user:1:_cashews:hits:1735693200000000000"). The counter lives in the same backend as the entry
// and expires with it.
const HitCounterSuffix = ":_cashews:hits:"

// HitOption configures [Hit]. [RefreshTimeout] is one too.
type HitOption interface{ applyHit(*hit) }

type updateAfter int

func (m updateAfter) applyHit(h *hit) { h.updateAfter = int(m) }

// UpdateAfter makes [Hit] refresh an entry in the background when it is served for the m-th time:
// that call returns the cached result and starts one run of the function, whose result replaces the
// entry (with a hit count of zero). Until it does, the entry keeps serving up to its n hits. m must be
// between 1 and n.
func UpdateAfter(m int) HitOption { return updateAfter(m) }

type hit struct {
	hits        int
	updateAfter int
	timeout     time.Duration
}

// Hit stores each result for the TTL and serves it for at most hits calls: cashews' hit (cache_hits).
// With hits = 3, the first call runs the function and stores the result; the next three calls are
// served from cache; the fifth runs the function again and stores a new entry, which serves the sixth to
// eighth calls, and so on. An entry also expires at the end of its TTL, whatever its
// count. Calls that run the function share the run when they are concurrent (unless NoDedup).
//
// Hits are counted in the backend, so every process sharing it counts against the same budget: each
// stored entry has its own counter, at the entry's key plus [HitCounterSuffix] plus the entry's
// expiry, incremented (Cache.Incr) by every call that finds the entry and created with the entry's
// remaining TTL. A new entry thus starts from zero without a reset that could race with other
// processes. A Wrap makes the expiries of the entries it stores unique (it moves an expiry a few
// nanoseconds later when two would be equal); across processes they are unique as clocks are.
//
// With [UpdateAfter] the entry is refreshed in the background after m hits; the refresh runs as
// [Early]'s does (detached from the caller, bounded by [RefreshTimeout], owned by the Cache and
// stopped by Close), and exactly one call in all processes starts it, the one that counted m.
//
// When the cache fails, hit fails open (unless the Wrap is strict, see [cashews.Env.RouteAround]): an entry
// that cannot be read is a miss, so the function runs; an entry whose hit cannot be counted is
// served, and expires by TTL only, as it does when incr is disabled (Incr returns 0). Every
// call needs a positive TTL: a cashews.TTLFunc that returns zero or less makes the call fail with an
// error matching [cashews.ErrConfig].
func Hit(hits int, opts ...HitOption) cashews.WrapOption {
	h := &hit{hits: hits, timeout: DefaultRefreshTimeout}
	for _, o := range opts {
		if o != nil {
			o.applyHit(h)
		}
	}
	return cashews.WithStrategy(h)
}

func (*hit) Name() string { return "hit" }

func (h *hit) Decorate(next cashews.Func, env *cashews.Env) (cashews.Func, error) {
	if err := env.RequireTTL("hit"); err != nil {
		return nil, err
	}
	if h.hits < 1 {
		return nil, fmt.Errorf("%w: %s: hit: the number of hits %d must be at least 1", cashews.ErrConfig, env.Name, h.hits)
	}
	if h.updateAfter < 0 || h.updateAfter > h.hits {
		return nil, fmt.Errorf("%w: %s: hit: UpdateAfter(%d) must be between 1 and the number of hits %d", cashews.ErrConfig, env.Name, h.updateAfter, h.hits)
	}
	if h.timeout <= 0 {
		return nil, fmt.Errorf("%w: %s: hit: RefreshTimeout %v must be positive", cashews.ErrConfig, env.Name, h.timeout)
	}
	if env.Config.ResultTTL != nil {
		return nil, fmt.Errorf("%w: %s: hit: the hit strategy fixes an entry's expiry before the function runs, so it cannot take a TTL from the result (ResultTTL): use TTL or TTLFunc", cashews.ErrConfig, env.Name)
	}
	hits, refreshAt := int64(h.hits), int64(h.updateAfter)

	// last is the latest expiry given to an entry by this Wrap. Entries' expiries name their hit
	// counters, so a new entry must not get the expiry of the one it replaces, which a frozen or
	// coarse clock would give it.
	var last atomic.Int64
	// store runs the function and stores its result as a new entry replacing prev (nil if none).
	store := func(ctx context.Context, call cashews.WrapCall, prev *cashews.Entry) (any, error) {
		start := env.Now()
		v, err := next(ctx, call)
		now := env.Now()
		expires := now.UnixNano() + int64(call.TTL)
		for {
			l := last.Load()
			e := max(expires, l+1)
			if prev != nil {
				e = max(e, prev.Expires+1)
			}
			if last.CompareAndSwap(l, e) {
				expires = e
				break
			}
		}
		call.TTL = time.Duration(expires - now.UnixNano())
		env.Save(ctx, call, v, err, now.Sub(start), 0)
		return v, err
	}

	return func(ctx context.Context, call cashews.WrapCall) (any, error) {
		if call.TTL <= 0 {
			return nil, fmt.Errorf("%w: %s: hit: the TTL of %s is %v; the hit strategy needs a positive TTL", cashews.ErrConfig, env.Name, quote.String(call.Key), call.TTL)
		}
		mark := env.Mark(ctx)
		entry, found, err := env.Get(ctx, call.Key)
		if err != nil {
			if !env.RouteAround(ctx, call.Key, err) {
				return nil, err
			}
			found = false
		}
		if found {
			n, err := hitCount(ctx, env, call, entry)
			if err != nil {
				if !env.RouteAround(ctx, call.Key, err) {
					return nil, err
				}
				n = 0 // the counter cannot count: the entry serves until its TTL ends, as with incr disabled
			}
			if n <= hits {
				env.Stats.Inc(stats.FuncHits)
				env.Hit(ctx, "hit", call, entry, nil)
				if refreshAt > 0 && n == refreshAt &&
					goRefresh(ctx, env, h.timeout, func(ctx context.Context) { store(ctx, call, entry) }) {
					env.Stats.Inc(stats.Refreshes)
				}
				return entry.Value, entry.Err
			}
		} else {
			entry = nil
		}
		env.Stats.Inc(stats.FuncMisses)
		return env.LoadAfter(ctx, call.Key, mark, func(ctx context.Context) (any, error) {
			return store(ctx, call, entry)
		})
	}, nil
}

// hitCount counts a hit of entry and returns the count so far, this one included.
func hitCount(ctx context.Context, env *cashews.Env, call cashews.WrapCall, entry *cashews.Entry) (int64, error) {
	ttl := call.TTL
	if entry.Expires > 0 {
		ttl = max(time.Duration(entry.Expires-env.Now().UnixNano()), time.Millisecond)
	}
	return env.Cache.Incr(ctx, call.Key+HitCounterSuffix+strconv.FormatInt(entry.Expires, 10), 1, ttl)
}
