package backendtest

import (
	"context"
	"fmt"
	"iter"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cashews-go/cashews/backends"
)

// refBackend is a small, obviously correct backend: one map behind one mutex. It exists to run the
// kit while no real backend does, and to break on purpose (mutant) to show the kit catches it.
type refBackend struct {
	clock  backends.Clock
	bytes  bool   // store []byte values only, as Redis and disk do
	mutant string // a deliberate bug, for TestKitCatchesMutants; "" for none

	mu     sync.Mutex
	closed bool
	m      map[string]*refEntry
	tagged map[string]map[string]bool // tag → keys, counted by KeysCount as one key per tag (as Redis keeps them)
}

type refKind int

const (
	kindValue refKind = iota
	kindSet
	kindLock
	kindBits
	kindWindow
)

type refEntry struct {
	kind   refKind
	value  any                 // kindValue
	token  string              // kindLock
	set    map[string]struct{} // kindSet
	bits   map[int64]bool      // kindBits: the positions of the bits that are 1
	events []time.Time         // kindWindow
	expire time.Time           // zero: never
	tags   []string            // the tags of the SetTagged that stored the value
}

var (
	_ backends.Full              = (*refBackend)(nil)
	_ backends.GoValueStore      = (*refBackend)(nil)
	_ backends.CompareAndSwapper = (*refBackend)(nil)
	_ backends.Tagger            = (*refBackend)(nil)
)

func newRef(clock backends.Clock, bytes bool, mutant string) *refBackend {
	return &refBackend{clock: clock, bytes: bytes, mutant: mutant, m: make(map[string]*refEntry), tagged: make(map[string]map[string]bool)}
}

func (b *refBackend) StoresGoValues() bool { return !b.bytes }

// lock takes the mutex after checking the context and that the backend is open.
func (b *refBackend) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ref: %w", err)
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return fmt.Errorf("ref: %w", backends.ErrClosed)
	}
	return nil
}

// entry returns the live entry at key, dropping it if it expired. Called with mu held.
func (b *refBackend) entry(key string) *refEntry {
	en := b.m[key]
	if en == nil {
		return nil
	}
	if !en.expire.IsZero() && !b.clock.Now().Before(en.expire) && b.mutant != "expired-still-found" {
		b.drop(key, b.mutant != "expired-keeps-tags")
		return nil
	}
	return en
}

func (b *refBackend) deadline(ttl time.Duration) time.Time {
	if ttl == 0 {
		return time.Time{}
	}
	switch b.mutant {
	case "ttl-uncapped":
	case "ttl-wraps": // as a store that adds nanoseconds in an int64 does
		return time.Unix(0, b.clock.Now().UnixNano()+int64(ttl))
	default:
		ttl = backends.CapTTL(ttl)
	}
	return b.clock.Now().Add(ttl)
}

func checkTTL(ttl time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("ref: negative TTL %v: %w", ttl, backends.ErrInvalidArgument)
	}
	return nil
}

// in copies a value on its way in.
func (b *refBackend) in(v any) (any, error) {
	if !b.bytes {
		if rv := reflect.ValueOf(v); b.mutant == "ints-as-int64" && rv.CanInt() {
			return rv.Int(), nil
		}
		return v, nil
	}
	p, ok := v.([]byte)
	if !ok {
		return nil, fmt.Errorf("ref: a byte store takes []byte values, not %T: %w", v, backends.ErrInvalidArgument)
	}
	if b.mutant == "no-byte-copy" {
		return p, nil
	}
	return slices.Clone(p), nil
}

// out copies a value on its way out.
func (b *refBackend) out(en *refEntry) (any, error) {
	if en.kind != kindValue {
		return nil, fmt.Errorf("ref: key holds another kind: %w", backends.ErrWrongType)
	}
	if p, ok := en.value.([]byte); ok && b.bytes {
		if b.mutant == "no-byte-copy" {
			return p, nil
		}
		return slices.Clone(p), nil
	}
	return en.value, nil
}

func (b *refBackend) Get(ctx context.Context, key string) (any, bool, error) {
	if err := b.lock(ctx); err != nil {
		return nil, false, err
	}
	defer b.mu.Unlock()
	en := b.entry(key)
	if en == nil {
		return nil, false, nil
	}
	v, err := b.out(en)
	if err != nil {
		return nil, false, err
	}
	return v, true, nil
}

func (b *refBackend) GetMany(ctx context.Context, keys []string) ([]backends.Entry, error) {
	if err := b.lock(ctx); err != nil {
		return nil, err
	}
	defer b.mu.Unlock()
	out := make([]backends.Entry, len(keys))
	for i, k := range keys {
		if en := b.entry(k); en != nil && en.kind != kindValue && b.mutant == "getmany-fails-on-set" {
			return nil, fmt.Errorf("ref: key holds another kind: %w", backends.ErrWrongType)
		}
		if en := b.entry(k); en != nil && en.kind == kindValue {
			v, _ := b.out(en)
			out[i] = backends.Entry{Value: v, Found: true}
		}
	}
	return out, nil
}

func (b *refBackend) Set(ctx context.Context, key string, value any, ttl time.Duration, mode backends.SetMode) (bool, error) {
	if err := checkTTL(ttl); err != nil {
		return false, err
	}
	v, err := b.in(value)
	if err != nil {
		return false, err
	}
	if err := b.lock(ctx); err != nil {
		return false, err
	}
	defer b.mu.Unlock()
	return b.setLocked(key, v, ttl, mode) != nil, nil
}

// setLocked stores v at key when mode allows it and returns the new entry, or nil. Called with mu
// held.
func (b *refBackend) setLocked(key string, v any, ttl time.Duration, mode backends.SetMode) *refEntry {
	present := b.entry(key) != nil
	if (mode == backends.SetIfAbsent && present && b.mutant != "setifabsent-always") || (mode == backends.SetIfPresent && !present) {
		return nil
	}
	en := &refEntry{kind: kindValue, value: v, expire: b.deadline(ttl)}
	b.put(key, en, b.mutant != "set-keeps-tags")
	return en
}

func (b *refBackend) SetMany(ctx context.Context, items []backends.Item) error {
	vs := make([]any, len(items))
	for i, it := range items {
		if err := checkTTL(it.TTL); err != nil {
			return err
		}
		v, err := b.in(it.Value)
		if err != nil {
			return err
		}
		vs[i] = v
	}
	if err := b.lock(ctx); err != nil {
		return err
	}
	defer b.mu.Unlock()
	for i, it := range items {
		b.put(it.Key, &refEntry{kind: kindValue, value: vs[i], expire: b.deadline(it.TTL)}, b.mutant != "set-keeps-tags")
	}
	return nil
}

func (b *refBackend) Exists(ctx context.Context, key string) (bool, error) {
	if err := b.lock(ctx); err != nil {
		return false, err
	}
	defer b.mu.Unlock()
	return b.entry(key) != nil, nil
}

func (b *refBackend) Delete(ctx context.Context, key string) (bool, error) {
	n, err := b.DeleteMany(ctx, []string{key})
	return n == 1, err
}

func (b *refBackend) DeleteMany(ctx context.Context, keys []string) (int, error) {
	if err := b.lock(ctx); err != nil {
		return 0, err
	}
	defer b.mu.Unlock()
	n := 0
	for _, k := range keys {
		if b.entry(k) != nil {
			b.drop(k, b.mutant != "delete-keeps-tags")
			n++
		}
	}
	return n, nil
}

func (b *refBackend) matches(pattern, key string) bool {
	if b.mutant == "match-prefix" {
		return strings.HasPrefix(key, backends.LiteralPrefix(pattern))
	}
	return backends.Match(pattern, key)
}

func (b *refBackend) DeleteMatch(ctx context.Context, pattern string) (int, error) {
	if err := b.lock(ctx); err != nil {
		return 0, err
	}
	defer b.mu.Unlock()
	n := 0
	for k := range b.m {
		if b.matches(pattern, k) && b.entry(k) != nil {
			b.drop(k, b.mutant != "delete-keeps-tags")
			n++
		}
	}
	return n, nil
}

func (b *refBackend) Scan(ctx context.Context, pattern string, batch int) iter.Seq2[[]string, error] {
	return func(yield func([]string, error) bool) {
		if err := b.lock(ctx); err != nil {
			yield(nil, err)
			return
		}
		var keys []string
		for k := range b.m {
			if b.matches(pattern, k) && b.entry(k) != nil {
				keys = append(keys, k)
			}
		}
		b.mu.Unlock()
		slices.Sort(keys)
		for chunk := range slices.Chunk(keys, max(batch, 1)) {
			if err := ctx.Err(); err != nil && b.mutant != "scan-ignores-ctx" {
				yield(nil, fmt.Errorf("ref: %w", err))
				return
			}
			if !yield(chunk, nil) {
				return
			}
		}
	}
}

func (b *refBackend) Incr(ctx context.Context, key string, by int64, ttl time.Duration) (int64, error) {
	if err := checkTTL(ttl); err != nil {
		return 0, err
	}
	if err := b.lock(ctx); err != nil {
		return 0, err
	}
	defer b.mu.Unlock()
	en := b.entry(key)
	if en == nil {
		en = &refEntry{kind: kindValue, expire: b.deadline(ttl)}
		b.put(key, en, true)
	} else if b.mutant == "incr-resets-ttl" && ttl > 0 {
		en.expire = b.deadline(ttl)
	}
	if en.kind != kindValue {
		return 0, fmt.Errorf("ref: Incr on another kind: %w", backends.ErrWrongType)
	}
	var n int64
	switch v := en.value.(type) {
	case nil:
	case int64:
		n = v
	case []byte:
		var err error
		n, err = strconv.ParseInt(string(v), 10, 64)
		canonical := err == nil && (strconv.FormatInt(n, 10) == string(v) || b.mutant == "incr-loose-text")
		if !canonical || !b.bytes {
			return 0, fmt.Errorf("ref: %s: %w", show(v), backends.ErrNotInteger)
		}
	default:
		rv := reflect.ValueOf(v)
		switch {
		case b.mutant == "incr-only-int64":
			return 0, fmt.Errorf("ref: %s: %w", show(v), backends.ErrNotInteger)
		case rv.CanInt():
			n = rv.Int()
		case rv.CanUint() && rv.Uint() <= math.MaxInt64:
			n = int64(rv.Uint())
		default:
			return 0, fmt.Errorf("ref: %s: %w", show(v), backends.ErrNotInteger)
		}
	}
	n += by
	if b.bytes {
		en.value = []byte(strconv.FormatInt(n, 10))
	} else {
		en.value = n
	}
	return n, nil
}

func (b *refBackend) CompareAndSwap(ctx context.Context, key string, old, new []byte) (bool, backends.Entry, error) {
	if err := b.lock(ctx); err != nil {
		return false, backends.Entry{}, err
	}
	defer b.mu.Unlock()
	en := b.entry(key)
	if en == nil || en.kind != kindValue {
		return false, backends.Entry{}, nil
	}
	var cur []byte
	switch v := en.value.(type) {
	case []byte:
		cur = v
	case string:
		cur = []byte(v)
	}
	if (cur == nil && !isBytes(en.value)) || (string(cur) != string(old) && b.mutant != "cas-ignores-old") {
		v, _ := b.out(en)
		return false, backends.Entry{Value: v, Found: true}, nil
	}
	en.value = slices.Clone(new)
	if en.value.([]byte) == nil {
		en.value = []byte{}
	}
	if b.mutant == "cas-drops-ttl" {
		en.expire = time.Time{}
	}
	return true, backends.Entry{}, nil
}

func isBytes(v any) bool {
	switch v.(type) {
	case []byte, string:
		return true
	}
	return false
}

func (b *refBackend) Expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := checkTTL(ttl); err != nil {
		return false, err
	}
	if err := b.lock(ctx); err != nil {
		return false, err
	}
	defer b.mu.Unlock()
	en := b.entry(key)
	if en == nil {
		return false, nil
	}
	en.expire = b.deadline(ttl)
	if b.mutant == "expire-drops-tags" {
		b.untag(key, en)
	}
	return true, nil
}

func (b *refBackend) GetExpire(ctx context.Context, key string) (time.Duration, bool, error) {
	if err := b.lock(ctx); err != nil {
		return 0, false, err
	}
	defer b.mu.Unlock()
	en := b.entry(key)
	switch {
	case en == nil:
		return 0, false, nil
	case en.expire.IsZero():
		return backends.NoExpiration, true, nil
	}
	return en.expire.Sub(b.clock.Now()), true, nil
}

func (b *refBackend) Ping(ctx context.Context) error {
	if err := b.lock(ctx); err != nil {
		return err
	}
	b.mu.Unlock()
	return nil
}

func (b *refBackend) Clear(ctx context.Context) error {
	if err := b.lock(ctx); err != nil {
		return err
	}
	defer b.mu.Unlock()
	clear(b.m)
	clear(b.tagged)
	return nil
}

func checkLockTTL(ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("ref: lock TTL %v is not positive: %w", ttl, backends.ErrInvalidArgument)
	}
	return nil
}

func (b *refBackend) SetLock(ctx context.Context, key, token string, ttl time.Duration) (bool, error) {
	if err := checkLockTTL(ttl); err != nil {
		return false, err
	}
	if err := b.lock(ctx); err != nil {
		return false, err
	}
	defer b.mu.Unlock()
	if b.entry(key) != nil {
		return false, nil
	}
	b.put(key, &refEntry{kind: kindLock, token: token, expire: b.deadline(ttl)}, true)
	return true, nil
}

// held returns the lock at key if token holds it. Called with mu held.
func (b *refBackend) held(key, token string) *refEntry {
	en := b.entry(key)
	if en == nil || en.kind != kindLock || (en.token != token && b.mutant != "unlock-ignores-token") {
		return nil
	}
	return en
}

func (b *refBackend) Unlock(ctx context.Context, key, token string) (bool, error) {
	if err := b.lock(ctx); err != nil {
		return false, err
	}
	defer b.mu.Unlock()
	if b.held(key, token) == nil {
		return false, nil
	}
	b.drop(key, true)
	return true, nil
}

func (b *refBackend) ExtendLock(ctx context.Context, key, token string, ttl time.Duration) (bool, error) {
	if err := checkLockTTL(ttl); err != nil {
		return false, err
	}
	if err := b.lock(ctx); err != nil {
		return false, err
	}
	defer b.mu.Unlock()
	en := b.held(key, token)
	if en == nil {
		return false, nil
	}
	en.expire = b.deadline(ttl)
	return true, nil
}

func (b *refBackend) IsLocked(ctx context.Context, key string) (bool, error) {
	if err := b.lock(ctx); err != nil {
		return false, err
	}
	defer b.mu.Unlock()
	return b.entry(key) != nil, nil
}

func (b *refBackend) KeysCount(ctx context.Context) (int64, error) {
	if err := b.lock(ctx); err != nil {
		return 0, err
	}
	defer b.mu.Unlock()
	var n int64
	for k := range b.m {
		if b.entry(k) != nil {
			n++
		}
	}
	return n + int64(len(b.tagged)), nil
}

func (b *refBackend) ValueSize(ctx context.Context, key string) (int64, error) {
	if err := b.lock(ctx); err != nil {
		return 0, err
	}
	defer b.mu.Unlock()
	en := b.entry(key)
	if en == nil {
		return 0, nil
	}
	switch v := en.value.(type) {
	case []byte:
		return int64(len(v)), nil
	case string:
		return int64(len(v)), nil
	}
	return 16, nil
}

// setEntry returns the set at key, creating it if create. Called with mu held.
func (b *refBackend) setEntry(key string, create bool) (*refEntry, error) {
	en := b.entry(key)
	if en == nil {
		if !create {
			return nil, nil
		}
		en = &refEntry{kind: kindSet, set: make(map[string]struct{})}
		b.put(key, en, true)
	}
	if en.kind != kindSet {
		return nil, fmt.Errorf("ref: key %q is not a set: %w", key, backends.ErrWrongType)
	}
	return en, nil
}

func (b *refBackend) SetAdd(ctx context.Context, key string, ttl time.Duration, members ...string) (int, error) {
	if err := checkTTL(ttl); err != nil {
		return 0, err
	}
	if err := b.lock(ctx); err != nil {
		return 0, err
	}
	defer b.mu.Unlock()
	if len(members) == 0 {
		_, err := b.setEntry(key, false)
		return 0, err
	}
	en, err := b.setEntry(key, true)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range members {
		if _, ok := en.set[m]; !ok || b.mutant == "setadd-counts-all" {
			en.set[m] = struct{}{}
			n++
		}
	}
	if ttl > 0 {
		if d := b.deadline(ttl); en.expire.IsZero() || en.expire.Before(d) {
			en.expire = d
		}
	}
	return n, nil
}

func (b *refBackend) SetRemove(ctx context.Context, key string, members ...string) (int, error) {
	if err := b.lock(ctx); err != nil {
		return 0, err
	}
	defer b.mu.Unlock()
	en, err := b.setEntry(key, false)
	if en == nil {
		return 0, err
	}
	n := 0
	for _, m := range members {
		if _, ok := en.set[m]; ok {
			delete(en.set, m)
			n++
		}
	}
	if len(en.set) == 0 {
		b.drop(key, true)
	}
	return n, nil
}

func (b *refBackend) SetPop(ctx context.Context, key string, count int) ([]string, error) {
	if err := b.lock(ctx); err != nil {
		return nil, err
	}
	defer b.mu.Unlock()
	en, err := b.setEntry(key, false)
	if en == nil {
		return nil, err
	}
	var out []string
	for m := range en.set {
		if len(out) == count {
			break
		}
		out = append(out, m)
		if b.mutant != "setpop-keeps" {
			delete(en.set, m)
		}
	}
	if len(en.set) == 0 {
		b.drop(key, true)
	}
	return out, nil
}

func (b *refBackend) SetMembers(ctx context.Context, key string) ([]string, error) {
	if err := b.lock(ctx); err != nil {
		return nil, err
	}
	defer b.mu.Unlock()
	en, err := b.setEntry(key, false)
	if en == nil {
		return nil, err
	}
	return slices.Collect(maps.Keys(en.set)), nil
}

func checkBits(size int, indexes []int64) error {
	if size < 1 || size > 63 {
		return fmt.Errorf("ref: bit size %d is not in 1..63: %w", size, backends.ErrInvalidArgument)
	}
	for _, i := range indexes {
		if i < 0 {
			return fmt.Errorf("ref: negative bit index %d: %w", i, backends.ErrInvalidArgument)
		}
	}
	return nil
}

func (en *refEntry) counter(size int, i int64, lsbFirst bool) int64 {
	var v int64
	for j := range int64(size) {
		v <<= 1
		pos := i*int64(size) + j
		if lsbFirst {
			pos = i*int64(size) + int64(size) - 1 - j
		}
		if en.bits[pos] {
			v |= 1
		}
	}
	return v
}

func (en *refEntry) setCounter(size int, i, v int64, lsbFirst bool) {
	for j := int64(size) - 1; j >= 0; j-- {
		pos := i*int64(size) + j
		if lsbFirst {
			pos = i*int64(size) + int64(size) - 1 - j
		}
		if v&1 == 1 {
			en.bits[pos] = true
		} else {
			delete(en.bits, pos)
		}
		v >>= 1
	}
}

func (b *refBackend) GetBits(ctx context.Context, key string, size int, indexes ...int64) ([]int64, error) {
	if err := checkBits(size, indexes); err != nil {
		return nil, err
	}
	if err := b.lock(ctx); err != nil {
		return nil, err
	}
	defer b.mu.Unlock()
	out := make([]int64, len(indexes))
	en := b.entry(key)
	if en == nil {
		return out, nil
	}
	if en.kind != kindBits {
		return nil, fmt.Errorf("ref: key %q is not a bit array: %w", key, backends.ErrWrongType)
	}
	for n, i := range indexes {
		out[n] = en.counter(size, i, b.mutant == "bits-lsb-first")
	}
	return out, nil
}

func (b *refBackend) IncrBits(ctx context.Context, key string, size int, by int64, indexes ...int64) ([]int64, error) {
	if err := checkBits(size, indexes); err != nil {
		return nil, err
	}
	if err := b.lock(ctx); err != nil {
		return nil, err
	}
	defer b.mu.Unlock()
	en := b.entry(key)
	if en == nil {
		en = &refEntry{kind: kindBits, bits: make(map[int64]bool)}
		b.put(key, en, true)
	}
	if en.kind != kindBits {
		return nil, fmt.Errorf("ref: key %q is not a bit array: %w", key, backends.ErrWrongType)
	}
	top := int64(1)<<size - 1
	out := make([]int64, len(indexes))
	for n, i := range indexes {
		v := en.counter(size, i, b.mutant == "bits-lsb-first")
		switch {
		case b.mutant == "bits-wrap":
			v = (v + by) & top
		case by >= 0 && by > top-v:
			v = top
		case by < 0 && v+by < 0:
			v = 0
		default:
			v += by
		}
		en.setCounter(size, i, v, b.mutant == "bits-lsb-first")
		out[n] = v
	}
	return out, nil
}

func (b *refBackend) SliceIncr(ctx context.Context, key string, now time.Time, window time.Duration, limit int64) (int64, bool, error) {
	if window <= 0 || (limit <= 0 && !(limit == 0 && b.mutant == "sliceincr-zero-limit")) {
		return 0, false, fmt.Errorf("ref: window %v and limit %d must be positive: %w", window, limit, backends.ErrInvalidArgument)
	}
	if err := b.lock(ctx); err != nil {
		return 0, false, err
	}
	defer b.mu.Unlock()
	en := b.entry(key)
	if en == nil {
		en = &refEntry{kind: kindWindow}
		b.put(key, en, true)
	}
	if en.kind != kindWindow {
		return 0, false, fmt.Errorf("ref: key %q is not a sliding window: %w", key, backends.ErrWrongType)
	}
	from := now.Add(-window)
	en.events = slices.DeleteFunc(en.events, func(t time.Time) bool {
		if b.mutant == "window-keeps-boundary" {
			return t.Before(from)
		}
		return !t.After(from)
	})
	if int64(len(en.events)) > limit && b.mutant != "window-keeps-over-limit" {
		slices.SortFunc(en.events, time.Time.Compare)
		en.events = en.events[int64(len(en.events))-limit:]
	}
	recorded := int64(len(en.events)) < limit
	if recorded {
		en.events = append(en.events, now)
		en.expire = b.deadline(window)
	}
	if len(en.events) == 0 {
		b.drop(key, true)
	}
	return int64(len(en.events)), recorded, nil
}

func (b *refBackend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed && b.mutant == "close-twice-fails" {
		return fmt.Errorf("ref: %w", backends.ErrClosed)
	}
	b.closed = true
	return nil
}
