// Package cashews is a caching toolkit for Go services: one Cache, configured by URL, that routes
// each key by its longest matching prefix to memory, Redis or SQLite-on-disk backends, with a direct
// API of commands (get, set, incr, locks, sets, bit counters, sliding windows, scans) and generic
// wrappers that put caching strategies around ordinary functions.
//
// # Setup and URLs
//
// A Cache starts empty; each Setup call adds a backend from a URL:
//
//	c := cashews.New()
//	defer c.Close()
//	err := c.Setup("mem://?size=10000")                                          // every key
//	err = c.Setup("redis://localhost:6379/0?client_side=true", cashews.WithPrefix("user:"))
//	err = c.Setup("disk:///var/cache/app?shards=8", cashews.WithPrefix("blob:"))
//
// The scheme names the backend. mem:// is always there; redis://, rediss:// and disk:// register when
// their package is imported (import _ "github.com/cashews-go/cashews/backends/redis"), as database/sql
// drivers do. Parameters every backend takes are listed at [Cache.Setup]; each backend documents its
// own. An unknown scheme, an unknown parameter, or a value that does not parse is an error that names
// it; booleans take 1/0, true/false, yes/no, on/off; durations take Go syntax plus days ("1d2h3m");
// sizes take units ("64MiB", "1GB").
//
// A package-level default Cache serves small programs: cashews.Setup, cashews.Set and the other
// package-level functions call it, and [Default] returns it for the generic functions.
//
// # Prefix routing
//
// Each key goes to the backend with the longest prefix that the key starts with; the prefix stays
// part of the key. A key that no prefix matches, with no backend set up without a prefix, is an
// error matching [ErrNoBackend]. Commands over patterns (Scan, GetMatch, DeleteMatch) visit every
// backend whose prefix agrees with the pattern's literal start.
//
// # Values
//
// The memory backend keeps Go values as they are: a hit returns the stored value without encoding
// and, through [Get] for the stored type, without allocating. Callers must not mutate what they
// stored or got back. With copy=true it encodes values like a byte backend, for isolation.
//
// Byte backends (Redis, disk, mem:// with copy=true) store values through a codec (JSON by default;
// gob and raw bytes built in; others plug in with codec.Register), optionally compressed, and, with a
// secret, signed with HMAC over key, header and payload, counters included. A value that fails the
// check is never decoded: reads and Incr fail with an error matching [ErrTampered]. Each value
// records its Go type, so that [Get] answers the same on every backend: a value stored as another
// type is [ErrWrongType], except integers, which read back into any integer type. Integers are
// counters: without a secret they are the store's own decimal text, which Incr counts on from; with
// a secret they are signed, and Incr updates them with compare-and-swap. A wrapped function's
// entries are values too: Get at its key returns its result.
//
// # Misses and errors
//
// A miss is not an error: reads of a missing or expired key return found == false and a nil error.
// An error means the backend could not answer, unless the backend was set up with suppress=true:
// then its errors become misses and false, are logged once per burst, and are counted
// ([Cache.SuppressedErrors]). Errors wrap the sentinels of this package ([ErrNoBackend],
// [ErrInvalidArgument], [ErrWrongType], [ErrNotInteger], [ErrClosed], [ErrTampered], [ErrFormat],
// [ErrLockNotHeld]); match them with errors.Is. A loader returns [ErrNotFound] to say its source has
// nothing.
//
// # Locks
//
// [Cache.Lock] takes a lock with an owner token, waiting with the caller's context; only the owner
// releases or extends it, and a lock whose TTL ran out is not released by its old owner.
// [Cache.WithLock] runs a function under a lock.
//
// # Tags
//
// [Tags] attaches tags to a Set or to the results of a wrapped function; [Cache.DeleteTags] removes
// every key that carries one of them. A key carries the tags of the write that stored its current
// value, and a DeleteTags that starts after such a write returned always finds it, on every backend,
// whatever its bounds and eviction: each backend keeps tags itself (backends.Tagger), never as
// entries that eviction could drop.
//
// # Disabling and middlewares
//
// [Cache.Disable] turns commands off for the whole Cache, [WithDisabled] for one context (a request
// can run with the cache off). [Cache.Use] adds middlewares around every command; they run in the
// order added, the first outermost, and see each command as a read-only [Call]. [LogMiddleware]
// logs commands with log/slog; [Cache.OnCommand] adds callbacks.
//
// # Concurrency and lifetime
//
// A Cache is safe for concurrent use. [GetOrSet] runs one load per key among concurrent callers;
// the load is detached from any one caller's cancellation, and each caller waits on its own context.
// Every goroutine the Cache or its backends start is stopped by [Cache.Close], which is idempotent.
package cashews
