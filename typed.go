package cashews

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"reflect"
	"time"

	"github.com/cashews-go/cashews/codec"
	"github.com/cashews-go/cashews/internal/quote"
)

// Get returns the value stored at key as a T. A miss is (zero, false, nil): a missing key, an expired
// one, or a disabled get. The answer is the same on every backend:
//
//   - a value stored as a T is found; a value stored as another Go type is an error matching
//     [ErrWrongType], except integers, which convert to any integer type that holds them (a counter
//     is an integer), and nil, which reads as the zero value of a T that can be nil;
//   - T may be an interface type: any gives the stored Go value on mem://, and on byte backends what
//     the codec makes of the payload without the type (JSON: map[string]any, []any, float64,
//     string, bool or nil; integers: int64; gob cannot decode into an interface it was not given);
//   - at the key of a wrapped function, Get returns the function's result (a stored error result
//     is an error matching [ErrWrongType], and an entry past its expiry by the Cache's clock is a
//     miss);
//   - a value that fails its signature check is an error matching [ErrTampered] and is never decoded.
//
// On mem:// the stored Go value is returned as it is (a hit allocates nothing when it holds a T).
// A value that holds memory (a []byte, a slice, a map, a pointer) may therefore be shared with the
// cache and with other callers, and must not be modified: on mem:// it is the stored value itself;
// a []byte read with the raw codec from a byte backend is the payload in place, a subslice of the
// backend's reply, which Redis' client-side cache keeps and hands to every reader. Copy it
// (bytes.Clone) before changing it.
func Get[T any](ctx context.Context, c *Cache, key string) (T, bool, error) {
	r, v, found, err := c.get(ctx, key)
	if err != nil || !found {
		var zero T
		return zero, false, err
	}
	if r.goValues { // the memory backend's hit, without a call to decode
		if _, wrapped := v.(*storedEntry); !wrapped {
			if t, ok := v.(T); ok {
				return t, true, nil
			}
		}
	}
	return decode[T](c, r, key, v)
}

// GetMany returns the values stored at keys as T, in a map that holds only the keys found. A key
// that holds no value is left out as a missing one is, on every backend: a set, a bit array, a
// sliding window, the error result of a wrapped function, and on byte backends whatever is not a
// value in the Cache's format (a lock's token, data other programs wrote) or fails its signature
// check (such values are also logged, once per burst). A value of another Go type than T is an
// error matching [ErrWrongType], as for [Get].
func GetMany[T any](ctx context.Context, c *Cache, keys ...string) (map[string]T, error) {
	out := make(map[string]T, len(keys))
	err := c.getMany(ctx, keys, func(r *route, key string, v any) error {
		t, found, err := decodeFound[T](ctx, c, r, key, v)
		if found {
			out[key] = t
		}
		return err
	})
	return out, err
}

// KeyValue is one result of [GetMatch].
type KeyValue[T any] struct {
	Key   string
	Value T
}

// GetMatch returns an iterator over the keys matching the glob pattern and their values as T,
// fetched in batches (see [Batch]). Keys that hold no value are left out, as [GetMany] leaves them
// out. An error ends the sequence after it is yielded.
func GetMatch[T any](ctx context.Context, c *Cache, pattern string, opts ...ScanOption) iter.Seq2[KeyValue[T], error] {
	return func(yield func(KeyValue[T], error) bool) {
		stopped := false
		var inner error
		err := c.scan(ctx, pattern, opts, func(r *route, keys []string) bool {
			inner = c.getMany(ctx, keys, func(r *route, key string, v any) error {
				t, found, err := decodeFound[T](ctx, c, r, key, v)
				if err != nil || !found {
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
// caller's cancellation while each caller waits on its own context; when every waiting caller has
// given up, load's context is cancelled and the next caller starts a new load ([WithLoadTimeout]
// bounds it too). A load that returns an error (such as [ErrNotFound]) stores nothing and every
// waiting caller gets the error; a load that panics reaches every caller as a [*PanicError]. A miss
// costs one read and one write. A nil load is an error matching [ErrInvalidArgument].
//
// GetOrSet fails open: when the read fails (the backend is down, say), load runs and its value is
// returned; when storing fails, the value is returned all the same. Such failures are logged once
// per burst and counted in [Cache.SuppressedErrors]; with [WithStrict] they are the caller's error
// instead (a failed store returns the value with the error). A stored value that fails to decode
// (tampered with, corrupted, or of another type) is a miss in either mode: load runs and its value
// replaces it, and the event is logged and counted.
func GetOrSet[T any](ctx context.Context, c *Cache, key string, ttl time.Duration, load func(ctx context.Context) (T, error), opts ...SetOption) (T, error) {
	if load == nil {
		var zero T
		return zero, fmt.Errorf("%w: GetOrSet %s with a nil load function", ErrInvalidArgument, quote.String(key))
	}
	if err := checkTTL(CmdSet, ttl); err != nil {
		var zero T
		return zero, err
	}
	if c == nil {
		var zero T
		return zero, errNilCache
	}
	mark := c.loads.Mark()
	v, found, err := Get[T](ctx, c, key)
	switch {
	case err == nil && found:
		return v, nil
	case err != nil && undecodable(err):
		if r, rerr := c.route(key); rerr == nil {
			c.replaced(ctx, r, key, err)
		}
	case err != nil && (c.strict || !routable(ctx, err)):
		return v, err
	case err != nil:
		c.bypass(ctx, key, err)
	}
	res, _, err := c.loads.Do(ctx, key, mark, c.loadTimeout, func(ctx context.Context) (any, error) {
		v, err := load(ctx)
		if err != nil {
			return nil, err
		}
		if _, err := c.Set(ctx, key, v, ttl, opts...); err != nil {
			if c.strict || !routable(ctx, err) {
				return v, err
			}
			c.bypass(ctx, key, err)
		}
		return v, nil
	})
	t, ok := res.(T)
	if !ok && res != nil {
		return t, fmt.Errorf("%w: concurrent GetOrSet for %s with another type (%T)", ErrWrongType, quote.String(key), res)
	}
	return t, err
}

// undecodable reports whether err says that a stored value could not be decoded: it failed its
// signature check, is not in the Cache's format, or holds another type.
func undecodable(err error) bool {
	var de *decodeError
	return errors.As(err, &de) || errors.Is(err, ErrTampered) || errors.Is(err, ErrFormat) || errors.Is(err, ErrWrongType)
}

// decodeError is the error of a stored value that the codec could not decode into the type asked
// for. It unwraps to the codec's error.
type decodeError struct{ err error }

func (e *decodeError) Error() string { return e.err.Error() }
func (e *decodeError) Unwrap() error { return e.err }

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

// errStoredError is wrapped by reads of a key that holds the error result of a wrapped function.
var errStoredError = fmt.Errorf("%w: the key holds the error result of a wrapped function, not a value", ErrWrongType)

// decode turns what the route's backend returned into a T. found is false for a wrapped function's
// entry past its expiry by the Cache's clock.
func decode[T any](c *Cache, r *route, key string, v any) (T, bool, error) {
	if !r.goValues {
		return decodeBytes[T](c, r, key, v)
	}
	if se, ok := v.(*storedEntry); ok {
		if se.Err != nil {
			var zero T
			return zero, false, fmt.Errorf("cashews: get %s: %w", quote.String(key), errStoredError)
		}
		if c.expired(se.Expires) {
			var zero T
			return zero, false, nil
		}
		v = se.Value
	}
	if t, ok := v.(T); ok {
		return t, true, nil
	}
	t, err := convert[T](key, v)
	return t, err == nil, err
}

// decodeBytes is decode for a byte backend. It is apart from decode so that its target, which
// escapes to the codec, costs the memory backend's hit path nothing.
func decodeBytes[T any](c *Cache, r *route, key string, v any) (T, bool, error) {
	data, ok := v.([]byte)
	if !ok {
		var zero T
		return zero, false, fmt.Errorf("%w: %s returned %T for %s, want []byte", ErrWrongType, r.url, v, quote.String(key))
	}
	if _, isBytes := any((*T)(nil)).(*[]byte); isBytes {
		return decodeByteSlice[T](c, r, key, data)
	}
	return decodeInto[T](c, r, key, data)
}

// decodeInto is decodeBytes through the codec, into a T that escapes to it.
func decodeInto[T any](c *Cache, r *route, key string, data []byte) (T, bool, error) {
	var t T
	m, err := r.format.DecodeMeta(key, data, &t)
	found, err := c.decoded(r, key, m, err)
	return t, found, err
}

// decoded tells what a decoded value means for a read: an error that names it when it did not
// decode or holds a wrapped function's stored error, and not found when it is an expired entry.
func (c *Cache) decoded(r *route, key string, m codec.Meta, err error) (bool, error) {
	if err != nil {
		return false, fmt.Errorf("cashews: decode %s from %s: %w", quote.String(key), r.url, &decodeError{err})
	}
	if m.IsEntry {
		if m.Entry.Err {
			return false, fmt.Errorf("cashews: get %s from %s: %w", quote.String(key), r.url, errStoredError)
		}
		if c.expired(m.Entry.Expires) {
			return false, nil
		}
	}
	return true, nil
}

// decodeByteSlice is decodeBytes for T = []byte: the payload of a raw value comes back in place, a
// subslice of the bytes the backend returned (see [Get] for who may modify it), without a copy.
func decodeByteSlice[T any](c *Cache, r *route, key string, data []byte) (T, bool, error) {
	var t T
	b, m, err := r.format.DecodeBytes(key, data)
	if found, err := c.decoded(r, key, m, err); !found {
		return t, false, err
	}
	*any(&t).(*[]byte) = b
	return t, true, nil
}

// decodeFound is decode for bulk reads: a key that holds no value is not found rather than an error.
// On a byte backend that is whatever is not a value in the Cache's format (a bit array, a lock's
// token, data other programs wrote) or fails its signature check (a bit array can look like a
// signed value, so it must not fail the whole read; under a secret, one that claims a signature is
// logged, once per burst); a value of another Go type is still an error.
func decodeFound[T any](ctx context.Context, c *Cache, r *route, key string, v any) (T, bool, error) {
	t, found, err := decode[T](c, r, key, v)
	switch {
	case err == nil:
		return t, found, nil
	case errors.Is(err, errStoredError), errors.Is(err, ErrFormat):
		return t, false, nil
	case errors.Is(err, ErrTampered):
		if data, ok := v.([]byte); ok && r.format.Signs() && codec.LooksSigned(data) {
			c.skippedTampered(ctx, r, key, err)
		}
		return t, false, nil
	}
	return t, false, err
}

// expired reports whether a wrapped function's entry with the given expiry is past it by the
// Cache's clock. Backends expire keys on their own clock; checking here too makes the Cache's clock
// the one that counts. On the system clock it reads a coarse clock (package internal/coarse; its
// goroutine starts at the first read and is the Cache's, see Cache.Go), as the memory backend does:
// a read may take an entry up to about a millisecond after it expired; writes read the clock
// itself, so an entry never expires early, and an injected clock (WithClock) is read directly.
func (c *Cache) expired(expires int64) bool {
	if expires <= 0 {
		return false
	}
	if c.coarse != nil {
		return c.coarse.Read() >= expires
	}
	return c.clock.Now().UnixNano() >= expires
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

func unixNow() int64 { return time.Now().UnixNano() }
