package cashews

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"time"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/codec"
	"github.com/cashews-go/cashews/internal/burst"
	"github.com/cashews-go/cashews/internal/quote"
)

// signedCounters is the Counter (backends.Counter) of a byte backend set up with a secret. Every value there is signed,
// counters included, and the store cannot sign (it has no secret), so its own INCR is not used:
// Incr reads the counter, verifies its signature, adds, signs the sum and writes it back with
// compare-and-swap, keeping the TTL, and tries again when another writer changed the counter in
// between. A missing counter is created with set-if-absent and the TTL.
//
// Within one process, Incr calls on the same key take turns (keys share one of 256 stripes), so
// that they do not spend their round trips losing races to one another: compare-and-swap then only
// retries against other processes. A stripe remembers the last counter it wrote, and the next Incr
// of that key starts from it instead of reading it back: when no other process wrote meanwhile, an
// Incr costs one compare-and-swap, and when one did, the failed swap returns the current value.
type signedCounters struct {
	b       backends.Backend
	format  *codec.Format
	cas     backends.CompareAndSwapper // nil when the backend has none
	name    string
	seed    maphash.Seed
	stripes [256]counterStripe
}

// counterStripe is the turn of the keys that hash to it, and the last counter one of them wrote.
type counterStripe struct {
	turn chan struct{} // one token: whoever holds it may use key and last
	key  string
	last []byte
}

// withSignedCounters wraps b for a route whose values are signed.
func withSignedCounters(b backends.Backend, f *codec.Format, name string) *signedCounters {
	cas, _ := b.(backends.CompareAndSwapper)
	s := &signedCounters{b: b, format: f, cas: cas, name: name, seed: maphash.MakeSeed()}
	for i := range s.stripes {
		s.stripes[i].turn = make(chan struct{}, 1)
	}
	return s
}

// Incr adds by to the signed counter at key: it reads the counter (or starts from the one its
// stripe last wrote), verifies it, and writes the sum with compare-and-swap, one round trip each on
// Redis. When another process won the race, the failed swap returns the current value, so a retry
// costs one round trip; after three failed attempts in a row Incr waits a little, with jitter,
// before the next one. It waits for its turn, and for the backend, no longer than ctx allows.
func (s *signedCounters) Incr(ctx context.Context, key string, by int64, ttl time.Duration) (int64, error) {
	if s.cas == nil {
		return 0, fmt.Errorf("cashews: incr %q: with a secret, counters are signed, and updating one needs a backend with compare-and-swap (backends.CompareAndSwapper), which %s is not: %w",
			key, s.name, errors.ErrUnsupported)
	}
	if ttl < 0 {
		return 0, fmt.Errorf("%w: %s: negative TTL %v", ErrInvalidArgument, CmdIncr, ttl)
	}
	st := &s.stripes[maphash.String(s.seed, key)%uint64(len(s.stripes))]
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("cashews: incr %s on %s: %w", quote.String(key), s.name, err)
	}
	select {
	case st.turn <- struct{}{}:
	case <-ctx.Done():
		return 0, fmt.Errorf("cashews: incr %s on %s: waiting for the counter: %w", quote.String(key), s.name, ctx.Err())
	}
	defer func() { <-st.turn }()
	n, data, err := s.incr(ctx, st, key, by, ttl)
	if err != nil {
		st.key, st.last = "", nil
		return 0, err
	}
	st.key, st.last = key, data
	return n, nil
}

// incr is Incr's loop, run while holding st's turn. It returns the new value and its encoding.
func (s *signedCounters) incr(ctx context.Context, st *counterStripe, key string, by int64, ttl time.Duration) (int64, []byte, error) {
	var cur any
	var found bool
	var err error
	if st.key == key && st.last != nil {
		cur, found = st.last, true
	} else {
		cur, found, err = s.b.Get(ctx, key)
	}
	for attempt := 0; ; attempt++ {
		if err != nil {
			return 0, nil, err
		}
		if attempt > 0 {
			if err := casBackoff(ctx, attempt); err != nil {
				return 0, nil, err
			}
		}
		if !found {
			data, created, cerr := s.create(ctx, key, by, ttl)
			if cerr != nil || created {
				return by, data, cerr
			}
			cur, found, err = s.b.Get(ctx, key)
			continue
		}
		old, ok := cur.([]byte)
		if !ok {
			return 0, nil, fmt.Errorf("%w: %s returned %T for %s, want []byte", ErrWrongType, s.name, cur, quote.String(key))
		}
		n, err := s.format.DecodeCounter(key, old)
		if err != nil {
			return 0, nil, fmt.Errorf("cashews: incr %s on %s: %w", quote.String(key), s.name, err)
		}
		if (by > 0 && n > math.MaxInt64-by) || (by < 0 && n < math.MinInt64-by) {
			return 0, nil, fmt.Errorf("cashews: incr %s on %s: %d + %d overflows an int64: %w", quote.String(key), s.name, n, by, ErrInvalidArgument)
		}
		data, err := s.format.Encode(key, n+by)
		if err != nil {
			return 0, nil, err
		}
		swapped, now, err := s.cas.CompareAndSwap(ctx, key, old, data)
		if err != nil || swapped {
			return n + by, data, err
		}
		cur, found = now.Value, now.Found
	}
}

// create stores a new counter of n at key with ttl unless the key exists, and reports whether it did.
func (s *signedCounters) create(ctx context.Context, key string, n int64, ttl time.Duration) ([]byte, bool, error) {
	data, err := s.format.Encode(key, n)
	if err != nil {
		return nil, false, err
	}
	ok, err := s.b.Set(ctx, key, data, ttl, backends.SetIfAbsent)
	return data, ok, err
}

// casBackoff waits before attempt (counted from 1) of a compare-and-swap loop: not at all for the first
// three, then a random time up to 50µs doubled per attempt, at most about 3ms. Every failed attempt
// means another writer succeeded, so the loop as a whole always progresses; the jitter keeps one
// writer from losing every race.
func casBackoff(ctx context.Context, attempt int) error {
	if attempt <= 3 {
		return ctx.Err()
	}
	limit := 50 * time.Microsecond << min(attempt-4, 6)
	t := time.NewTimer(rand.N(limit) + time.Microsecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// counterText returns the integer that a raw value stands for in a byte store: the canonical
// decimal text of an int64, as a string or []byte, which is what Redis INCR counts from.
func counterText(v any) (int64, bool) {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case []byte:
		s = string(x)
	default:
		return 0, false
	}
	if len(s) == 0 || len(s) > 20 {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && strconv.FormatInt(n, 10) == s
}

// burstLog logs the first event of a burst at once and sums up the later ones in one record per
// period (see package internal/burst), on the Cache's clock.
type burstLog struct{ burst.Log }

const burstLogEvery = 10 * time.Second

// log writes the record unless one was written less than burstLogEvery ago, in which case it only
// counts the event for the next record.
func (b *burstLog) log(ctx context.Context, c *Cache, level slog.Level, msg string, attrs ...slog.Attr) {
	if unseen, due := b.Due(c.clock.Now(), burstLogEvery); due {
		c.logger.LogAttrs(ctx, level, msg, append(attrs, slog.Int64("unlogged_since_last_record", unseen))...)
	}
}

// EncodeErrors returns how many results of wrapped functions could not be stored so far because
// the codec of their key's backend could not encode them (a value the result type allows but the
// codec refuses, such as a NaN under JSON or an interface field holding a chan). Each failure is
// also logged, once per burst; the wrapped function's caller still gets the result.
func (c *Cache) EncodeErrors() int64 { return c.encodeErrors.Load() }

// encodeFailed counts and logs a result that could not be encoded for its backend.
func (c *Cache) encodeFailed(ctx context.Context, r *route, key string, err error) {
	c.encodeErrors.Add(1)
	c.encodeLog.log(ctx, c, slog.LevelError, "cashews: a result could not be stored: its backend's codec cannot encode it",
		slog.String("backend", r.url), slog.String("key", shortKey(key)), slog.Any("error", err))
}

// skippedTampered logs a value that a bulk read left out because it failed its signature check.
func (c *Cache) skippedTampered(ctx context.Context, r *route, key string, err error) {
	c.tamperedLog.log(ctx, c, slog.LevelWarn, "cashews: a value that fails its signature check was left out of a bulk read",
		slog.String("backend", r.url), slog.String("key", shortKey(key)), slog.Any("error", err))
}

// shortKey returns key for a log record, cut to 200 bytes.
func shortKey(key string) string {
	if len(key) > 200 {
		return key[:200] + "... (" + strconv.Itoa(len(key)) + " bytes)"
	}
	return key
}

// checkResultType reports a result type R that the codec of a backend where the wrapped function's
// keys go cannot encode, as far as the type alone shows. The keys' literal prefix (the template up
// to its first placeholder) picks the backends: the one that takes that prefix, and those whose
// longer prefixes start with it. Backends set up after Wrap are checked at run time instead (see
// Cache.EncodeErrors).
func checkResultType[R any](c *Cache, keyPrefix string) error {
	t := reflect.TypeFor[R]()
	for _, r := range c.routeList() {
		if r.goValues {
			continue
		}
		takes := len(r.prefix) <= len(keyPrefix) && keyPrefix[:len(r.prefix)] == r.prefix
		within := len(r.prefix) > len(keyPrefix) && r.prefix[:len(keyPrefix)] == keyPrefix
		if takes {
			// A longer prefix that also takes every key would win: only the longest counts.
			for _, o := range c.routeList() {
				if len(o.prefix) > len(r.prefix) && len(o.prefix) <= len(keyPrefix) && keyPrefix[:len(o.prefix)] == o.prefix {
					takes = false
					break
				}
			}
		}
		if !takes && !within {
			continue
		}
		if err := r.format.CheckType(t); err != nil {
			return fmt.Errorf("%w: its results (%v) go to %s, whose codec cannot store them: %w", ErrConfig, t, r.url, err)
		}
	}
	return nil
}

// literalPrefix returns the text of a key template up to its first placeholder, with "{{" and "}}"
// read as the braces they stand for.
func literalPrefix(template string) string {
	var out []byte
	for i := 0; i < len(template); i++ {
		ch := template[i]
		if (ch == '{' || ch == '}') && i+1 < len(template) && template[i+1] == ch {
			out = append(out, ch)
			i++
			continue
		}
		if ch == '{' {
			break
		}
		out = append(out, ch)
	}
	return string(out)
}
