package strategies

import (
	"context"
	"fmt"
	"github.com/cashews-go/cashews"
	"math"
	"reflect"
	"sync/atomic"

	"github.com/cashews-go/cashews/internal/quote"
)

// maxBloomBits bounds a filter's bit array at 2^32 bits (512 MiB), as every backend bounds bit
// arrays.
const maxBloomBits = 1 << 32

// countingBits is the counter size of a counting filter ([BloomCounting]).
const countingBits = 4

// BloomFilter is the bloom strategy: a Bloom filter, kept in the backend, that answers "does it
// exist" questions before the wrapped function is asked. Make one with [Bloom] and give it to
// cashews.Wrap as an option; after Wrap, its methods fill and query the filter.
//
// A BloomFilter serves one Wrap call; giving it to a second one is a configuration error. Its
// methods are safe for concurrent use.
type BloomFilter struct {
	// WrapOption makes the filter an option of cashews.Wrap, with the filter as its strategy
	// (cashews.WithStrategy); Bloom sets it.
	cashews.WrapOption

	capacity int64
	rate     float64
	base     string // the BloomKey option, or "" for the default
	size     int    // counter size in bits: 1, or countingBits

	bound atomic.Pointer[bloomBinding] // set once by Decorate
}

// bloomBinding is what Decorate gives a BloomFilter: the cache of the Wrap, the filter's key, and
// its numbers of counters and of hash functions.
type bloomBinding struct {
	env  *cashews.Env
	key  string
	size int
	m, k int64
}

// BloomOption configures [Bloom].
type BloomOption func(*BloomFilter)

// BloomKey sets the base of the filter's key, instead of "_cashews:bloom:" and the wrapped
// function's name. The key routes like any key, so use a base that starts with the prefix of the
// backend the filter should live in.
func BloomKey(base string) BloomOption {
	return func(b *BloomFilter) { b.base = base }
}

// BloomCounting makes the filter a counting Bloom filter, with 4-bit counters instead of single
// bits: four times the memory, and [BloomFilter.Remove] works. Remove only keys that were added:
// removing another key can make the filter forget keys that were.
func BloomCounting() BloomOption {
	return func(b *BloomFilter) { b.size = countingBits }
}

// Bloom returns the bloom strategy: a Bloom filter sized for capacity keys with the given false
// positive rate (0.01 for 1%), for functions that answer "does it exist". The function runs only
// when the filter says the call's key may be in it; when the filter says it is definitely not,
// the call returns the zero value of the result and a nil error without running the function, and
// records no detect hit. Bloom stores no results: nest it inside a caching Wrap to cache them too.
//
//	exists := strategies.Bloom(1_000_000, 0.01)
//	userExists := cashews.MustWrap(c, lookupUser, cashews.Key("user:{.}"), exists)
//	err := exists.Add(ctx, "user:42") // a user created after the filter was filled
//
// # Filling the filter
//
// The filter holds the keys of the items that exist, rendered as the Wrap's key template renders
// them (with the KeyPrefix, if any). It answers only once it is filled: until [BloomFilter.Ready] is
// called, every call runs the function, and a result that is not the zero value of its type, with a
// nil error, adds the call's key to the filter. So a new filter (an empty or cleared backend, a new
// capacity) never turns an existing item away. To fill it, [BloomFilter.Add] the keys of every item
// that exists (for example from a scan of the database at startup), then call Ready; from then on
// the filter's "definitely not" answers skip the function. Items created later must be added with
// Add when they are created: after Ready, a call for a key that is not in the filter does not run
// the function, so it cannot learn it. A filter that is never made ready only learns.
//
// A Bloom filter cannot forget a key: items deleted later keep answering "maybe" (the function
// runs and says no). [BloomCounting] makes a filter whose keys can be removed.
//
// # Sizing and keys
//
// The filter has m = ceil(-capacity·ln(rate)/ln²2) counters and k = round(m/capacity·ln 2) hash
// functions; the k indexes of a key come from a 64-bit hash of it (FNV-1a, then mixed) by double
// hashing, so every process that shares the backend computes the same ones. Past capacity keys,
// the false positive rate grows. The whole filter lives in one bit array at the key
// "_cashews:bloom:<function name>:<m>:<k>:<counter bits>" (the base can be changed with
// [BloomKey]), so a filter of another size or kind is a new, empty filter; counter m (one past the
// filter's) is the ready flag. Deleting the key empties the filter and makes it learn again. The
// array has no TTL. m times the counter size must stay under 2^32 bits (512 MiB), as backends allow.
//
// When the filter cannot be read (the backend fails), the function runs, as for a "maybe", and the
// failure is logged once per burst and counted; a strict Wrap returns the error instead. A backend
// set up to suppress errors reads as an empty filter that is not ready, so the function runs too.
// Errors while adding learned keys are dropped: the result is still good.
//
// Configuration mistakes (a capacity that is not positive, a rate outside (0, 1), a filter too
// large, the same BloomFilter in two Wrap calls) are errors of Wrap matching [cashews.ErrConfig].
func Bloom(capacity int64, falsePositiveRate float64, opts ...BloomOption) *BloomFilter {
	b := &BloomFilter{capacity: capacity, rate: falsePositiveRate, size: 1}
	b.WrapOption = cashews.WithStrategy(b)
	for _, o := range opts {
		if o != nil {
			o(b)
		}
	}
	return b
}

// Name returns "bloom".
func (*BloomFilter) Name() string { return "bloom" }

// bloomParams returns the number of counters and of hash functions for capacity keys at the false
// positive rate.
func bloomParams(capacity int64, rate float64) (m, k int64) {
	mf := math.Ceil(-float64(capacity) * math.Log(rate) / (math.Ln2 * math.Ln2))
	if mf > maxBloomBits {
		return maxBloomBits + 1, 1
	}
	m = int64(mf)
	k = int64(math.Round(float64(m) / float64(capacity) * math.Ln2))
	return m, max(k, 1)
}

// Decorate checks the filter's configuration and binds it to the Wrap's cache.
func (b *BloomFilter) Decorate(next cashews.Func, env *cashews.Env) (cashews.Func, error) {
	if b.capacity <= 0 {
		return nil, fmt.Errorf("%w: %s: bloom: capacity %d must be positive", cashews.ErrConfig, env.Name, b.capacity)
	}
	if !(b.rate > 0 && b.rate < 1) {
		return nil, fmt.Errorf("%w: %s: bloom: false positive rate %v must be between 0 and 1, exclusive", cashews.ErrConfig, env.Name, b.rate)
	}
	m, k := bloomParams(b.capacity, b.rate)
	if (m+1)*int64(b.size) > maxBloomBits {
		return nil, fmt.Errorf("%w: %s: bloom: capacity %d at rate %v needs %d counters of %d bits, over the 2^32 bits a backend holds", cashews.ErrConfig, env.Name, b.capacity, b.rate, m, b.size)
	}
	base := b.base
	if base == "" {
		base = "_cashews:bloom:" + env.Name
	}
	key := fmt.Sprintf("%s:%d:%d:%d", base, m, k, b.size)
	bd := &bloomBinding{env: env, key: key, size: b.size, m: m, k: k}
	if !b.bound.CompareAndSwap(nil, bd) {
		return nil, fmt.Errorf("%w: %s: bloom: this BloomFilter already serves another Wrap; make one per Wrap", cashews.ErrConfig, env.Name)
	}
	return func(ctx context.Context, call cashews.WrapCall) (any, error) {
		idx := bd.indexes(call.Key, true)
		vals, err := env.Cache.GetBits(ctx, key, bd.size, idx...)
		if err != nil {
			if !env.RouteAround(ctx, key, err) {
				return nil, fmt.Errorf("cashews: %s: bloom filter %s: %w", env.Name, quote.String(key), err)
			}
			return next(ctx, call) // the filter cannot answer: maybe
		}
		maybe := len(vals) == len(idx)
		for i := int64(0); maybe && i < k; i++ {
			maybe = vals[i] > 0
		}
		ready := len(vals) == len(idx) && vals[k] > 0
		if ready && !maybe {
			return nil, nil
		}
		v, err := next(ctx, call)
		if err == nil && !maybe && !bloomIsZero(v) {
			// Not ready yet: learn the key. Its counters were not all set, so this is its first add.
			env.Cache.IncrBits(ctx, key, bd.size, 1, idx[:k]...)
		}
		return v, err
	}, nil
}

// bloomIsZero reports whether v is nil or the zero value of its type.
func bloomIsZero(v any) bool {
	return v == nil || reflect.ValueOf(v).IsZero()
}

// binding returns the filter's binding, or an error naming what before Wrap.
func (b *BloomFilter) binding(what string) (*bloomBinding, error) {
	bd := b.bound.Load()
	if bd == nil {
		return nil, fmt.Errorf("%w: BloomFilter.%s before cashews.Wrap: the filter gets its cache from the Wrap call it is given to", cashews.ErrConfig, what)
	}
	return bd, nil
}

// Key returns the key of the filter's bit array, or "" before the filter is given to Wrap.
func (b *BloomFilter) Key() string {
	if bd := b.bound.Load(); bd != nil {
		return bd.key
	}
	return ""
}

// Add adds keys to the filter: the keys of items that exist, rendered as the Wrap's key template
// renders them for the calls that ask about these items. It works after the filter is given to
// Wrap; before, it returns an error matching [cashews.ErrConfig]. One Add of many keys is one backend call.
func (b *BloomFilter) Add(ctx context.Context, keys ...string) error {
	return b.incr(ctx, "Add", 1, keys)
}

// Remove removes keys that were added from a counting filter ([BloomCounting]); on a filter of
// single bits it returns an error matching [cashews.ErrConfig], because such a filter cannot forget.
func (b *BloomFilter) Remove(ctx context.Context, keys ...string) error {
	if b.size != countingBits {
		return fmt.Errorf("%w: BloomFilter.Remove needs a counting filter (strategies.BloomCounting)", cashews.ErrConfig)
	}
	return b.incr(ctx, "Remove", -1, keys)
}

func (b *BloomFilter) incr(ctx context.Context, what string, by int64, keys []string) error {
	bd, err := b.binding(what)
	if err != nil || len(keys) == 0 {
		return err
	}
	idx := make([]int64, 0, int64(len(keys))*bd.k)
	for _, key := range keys {
		idx = append(idx, bd.indexes(key, false)...)
	}
	if _, err := bd.env.Cache.IncrBits(ctx, bd.key, bd.size, by, idx...); err != nil {
		return fmt.Errorf("cashews: %s: bloom filter %s: %s: %w", bd.env.Name, quote.String(bd.key), what, err)
	}
	return nil
}

// Ready marks the filter filled: from now on, a call whose key the filter does not hold returns
// the zero value without running the function. cashews.WrapCall it once every item that exists was added.
func (b *BloomFilter) Ready(ctx context.Context) error {
	bd, err := b.binding("Ready")
	if err != nil {
		return err
	}
	if _, err := bd.env.Cache.IncrBits(ctx, bd.key, bd.size, 1, bd.m); err != nil {
		return fmt.Errorf("cashews: %s: bloom filter %s: Ready: %w", bd.env.Name, quote.String(bd.key), err)
	}
	return nil
}

// Contains reports whether the filter may hold key (true), or certainly does not (false). It does
// not say whether the filter is ready.
func (b *BloomFilter) Contains(ctx context.Context, key string) (bool, error) {
	bd, err := b.binding("Contains")
	if err != nil {
		return false, err
	}
	vals, err := bd.env.Cache.GetBits(ctx, bd.key, bd.size, bd.indexes(key, false)...)
	if err != nil {
		return false, fmt.Errorf("cashews: %s: bloom filter %s: %w", bd.env.Name, quote.String(bd.key), err)
	}
	for _, v := range vals {
		if v == 0 {
			return false, nil
		}
	}
	return len(vals) > 0, nil
}

// indexes returns the k counter indexes of key by double hashing over a 64-bit hash, and the ready
// counter's index m after them when ready is true.
func (bd *bloomBinding) indexes(key string, ready bool) []int64 {
	n := bd.k
	if ready {
		n++
	}
	out := make([]int64, 0, n)
	h := bloomFNV(key)
	h1, h2 := bloomMix(h), bloomMix(h^0x9e3779b97f4a7c15)|1
	m := uint64(bd.m)
	for i := range uint64(bd.k) {
		out = append(out, int64((h1+i*h2)%m))
	}
	if ready {
		out = append(out, bd.m)
	}
	return out
}

// bloomFNV is the 64-bit FNV-1a hash of s.
func bloomFNV(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// bloomMix is the finalizer of SplitMix64: it spreads every bit of x over the result, which FNV alone
// does poorly for keys that differ only at the end.
func bloomMix(x uint64) uint64 {
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
