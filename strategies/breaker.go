package strategies

import (
	"context"
	"errors"
	"fmt"
	"github.com/cashews-go/cashews"
	"math"
	"strconv"
	"time"

	"github.com/cashews-go/cashews/internal/stats"
)

// BreakerOption configures [CircuitBreaker].
type BreakerOption interface {
	applyBreaker(*breakerConfig)
}

type breakerOptionFunc func(*breakerConfig)

func (f breakerOptionFunc) applyBreaker(c *breakerConfig) { f(c) }

func (m FailMode) applyBreaker(c *breakerConfig) { c.fail, c.failSet = m, true }

type breakerConfig struct {
	minCalls  int64
	halfOpen  int64
	failIf    func(error) bool
	fail      FailMode
	failSet   bool
	badOption string
}

// BreakerMinCalls sets how many calls a period must have before its error rate can open the breaker
// (default 10; at least 1).
func BreakerMinCalls(n int64) BreakerOption {
	return breakerOptionFunc(func(c *breakerConfig) { c.minCalls = n })
}

// BreakerHalfOpenCalls sets how many trial calls the half-open breaker lets through (default 1; at
// least 1). Other calls get cashews.ErrCircuitOpen while the trials run.
func BreakerHalfOpenCalls(n int64) BreakerOption {
	return breakerOptionFunc(func(c *breakerConfig) { c.halfOpen = n })
}

// BreakerFailIf sets which errors count as failures: those for which failure returns true. Other
// errors count as successes (the function answered, as with a "not found"). By default every error
// is a failure. An error matching context.Canceled never counts: the caller gave up.
func BreakerFailIf(failure func(err error) bool) BreakerOption {
	return breakerOptionFunc(func(c *breakerConfig) {
		if failure == nil {
			c.badOption = "BreakerFailIf(nil)"
		}
		c.failIf = failure
	})
}

// BreakerFailOn makes only the errors matching one of targets (errors.Is) count as failures.
func BreakerFailOn(targets ...error) BreakerOption {
	return breakerOptionFunc(func(c *breakerConfig) {
		if len(targets) == 0 {
			c.badOption = "BreakerFailOn with no error"
		}
		c.failIf = func(err error) bool { return matchAny(err, targets) }
	})
}

type breaker struct {
	rate        float64
	period, ttl time.Duration
	cfg         breakerConfig
}

// CircuitBreaker stops calling a failing function for a while. It counts the calls and the failures
// of each period (windows of the Cache's clock); when a failure leaves a period with at least
// [BreakerMinCalls] calls of which at least errorRate percent failed, the breaker opens: for ttl,
// calls return an error matching [cashews.ErrCircuitOpen] without running the function. Then it is
// half-open: it lets [BreakerHalfOpenCalls] trial calls through (the others get cashews.ErrCircuitOpen). A
// trial that succeeds closes the breaker, with fresh counts; a trial that fails opens it again for
// ttl. A trial whose caller gave up (context.Canceled) gives its place back, and trials that never
// end (their process died) are forgotten after ttl, when new trials may start. [BreakerFailIf] and
// [BreakerFailOn] choose which errors are failures; a panic is one.
//
// One breaker guards the whole function by default: a dependency that is down fails for every
// argument, and a breaker per argument would never see enough failures of one id to open. Its state
// lives under the wrapped function's name (with the KeyPrefix, if any) followed by ":_cashews:cb".
// With a Key template, the breaker is per rendered key instead ("price:{.}" gives a breaker per
// argument; "price:{Region}" one per region), under the call's key followed by ":_cashews:cb". Every
// process sharing the backend shares the breaker of a key: counters per state and period,
// trial counters, and the state itself, an integer that changes only through claimed transitions
// (see the README). Idle state expires after 2×(period+ttl). Time is the Cache's clock.
//
// When the backend cannot answer (see [FailMode]), the breaker fails open by default: it runs the
// function without counting, because a breaker guards the function's dependency, and a cache
// outage should not become an outage of a healthy dependency. [FailClosed] refuses the call with
// an error matching cashews.ErrCircuitOpen, which a failover around the breaker covers with the cached result.
// A breaker stores no results: a TTL in the same Wrap is a configuration error; nest Wrap calls to
// cache and break.
func CircuitBreaker(errorRate float64, period, ttl time.Duration, opts ...BreakerOption) cashews.WrapOption {
	cfg := breakerConfig{minCalls: 10, halfOpen: 1, failIf: func(error) bool { return true }}
	for _, o := range opts {
		if o != nil {
			o.applyBreaker(&cfg)
		}
	}
	return cashews.WithStrategy(&breaker{rate: errorRate, period: period, ttl: ttl, cfg: cfg})
}

func (*breaker) Name() string { return "circuit_breaker" }

func (b *breaker) Decorate(next cashews.Func, env *cashews.Env) (cashews.Func, error) {
	var bad string
	switch {
	case math.IsNaN(b.rate) || b.rate <= 0 || b.rate > 100:
		bad = fmt.Sprintf("the error rate %v%% must be above 0 and at most 100", b.rate)
	case b.period <= 0:
		bad = fmt.Sprintf("the period %v must be positive", b.period)
	case b.ttl <= 0:
		bad = fmt.Sprintf("the open time %v must be positive", b.ttl)
	case b.cfg.minCalls < 1:
		bad = fmt.Sprintf("BreakerMinCalls(%d) must be at least 1", b.cfg.minCalls)
	case b.cfg.halfOpen < 1:
		bad = fmt.Sprintf("BreakerHalfOpenCalls(%d) must be at least 1", b.cfg.halfOpen)
	case b.cfg.badOption != "":
		bad = b.cfg.badOption
	case b.cfg.failSet && !b.cfg.fail.valid():
		bad = "unknown " + b.cfg.fail.String()
	case env.Config.HasTTL():
		bad = "a breaker stores no results, so a TTL has no effect; nest Wrap calls to cache and break"
	}
	if bad != "" {
		return nil, fmt.Errorf("%w: %s: circuit_breaker: %s", cashews.ErrConfig, env.Name, bad)
	}
	return (&breakerRun{breaker: b, env: env, next: next}).call, nil
}

type breakerRun struct {
	*breaker
	env  *cashews.Env
	next cashews.Func
}

// BreakerSuffix is appended to a call's key to name the state of its circuit breaker; the breaker's
// other keys start with key + BreakerSuffix too.
//
// The breaker's state is one integer in the backend, the register at key + BreakerSuffix:
//
//	0            closed, as it starts
//	2×until      open until the Unix microsecond until, then half-open
//	2×until + 1  closed again after the trial of the open state 2×until succeeded
//
// Each value is left at most once (the next is always larger), and counters are kept per state, so
// closing after a trial starts from fresh counts. Times are in microseconds, rounded up, because
// Redis' scripts see integers as doubles, exact only up to 2^53.
const BreakerSuffix = ":_cashews:cb"

func (b *breakerRun) register(call cashews.WrapCall) casRegister {
	base := call.Key
	if b.env.Config.Key == "" {
		base = b.env.Config.Prefix + b.env.Name // one breaker per function, whatever the argument
	}
	return casRegister{env: b.env, key: base + BreakerSuffix, ttl: 2 * (b.period + b.ttl)}
}

// cbOutcome is what a call's result tells the breaker.
type cbOutcome uint8

const (
	cbSuccess cbOutcome = iota
	cbFailure
	cbIgnored // the caller gave up: it tells nothing
)

func (b *breakerRun) outcome(err error) cbOutcome {
	switch {
	case err == nil:
		return cbSuccess
	case errors.Is(err, context.Canceled):
		return cbIgnored
	case b.cfg.failIf(err):
		return cbFailure
	}
	return cbSuccess
}

func (b *breakerRun) call(ctx context.Context, call cashews.WrapCall) (any, error) {
	reg := b.register(call)
	state, err := reg.load(ctx)
	if err != nil {
		return b.down(ctx, call, err)
	}
	now := b.env.Now().UnixNano()
	if state > 0 && state%2 == 0 {
		until := state / 2 * int64(time.Microsecond)
		if now < until {
			b.env.Stats.Inc(stats.BreakerRefused)
			return nil, fmt.Errorf("%w: %s: open until %s", cashews.ErrCircuitOpen, b.env.Name, time.Unix(0, until).UTC().Format(time.RFC3339Nano))
		}
		return b.trial(ctx, call, reg, state, until, now)
	}
	return b.closed(ctx, call, reg, state, now)
}

// closed runs a call of the closed breaker: it counts the call before and its failure after, and
// opens the breaker when the failure brings the period's error rate to the threshold.
func (b *breakerRun) closed(ctx context.Context, call cashews.WrapCall, reg casRegister, state, now int64) (any, error) {
	prefix := reg.key + ":" + strconv.FormatInt(state, 10) + ":" + strconv.FormatInt(windowIndex(now, b.period), 10)
	calls, failures := prefix+":n", prefix+":f"
	n, err := b.env.Cache.Incr(ctx, calls, 1, 2*b.period)
	if err == nil && n == 0 {
		err = errNoAnswer
	}
	if err != nil {
		return b.down(ctx, call, err)
	}
	done := false
	defer func() {
		if !done { // a panic is a failure
			b.failed(ctx, reg, state, calls, failures)
		}
	}()
	v, err := b.next(ctx, call)
	done = true
	if b.outcome(err) == cbFailure {
		b.failed(ctx, reg, state, calls, failures)
	}
	return v, err
}

// failed counts a failure and opens the breaker when the error rate reached the threshold. Its
// backend errors are dropped: the call's own result matters more.
func (b *breakerRun) failed(ctx context.Context, reg casRegister, state int64, calls, failures string) {
	ctx = context.WithoutCancel(ctx)
	f, err := b.env.Cache.Incr(ctx, failures, 1, 2*b.period)
	if err != nil || f == 0 {
		return
	}
	n, err := b.env.Cache.Incr(ctx, calls, 0, 2*b.period)
	if err != nil || n < b.cfg.minCalls || float64(f)*100 < b.rate*float64(n) {
		return
	}
	b.open(ctx, reg, state)
}

// open moves the breaker from state to open for ttl from now, unless another caller moved it first.
func (b *breakerRun) open(ctx context.Context, reg casRegister, state int64) {
	_, _ = reg.swap(ctx, state, 2*micros(b.env.Now().Add(b.ttl)))
}

// trial runs a call of the half-open breaker if it is one of the trial calls of its slot: trials are
// counted per ttl since the breaker turned half-open, so that trials lost with their process do not
// block the breaker for ever.
func (b *breakerRun) trial(ctx context.Context, call cashews.WrapCall, reg casRegister, state, until, now int64) (any, error) {
	slot := (now - until) / int64(b.ttl)
	key := reg.key + ":" + strconv.FormatInt(state, 10) + ":t" + strconv.FormatInt(slot, 10)
	n, err := b.env.Cache.Incr(ctx, key, 1, 2*b.ttl)
	if err == nil && n == 0 {
		err = errNoAnswer
	}
	if err != nil {
		return b.down(ctx, call, err)
	}
	if n > b.cfg.halfOpen {
		b.env.Stats.Inc(stats.BreakerRefused)
		return nil, fmt.Errorf("%w: %s: half-open, %d trial calls under way", cashews.ErrCircuitOpen, b.env.Name, b.cfg.halfOpen)
	}
	done := false
	defer func() {
		if !done {
			b.open(context.WithoutCancel(ctx), reg, state)
		}
	}()
	v, err := b.next(ctx, call)
	done = true
	bg := context.WithoutCancel(ctx)
	switch b.outcome(err) {
	case cbSuccess:
		_, _ = reg.swap(bg, state, state+1)
	case cbFailure:
		b.open(bg, reg, state)
	case cbIgnored:
		_, _ = b.env.Cache.Incr(bg, key, -1, 2*b.ttl)
	}
	return v, err
}

// down handles a backend that could not answer: the function runs uncounted, or the call is refused.
func (b *breakerRun) down(ctx context.Context, call cashews.WrapCall, err error) (any, error) {
	if !backendOutage(ctx, err) {
		return nil, err
	}
	if b.cfg.fail == FailClosed {
		b.env.Stats.Inc(stats.BreakerRefused)
		return nil, fmt.Errorf("%w: %s: the breaker's backend failed: %w", cashews.ErrCircuitOpen, b.env.Name, err)
	}
	if !errors.Is(err, errNoAnswer) {
		b.env.Bypass(ctx, call.Key, err)
	}
	return b.next(ctx, call)
}

// micros returns t in Unix microseconds, rounded up.
func micros(t time.Time) int64 {
	ns := t.UnixNano()
	us := ns / int64(time.Microsecond)
	if ns%int64(time.Microsecond) > 0 {
		us++
	}
	return us
}

// windowIndex returns the index of the window of length period that the Unix nanosecond now falls
// in.
func windowIndex(now int64, period time.Duration) int64 {
	p := int64(period)
	w := now / p
	if now%p < 0 {
		w--
	}
	return w
}

// casRegister is an integer in the backend that moves from one value to another only by swap, and
// leaves each value at most once: for a move from old, swap first claims key + ":from:" + old with a
// lock that only one caller gets, then adds new-old, and checks that the sum is new. The check
// catches a caller that read old so long ago that the claim expired, or a register that expired
// since it was read: such a caller takes its addition back.
//
// The register expires ttl after its last move, or after it was first read; it reads 0 then.
type casRegister struct {
	env *cashews.Env
	key string
	ttl time.Duration
}

// load returns the register's value (0 when it is missing).
func (r casRegister) load(ctx context.Context) (int64, error) {
	return r.env.Cache.Incr(ctx, r.key, 0, r.ttl)
}

// swap moves the register from old to new, and reports whether this caller made the move.
func (r casRegister) swap(ctx context.Context, old, new int64) (bool, error) {
	claim, ok, err := r.env.Claim(ctx, r.key+":from:"+strconv.FormatInt(old, 10), r.ttl/2)
	if err != nil || !ok {
		return false, err
	}
	got, err := r.env.Cache.Incr(ctx, r.key, new-old, r.ttl)
	if err != nil {
		_ = claim.Unlock(ctx) // let another caller try
		return false, err
	}
	if got != new {
		_, err := r.env.Cache.Incr(ctx, r.key, old-new, r.ttl)
		return false, err
	}
	_, err = r.env.Cache.Expire(ctx, r.key, r.ttl)
	return true, err
}
