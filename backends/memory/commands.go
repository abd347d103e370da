package memory

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/internal/quote"
)

func checkTTL(ttl time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("cashews: memory backend: negative TTL %s: %w", ttl, backends.ErrInvalidArgument)
	}
	return nil
}

func wrongType(key string, k kind) error {
	return fmt.Errorf("cashews: memory backend: key %s holds %s: %w", quote.String(key), k, backends.ErrWrongType)
}

// prepare checks a value to store and returns what to keep and its size. extra is what the entry
// costs beyond its key and value (its tags).
func (b *Backend) prepare(key string, value any, extra int64) (any, int64, error) {
	if b.copy {
		switch v := value.(type) {
		case []byte:
			value = cloneBytes(v)
		case string:
			value = []byte(v)
		default:
			return nil, 0, fmt.Errorf("cashews: memory backend with copy=true stores []byte values; got %T for key %s: %w", value, quote.String(key), backends.ErrInvalidArgument)
		}
	}
	if b.maxBytes == 0 {
		return value, 0, nil
	}
	size := b.valueSize(value)
	if cost := int64(len(key)) + size + EntryOverhead + extra; cost > b.maxBytes {
		return nil, 0, fmt.Errorf("cashews: memory backend: entry for key %s takes %d bytes, more than max_bytes=%d: %w", quote.String(key), cost, b.maxBytes, backends.ErrInvalidArgument)
	}
	return value, size, nil
}

func cloneBytes(v []byte) []byte {
	if v == nil {
		return nil
	}
	return append(make([]byte, 0, len(v)), v...)
}

// out returns a stored plain value for a reader: a copy in copy mode.
func (b *Backend) out(v any) any {
	if b.copy {
		if p, ok := v.([]byte); ok {
			return cloneBytes(p)
		}
	}
	return v
}

// Get returns the value stored at key. A key holding a set, bit array or sliding window is an error
// wrapping [backends.ErrWrongType]. A hit takes no lock, writes nothing that other readers read
// (bar the key's SIEVE bit, once per sweep) and allocates nothing (unless the backend copies).
func (b *Backend) Get(_ context.Context, key string) (any, bool, error) {
	if b.closed.Load() {
		return nil, false, errClosed
	}
	s, h := b.shardFor(key)
	e := s.find(key, h)
	if e == nil {
		return nil, false, nil
	}
	if exp := e.expiry(); exp != 0 && b.readNow() >= exp {
		return nil, false, nil
	}
	st := e.stored()
	if st.kind != kindValue {
		return nil, false, wrongType(key, st.kind)
	}
	if !e.visited.Load() { // written once per sweep of the hand, not on every hit
		e.visited.Store(true)
	}
	v := st.value
	if b.copy {
		v = b.out(v)
	}
	return v, true, nil
}

// GetMany returns one Entry per key, in the order of keys. As Redis' MGET, it reports a key that
// holds a set, bit array or sliding window, which holds no value, as not found.
func (b *Backend) GetMany(ctx context.Context, keys []string) ([]backends.Entry, error) {
	if b.closed.Load() {
		return nil, errClosed
	}
	out := make([]backends.Entry, len(keys))
	for i, k := range keys {
		v, ok, err := b.Get(ctx, k)
		if errors.Is(err, backends.ErrWrongType) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[i] = backends.Entry{Value: v, Found: ok}
	}
	return out, nil
}

// Set stores value at key with ttl when mode allows it. It replaces whatever the key held, a set or
// bit array included.
func (b *Backend) Set(_ context.Context, key string, value any, ttl time.Duration, mode backends.SetMode) (bool, error) {
	if b.closed.Load() {
		return false, errClosed
	}
	if err := checkTTL(ttl); err != nil {
		return false, err
	}
	if mode > backends.SetIfPresent {
		return false, fmt.Errorf("cashews: memory backend: unknown set mode %d: %w", mode, backends.ErrInvalidArgument)
	}
	value, size, err := b.prepare(key, value, 0)
	if err != nil {
		return false, err
	}
	return b.set(key, value, size, ttl, mode, nil), nil
}

// set stores value at key with ttl and tags (nil: none) when mode allows it.
func (b *Backend) set(key string, value any, size int64, ttl time.Duration, mode backends.SetMode, tags *tagSet) bool {
	c := clockReader{b: b}
	s, h := b.shardFor(key)
	s.mu.Lock()
	e := s.find(key, h)
	live := e != nil && !c.expired(e)
	if (mode == backends.SetIfAbsent && live) || (mode == backends.SetIfPresent && !live) {
		b.unlock(s)
		return false
	}
	exp := c.expireAt(ttl)
	if live { // an update counts as an access
		b.replaceLocked(s, e, kindValue, value, size, exp)
		e.visited.Store(true)
	} else {
		e = b.renewLocked(s, e, key, h, kindValue, value, size, exp)
	}
	if e.tags != nil || tags != nil {
		b.setTagsLocked(s, e, tags)
	}
	b.wrote(s, e, &c)
	return true
}

// SetMany stores every item unconditionally. It checks every item before storing any.
func (b *Backend) SetMany(_ context.Context, items []backends.Item) error {
	if b.closed.Load() {
		return errClosed
	}
	values := make([]any, len(items))
	sizes := make([]int64, len(items))
	for i, it := range items {
		if err := checkTTL(it.TTL); err != nil {
			return fmt.Errorf("%w (key %s)", err, quote.String(it.Key))
		}
		v, size, err := b.prepare(it.Key, it.Value, 0)
		if err != nil {
			return err
		}
		values[i], sizes[i] = v, size
	}
	for i, it := range items {
		b.set(it.Key, values[i], sizes[i], it.TTL, backends.SetAlways, nil)
	}
	return nil
}

// Exists reports whether key is present and not expired. Like Get, it takes no lock.
func (b *Backend) Exists(_ context.Context, key string) (bool, error) {
	if b.closed.Load() {
		return false, errClosed
	}
	s, h := b.shardFor(key)
	e := s.find(key, h)
	if e == nil {
		return false, nil
	}
	exp := e.expiry()
	return exp == 0 || b.readNow() < exp, nil
}

// Delete removes key and reports whether it was present (an expired key is removed too, but was not
// present).
func (b *Backend) Delete(_ context.Context, key string) (bool, error) {
	if b.closed.Load() {
		return false, errClosed
	}
	c := clockReader{b: b}
	return b.delete(key, &c), nil
}

func (b *Backend) delete(key string, c *clockReader) bool {
	s, h := b.shardFor(key)
	s.mu.Lock()
	defer b.unlock(s)
	e := s.find(key, h)
	if e == nil {
		return false
	}
	live := !c.expired(e)
	b.removeLocked(s, e, deleted(live))
	return live
}

// DeleteMany removes keys and returns how many were present.
func (b *Backend) DeleteMany(_ context.Context, keys []string) (int, error) {
	if b.closed.Load() {
		return 0, errClosed
	}
	c := clockReader{b: b}
	n := 0
	for _, k := range keys {
		if b.delete(k, &c) {
			n++
		}
	}
	return n, nil
}

// matcher selects the keys of a glob pattern quickly.
type matcher struct {
	pattern, prefix string
	literal         bool // the pattern matches only the key pattern itself
}

func newMatcher(pattern string) matcher {
	return matcher{
		pattern: pattern,
		prefix:  backends.LiteralPrefix(pattern),
		literal: !strings.ContainsAny(pattern, `*?[\`),
	}
}

func (m *matcher) match(key string) bool {
	if m.literal {
		return key == m.pattern
	}
	return strings.HasPrefix(key, m.prefix) && backends.Match(m.pattern, key)
}

// DeleteMatch removes every key matching the glob pattern and returns how many live keys it removed.
// It locks one shard at a time and checks ctx between shards.
func (b *Backend) DeleteMatch(ctx context.Context, pattern string) (int, error) {
	if b.closed.Load() {
		return 0, errClosed
	}
	c := clockReader{b: b}
	m := newMatcher(pattern)
	if m.literal {
		if b.delete(pattern, &c) {
			return 1, nil
		}
		return 0, nil
	}
	n := 0
	for i := range b.shards {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		if b.closed.Load() {
			return n, errClosed
		}
		s := &b.shards[i]
		s.mu.Lock()
		s.each(func(e *entry) bool {
			if m.match(e.key) {
				live := !c.expired(e)
				if live {
					n++
				}
				b.removeLocked(s, e, deleted(live))
			}
			return true
		})
		b.unlock(s)
	}
	return n, nil
}

// Scan yields the live keys matching the glob pattern in batches of batch keys (100 when batch is
// not positive). It copies one shard's matching keys at a time under its read lock and yields them
// with no lock held, so the loop body may call the backend.
func (b *Backend) Scan(ctx context.Context, pattern string, batch int) iter.Seq2[[]string, error] {
	if batch <= 0 {
		batch = defaultScanBatch
	}
	return func(yield func([]string, error) bool) {
		m := newMatcher(pattern)
		c := clockReader{b: b}
		if m.literal { // one key at most, in one shard
			if b.closed.Load() {
				yield(nil, errClosed)
				return
			}
			if err := ctx.Err(); err != nil {
				yield(nil, err)
				return
			}
			if ok, _ := b.Exists(ctx, pattern); ok {
				yield([]string{pattern}, nil)
			}
			return
		}
		var buf []string
		for i := range b.shards {
			if b.closed.Load() {
				yield(nil, errClosed)
				return
			}
			if err := ctx.Err(); err != nil {
				yield(nil, err)
				return
			}
			s := &b.shards[i]
			s.mu.RLock()
			s.each(func(e *entry) bool {
				if m.match(e.key) && !c.expired(e) {
					buf = append(buf, e.key)
				}
				return true
			})
			s.mu.RUnlock()
			for len(buf) >= batch {
				out := append([]string(nil), buf[:batch]...)
				buf = buf[batch:]
				if !yield(out, nil) {
					return
				}
			}
		}
		if len(buf) > 0 {
			yield(append([]string(nil), buf...), nil)
		}
	}
}

// Incr adds by to the integer at key and returns the new value, which it stores as an int64 (as
// decimal bytes in copy mode). A stored value of any Go integer type counts, named types included
// (in copy mode: the canonical decimal text of an int64, as Redis reads it); anything else is an
// error wrapping [backends.ErrNotInteger], and a sum that overflows int64 is an error wrapping
// [backends.ErrInvalidArgument].
func (b *Backend) Incr(_ context.Context, key string, by int64, ttl time.Duration) (int64, error) {
	if b.closed.Load() {
		return 0, errClosed
	}
	if err := checkTTL(ttl); err != nil {
		return 0, err
	}
	c := clockReader{b: b}
	s, h := b.shardFor(key)
	s.mu.Lock()
	e := s.find(key, h)
	if e == nil || c.expired(e) {
		v, size := b.intValue(by)
		e = b.renewLocked(s, e, key, h, kindValue, v, size, c.expireAt(ttl))
		b.wrote(s, e, &c)
		return by, nil
	}
	if e.stored().kind != kindValue {
		b.unlock(s)
		return 0, wrongType(key, e.stored().kind)
	}
	n, ok := b.toInt64(e.stored().value)
	if !ok {
		b.unlock(s)
		return 0, fmt.Errorf("cashews: memory backend: key %s holds %T: %w", quote.String(key), e.stored().value, backends.ErrNotInteger)
	}
	sum := n + by
	if (by > 0 && sum < n) || (by < 0 && sum > n) {
		b.unlock(s)
		return 0, fmt.Errorf("cashews: memory backend: incrementing %d at key %s by %d overflows int64: %w", n, quote.String(key), by, backends.ErrInvalidArgument)
	}
	v, size := b.intValue(sum)
	e.store(kindValue, v)
	b.resizeLocked(e, size)
	b.wrote(s, e, &c)
	return sum, nil
}

// intValue is how an Incr result is stored.
func (b *Backend) intValue(n int64) (any, int64) {
	if b.copy {
		p := strconv.AppendInt(nil, n, 10)
		return p, int64(len(p))
	}
	return n, 8
}

// toInt64 converts a stored integer.
func (b *Backend) toInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case int16:
		return int64(n), true
	case int8:
		return int64(n), true
	case uint64:
		return int64(n), n <= math.MaxInt64
	case uint:
		return int64(n), uint64(n) <= math.MaxInt64
	case uint32:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint8:
		return int64(n), true
	case uintptr:
		return int64(n), uint64(n) <= math.MaxInt64
	case []byte:
		if b.copy {
			return parseInteger(n)
		}
		return 0, false
	}
	// Named integer types (time.Duration, type Status int8).
	switch rv := reflect.ValueOf(v); {
	case rv.CanInt():
		return rv.Int(), true
	case rv.CanUint():
		return int64(rv.Uint()), rv.Uint() <= math.MaxInt64
	}
	return 0, false
}

// parseInteger parses a counter's decimal text as Redis does: the canonical form of an int64 only
// (no sign "+", no leading zeros, no spaces).
func parseInteger(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 20 {
		return 0, false
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil || strconv.FormatInt(n, 10) != string(v) {
		return 0, false
	}
	return n, true
}

// CompareAndSwap stores new at key, keeping its TTL, if the key holds a []byte or string value with
// the bytes of old, and reports whether it did (see [backends.CompareAndSwapper]). When it does not,
// current is what the key holds: a copy of the bytes in copy mode, the Go value as it is otherwise.
func (b *Backend) CompareAndSwap(_ context.Context, key string, old, new []byte) (bool, backends.Entry, error) {
	if b.closed.Load() {
		return false, backends.Entry{}, errClosed
	}
	value, size, err := b.prepare(key, new, 0)
	if err != nil {
		return false, backends.Entry{}, err
	}
	if !b.copy {
		value = cloneBytes(new) // prepare copies only in copy mode
	}
	c := clockReader{b: b}
	s, h := b.shardFor(key)
	s.mu.Lock()
	e := s.live(key, h, &c)
	if e == nil || e.stored().kind != kindValue {
		b.unlock(s)
		return false, backends.Entry{}, nil
	}
	if cur := e.stored().value; !holdsBytes(cur, old) {
		b.unlock(s)
		return false, backends.Entry{Value: b.out(cur), Found: true}, nil
	}
	e.store(kindValue, value)
	b.resizeLocked(e, size)
	e.visited.Store(true)
	b.wrote(s, e, &c)
	return true, backends.Entry{}, nil
}

// holdsBytes reports whether the stored value v is a []byte or string with the bytes of p.
func holdsBytes(v any, p []byte) bool {
	switch x := v.(type) {
	case []byte:
		return string(x) == string(p)
	case string:
		return x == string(p)
	}
	return false
}

// Expire sets the TTL of an existing key (zero removes its expiry) and reports whether the key
// exists.
func (b *Backend) Expire(_ context.Context, key string, ttl time.Duration) (bool, error) {
	if b.closed.Load() {
		return false, errClosed
	}
	if err := checkTTL(ttl); err != nil {
		return false, err
	}
	c := clockReader{b: b}
	s, h := b.shardFor(key)
	s.mu.Lock()
	defer b.unlock(s)
	e := s.live(key, h, &c)
	if e == nil {
		return false, nil
	}
	s.setExpireLocked(e, c.expireAt(ttl))
	return true, nil
}

// GetExpire returns the remaining TTL of key.
func (b *Backend) GetExpire(_ context.Context, key string) (time.Duration, bool, error) {
	if b.closed.Load() {
		return 0, false, errClosed
	}
	c := clockReader{b: b}
	s, h := b.shardFor(key)
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := s.live(key, h, &c)
	if e == nil {
		return 0, false, nil
	}
	exp := e.expiry()
	if exp == 0 {
		return backends.NoExpiration, true, nil
	}
	return time.Duration(exp - c.now()), true, nil
}

// Ping reports whether the backend is open.
func (b *Backend) Ping(context.Context) error {
	if b.closed.Load() {
		return errClosed
	}
	return nil
}

// Clear removes every key, one shard at a time.
func (b *Backend) Clear(context.Context) error {
	if b.closed.Load() {
		return errClosed
	}
	b.clear(true)
	return nil
}

// clear drops every entry. Called by Clear (report set), it counts the expired entries among them
// and reports what it removes to OnDeletion; called by Close, neither.
func (b *Backend) clear(report bool) {
	c := clockReader{b: b}
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.Lock()
		var bytes int64
		notify := report && b.onDeletion.Load() != nil
		if b.maxBytes > 0 || s.tagged > 0 || notify || (report && s.withTTL > 0) {
			s.each(func(e *entry) bool {
				bytes += e.cost()
				if e.tags != nil {
					b.unindexLocked(e.key, e.tags)
				}
				if report {
					cause := deleted(!c.expired(e))
					if cause == backends.CauseExpired {
						b.evictedExpired.Add(1)
					}
					b.goneLocked(s, e, e.stored(), cause)
				}
				return true
			})
		}
		if b.maxBytes == 0 {
			bytes = 0
		}
		b.count.Add(-int64(s.entries))
		b.bytes.Add(-bytes)
		s.tab.Store(nil)
		s.entries, s.used = 0, 0
		s.head, s.tail, s.hand, s.withTTL, s.tagged = nil, nil, nil, 0, 0
		s.ghost.reset()
		b.unlock(s)
	}
}

// SetLock takes the lock at key for token with ttl unless the key is present.
func (b *Backend) SetLock(_ context.Context, key, token string, ttl time.Duration) (bool, error) {
	if b.closed.Load() {
		return false, errClosed
	}
	if err := checkLockTTL(ttl); err != nil {
		return false, err
	}
	var v any = token
	if b.copy {
		v = []byte(token)
	}
	v, size, err := b.prepare(key, v, 0)
	if err != nil {
		return false, err
	}
	return b.set(key, v, size, ttl, backends.SetIfAbsent, nil), nil
}

func checkLockTTL(ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("cashews: memory backend: lock TTL %s is not positive: %w", ttl, backends.ErrInvalidArgument)
	}
	return nil
}

// heldBy reports whether the stored value is the lock token.
func heldBy(e *entry, token string) bool {
	if e.stored().kind != kindValue {
		return false
	}
	switch v := e.stored().value.(type) {
	case string:
		return v == token
	case []byte:
		return string(v) == token
	}
	return false
}

// Unlock removes the lock at key only when it is held by token.
func (b *Backend) Unlock(_ context.Context, key, token string) (bool, error) {
	if b.closed.Load() {
		return false, errClosed
	}
	c := clockReader{b: b}
	s, h := b.shardFor(key)
	s.mu.Lock()
	defer b.unlock(s)
	e := s.live(key, h, &c)
	if e == nil || !heldBy(e, token) {
		return false, nil
	}
	b.removeLocked(s, e, backends.CauseDeleted)
	return true, nil
}

// ExtendLock sets the TTL of the lock at key to ttl only when it is held by token.
func (b *Backend) ExtendLock(_ context.Context, key, token string, ttl time.Duration) (bool, error) {
	if b.closed.Load() {
		return false, errClosed
	}
	if err := checkLockTTL(ttl); err != nil {
		return false, err
	}
	c := clockReader{b: b}
	s, h := b.shardFor(key)
	s.mu.Lock()
	defer b.unlock(s)
	e := s.live(key, h, &c)
	if e == nil || !heldBy(e, token) {
		return false, nil
	}
	s.setExpireLocked(e, c.expireAt(ttl))
	return true, nil
}

// IsLocked reports whether the lock at key is held by anyone, that is whether the key is present.
func (b *Backend) IsLocked(ctx context.Context, key string) (bool, error) {
	return b.Exists(ctx, key)
}

// KeysCount returns the exact number of keys that have not expired by the clock, whether or not the
// janitor has purged the expired ones yet. It reads one shard at a time, so keys written during the
// count may or may not be counted.
func (b *Backend) KeysCount(context.Context) (int64, error) {
	if b.closed.Load() {
		return 0, errClosed
	}
	c := clockReader{b: b}
	var n int64
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.RLock()
		n += int64(s.entries)
		if s.withTTL > 0 {
			s.each(func(e *entry) bool {
				if c.expired(e) {
					n--
				}
				return true
			})
		}
		s.mu.RUnlock()
	}
	return n, nil
}

// ValueSize returns the size in bytes of the value at key (see the package documentation); a
// missing key is 0.
func (b *Backend) ValueSize(_ context.Context, key string) (int64, error) {
	if b.closed.Load() {
		return 0, errClosed
	}
	c := clockReader{b: b}
	s, h := b.shardFor(key)
	s.mu.RLock()
	e := s.live(key, h, &c)
	if e == nil {
		s.mu.RUnlock()
		return 0, nil
	}
	if b.maxBytes > 0 {
		n := e.vsize
		s.mu.RUnlock()
		return n, nil
	}
	if e.stored().kind != kindValue {
		n := b.structSize(e)
		s.mu.RUnlock()
		return n, nil
	}
	v := e.stored().value
	s.mu.RUnlock()
	return b.valueSize(v), nil
}

// deleted returns the cause of a command's removal of an entry: deleted when it was live, expired
// when its TTL had run out already.
func deleted(live bool) backends.Cause {
	if live {
		return backends.CauseDeleted
	}
	return backends.CauseExpired
}
