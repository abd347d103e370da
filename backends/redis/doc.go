// Package redis is the Redis backend of cashews, for a single server or a Redis Cluster, with
// optional client-side caching. Importing it registers the URL schemes redis:// and rediss://:
//
//	import _ "github.com/cashews-go/cashews/backends/redis"
//
//	c.Setup("redis://localhost:6379/0?client_side=true")
//	c.Setup("rediss://user:secret@cache.internal:6380/2?tls_ca=/etc/ssl/redis-ca.pem&timeout=250ms")
//	c.Setup("redis://10.0.0.1:7000,10.0.0.2:7000,10.0.0.3:7000/?cluster=true")
//
// A program can also open the backend itself with [New] and an [Options] struct, or put it over a
// go-redis client it already has with NewFromClient of package backends/redis/goredis, and hand it
// to the Cache.
//
// # Engines
//
// Every command is implemented once, over a small internal executor, and runs on one of two
// clients: rueidis (the default: auto-pipelining, client-side caching) or go-redis (driver=go-redis,
// or goredis.NewFromClient). Both pass the conformance kit. This package links rueidis only: go-redis
// is linked into the programs that import package backends/redis/goredis, which registers
// driver=go-redis (without it, driver=go-redis is an error that names the import). Commands that must be atomic are Lua scripts
// run with EVALSHA (falling back to EVAL): Incr with a TTL (the TTL is set only when the key is
// created), the owner-checked Unlock and ExtendLock, SetAdd with its TTL rule, and the
// sliding-window SliceIncr (a sorted set of event times in microseconds: ZREMRANGEBYSCORE, ZCARD,
// ZADD of a unique member, PEXPIRE). GetBits and IncrBits are BITFIELD_RO and BITFIELD with
// OVERFLOW SAT on u<size> fields at offsets #index. rueidis never retries a command that writes;
// go-redis retries any command after a network error (max_retries, 3 by default), so a write may
// then run twice: set max_retries=0 where that matters.
//
// rueidis writes and reads a lone command on the caller's goroutine and pipelines concurrent ones;
// a lone command that runs out of time closes its connection, which the next command redials. With
// always_pipelining=true every command goes through the pipeline, so a late reply is only dropped
// and the connection stays, at the cost of two hand-offs between goroutines per command (measured
// here: from even with raw rueidis to several times slower on a loaded 2-core machine). At setup
// the backend opens every connection rueidis would otherwise open on first use.
//
// # Values
//
// The backend stores bytes: Set takes []byte (or string) values, and anything else is an error
// wrapping [backends.ErrInvalidArgument]; Get returns a []byte the caller owns. The Cache encodes
// values before they get here. Incr keeps counters as decimal text, as INCRBY does. A redis nil
// reply is a miss, never an error; WRONGTYPE replies wrap [backends.ErrWrongType] and INCRBY on a
// non-integer wraps [backends.ErrNotInteger]. Errors name the command and key, never the password.
//
// Clear is FLUSHDB (on every master): it removes every key of the database, including keys other
// programs stored there, so give the cache a database of its own. KeysCount is DBSIZE, summed over
// the masters on Cluster. ValueSize is MEMORY USAGE: the memory Redis uses for the key, its value
// and their overhead, so it is larger than the stored bytes. Scan and DeleteMatch use SCAN with
// MATCH and COUNT on every master (never KEYS), and DeleteMatch removes each page's keys as
// DeleteMany does; a pattern without wildcards is a single EXISTS or Delete. SCAN may return a key
// twice, so Scan may yield it twice.
//
// # Tags
//
// The backend implements [backends.Tagger] with keys of its own, which Scan never yields and
// DeleteMatch never deletes by pattern (KeysCount, being DBSIZE, counts them): a record per tagged
// key, in the key's own slot and with its TTL, and a sorted set per tag (see tags.go for the
// protocol). It holds on Cluster, where a tag and its keys are in different slots, and when a step
// fails: a tagged Set writes the tag's index before the value, so an error never leaves a value that
// DeleteTags misses. Delete, DeleteMany and DeleteMatch are scripts that delete the key's record
// too; a plain Set deletes the record in the same pipeline once the backend has seen tags in use
// (before that it is a bare SET, and overwriting a key that another process tagged leaves its tags:
// DeleteTags then removes the new value too). Tags need Redis 6.2 or later (GETDEL, ZADD GT), and a
// maxmemory-policy of noeviction: Redis' eviction can drop a tag's bookkeeping while its keys live.
//
// # Deadlines
//
// Every command has a deadline: the timeout parameter (100 ms by default) bounds each round trip
// unless the caller's context ends sooner, so a hung server cannot hold a caller longer than that.
// A command that runs out of time returns an error wrapping context.DeadlineExceeded. Operations of
// several round trips (DeleteMatch, Scan, and KeysCount or Clear on Cluster) apply it to each round
// trip; the caller's context bounds the whole.
//
// The drivers honour a deadline while a command waits for its reply, but not always while they
// set up a new connection (rueidis may spend up to a second closing a connection whose handshake
// timed out; go-redis can wait in its pool and dialer). So after any sign of trouble (a network or
// timeout error, a command slower than the timeout, a new connection being dialed) the backend
// runs each command of the next two seconds in a goroutine of its own and returns at the deadline
// whatever the driver does; a command given up on this way may still complete on the server. While
// Redis is healthy, commands run directly, at no cost. Close waits for those goroutines (up to 5s).
//
// Turning failures into misses (suppress=true), failing fast while Redis stays down (the health
// breaker) and routing wrapped functions around an outage are the Cache's job: the backend returns
// every error, at once, wrapped with the command and the key. An error that means Redis could not be
// reached or did not answer in time (a network error, the backend's deadline, a connection not made
// yet, rueidis' ErrDoCacheAborted, a LOADING, BUSY, MASTERDOWN, CLUSTERDOWN or TRYAGAIN reply)
// matches backends.ErrUnavailable and keeps the driver's error matchable; the end of the caller's own
// context does not match it. With goredis.NewFromClient, set ContextTimeoutEnabled in the go-redis options,
// or go-redis ignores the deadline while it reads.
//
// [New] connects in the background by default (see its documentation): Setup succeeds while Redis is
// unreachable, and commands work once a connection is made. connect_at_setup=true connects at once
// and fails when the servers cannot be reached within the dial timeout. After that, a lost connection
// is re-established by the next command; commands fail (fast when the port refuses, at the deadline
// when the server hangs) until it is.
//
// go-redis prints its own messages through one logger for the process; importing package
// backends/redis/goredis replaces it with one that hands each message to the open go-redis
// backends' loggers (the Cache's), once per burst. rueidis logs nothing.
//
// # Redis Cluster
//
// cluster=true, or several hosts in the URL, opens a Cluster client (with one host and no cluster
// parameter, rueidis asks the server whether it is a Cluster node). Every command works on
// Cluster: single-key commands and scripts go to the key's node (a script over a key and its tag
// record too: the record is in the key's slot); GetMany, SetMany and DeleteMany send one command per
// key in a pipeline, so keys may be in any slots; Scan, DeleteMatch, KeysCount and
// Clear run on every master. A Cluster has only database 0.
//
// The masters come from the cluster's own account of itself: CLUSTER NODES, asked of the masters
// of the last call (at first, of every node the driver knows); a replica, or a node that does not
// answer, is skipped unless it serves slots (for each slot, the claim of the highest config epoch
// heard counts, as in Redis). Scan, DeleteMatch and KeysCount stay exact while
// slots move between masters (a reshard): each takes the topology before and after its pass over
// the masters, and goes over again, slot by slot (CLUSTER GETKEYSINSLOT, COUNTKEYSINSLOT, the
// source of a migration before its target), the slots that migrated or changed master meanwhile,
// until a round finds them unchanged. So Scan never misses a key that existed the whole time and
// yields each key once (it remembers the keys it yielded), KeysCount counts each key once, and
// DeleteMatch leaves none behind. Without migrations this costs two CLUSTER NODES per master.
//
// Both drivers follow a failover: go-redis reloads its slot map when a node stops answering or a
// redirection reaches the backend (it otherwise reloads only on MOVED, or every
// cluster_refresh_interval), asking several nodes at once so that a frozen one does not hold the
// reload; rueidis does so itself. A command on several keys of a slot (a script over a key and its
// tag record) that meets TRYAGAIN while the slot migrates runs again until its deadline. A MOVED or
// ASK that the driver did not follow before the deadline, and CLUSTERDOWN, TRYAGAIN and LOADING, are
// failures of the backend (matching ErrUnavailable), never replies. With rueidis,
// a monitor sends PING to every master every 100 ms over the client's own connections; a master
// that has not answered for a second, and that the cluster too sees down (or has replaced), has its
// connections closed, so that the commands waiting on them fail at once and rueidis reloads its slot
// map and follows the promotion of its replica.
//
// # Client-side caching
//
// With client_side=true (rueidis, RESP3, Redis 6 or later) Get and GetMany go through a local
// cache bound to each connection and kept in step by Redis' CLIENT TRACKING (opt-in mode): a hit
// is served from local memory without a round trip; Redis sends an invalidation when another
// client changes or deletes a key, and FLUSHDB invalidates everything; when a connection breaks its
// local cache is emptied, because invalidations may have been lost. The backend's own writes are
// applied to the local cache as soon as they return, so a read that starts after a write of this
// backend sees it. A value stays local for at most client_side_ttl and never beyond the key's own
// TTL; each connection's cache holds at most client_side_size bytes, counting keys, replies and
// bookkeeping, and evicts by SIEVE. Reads of one key that miss at the same time share one round
// trip. [Backend.Stats] counts hits and misses. It works on Cluster too: each node's connection
// tracks its own keys. Writes by other clients are seen once their invalidation arrives, typically
// well under a millisecond on a local network.
//
// On Cluster a local value never outlives the health of the node it came from. A master that
// stops answering while its connections stay open (a frozen process, a partition) sends no
// invalidations, and once its replica is promoted the writes go there. So a connection's cache
// serves and stores only the keys of the slots its node serves now, while that node answers the
// monitor's PING within 300 ms: a missed PING or a slot that changes master (a failover, a
// migration, a new config epoch) makes the values go at once, and a reply to a read sent before
// such a change is not kept.
//
// # URL parameters
//
// The URL is redis://[user:password@]host[:port][,host[:port]...][/db][?parameters], or rediss://
// for TLS. A missing port is 6379; a missing host is localhost. Several hosts, comma-separated,
// are seeds of a Redis Cluster; Go's URL parser needs the last one to have its port, and IPv6
// hosts cannot be listed. The database is the path (/2) or the db parameter.
//
//	db                        database number (same as the path); 0 by default; only 0 on Cluster
//	client_name               name set on every connection (CLIENT SETNAME)
//	protocol                  RESP version: 3 (default) or 2; client-side caching needs 3
//	timeout                   deadline of each command, such as 100ms (default) or 1s; 0: none
//	dial_timeout              connecting and handshake, such as 1s (driver default: 5s)
//	read_timeout              socket reads (go-redis default 3s; for rueidis see write_timeout)
//	write_timeout             socket writes; rueidis uses max(read_timeout, write_timeout) for both
//	                          and for its health PINGs (rueidis default 10s)
//	pool_size                 connections per node: go-redis' pool; rueidis' dedicated-connection pool
//	pipeline_multiplex        rueidis: 2^n pipelined connections per node, 0 to 8 (driver default)
//	always_pipelining         rueidis: true sends even a lone command through the pipeline, so a
//	                          timeout does not close the connection; default false (faster)
//	max_retries               retries after a network error; 0 turns retries off (driver default:
//	                          go-redis 3 of any command; rueidis read-only commands until the deadline)
//	conn_max_lifetime         close connections older than this, such as 1h (default: never)
//	cluster                   true: Redis Cluster; false: a single server (or proxy); default: Cluster
//	                          with several hosts, else rueidis asks the server (go-redis: single)
//	client_side               true: client-side caching (rueidis only); default false
//	client_side_size          local cache bytes per connection, such as 64MiB (default 128MiB)
//	client_side_ttl           longest time a value stays local, such as 1m (default 10m)
//	cluster_refresh_interval  Cluster: how often the slot map is reloaded when nothing prompts it
//	                          (default 1m); it is also reloaded when a node redirects or stops answering
//	driver                    rueidis (default) or go-redis
//	connect_at_setup          true: connect before Setup returns and fail when Redis cannot be
//	                          reached; default false (connect in the background)
//	tls_ca                    rediss: PEM file of the CAs to trust (default: the system's)
//	tls_cert, tls_key         rediss: PEM files of a client certificate and its key (both or neither)
//	tls_server_name           rediss: name to verify the server's certificate against (default: host)
//	tls_insecure_skip_verify  rediss: true skips verifying the server's certificate (tests only)
//
// Durations are Go durations with days ("500ms", "2m", "1d"); sizes take B, KB, MB, GB or KiB,
// MiB, GiB. An unknown parameter, or one that does not parse, is an error naming it. The Cache's own
// parameters (enable, disable, suppress, secret, digest, codec, compress, compress_min) are taken
// by the Cache before the backend sees the URL.
package redis
