// Package memory is the in-process backend of cashews, registered under the URL scheme mem://.
//
// The root package imports it, so mem:// is always available:
//
//	c.Setup("mem://?size=10000&max_bytes=64MiB")
//
// A program that wants the backend without a Cache calls [New] with an [Options] struct, whose zero
// value means defaults.
//
// # Values
//
// By default the backend keeps Go values as they are ([Backend.StoresGoValues] reports true): the
// Cache hands it the caller's value, and a hit returns that same value without encoding, copying or
// allocating. Callers must therefore not mutate a value after storing it, nor a value they got back:
// every reader shares it.
//
// With copy=true ([Options.Copy]) the backend reports StoresGoValues false, so the Cache encodes
// values into []byte before storing them, as it does for Redis. The backend then behaves like a byte
// store: it accepts only []byte (and string) values, copies what it is given and returns a fresh copy
// on every read, so no caller ever shares memory with the store. Counters (Incr) and lock tokens are
// then kept as decimal and raw bytes, as Redis keeps them.
//
// # Bounds and eviction
//
// The store can be bounded by entries (size, [Options.MaxEntries]) and by bytes (max_bytes,
// [Options.MaxBytes]); both are off by default, so set at least one for a cache whose keys come from
// user input. The bounds are global: a write that takes the store over a bound evicts entries, first
// from its own shard and, when that shard has nothing else to give, from the others in turn.
//
// Eviction is SIEVE (Zhang et al., NSDI 2024) in each shard: entries sit in a FIFO queue; a Get hit
// only sets an atomic "visited" bit (and only when it is not set yet, so a hot key's hits write
// nothing; a Set that overwrites a live key sets it too), and the eviction hand walks from the oldest
// entry towards the newest, clearing visited bits and evicting the first entry that was not visited
// (or that has expired). Plain SIEVE evicts newcomers quickly, which wins on skewed (Zipf) workloads
// and loses where keys come back a little after their first use; so each shard also remembers the
// keys it evicted lately (a two-generation Bloom filter of about 4 bytes per entry), and a key stored
// again soon after its eviction comes back already visited. The tests and bench/RESULTS.md compare
// the hit ratio with LRU's on Zipf, loop, shifting and LRU-stack traces: above LRU on Zipf, equal on
// a loop (both miss everything), within 5% on the recency traces, where LRU is the best policy there
// is. Exists, GetExpire and the other reads do not count as hits.
//
// An entry's cost against max_bytes is len(key) + the value's size + [EntryOverhead]. The value's
// size is, in order: what [Options.Sizer] returns (when it is set and returns a non-negative number),
// CacheSize() for a value implementing [Sizer] (when it returns a non-negative number), the capacity
// of a []byte (the array it keeps alive, however short the slice), the length of a string, the
// fixed width for bools and numbers (24 for time.Time), and otherwise an estimate: a reflect walk
// that adds the value's own size to the bytes its strings, slices (by capacity), maps, pointers and
// interfaces reach, at any depth, counting each block of memory once, looking into at most 8
// elements of each container (and extrapolating to the rest) and visiting at most 4096 values in
// all, so that its cost is bounded whatever the value. A Sizer that panics or returns a negative
// size falls back to the estimate, so every value counts at least its own fixed size.
//
// The estimate's limits: a string is counted by its length, so a short substring of a large string
// is under-counted (the Go runtime keeps the whole string alive); so is a value with more than 4096
// parts reachable only beyond the sample (a long linked list, a big tree), and a container whose
// unsampled elements are much larger than the first 8. Memory the value reaches through functions,
// channels or unsafe pointers is not counted. Give such values a Sizer, or copy=true, which counts
// the encoded bytes exactly.
//
// Sets, bit arrays and sliding windows count their members, bytes and events. A value whose entry alone
// would exceed max_bytes is rejected with an error wrapping [backends.ErrInvalidArgument].
// [Backend.ValueSize] returns the value's size (without key and overhead).
//
// # Expiry
//
// A key with a TTL is stored with its expiry time. Reads compare it with the clock
// ([Options.Clock]), so an expired key is a miss at once; a key without TTL never reads the clock on
// a hit. On the system clock, Get, GetMany and Exists read a coarse clock: a goroutine of the backend
// reads the time once per millisecond while the backend is read, and parks after a millisecond
// without reads (a read then reads the time itself and wakes it). Reading the system clock costs 20
// ns to several hundred (on virtual machines that trap the time-stamp counter), more than the rest
// of a hit; in exchange those reads may still see a key up to about a millisecond after its TTL (more
// when that goroutine runs late). Writes and the other commands read the clock itself, so a TTL never
// ends early, and an injected clock is always read directly. A janitor goroutine purges expired keys
// every check_interval (one minute by default; 0 turns it off): it finds them under each shard's
// read lock and takes the write lock only to remove them. Close stops both goroutines.
// [Backend.KeysCount] counts exactly the keys that have not expired by the clock, purged or not.
//
// # Concurrency
//
// Keys are spread over shards (a power of two, by default 4×GOMAXPROCS with at least 16) by
// hash/maphash with a random seed. Each shard indexes its keys in an open-addressing table of atomic
// pointers, which Get, GetMany and Exists search without any lock: a hit writes nothing that other
// readers read (no reader count, no lock word; only a key's visited bit, once per sweep), so readers
// on every core run without sharing a cache line. A write takes the shard's lock, changes the table
// in place (a removed key leaves a tombstone; the table is rebuilt when it fills) and never changes
// what a reader may be looking at: a key's value and kind sit in an immutable box, replaced whole
// (which costs a Set of a live key one small allocation). The readers of sets, bit arrays and sliding
// windows take the shard's read lock. Scan, DeleteMatch, KeysCount and the purge lock one shard at a
// time, never the whole store.
//
// # URL parameters
//
//	size            maximum number of keys; 0 (default) means no bound
//	max_bytes       maximum bytes (see above), as 64MiB, 1GB or 1048576; 0 (default) means no bound
//	check_interval  period of the expired-key purge, as 30s or 1m (default); 0 turns the purge off
//	shards          number of shards, a power of two from 1 to 65536; default 4×GOMAXPROCS, at least 16
//	copy            true to store encoded bytes instead of Go values (default false)
//
// The Cache takes its own parameters (enable, suppress, secret, codec...) before the factory runs.
package memory
