package strategies

import (
	"context"
	"errors"
	"fmt"
	"github.com/cashews-go/cashews"
	"strconv"
	"time"

	"github.com/cashews-go/cashews/internal/stats"
)

// RateLimitOption configures [RateLimit] and [SlidingRateLimit].
type RateLimitOption interface {
	applyRateLimit(*rateConfig)
}

type rateOptionFunc func(*rateConfig)

func (f rateOptionFunc) applyRateLimit(c *rateConfig) { f(c) }

func (m FailMode) applyRateLimit(c *rateConfig) { c.fail, c.failSet = m, true }

type rateConfig struct {
	ban       time.Duration
	action    func(ctx context.Context, call cashews.WrapCall) (any, error)
	fail      FailMode
	failSet   bool
	badOption string
}

// RateLimitBan keeps a key limited for d once it went over its limit: for d from the refused call,
// every call is refused, whatever the counts say, and is not counted. d must be positive.
func RateLimitBan(d time.Duration) RateLimitOption {
	return rateOptionFunc(func(c *rateConfig) {
		if d <= 0 {
			c.badOption = fmt.Sprintf("RateLimitBan(%v) must be positive", d)
		}
		c.ban = d
	})
}

// RateLimitAction runs action instead of returning cashews.ErrRateLimited when a call is refused; its result
// is the call's result, and must have the wrapped function's result type (or be nil).
func RateLimitAction(action func(ctx context.Context, call cashews.WrapCall) (any, error)) RateLimitOption {
	return rateOptionFunc(func(c *rateConfig) {
		if action == nil {
			c.badOption = "RateLimitAction(nil)"
		}
		c.action = action
	})
}

type rateLimit struct {
	limit   int64
	period  time.Duration
	sliding bool
	cfg     rateConfig
}

// RateLimit lets at most limit calls per period run for each key, in fixed windows of the Cache's
// clock: the window of a call is its time divided by period, and its counter is the key
// key + ":_cashews:rl:" + the window's index, incremented by every call (refused calls too) and
// expiring after a period. A call over the limit returns an error matching [cashews.ErrRateLimited] without
// running the function, or runs the [RateLimitAction]; with [RateLimitBan] the key then stays limited
// for the ban, recorded at key + ":_cashews:rl:ban". Every process sharing the backend shares the
// limit of a key. Fixed windows let up to 2×limit calls through around a window's edge; see
// [SlidingRateLimit] for a strict bound.
//
// When the backend cannot answer (see [FailMode]), rate limits fail open by default: the call runs
// uncounted, because a limiter that refuses everything while its store is down turns a cache
// outage into an outage of the function it protects. [FailClosed] refuses the call instead, with
// an error that matches cashews.ErrRateLimited and wraps the backend's error.
//
// A rate limit stores no results: a TTL in the same Wrap is a configuration error; nest Wrap calls
// to cache and limit (a failover around a rate limit serves the cached result of a refused call).
func RateLimit(limit int64, period time.Duration, opts ...RateLimitOption) cashews.WrapOption {
	return cashews.WithStrategy(newRateLimit(limit, period, false, opts))
}

// SlidingRateLimit lets at most limit calls run for each key in any period that ends now, by the
// Cache's clock: it keeps the times of the calls that ran in the last period, at
// key + ":_cashews:srl", with the backend's sliding-window counter (SliceIncr), and refuses a call
// when limit of them are younger than period. Refused calls are not counted. It takes the options
// of [RateLimit] and fails open in the same way.
func SlidingRateLimit(limit int64, period time.Duration, opts ...RateLimitOption) cashews.WrapOption {
	return cashews.WithStrategy(newRateLimit(limit, period, true, opts))
}

func newRateLimit(limit int64, period time.Duration, sliding bool, opts []RateLimitOption) *rateLimit {
	r := &rateLimit{limit: limit, period: period, sliding: sliding}
	for _, o := range opts {
		if o != nil {
			o.applyRateLimit(&r.cfg)
		}
	}
	return r
}

func (r *rateLimit) Name() string {
	if r.sliding {
		return "sliding_rate_limit"
	}
	return "rate_limit"
}

func (r *rateLimit) Decorate(next cashews.Func, env *cashews.Env) (cashews.Func, error) {
	var bad string
	switch {
	case r.limit <= 0:
		bad = fmt.Sprintf("the limit %d must be positive", r.limit)
	case r.period <= 0:
		bad = fmt.Sprintf("the period %v must be positive", r.period)
	case r.cfg.badOption != "":
		bad = r.cfg.badOption
	case r.cfg.failSet && !r.cfg.fail.valid():
		bad = "unknown " + r.cfg.fail.String()
	case env.Config.HasTTL():
		bad = "a rate limit stores no results, so a TTL has no effect; nest Wrap calls to cache and limit"
	}
	if bad != "" {
		return nil, fmt.Errorf("%w: %s: %s: %s", cashews.ErrConfig, env.Name, r.Name(), bad)
	}
	return (&rateRun{rateLimit: r, env: env, next: next}).call, nil
}

type rateRun struct {
	*rateLimit
	env  *cashews.Env
	next cashews.Func
}

// RateLimitSuffix starts the suffixes of the keys a fixed-window rate limit keeps for a call's key:
// key + RateLimitSuffix + the window's index for the counters, and key + RateLimitSuffix + "ban"
// for the ban.
const RateLimitSuffix = ":_cashews:rl:"

// SlidingRateLimitSuffix is appended to a call's key to name the events of its sliding-window rate
// limit.
const SlidingRateLimitSuffix = ":_cashews:srl"

func (r *rateRun) call(ctx context.Context, call cashews.WrapCall) (any, error) {
	now := r.env.Now()
	var ban casRegister
	var banned int64 // the end of the key's last ban, in Unix microseconds (see micros); 0 for none
	if r.cfg.ban > 0 {
		ban = casRegister{env: r.env, key: call.Key + RateLimitSuffix + "ban", ttl: 2*r.cfg.ban + r.period}
		var err error
		if banned, err = ban.load(ctx); err != nil {
			return r.down(ctx, call, err)
		}
		if until := time.UnixMicro(banned); now.Before(until) {
			return r.refuse(ctx, call, "banned until "+until.UTC().Format(time.RFC3339Nano))
		}
	}
	ok, err := r.count(ctx, call, now)
	if err != nil {
		return r.down(ctx, call, err)
	}
	if !ok {
		if r.cfg.ban > 0 {
			_, _ = ban.swap(context.WithoutCancel(ctx), banned, micros(now.Add(r.cfg.ban)))
		}
		return r.refuse(ctx, call, fmt.Sprintf("over %d calls per %v", r.limit, r.period))
	}
	return r.next(ctx, call)
}

// count counts the call and reports whether it is within the limit.
func (r *rateRun) count(ctx context.Context, call cashews.WrapCall, now time.Time) (bool, error) {
	if r.sliding {
		n, recorded, err := r.env.Cache.SliceIncr(ctx, call.Key+SlidingRateLimitSuffix, r.period, r.limit)
		if err == nil && recorded && n == 0 {
			err = errNoAnswer
		}
		return recorded, err
	}
	key := call.Key + RateLimitSuffix + strconv.FormatInt(windowIndex(now.UnixNano(), r.period), 10)
	n, err := r.env.Cache.Incr(ctx, key, 1, r.period)
	if err == nil && n == 0 {
		err = errNoAnswer
	}
	return n <= r.limit, err
}

// refuse answers a call over the limit.
func (r *rateRun) refuse(ctx context.Context, call cashews.WrapCall, why string) (any, error) {
	r.env.Stats.Inc(stats.RateLimited)
	if r.cfg.action != nil {
		return r.cfg.action(ctx, call)
	}
	return nil, fmt.Errorf("%w: %s: %s", cashews.ErrRateLimited, r.env.Name, why)
}

// down handles a backend that could not answer: the call runs uncounted, or is refused.
func (r *rateRun) down(ctx context.Context, call cashews.WrapCall, err error) (any, error) {
	if !backendOutage(ctx, err) {
		return nil, err
	}
	if r.cfg.fail == FailClosed {
		r.env.Stats.Inc(stats.RateLimited)
		return nil, fmt.Errorf("%w: %s: the rate limit's backend failed: %w", cashews.ErrRateLimited, r.env.Name, err)
	}
	if !errors.Is(err, errNoAnswer) {
		r.env.Bypass(ctx, call.Key, err)
	}
	return r.next(ctx, call)
}
