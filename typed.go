package cashews

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"reflect"
	"time"

	"github.com/cashews-go/cashews/internal/quote"
)

// Get returns the value stored at key as a T. A miss is (zero, false, nil): a missing key, an expired
// one, or a disabled get. On the memory backend the stored Go value is returned as it is (a hit
// allocates nothing when it holds a T); a stored value of another type is an error matching
// [ErrWrongType], except integers, which convert to any integer type that holds them. On byte
// backends the value is decoded by the backend's codec; a value that fails its signature check is
// an error matching codec.ErrTampered and is never decoded.
func Get[T any](ctx context.Context, c *Cache, key string) (T, bool, error) {
	r, v, found, err := c.get(ctx, key)
	if err != nil || !found {
		var zero T
		return zero, false, err
	}
	t, err := decode[T](r, key, v)
	if err != nil {
		return t, false, err
	}
	return t, true, nil
}

// GetMany returns the values stored at keys as T, in a map that holds only the keys found.
func GetMany[T any](ctx context.Context, c *Cache, keys ...string) (map[string]T, error) {
	out := make(map[string]T, len(keys))
	err := c.getMany(ctx, keys, func(r *route, key string, v any) error {
		t, err := decode[T](r, key, v)
		if err != nil {
			return err
		}
		out[key] = t
		return nil
	})
	return out, err
}

// KeyValue is one result of [GetMatch].
type KeyValue[T any] struct {
	Key   string
	Value T
}

// GetMatch returns an iterator over the keys matching the glob pattern and their values as T,
// fetched in batches (see [Batch]). An error ends the sequence after it is yielded.
func GetMatch[T any](ctx context.Context, c *Cache, pattern string, opts ...ScanOption) iter.Seq2[KeyValue[T], error] {
	return func(yield func(KeyValue[T], error) bool) {
		stopped := false
		var inner error
		err := c.scan(ctx, pattern, opts, func(r *route, keys []string) bool {
			inner = c.getMany(ctx, keys, func(r *route, key string, v any) error {
				t, err := decode[T](r, key, v)
				if err != nil {
					return err
				}
				if !yield(KeyValue[T]{Key: key, Value: t}, nil) {
					stopped = true
					return errStop
				}
				return nil
			})
			return inner == nil
		})
		if err == nil && !errors.Is(inner, errStop) {
			err = inner
		}
		if err != nil && !stopped {
			yield(KeyValue[T]{}, err)
		}
	}
}

var errStop = errors.New("stop")

// GetOrSet returns the value at key, or runs load, stores its result for ttl and returns it. Among
// concurrent callers of one Cache for the same key, load runs once: it runs detached from every
// caller's cancellation while each caller waits on its own context. A load that returns an error
// (such as [ErrNotFound]) stores nothing and every waiting caller gets the error; a load that panics
// reaches every caller as a [*PanicError]. If storing fails, the loaded value is returned with the
// error. A nil load is an error matching [ErrInvalidArgument].
func GetOrSet[T any](ctx context.Context, c *Cache, key string, ttl time.Duration, load func(ctx context.Context) (T, error), opts ...SetOption) (T, error) {
	if load == nil {
		var zero T
		return zero, fmt.Errorf("%w: GetOrSet %s with a nil load function", ErrInvalidArgument, quote.String(key))
	}
	if err := checkTTL(CmdSet, ttl); err != nil {
		var zero T
		return zero, err
	}
	if v, found, err := Get[T](ctx, c, key); err != nil || found {
		return v, err
	}
	res, _, err := c.loads.Do(ctx, key, func(ctx context.Context) (any, error) {
		// Another caller may have stored it between our miss and the start of this load.
		if v, found, err := Get[T](ctx, c, key); err == nil && found {
			return v, nil
		}
		v, err := load(ctx)
		if err != nil {
			return nil, err
		}
		_, err = c.Set(ctx, key, v, ttl, opts...)
		return v, err
	})
	t, ok := res.(T)
	if !ok && res != nil {
		return t, fmt.Errorf("%w: concurrent GetOrSet for %s with another type (%T)", ErrWrongType, quote.String(key), res)
	}
	return t, err
}

// encode turns a value into what the route's backend stores.
func (r *route) encode(key string, v any) (any, error) {
	if r.goValues {
		return v, nil
	}
	b, err := r.format.Encode(key, v)
	if err != nil {
		return nil, fmt.Errorf("cashews: encode %s for %s: %w", quote.String(key), r.url, err)
	}
	return b, nil
}

// decode turns what the route's backend returned into a T.
func decode[T any](r *route, key string, v any) (T, error) {
	if t, ok := v.(T); ok && r.goValues {
		return t, nil
	}
	var t T
	if r.goValues {
		return convert[T](key, v)
	}
	data, ok := v.([]byte)
	if !ok {
		return t, fmt.Errorf("%w: %s returned %T for %s, want []byte", ErrWrongType, r.url, v, quote.String(key))
	}
	if err := r.format.Decode(key, data, &t); err != nil {
		return t, fmt.Errorf("cashews: decode %s from %s: %w", quote.String(key), r.url, err)
	}
	return t, nil
}

// convert handles the stored Go values that are not a T but stand for one: nil for a nilable T, and
// integers (Incr stores int64) for any integer type that holds them.
func convert[T any](key string, v any) (T, error) {
	var t T
	rt := reflect.TypeFor[T]()
	if v == nil {
		switch rt.Kind() {
		case reflect.Interface, reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
			return t, nil
		}
		return t, fmt.Errorf("%w: value at %s is nil, not %v", ErrWrongType, quote.String(key), rt)
	}
	rv := reflect.ValueOf(v)
	dst := reflect.ValueOf(&t).Elem()
	switch {
	case rv.CanInt() && dst.CanInt():
		if n := rv.Int(); !dst.OverflowInt(n) {
			dst.SetInt(n)
			return t, nil
		}
	case rv.CanInt() && dst.CanUint():
		if n := rv.Int(); n >= 0 && !dst.OverflowUint(uint64(n)) {
			dst.SetUint(uint64(n))
			return t, nil
		}
	case rv.CanUint() && dst.CanUint():
		if n := rv.Uint(); !dst.OverflowUint(n) {
			dst.SetUint(n)
			return t, nil
		}
	case rv.CanUint() && dst.CanInt():
		if n := rv.Uint(); n <= 1<<63-1 && !dst.OverflowInt(int64(n)) {
			dst.SetInt(int64(n))
			return t, nil
		}
	}
	return t, fmt.Errorf("%w: value at %s is %T, not %v", ErrWrongType, quote.String(key), v, rt)
}
