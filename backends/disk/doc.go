// Package disk is the cashews backend that keeps a cache in SQLite files on a local disk: a cache
// bigger than memory, shared by the processes of one machine, that survives restarts, without a
// server. It uses modernc.org/sqlite (pure Go, no cgo) through database/sql.
//
// Importing the package registers the disk:// scheme:
//
//	import _ "github.com/cashews-go/cashews/backends/disk"
//
//	err := c.Setup("disk:///var/cache/app?shards=8&size_limit=1GiB", cashews.WithPrefix("blob:"))
//
// or, without a URL, [New] with [Options] (the zero value means every default).
//
// # The directory
//
// The URL's path is the directory: disk:///var/cache/app is /var/cache/app. A relative directory is
// written disk://./cache (or disk:cache), relative to the working directory. disk:// with no path
// (or disk:///) means [DefaultDir], filepath.Join(os.UserCacheDir(), "cashews"), for example
// ~/.cache/cashews on Linux. The parameter directory may name it instead of the path, as in
// Python's cashews. A directory that does not exist is created with mode 0700 (only its owner may
// read the cache); an existing directory keeps its mode. Do not put it on a network file system:
// SQLite's locks and shared memory do not work there.
//
// # Parameters
//
//	parameter       default                 meaning
//	shards          8 (or the directory's)  number of SQLite files, 1 to 256
//	size_limit      1GiB                    bytes of keys, values and set members to keep; 0 means no limit
//	eviction        least-recently-stored   least-recently-stored (lrs), least-recently-used (lru) or none
//	busy_timeout    5s                      how long a write waits for another process's lock; 0 means no wait
//	timeout         0 (none)                time limit of every command, on top of the context's deadline
//	synchronous     normal                  normal, full, off or extra (see Durability)
//	cull_limit      100                     most entries one cull or eviction transaction removes
//	check_interval  1m                      how often expired entries are culled; 0 means never in the background
//	mmap_size       0 (off)                 memory map per shard for reads, such as 64MiB
//	cache_size      SQLite's (about 2MB)    page cache of each connection, such as 8MiB
//	readers         4                       reading connections per shard (writes use one more)
//	directory       (the URL's path)        the directory, as a parameter
//
// Sizes take units (64MiB, 1GB); durations take Go syntax plus days (500ms, 1d). An unknown
// parameter or a value that does not parse is an error naming it.
//
// # Files and shards
//
// Keys are spread over the files shard-000.db, shard-001.db, ... by [ShardIndex]: the 64-bit FNV-1a
// hash of the key's bytes modulo the shard count. The placement never changes between versions or
// processes, so the shard count of a directory is fixed when it is created; opening it with another
// count is an error (leave shards out to take the directory's). Each file records the format, the
// shard count and its own index; a file that is not an SQLite database, a database of another
// program or another format version, or a shard file renamed or copied from elsewhere is an error at
// setup that names the file. Such files are never modified. [Backend.Check] runs SQLite's integrity
// check on every shard.
//
// More shards let more processes write at once (each file has one writer at a time) and keep each
// file smaller; reads never wait for writes (WAL). The size limit is per shard: each keeps
// size_limit/shards bytes.
//
// # Concurrency between processes
//
// The files are in WAL journal mode: readers never block writers and writers never block readers.
// Within a process, each shard has one writing connection, so the writers of a process queue in Go
// (each honouring its context). Between processes, SQLite's file locks serialize writers, and a
// writer waits up to busy_timeout for another process's lock before it fails. Every transaction
// that reads before it writes (Incr, sets, bits, the sliding window) begins with BEGIN IMMEDIATE, so
// two processes never deadlock on a lock upgrade. Locks (SetLock) work across processes: taking one
// is a single atomic insert-unless-live.
//
// # Durability
//
// Every write that returned is in the write-ahead log. With synchronous=normal (the default), a
// process that crashes or is killed loses nothing it committed: SQLite replays the log when the next
// process opens the file. A power loss or an operating system crash never corrupts the files in WAL
// mode, but may roll back the last commits before the most recent checkpoint (SQLite checkpoints
// every 1000 pages of log, about 4 MiB per shard). synchronous=full makes every commit wait for the
// disk, so that it survives a power loss too (about 0.1 to 10 ms per write); off never waits for the
// disk and trusts the operating system; extra is full plus a directory sync.
//
// # Expiry and eviction
//
// Each entry has an expiry time (from the Clock of [Options] or of the Cache). Reads treat an
// expired entry as missing at once; the background goroutine deletes expired entries every
// check_interval, in transactions of at most cull_limit entries, and so does every write that takes
// a shard over its share of size_limit. When a shard is still over its limit, entries go by the
// eviction policy: least-recently-stored evicts the entries written longest ago (a read costs
// nothing extra); least-recently-used evicts the entries neither read nor written for longest (hits
// record their time in memory and a background goroutine writes them in batches, so a hit costs a
// map insert and the cache writes a little more; access times not yet written are lost if the
// process dies); none never evicts. The limit counts keys, values and set members; the files take
// more (pages, indexes, the log), typically 1.2 to 2 times. A writer checks the limit after every
// 1/64 of a shard's share written, so a shard may run over it by that much per process between
// checks.
//
// The price of expiry and eviction is paid by writes, and kept small: the indexes that find expired
// entries and the eviction order hold the times by second (a bucket of about 1.07 s) rather than by
// nanosecond, so a Set of a key written less than a second before (most writes of a hot key) writes
// only the row's own page, as a plain upsert does; a key that moves to another second moves its
// index entries too (up to four more pages, as every Set did before format version 3). Culling,
// KeysCount and the eviction order stay exact: they find the candidates by bucket and check, or sort
// by, the time itself. A read costs what a plain point select costs (see bench_test.go).
//
// # Values and commands
//
// The backend stores []byte values only: a Cache encodes other values before they reach it. Get
// returns a []byte the caller owns. Incr stores its counter as decimal text, so Get of a counter
// returns, say, []byte("42"), and Incr on a value that is not the canonical decimal form of an int64
// is an error wrapping [backends.ErrNotInteger], as in Redis. Locks are values holding their token.
// Bit arrays (GetBits, IncrBits) are values laid out as Redis' BITFIELD lays them out. Sets keep their
// members in their own table; the sliding-window counter keeps the times of its events. Get on a set
// or a window is an error wrapping [backends.ErrWrongType]; GetMany reports them as not found, as
// Redis' MGET does. Scan, DeleteMatch and the Cache's get-match read every shard, each from the
// pattern's literal prefix on, in key order, and match keys with [backends.Match] (Redis' glob rules,
// not SQLite's GLOB). KeysCount is exact: the count of live keys.
//
// # Tags
//
// The backend implements [backends.Tagger]: a key's tags are rows of its own shard, written in the
// transaction that writes the key, and removed by trigger whenever the entry goes (deleted, culled,
// evicted, cleared) or is rewritten by a Set without them. So eviction never drops a tag while its key
// lives, a DeleteTags that starts after a tagged Set returned finds the key, and no tag row outlives
// its key. Tag rows do not count against size_limit. Directories of format versions 1 (no tags) and
// 2 (times indexed to the nanosecond) are migrated in place when opened; the keys that the tag sets
// of version 1 list are still deleted by DeleteTags.
package disk
