package cashews

import (
	"fmt"
	"time"
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
	return wrapOption(func(c *WrapConfig) {
		if f == nil {
			c.errs = append(c.errs, fmt.Errorf("%w: ResultTTL with a nil function", ErrConfig))
			return
		}
		c.resultTTL = f // Wrap checks R against its function's result type
	})
}
