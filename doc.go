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
// A package-level default Cache serves small programs: [Setup] and [Close] act on it, and [Default]
// returns it for everything else (its methods, the generic functions, Wrap).
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
// An error of the direct API means the backend could not answer, unless the backend was set up with
// suppress=true: then its errors become misses and false, are logged once per burst, and are counted
// ([Cache.SuppressedErrors]); lock commands and counters still return theirs, since an answer such as
// "not locked" would look real. Errors wrap the sentinels of this package ([ErrUnavailable] for a
// backend that could not be reached or did not answer in time, with the driver's error still
// matchable; [ErrNoBackend], [ErrInvalidArgument], [ErrWrongType], [ErrNotInteger], [ErrClosed],
// [ErrTampered], [ErrFormat], [ErrLockNotHeld]); match them with errors.Is. A loader returns
// [ErrNotFound] to say its source has nothing.
//
// # When the cache fails
//
// Wrapped functions and [GetOrSet] fail open: when the cache cannot be read, the function runs and
// its result is returned; when the result cannot be stored, it is returned all the same; the failure
// is logged once per burst and counted. [WithStrict] and [Strict] return the cache's errors instead.
// An entry that fails to decode (tampered with, corrupted) is a miss in either mode, and the
// function's result replaces it. Every backend has a health breaker: after 5 commands in a row fail
// with [ErrUnavailable], commands fail at once with it while a goroutine of the Cache pings the
// backend every 100 ms, until it answers. A shared load is cancelled when every caller waiting for it
// has given up; [LoadTimeout] and [WithLoadTimeout] bound it even while callers wait.
//
// # Wrap
//
// [Wrap] puts caching around a function of a context and one argument. The wrapped function has the
// same type as the original, so its callers do not change:
//
//	type Query struct {
//		ID   int
//		Lang string
//	}
//	getUser := cashews.MustWrap(c, fetchUser, // fetchUser: func(context.Context, Query) (User, error)
//		cashews.TTL(time.Hour), cashews.Key("user:{ID}:{Lang:lower}"))
//	u, err := getUser(ctx, Query{ID: 1, Lang: "EN"}) // key "user:1:en"
//
// A call renders its key from the argument, returns the stored result on a hit, and otherwise runs
// the function and stores its result. Concurrent calls that miss one key run the function once
// ([NoDedup] turns that off); one caller's cancellation fails neither the others nor the shared run
// (when every caller has given up, the run's context is cancelled; [LoadTimeout] bounds it), and a
// panic reaches every caller as a [*PanicError]. Options set the TTL ([TTL], [TTLFunc]), the
// key ([Key], [KeyPrefix], or a [KeyTemplate] shared with the functions that invalidate it), which
// results are stored ([StoreIf], [StoreErrors], [OnlyStoreErrors], [MinLatency]), tags ([Tags]) and
// the entries' name and version ([Name], [Version]). [Wrap0] wraps a function without an argument.
//
// Configuration mistakes are found when Wrap is called, not on the first request: a template that
// does not parse or names a field the argument does not have, a missing TTL, two strategies, a result
// type that the codec of the backend its keys go to cannot encode. Wrap returns the error; [MustWrap]
// panics with it, as regexp.MustCompile does. The same convention holds across the module: X returns
// an error, MustX panics (NewKey and MustNewKey, keytemplate.Compile and MustCompile).
//
// [ResultTTL] takes each entry's TTL from the result instead (a token's own expiry; zero stores
// nothing). [WrapMany] wraps a function that loads many ids at once: one batched read per call, the
// function called with the ids that missed, each id stored under its own key, concurrent batches
// sharing the ids they have in common. [WrapSeq] and [WrapSeq2] wrap a function that returns a
// sequence (iter.Seq, iter.Seq2): a miss streams from the source while recording, a hit replays.
//
// After a write, [InvalidateAfter] deletes keys by pattern and [InvalidateKey] the key another
// wrapped function renders for the changed argument; [Cache.DeleteTags] deletes by tag; [Recompute]
// makes wrapped functions ignore their entries, and store fresh results, for one context.
//
// # Strategies
//
// A strategy is an option of Wrap from package [github.com/cashews-go/cashews/strategies]; without one,
// Wrap uses simple: compute, store for the TTL, serve the stored result until it expires. A Wrap has
// one strategy, and strategies stack by nesting Wrap calls, as Python decorators stack: the outer Wrap
// sees the inner wrapped function as its function.
//
//	price := cashews.MustWrap(c, fetchPrice, cashews.Key("price:{.}"),
//		strategies.CircuitBreaker(50, time.Minute, 30*time.Second)) // open 30s after a minute of 50% failures
//	price = cashews.MustWrap(c, price, cashews.Key("price:{.}"), cashews.TTL(time.Hour),
//		strategies.Failover()) // the last good price while the breaker is open
//
// [strategies.Failover] serves the last good result when the function fails; [strategies.Soft]
// recomputes after a soft TTL and serves the stale result when that fails; [strategies.Early] refreshes
// in the background before the entry expires; [strategies.Hit] serves a result at most N times;
// [strategies.Locked] lets one caller at a time compute, across processes; [strategies.RateLimit] and
// [strategies.SlidingRateLimit] limit calls per key; [strategies.CircuitBreaker] stops calling a
// failing function for a while; [strategies.Bloom] asks a Bloom filter before the function;
// [strategies.Perf] fails fast while a function is much slower than its record. Their state (hit
// counters, locks, windows, breaker states) lives in the backend, so every process sharing it shares
// them, and their time decisions use the Cache's clock ([WithClock]). The guards (Locked, the rate
// limits, the breaker) take [strategies.FailOpen] or [strategies.FailClosed] for when the backend
// cannot answer. Refused calls return errors matching
// [ErrRateLimited], [ErrCircuitOpen] or [ErrPerfDegraded], which a Failover Wrap around the guard
// always covers with the cached result.
//
// A strategy is a [Strategy]: a name and a Decorate method that puts a behaviour around a [Func]
// once, at Wrap time. [WithStrategy] makes one an option of Wrap; package strategies is built on this
// package that way, and a strategy of your own is written the same way, working through [Env] (the
// Cache, the Wrap's [WrapConfig], reads and writes of [Entry] values, shared loads, detect hits).
//
// # Key templates
//
// A key template names the parts of the argument that make the key; it is compiled once, when Wrap is
// called, and renders a key per call:
//
//	user:{ID}:{Lang:lower}   fields of a struct argument; a formatter after a colon
//	user:{User.Name}         a nested field, through pointers; {Params.lang} is a map key
//	item:{.}                 the argument itself, for scalars (an int, a string, a time.Time)
//	tenant:{@tenant}:{ID}    a context value, set with keytemplate.WithValue(ctx, "tenant", v)
//	login:{Email:lower:hash(sha256)}  formatters apply from left to right
//
// The formatters are lower, upper, len, hash(md5|sha1|sha256), get(key) and jwt(claim), which needs a
// verifier registered with [keytemplate.RegisterJWT] (tokens are never decoded unverified);
// [keytemplate.RegisterFormatter] and [keytemplate.RegisterType] add your own. Without [Key], the key is
// the function's qualified name and every field of the argument, in an encoding that never gives two
// different arguments one key. A nil pointer on a placeholder's path, or a missing context value,
// fails the call with an error naming the placeholder instead of making a key that other calls would
// share. A formatter that maps different values to one text (lower, upper, len) gives their calls one
// entry: the first caller's result is served to the others. See package
// [github.com/cashews-go/cashews/keytemplate].
//
// # Detect
//
// Package [github.com/cashews-go/cashews/detect] tells which results of a request came from cache. A
// detector travels in the context; every strategy that serves a result from cache records the key,
// the strategy, the TTL left, the backend and, for failover and soft, the error the cached result
// covered:
//
//	ctx, d := detect.New(ctx)
//	u, err := getUser(ctx, Query{ID: 1, Lang: "EN"})
//	for _, h := range d.Hits() {
//		log.Printf("%s came from cache (%s, %s left)", h.Key, h.Strategy, h.TTL)
//	}
//
// Without a detector in the context, recording costs one atomic load. Detectors nest: an outer one
// sees the hits recorded under an inner one. middleware.FromCacheHeaders turns them into X-From-Cache
// response headers.
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
// # Transactions
//
// [Cache.Transaction] runs a function with a context in which writes are buffered: its own reads see
// them, others do not, and they are applied when the function returns nil and dropped when it fails
// or panics. [TxLocked] (the default) locks the keys it writes in their backend until it ends,
// [TxSerializable] also runs one transaction at a time per Cache, [TxFast] takes no locks. The
// commit is not atomic: see Transaction for what a failure during it leaves.
//
// # Disabling and hooks
//
// Every command crosses one chain of hooks ([Hook]) on its way to its backend. The chain has
// built-in hooks: the disable switches, outermost ([Cache.Disable] turns commands off for the whole
// Cache, [WithDisabled] for one context: a request can run with the cache off); then the hooks the
// user adds; then suppression (suppress=true) and the health breaker with the stats, innermost.
// [Cache.Use] adds hooks; they run in the order added, the first outermost, and see each command as
// a read-only [Call]. [LogHook] logs commands with log/slog; [Cache.OnCommand] adds callbacks.
// ("Middleware", in this module, means net/http middleware: package middleware.)
//
// # Backends and capabilities
//
// A backend implements a small core (backends.Backend: Get, Set, Delete, Exists, Expire,
// GetExpire, Close) and the capabilities its store has, each an interface of package backends found
// at run time (batches, counters, locks, sets, bit arrays, sliding windows, scans, administration,
// tags, compare-and-swap). The Cache derives what it can exactly (batches as loops, DeleteMatch as
// Scan plus Delete, Ping as Exists); a command it cannot derive fails with an error matching
// errors.ErrUnsupported that names the missing interface, and a strategy that needs one fails at
// Wrap ([Cache.Require]).
//
// # Observability
//
// [Cache.Stats] returns what the Cache counted: per backend (hits, misses, sets, deletes, errors,
// suppressed errors, openings of the health breaker, evictions by cause), per wrapped function
// (calls, hits, misses, loads, load errors and latency, stale results served, refreshes, refusals
// by rate limits and breakers) and per route of the HTTP response cache. Counting is striped per
// processor, so the hit path writes no shared cache line. [OnDeletion] is a setup option that has
// mem:// report every value that leaves it, with the cause. The modules contrib/prometheus and
// contrib/otel export the statistics (and, for OpenTelemetry, a span per command).
//
// # Concurrency and lifetime
//
// A Cache is safe for concurrent use. [GetOrSet] runs one load per key among concurrent callers;
// the load is detached from any one caller's cancellation, and each caller waits on its own context.
// Every goroutine the Cache or its backends start is stopped by [Cache.Close], which is idempotent.
package cashews
