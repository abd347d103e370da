package cashews

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"github.com/cashews-go/cashews/keytemplate"
)

// The strategy framework: what a strategy is (a decorator over [Func]), the call it sees
// ([WrapCall]), what it stores ([Entry]) and the configuration of one Wrap ([WrapConfig]). The
// strategies themselves (failover, early, soft, locked, ...) live in package strategies, which
// imports this one; Wrap uses simple (simple.go) when none is given. See ARCHITECTURE.md.

// WrapCall is one call of a wrapped function as strategies see it. It is passed by value: a
// strategy may change its copy (a different TTL, say) before calling next.
type WrapCall struct {
	Key  string        // the cache key rendered from the argument
	TTL  time.Duration // the TTL of this call's result (the TTL option, or its function of the argument)
	Tags []string      // the rendered tags
	Arg  any           // the argument of the wrapped function
}

// Func computes or fetches the result of a call. The innermost Func runs the wrapped function.
type Func func(ctx context.Context, call WrapCall) (any, error)

// Strategy puts a behaviour around a Func. Wrap calls Decorate once; an error there is a
// configuration mistake that Wrap reports (wrap it with [ErrConfig]). [WithStrategy] makes a
// Strategy an option of Wrap; package strategies holds the built-in ones, already as options.
type Strategy interface {
	// Name is the strategy's name for detect and errors ("simple", "failover", ...).
	Name() string
	// Decorate returns next with the strategy around it.
	Decorate(next Func, env *Env) (Func, error)
}

// WithStrategy makes s the strategy of a Wrap call. A Wrap has one strategy: a second is a
// configuration error, and strategies stack by nesting Wrap calls. A nil s is a configuration
// error too.
func WithStrategy(s Strategy) WrapOption {
	return wrapOption(func(c *WrapConfig) { c.setStrategy(s) })
}

// Entry is what a wrapped function stores for a call: its result and the strategy's bookkeeping.
// The memory backend keeps the *Entry as it is: never modify an Entry after storing it.
type Entry struct {
	Value   any   // the result of the function
	Err     error // an error result stored by a condition and replayed on hits, or nil
	Expires int64 // when the entry expires (Unix nanoseconds); 0 if never
	Stale   int64 // when the entry turns stale for early and soft (Unix nanoseconds); 0 if never
}

// entryStore stores the entries of one wrapped function; *entries[R] (entries.go) is the one
// implementation, for the function's result type R.
type entryStore interface {
	Get(ctx context.Context, key string) (*Entry, bool, error)
	Set(ctx context.Context, key string, e *Entry, ttl time.Duration, tags []string) (bool, error)
}

// WrapOption configures [Wrap]: the options of this package (TTL, Key, Tags, ...) and every
// strategy (see [WithStrategy] and package strategies).
type WrapOption interface {
	applyWrap(*WrapConfig)
}

type wrapOption func(*WrapConfig)

func (o wrapOption) applyWrap(c *WrapConfig) { o(c) }

// Decision is what a [Condition] decides about a result.
type Decision uint8

// The decisions.
const (
	Skip       Decision = iota // store nothing
	StoreValue                 // store the value (the error was nil)
	StoreError                 // store the error, to replay it on hits until the entry expires
)

// Condition decides whether a result of the wrapped function is stored.
type Condition func(value any, err error) Decision

// WrapConfig is the configuration of one Wrap call, filled by its options. Strategies read it in
// Decorate through [Env.Config]; they must not change it.
type WrapConfig struct {
	TTL         time.Duration               // the TTL option
	TTLFunc     func(arg any) time.Duration // the TTL as a function of the argument, or nil
	Key         string                      // the key template; "" for the default key
	Prefix      string                      // prepended to the key
	Tags        []string                    // tag templates
	Condition   Condition                   // nil: store every successful result
	Replay      []error                     // errors a condition may store, replayed on hits
	MinLatency  time.Duration               // results computed faster than this are not stored
	NoDedup     bool                        // concurrent calls for one key each run the function
	Strict      bool                        // backend errors reach the caller instead of being routed around
	LoadTimeout time.Duration               // bounds each run of the function (0: the Cache's default)
	Name        string                      // the function's name, for the default key and errors
	Version     string                      // bumped by hand to make old entries misses
	// ResultTTL is the TTL as a function of the result (and error), or nil; a TTL of zero or less
	// stores nothing.
	ResultTTL func(v any, err error) time.Duration

	strategy Strategy // nil: simple
	errs     []error  // mistakes found while applying the options
	// ttlFunc is the function of TTLFunc as given (a func(A) time.Duration); Wrap checks its
	// argument type against the wrapped function's and sets TTLFunc.
	ttlFunc any
	// key is the compiled template of a KeyTemplate option (a *keytemplate.Template[A]), so that
	// Wrap does not compile it again, and the type A it takes; nil when Key is a template string.
	key    any
	keyArg reflect.Type
	// resultTTL is the function of ResultTTL as given (a func(R, error) time.Duration); Wrap checks
	// its result type against the wrapped function's and sets ResultTTL.
	resultTTL any
	// seqOnly is set by an option that only WrapSeq and WrapSeq2 take (SeqLimit).
	seqOnly bool
}

// setStrategy sets the strategy of the Wrap call, and records a mistake when one is already set:
// a Wrap has one strategy, and strategies stack by nesting Wrap calls.
func (c *WrapConfig) setStrategy(s Strategy) {
	switch {
	case s == nil || isNil(s):
		c.errs = append(c.errs, fmt.Errorf("%w: nil strategy", ErrConfig))
	case c.strategy != nil:
		c.errs = append(c.errs, fmt.Errorf("%w: two strategies (%s and %s) in one Wrap; nest Wrap calls to stack them", ErrConfig, c.strategy.Name(), s.Name()))
	default:
		c.strategy = s
	}
}

// HasTTL reports whether the Wrap call has a TTL.
func (c *WrapConfig) HasTTL() bool {
	return c.TTL > 0 || c.TTLFunc != nil || c.ttlFunc != nil || c.ResultTTL != nil || c.resultTTL != nil
}

// FixedTTL reports whether every result is stored for TTL (no TTLFunc, no ResultTTL).
func (c *WrapConfig) FixedTTL() bool {
	return c.TTLFunc == nil && c.ttlFunc == nil && c.ResultTTL == nil && c.resultTTL == nil
}

// resolve finishes the configuration for a function taking an A and returning an R: it checks the
// argument types of TTLFunc and KeyTemplate options against A and the result type of ResultTTL
// against R, and returns the options' mistakes. WrapSeq calls it with the sequence's []V as R, and
// WrapMany with an id and a value.
func resolve[A, R any](c *WrapConfig, name string) []error {
	errs := c.errs
	argType, resultType := reflect.TypeFor[A](), reflect.TypeFor[R]()
	mismatch := func(what string, t reflect.Type) {
		errs = append(errs, fmt.Errorf("%w: %s: %s takes %v, but the function takes %v", ErrConfig, name, what, t, argType))
	}
	if c.ttlFunc != nil {
		if f, ok := c.ttlFunc.(func(A) time.Duration); ok {
			c.TTLFunc = func(arg any) time.Duration {
				a, _ := arg.(A)
				return f(a)
			}
		} else {
			mismatch("TTLFunc", reflect.TypeOf(c.ttlFunc).In(0))
		}
	}
	if c.key != nil {
		if _, ok := c.key.(*keytemplate.Template[A]); !ok {
			mismatch(fmt.Sprintf("the KeyTemplate %q", c.Key), c.keyArg)
		}
	}
	if c.resultTTL != nil {
		if f, ok := c.resultTTL.(func(R, error) time.Duration); ok {
			c.ResultTTL = func(v any, err error) time.Duration {
				r, _ := v.(R)
				return f(r, err)
			}
		} else {
			errs = append(errs, fmt.Errorf("%w: %s: ResultTTL takes %v, but the function returns %v", ErrConfig, name, reflect.TypeOf(c.resultTTL).In(0), resultType))
		}
		if c.TTL > 0 || c.ttlFunc != nil {
			errs = append(errs, fmt.Errorf("%w: %s: ResultTTL with TTL or TTLFunc: give one way to set the TTL", ErrConfig, name))
		}
	}
	if c.seqOnly {
		errs = append(errs, fmt.Errorf("%w: SeqLimit applies to WrapSeq and WrapSeq2 only", ErrConfig))
	}
	return errs
}
