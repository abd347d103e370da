package cashews

import (
	"context"

	"github.com/cashews-go/cashews/internal/stats"
)

type simple struct{}

// Simple returns the default strategy as an option of Wrap: compute, store for the TTL, and return
// the stored result until it expires. Wrap uses it when no other strategy is given. When the cache
// fails, the function runs and its result is returned (see [Env.RouteAround]).
func Simple() WrapOption { return WithStrategy(simple{}) }

func (simple) Name() string { return "simple" }

func (simple) Decorate(next Func, env *Env) (Func, error) {
	if err := env.RequireTTL("simple"); err != nil {
		return nil, err
	}
	return func(ctx context.Context, call WrapCall) (any, error) {
		mark := env.Mark(ctx)
		entry, found, err := env.Get(ctx, call.Key)
		if err != nil {
			if !env.RouteAround(ctx, call.Key, err) {
				return nil, err
			}
		} else if found {
			env.Stats.Inc(stats.FuncHits)
			env.Hit(ctx, "simple", call, entry, nil)
			return entry.Value, entry.Err
		}
		env.Stats.Inc(stats.FuncMisses)
		return env.Fill(ctx, next, call, 0, mark)
	}, nil
}
