package strategies

import (
	"context"
	"fmt"
	"github.com/cashews-go/cashews"
	"time"

	"github.com/cashews-go/cashews/internal/stats"
)

type soft struct {
	softTTL time.Duration
	cover   errorCover
}

// SoftOption configures [Soft].
type SoftOption func(*soft)

// SoftOn makes soft serve the stale result only for the errors that match one of targets with
// errors.Is (and the errors of [SoftIf], if given), instead of every error. [cashews.ErrRateLimited],
// [cashews.ErrCircuitOpen] and [cashews.ErrPerfDegraded] are covered in any case.
func SoftOn(targets ...error) SoftOption {
	return func(s *soft) { s.cover.targets = append(s.cover.targets, targets...) }
}

// SoftIf makes soft serve the stale result only for the errors for which match returns true (and the
// errors of [SoftOn], if given), instead of every error. [cashews.ErrRateLimited], [cashews.ErrCircuitOpen] and
// [cashews.ErrPerfDegraded] are covered in any case.
func SoftIf(match func(err error) bool) SoftOption {
	return func(s *soft) { s.cover.preds = append(s.cover.preds, match) }
}

// Soft stores each result for the TTL (the hard TTL) and considers it fresh for softTTL: cashews'
// soft. A call that finds a fresh entry returns it. The first call after softTTL runs the function
// in the foreground (concurrent calls for one key share the run, unless NoDedup): when it succeeds,
// its result replaces the entry and is returned; when it fails with a covered error, the call
// returns the stale result and a nil error, and records a detect hit whose Err is the covered error.
// The stale entry stays, so the next call tries again, until the hard TTL ends it; after that a
// failure is the caller's error.
//
// Every error but cashews.ErrNotFound is covered by default; [SoftOn] and [SoftIf] choose, and [cashews.ErrRateLimited],
// [cashews.ErrCircuitOpen] and [cashews.ErrPerfDegraded] are always covered. The caller's own cancellation is never covered, and a stale
// stored error (cashews.StoreErrors) is not served in place of a new one. softTTL must be positive
// and, with a fixed TTL, shorter than it. Soft adds no keys of its own: the soft deadline is stored
// in the entry.
func Soft(softTTL time.Duration, opts ...SoftOption) cashews.WrapOption {
	s := &soft{softTTL: softTTL}
	for _, o := range opts {
		if o != nil {
			o(s)
		}
	}
	return cashews.WithStrategy(s)
}

func (*soft) Name() string { return "soft" }

func (s *soft) Decorate(next cashews.Func, env *cashews.Env) (cashews.Func, error) {
	if err := env.RequireTTL("soft"); err != nil {
		return nil, err
	}
	if s.softTTL <= 0 {
		return nil, fmt.Errorf("%w: %s: soft: the soft TTL %v must be positive", cashews.ErrConfig, env.Name, s.softTTL)
	}
	if env.Config.FixedTTL() && s.softTTL >= env.Config.TTL {
		return nil, fmt.Errorf("%w: %s: soft: the soft TTL %v must be shorter than the TTL %v", cashews.ErrConfig, env.Name, s.softTTL, env.Config.TTL)
	}
	if err := s.cover.check(env, "soft", "SoftIf"); err != nil {
		return nil, err
	}
	return func(ctx context.Context, call cashews.WrapCall) (any, error) {
		mark := env.Mark(ctx)
		entry, found, err := env.Get(ctx, call.Key)
		if err != nil {
			if !env.RouteAround(ctx, call.Key, err) {
				return nil, err
			}
			found = false
		}
		if found && !env.Stale(entry) {
			env.Stats.Inc(stats.FuncHits)
			env.Hit(ctx, "soft", call, entry, nil)
			return entry.Value, entry.Err
		}
		env.Stats.Inc(stats.FuncMisses)
		v, err := env.LoadAfter(ctx, call.Key, mark, func(ctx context.Context) (any, error) {
			return env.Run(ctx, next, call, s.softTTL)
		})
		if err == nil || !found || entry.Err != nil || ctx.Err() != nil || !s.cover.covers(err) {
			return v, err
		}
		env.Stats.Inc(stats.StaleSoft)
		env.Hit(ctx, "soft", call, entry, err)
		return entry.Value, nil
	}, nil
}
