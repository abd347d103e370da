package strategies

import (
	"context"
	"errors"
	"fmt"
	"github.com/cashews-go/cashews"

	"github.com/cashews-go/cashews/internal/quote"
	"github.com/cashews-go/cashews/internal/stats"
)

type failover struct {
	cover errorCover
}

// FailoverOption configures [Failover].
type FailoverOption func(*failover)

// FailoverOn makes failover cover only the errors that match one of targets with errors.Is (and the
// errors of [FailoverIf], if given), instead of every error. [cashews.ErrRateLimited] and [cashews.ErrCircuitOpen]
// are covered in any case.
func FailoverOn(targets ...error) FailoverOption {
	return func(f *failover) { f.cover.targets = append(f.cover.targets, targets...) }
}

// FailoverIf makes failover cover only the errors for which match returns true (and the errors of
// [FailoverOn], if given), instead of every error. [cashews.ErrRateLimited], [cashews.ErrCircuitOpen] and [cashews.ErrPerfDegraded] are covered
// in any case.
func FailoverIf(match func(err error) bool) FailoverOption {
	return func(f *failover) { f.cover.preds = append(f.cover.preds, match) }
}

// Failover keeps the last good result of each call for the TTL and serves it when the function
// fails: cashews' failover. Every call runs the function (concurrent calls for one key share a run,
// unless NoDedup); a result the condition accepts is stored, replacing the last one. When the
// function fails with a covered error and a result for the key is stored, the call returns that
// result and a nil error, and records a detect hit whose Err is the covered error; with nothing
// stored it returns the error. The TTL is how long a fallback stays available.
//
// Every error but cashews.ErrNotFound is covered by default; [FailoverOn] and [FailoverIf] choose. The errors of a breaker,
// a rate limit or a perf strategy wrapped inside, matching [cashews.ErrRateLimited], [cashews.ErrCircuitOpen] or
// [cashews.ErrPerfDegraded], are always covered, so a failover Wrap around a circuit-breaker Wrap serves
// cached results while the circuit is open.
//
// Failover stores only successful results (those the condition, cashews.StoreIf, accepts): never an
// error, so cashews.StoreErrors and cashews.OnlyStoreErrors are configuration errors with it. It
// never covers the caller's own cancellation: when the caller's context is done, the call returns
// its error. It serves nothing in a context made by [cashews.Recompute]. A backend error while looking for
// the fallback is joined to the function's error. Failover adds no keys of its own.
func Failover(opts ...FailoverOption) cashews.WrapOption {
	f := &failover{}
	for _, o := range opts {
		if o != nil {
			o(f)
		}
	}
	return cashews.WithStrategy(f)
}

func (*failover) Name() string { return "failover" }

func (f *failover) Decorate(next cashews.Func, env *cashews.Env) (cashews.Func, error) {
	if err := env.RequireTTL("failover"); err != nil {
		return nil, err
	}
	if err := f.cover.check(env, "failover", "FailoverIf"); err != nil {
		return nil, err
	}
	if len(env.Config.Replay) > 0 {
		return nil, fmt.Errorf("%w: %s: failover stores only good results, to serve them when the function fails: cashews.StoreErrors and cashews.OnlyStoreErrors contradict it", cashews.ErrConfig, env.Name)
	}
	return func(ctx context.Context, call cashews.WrapCall) (any, error) {
		v, err := env.Load(ctx, call.Key, func(ctx context.Context) (any, error) {
			start := env.Now()
			v, err := next(ctx, call)
			if err == nil {
				env.Save(ctx, call, v, nil, env.Now().Sub(start), 0)
			}
			return v, err
		})
		if err == nil || ctx.Err() != nil || !f.cover.covers(err) {
			return v, err
		}
		v, served, err := fallback(ctx, env, "failover", call, v, err)
		if served {
			env.Stats.Inc(stats.StaleFailover)
		}
		return v, err
	}, nil
}

// fallback returns the result stored for call in place of err, the covered error, records a hit and
// reports true; or it returns the function's result v, err when no result is stored.
func fallback(ctx context.Context, env *cashews.Env, strategy string, call cashews.WrapCall, v any, err error) (any, bool, error) {
	entry, found, gerr := env.Get(ctx, call.Key)
	if gerr != nil {
		return v, false, errors.Join(err, fmt.Errorf("cashews: %s: %s fallback for %s: %w", env.Name, strategy, quote.String(call.Key), gerr))
	}
	if !found || entry.Err != nil {
		return v, false, err
	}
	env.Hit(ctx, strategy, call, entry, err)
	return entry.Value, true, nil
}

// errorCover decides which errors failover and soft cover with a stored result.
type errorCover struct {
	targets []error
	preds   []func(error) bool
}

// check reports a nil predicate as a configuration error.
func (c *errorCover) check(env *cashews.Env, strategy, option string) error {
	for _, p := range c.preds {
		if p == nil {
			return fmt.Errorf("%w: %s: %s: %s(nil)", cashews.ErrConfig, env.Name, strategy, option)
		}
	}
	return nil
}

// covers reports whether err is covered: every error but cashews.ErrNotFound when neither targets nor
// predicates are set; otherwise the rate-limit and circuit errors and those a target or a predicate
// matches. cashews.ErrNotFound says the source has nothing: serving an old result for it would bring a
// deleted item back, so only an explicit target or predicate covers it.
func (c *errorCover) covers(err error) bool {
	if len(c.targets) == 0 && len(c.preds) == 0 {
		return !errors.Is(err, cashews.ErrNotFound)
	}
	if errors.Is(err, cashews.ErrRateLimited) || errors.Is(err, cashews.ErrCircuitOpen) || errors.Is(err, cashews.ErrPerfDegraded) || matchAny(err, c.targets) {
		return true
	}
	for _, p := range c.preds {
		if p(err) {
			return true
		}
	}
	return false
}

// matchAny reports whether err matches any of targets (errors.Is).
func matchAny(err error, targets []error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}
