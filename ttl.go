package cashews

import (
	"fmt"
	"reflect"
	"time"

	"github.com/cashews-go/cashews/strategies"
)

// ResultTTL sets the TTL of each stored result from the result itself (and its error, for the
// errors [StoreErrors] stores), as otter's ExpiryCalculator does: a token kept until its own
// expiry, a short TTL for an empty result. A TTL of zero or less stores nothing: the result is
// returned and computed again on the next call. A TTL longer than backends.MaxTTL counts as MaxTTL.
//
// It replaces [TTL] and [TTLFunc]: giving it with either of them is a configuration error, since one
// of the two would silently lose. The result type must be the wrapped function's (a mismatch, or a
// nil f, is a configuration error); for an error result f gets the zero value and the error. The
// early and soft strategies turn an entry stale after their own durations, so an entry whose TTL is
// shorter never turns stale; the hit strategy fixes an entry's expiry before the function runs and
// does not take ResultTTL. With [WrapMany], f gets each id's value and a nil error.
func ResultTTL[R any](f func(result R, err error) time.Duration) WrapOption {
	return wrapOption(func(c *strategies.Config) {
		if f == nil {
			c.Errs = append(c.Errs, fmt.Errorf("%w: ResultTTL with a nil function", strategies.ErrConfig))
			return
		}
		c.ResultTTL = func(v any, err error) time.Duration {
			r, _ := v.(R)
			return f(r, err)
		}
		c.Errs = append(c.Errs, resultTypeCheck{reflect.TypeFor[R](), "ResultTTL"})
	})
}

// resultTypeCheck is a deferred check that an option's result type matches the wrapped function's;
// Wrap resolves it (see [checkOptions]).
type resultTypeCheck struct {
	t    reflect.Type
	what string
}

func (r resultTypeCheck) Error() string { return "result type check for " + r.what }

// checkOptions resolves the deferred checks of cfg.Errs against the wrapped function's argument
// type a and result type r, and returns the configuration mistakes.
func checkOptions(cfg *strategies.Config, name string, a, r reflect.Type) []error {
	var errs []error
	for _, err := range cfg.Errs {
		switch chk := err.(type) {
		case argTypeCheck:
			if chk.t != a {
				errs = append(errs, fmt.Errorf("%w: %s: %s takes %v, but the function takes %v", strategies.ErrConfig, name, chk.what, chk.t, a))
			}
		case resultTypeCheck:
			if chk.t != r {
				errs = append(errs, fmt.Errorf("%w: %s: %s takes %v, but the function returns %v", strategies.ErrConfig, name, chk.what, chk.t, r))
			}
		default:
			errs = append(errs, err)
		}
	}
	if cfg.ResultTTL != nil && (cfg.TTL > 0 || cfg.TTLFunc != nil) {
		errs = append(errs, fmt.Errorf("%w: %s: ResultTTL with TTL or TTLFunc: give one way to set the TTL", strategies.ErrConfig, name))
	}
	return errs
}
