// Package backends defines the contract between a cashews Cache and the stores behind it, the registry
// of URL schemes (as database/sql registers drivers), and the helpers backends share: strict URL
// parameter parsing, glob matching and the clock.
//
// A backend is opened from a URL by the factory registered for its scheme. The memory backend
// (mem://) is always registered; redis:// and disk:// register themselves when their packages are
// imported:
//
//	import _ "github.com/cashews-go/cashews/backends/redis"
//
// A backend implements the small core, [Backend], and the capabilities (optional interfaces, such as
// [Batcher] or [Counter]) its store has; the Cache finds them at run time. Every backend of this
// module implements them all ([Full]) with the same semantics; the conformance kit in
// backends/backendtest checks each where it exists. A miss is never an error: reads of a missing key report
// found == false with a nil error.
//
// Values: a backend either keeps Go values as they are (the memory backend, which implements
// [GoValueStore] and reports true) or stores bytes. The Cache encodes values (codec, compression,
// signing) before it hands them to a byte backend, so such a backend sees only []byte values and
// returns []byte values that the caller owns.
package backends

import (
	"context"
	"iter"
	"time"
)

// NoExpiration is the TTL that [Backend.GetExpire] reports for a key that exists and never expires.
const NoExpiration time.Duration = -1

// MaxTTL is the longest TTL a backend keeps: 100 years. A longer TTL (up to
// time.Duration(math.MaxInt64), about 292 years) is stored as MaxTTL by every backend, for values,
// counters, sets, locks and sliding windows alike, so that no backend's arithmetic on expiry times
// overflows (now + ttl in nanoseconds overflows an int64 for TTLs of about 236 years and more).
const MaxTTL = 100 * 365 * 24 * time.Hour

// CapTTL returns ttl, or [MaxTTL] when ttl is longer. Backends apply it to every TTL and window
// they are given, after rejecting negative ones.
func CapTTL(ttl time.Duration) time.Duration {
	return min(ttl, MaxTTL)
}

// SetMode says when [Backend.Set] writes.
type SetMode uint8

// The set modes.
const (
	SetAlways    SetMode = iota // write whether or not the key exists
	SetIfAbsent                 // write only if the key does not exist (SET NX)
	SetIfPresent                // write only if the key exists (SET XX)
)

// String returns the mode's name.
func (m SetMode) String() string {
	switch m {
	case SetAlways:
		return "always"
	case SetIfAbsent:
		return "if-absent"
	case SetIfPresent:
		return "if-present"
	}
	return "SetMode(?)"
}

// Item is one entry of [Batcher.SetMany]. A TTL of zero means the entry does not expire.
type Item struct {
	Key   string
	Value any
	TTL   time.Duration
}

// Entry is one result of [Batcher.GetMany]: the stored value and whether the key was found. A stored
// nil is Found with a nil Value.
type Entry struct {
	Value any
	Found bool
}

// Backend is the core every store has: a store of keys with optional time to live, read and written
// one key at a time (the commands a memcached server answers). All methods are safe for concurrent
// use and honour the context's deadline. TTL arguments are durations from now: zero means "no
// expiry", a negative TTL is rejected with an error wrapping [ErrInvalidArgument], and a TTL longer
// than [MaxTTL] (a window of SliceIncr too) is taken as MaxTTL.
//
// Methods that read report a missing or expired key as found == false (or false, zero) with a nil
// error; an error always means the backend could not answer. After Close, every method returns an
// error wrapping [ErrClosed].
//
// Everything else a backend can do is a capability, an interface of its own found at run time with
// a type assertion, as database/sql/driver's optional interfaces are: [Pinger], [Batcher],
// [Scanner], [MatchDeleter], [Counter], [Locker], [SetStore], [BitStore], [SlidingWindow],
// [Admin], [Tagger] and [CompareAndSwapper]. The Cache derives what it can exactly from what a
// backend has (a batch as a loop of single-key commands, DeleteMatch as Scan plus Delete, Ping as
// Exists), and answers a command it cannot derive with an error wrapping errors.ErrUnsupported that
// names the missing interface. Every backend of this module implements every capability; the
// conformance kit (backends/backendtest) runs each section of the contract where the backend has
// the capability it checks.
type Backend interface {
	// Get returns the value stored at key. A missing key is (nil, false, nil).
	Get(ctx context.Context, key string) (value any, found bool, err error)
	// Set stores value at key with ttl when mode allows it, and reports whether it stored.
	Set(ctx context.Context, key string, value any, ttl time.Duration, mode SetMode) (bool, error)
	// Delete removes key and reports whether it was present.
	Delete(ctx context.Context, key string) (bool, error)
	// Exists reports whether key is present.
	Exists(ctx context.Context, key string) (bool, error)
	// Expire sets the TTL of an existing key (zero removes its expiry) and reports whether the key
	// exists.
	Expire(ctx context.Context, key string, ttl time.Duration) (bool, error)
	// GetExpire returns the remaining TTL of key. A missing key is (0, false, nil); a key without
	// expiry is (NoExpiration, true, nil); otherwise the TTL is positive.
	GetExpire(ctx context.Context, key string) (ttl time.Duration, found bool, err error)
	// Close releases the backend's resources and stops its goroutines. It is idempotent; other
	// methods called after Close return an error wrapping [ErrClosed].
	Close() error
}

// Pinger is implemented by backends that can check that they answer without touching a key. The
// Cache pings a backend without it with Exists of a key nobody writes.
type Pinger interface {
	// Ping checks that the backend answers.
	Ping(ctx context.Context) error
}

// Batcher is implemented by backends that read, write and delete several keys in one command. The
// Cache runs the batches of a backend without it as loops of Get, Set and Delete.
type Batcher interface {
	// GetMany returns one Entry per key, in the order of keys.
	GetMany(ctx context.Context, keys []string) ([]Entry, error)
	// SetMany stores every item unconditionally.
	SetMany(ctx context.Context, items []Item) error
	// DeleteMany removes keys and returns how many were present.
	DeleteMany(ctx context.Context, keys []string) (int, error)
}

// Scanner is implemented by backends that can list their keys.
type Scanner interface {
	// Scan yields the keys matching the glob pattern in batches of about batch keys. A key present for
	// the whole scan is yielded at least once; keys written or deleted during the scan may or may not
	// be. Internal keys of the backend (if any) are never yielded. After an error the sequence ends.
	Scan(ctx context.Context, pattern string, batch int) iter.Seq2[[]string, error]
}

// MatchDeleter is implemented by backends that delete the keys matching a pattern themselves. The
// Cache runs DeleteMatch on a backend without it as a [Scanner]'s Scan plus Delete of each key; a
// backend with neither cannot delete by pattern, and DeleteMatch on it is an error.
type MatchDeleter interface {
	// DeleteMatch removes every key matching the glob pattern (see [Match]) and returns how many it
	// removed. It works in batches and never blocks the store for the whole keyspace.
	DeleteMatch(ctx context.Context, pattern string) (int, error)
}

// Counter is implemented by backends that keep integer counters.
type Counter interface {
	// Incr adds by to the integer at key and returns the new value. A missing key counts from zero
	// and, when ttl > 0, is created with that TTL; an existing key keeps its TTL. A value that is not
	// an integer is an error wrapping [ErrNotInteger].
	Incr(ctx context.Context, key string, by int64, ttl time.Duration) (int64, error)
}

// Locker is implemented by backends that keep locks: keys held by a token until they are released
// or expire.
type Locker interface {
	// SetLock takes the lock at key for token with ttl (which must be positive) unless the key is
	// present, and reports whether it did.
	SetLock(ctx context.Context, key, token string, ttl time.Duration) (bool, error)
	// Unlock removes the lock at key only when it is held by token, and reports whether it did.
	Unlock(ctx context.Context, key, token string) (bool, error)
	// ExtendLock sets the TTL of the lock at key to ttl only when it is held by token, and reports
	// whether it did.
	ExtendLock(ctx context.Context, key, token string, ttl time.Duration) (bool, error)
	// IsLocked reports whether the lock at key is held by anyone.
	IsLocked(ctx context.Context, key string) (bool, error)
}

// SetStore is implemented by backends that keep sets of strings.
type SetStore interface {
	// SetAdd adds members to the set at key and returns how many were new. With ttl > 0 the set
	// expires no earlier than ttl from now (a later expiry is kept); with ttl == 0 it never expires.
	SetAdd(ctx context.Context, key string, ttl time.Duration, members ...string) (int, error)
	// SetRemove removes members from the set at key and returns how many were present.
	SetRemove(ctx context.Context, key string, members ...string) (int, error)
	// SetPop removes and returns up to count members of the set at key, in no particular order.
	SetPop(ctx context.Context, key string, count int) ([]string, error)
	// SetMembers returns every member of the set at key; a missing key is an empty set.
	SetMembers(ctx context.Context, key string) ([]string, error)
}

// BitStore is implemented by backends that keep arrays of small counters (Bloom filters and
// counting sketches are built on them).
type BitStore interface {
	// GetBits returns the unsigned counters of size bits (1 to 63) at the given indexes of the bit
	// array at key; a missing key reads as zeros. Every backend lays bit arrays out as Redis' BITFIELD
	// does: the counter at index i occupies bits i*size to i*size+size-1, most significant bit first,
	// bit 0 being the most significant bit of byte 0; so counters written with one size read the same
	// with another.
	GetBits(ctx context.Context, key string, size int, indexes ...int64) ([]int64, error)
	// IncrBits adds by to the counters of size bits at the given indexes, saturating at 0 and
	// 2^size-1, and returns their new values.
	IncrBits(ctx context.Context, key string, size int, by int64, indexes ...int64) ([]int64, error)
}

// SlidingWindow is implemented by backends that keep sliding-window counters (the sliding rate
// limit is built on them).
type SlidingWindow interface {
	// SliceIncr is the sliding-window counter. Atomically, it forgets the events at key older than
	// now-window, then records one event at now if fewer than limit remain. It returns the number of
	// events in (now-window, now] after the call and whether this event was recorded. The key
	// expires window after its last event, and it never holds more than limit events (after a call
	// with a lower limit than earlier ones, it keeps the newest limit). The window and
	// the limit must be positive: otherwise it is an error wrapping [ErrInvalidArgument], and nothing
	// changes.
	SliceIncr(ctx context.Context, key string, now time.Time, window time.Duration, limit int64) (count int64, recorded bool, err error)
}

// Admin is implemented by backends that answer questions about the whole store and can empty it.
type Admin interface {
	// Clear removes every key of the backend.
	Clear(ctx context.Context) error
	// KeysCount returns the number of keys in the backend (an estimate is allowed where the store
	// cannot count exactly; the implementation documents it).
	KeysCount(ctx context.Context) (int64, error)
	// ValueSize returns the size in bytes of the value at key (an estimate for Go values); a missing
	// key is 0.
	ValueSize(ctx context.Context, key string) (int64, error)
}

// Full is every command a backend can have: the core and every capability but tags and
// compare-and-swap. Every backend of this module implements it.
type Full interface {
	Backend
	Pinger
	Batcher
	Scanner
	MatchDeleter
	Counter
	Locker
	SetStore
	BitStore
	SlidingWindow
	Admin
}

// Tagger is implemented by backends that keep tags: names that one call, DeleteTags, invalidates
// together. The Cache stores a value with tags only on a backend that implements it (every backend
// of this module does); the conformance kit holds a Tagger to these rules:
//
//   - A key carries the tags of the SetTagged that stored its current value, and no others. A later
//     Set, SetMany or SetTagged of the key replaces them (a Set without tags leaves it none), and so
//     do Delete, DeleteMany, DeleteMatch, Clear, expiry and eviction of the key. Commands that change a
//     live key in place (Incr, Expire, IncrBits, CompareAndSwap) keep them.
//   - DeleteTags removes every key that carries one of its tags. A SetTagged that returned before
//     DeleteTags started is seen: its key is removed unless it was written or deleted again since.
//     A key that carried the tag once, but not any more, stays.
//   - The bookkeeping is the backend's own: it is never evicted while a key carrying the tag lives,
//     it does not count against a bound on the number of entries, Scan never yields it, and it goes
//     when the keys it describes go (deleted, expired, evicted or overwritten).
type Tagger interface {
	// SetTagged is Set that also attaches tags to the key (an empty list is a plain Set): it stores
	// value at key with ttl when mode allows it, and reports whether it stored.
	SetTagged(ctx context.Context, key string, value any, ttl time.Duration, mode SetMode, tags []string) (bool, error)
	// DeleteTags removes every key that carries any of tags and returns how many live keys it
	// removed.
	DeleteTags(ctx context.Context, tags ...string) (int, error)
	// TagKeys returns the live keys that carry tag, in no particular order, each once.
	TagKeys(ctx context.Context, tag string) ([]string, error)
}

// GoValueStore is implemented by backends that keep Go values as they are, without encoding. The
// Cache hands such a backend the caller's value and returns what it stored; for other backends it
// encodes values to []byte first.
type GoValueStore interface {
	StoresGoValues() bool
}

// StoresGoValues reports whether b keeps Go values as they are.
func StoresGoValues(b Backend) bool {
	s, ok := b.(GoValueStore)
	return ok && s.StoresGoValues()
}

// CompareAndSwapper is implemented by byte backends that can replace a value only while it still
// holds what the caller read: the primitive for read-modify-write commands the store cannot run by
// itself, such as the Cache's signed counters (the Cache verifies a counter's signature, adds to it
// and signs the result, none of which the store can do). It is optional, as database/sql/driver's
// optional interfaces are: find it with a type assertion, and treat a backend without it as unable
// to do what needs it.
//
// The memory backend (in both modes), disk and Redis implement it; the conformance kit checks
// every backend that does (backends/backendtest, case "CompareAndSwap").
type CompareAndSwapper interface {
	// CompareAndSwap stores new at key, keeping the key's TTL (and its tags, on a [Tagger]: it
	// changes the value in place, as Incr does), if and only if the key holds a value whose bytes
	// equal old, atomically. It reports whether it stored. When it did not, current
	// says what the key holds instead: the value (Found, with its bytes as a []byte the caller
	// owns), or not Found for a key that is missing, expired, or holds no value (a set, a sliding
	// window, or a bit array in a store that keeps those apart). The backend keeps neither old nor
	// new after it returns.
	CompareAndSwap(ctx context.Context, key string, old, new []byte) (swapped bool, current Entry, err error)
}
