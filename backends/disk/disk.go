package disk

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite" // also registers the database/sql driver "sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/internal/quote"
)

func init() {
	backends.Register("disk", open)
}

// open is the factory of disk:// URLs.
func open(cfg backends.Config) (backends.Backend, error) {
	o, err := ParseURL(cfg.URL, cfg.Params)
	if err != nil {
		return nil, err
	}
	// The Cache has taken its own parameters already: whatever is left is unknown, and saying so
	// now spares creating the directory of a URL with a typo in it.
	if err := cfg.Params.CheckUnused(); err != nil {
		return nil, err
	}
	o.Clock = cfg.Clock
	o.Logger = cfg.Logger
	return New(o)
}

// Backend is a cache in SQLite files on a local disk. It implements [backends.Full] (the core and
// every capability) for []byte values. Several Backends, in one process or many, may share a
// directory.
type Backend struct {
	opts       Options
	dir        string
	shards     []*shard
	clock      backends.Clock
	shardLimit int64 // bytes per shard; negative: no limit
	checkEvery int64 // bytes written to a shard between two checks of its size

	lastStamp atomic.Int64 // the last used_at handed out

	evictedBytes, evictedExpired atomic.Int64 // entries this process evicted (see Evictions)

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
	cancel    context.CancelFunc // cancels bg
	bg        context.Context    // the background goroutine's context
	flush     chan struct{}      // asks the background goroutine to write access times
	done      chan struct{}      // closed when the background goroutine returns; nil if none
}

var (
	_ backends.Full              = (*Backend)(nil)
	_ backends.CompareAndSwapper = (*Backend)(nil)
	_ backends.EvictionCounter   = (*Backend)(nil)
)

// Evictions returns how many entries this process removed by itself since it opened the backend:
// expired ones (by the purge every check interval, Cull, or an eviction that found expired entries
// first) and, to keep a shard within its share of size_limit, the least recently used ones (Bytes;
// the disk backend has no bound on entries, so Size stays zero). Other processes sharing the
// directory count their own. The disk backend does not report deletions one by one
// (backends.DeletionNotifier): entries also leave through the other processes that share its
// files, which one process cannot see.
func (b *Backend) Evictions() backends.Evictions {
	return backends.Evictions{Bytes: b.evictedBytes.Load(), Expired: b.evictedExpired.Load()}
}

// shard is one SQLite file: a pool of reading connections and one writing connection, so that the
// writers of this process queue in Go (honouring their contexts) instead of spinning on SQLite's
// lock; other processes are waited for with the busy timeout.
type shard struct {
	index int
	path  string
	r, w  *sql.DB

	// Statements on r.
	get, exists, getExpire, valueSize, members, scanAll, scanRange, keysCount, stats, tagKeys *stmt
	// Statements on w.
	put, putValue, putIfAbsent, update, del, delLive, expire, unlock, extend        *stmt
	untagKey, addTag, deleteTag                                                     *stmt
	entry, delAny, setEntry, addMember, removeMember, popMembers, anyMember, resize *stmt
	cull, oldest, deleteID, touch, clear, size                                      *stmt

	pending atomic.Int64 // bytes written since the last size check

	touchMu sync.Mutex
	touched map[string]int64 // LRU access times not written yet
}

// New opens (creating if needed) the cache directory described by opts.
func New(opts Options) (*Backend, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("cashews: disk: directory %s: %w", quote.String(o.Dir), err)
	}
	o.Dir = dir
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return nil, fmt.Errorf("cashews: disk: %s is a file, not a directory", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cashews: disk: cannot create directory: %w", err)
	}
	b := &Backend{opts: o, dir: dir, clock: o.Clock}
	ctx := context.Background()
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout+o.BusyTimeout)
		defer cancel()
	}

	// Shard 0 first: it tells how many shards the directory has.
	create := o.Shards
	if create == 0 {
		create = DefaultShards
	}
	s0, n, err := openShard(ctx, dir, 0, create, o)
	if err != nil {
		return nil, err
	}
	b.shards = append(b.shards, s0)
	if o.Shards != 0 && n != o.Shards {
		b.closeShards()
		return nil, fmt.Errorf("cashews: disk: directory %s was created with %d shards, not %d: the hash that places keys depends on the count; use shards=%d or another directory",
			dir, n, o.Shards, n)
	}
	for i := 1; i < n; i++ {
		s, got, err := openShard(ctx, dir, i, n, o)
		if err == nil && got != n {
			s.close()
			err = fmt.Errorf("cashews: disk: shard file %s says the directory has %d shards, but %s says %d: the directory is damaged",
				s.path, got, s0.path, n)
		}
		if err != nil {
			b.closeShards()
			return nil, err
		}
		b.shards = append(b.shards, s)
	}
	b.opts.Shards = n

	if o.SizeLimit < 0 {
		b.shardLimit = -1
	} else {
		b.shardLimit = max(o.SizeLimit/int64(n), 1)
		b.checkEvery = max(b.shardLimit/64, 1)
	}
	b.bg, b.cancel = context.WithCancel(context.Background())
	if o.CheckInterval > 0 || o.Eviction == LeastRecentlyUsed {
		b.flush = make(chan struct{}, 1)
		b.done = make(chan struct{})
		go b.run()
	}
	return b, nil
}

// openShard opens shard i of dir and returns it with the shard count its file records.
func openShard(ctx context.Context, dir string, i, create int, o Options) (*shard, int, error) {
	s := &shard{index: i, path: filepath.Join(dir, shardName(i))}
	var err error
	if s.w, err = sql.Open("sqlite", dsn(s.path, o, true)); err != nil {
		return nil, 0, setupError(s.path, "cannot be opened", err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	if s.r, err = sql.Open("sqlite", dsn(s.path, o, false)); err != nil {
		s.w.Close()
		return nil, 0, setupError(s.path, "cannot be opened", err)
	}
	s.r.SetMaxOpenConns(o.Readers)
	s.r.SetMaxIdleConns(o.Readers)

	conn, err := s.w.Conn(ctx)
	if err != nil {
		s.close()
		if isDamaged(err) {
			return nil, 0, setupError(s.path, "is damaged or not an SQLite database; remove it (the cache will start empty)", err)
		}
		return nil, 0, setupError(s.path, "cannot be opened", err)
	}
	n, err := prepareFileWaiting(ctx, conn, s.path, i, create, o.BusyTimeout)
	conn.Close()
	if err != nil {
		s.close()
		return nil, 0, err
	}
	if err := s.prepare(ctx); err != nil {
		s.close()
		return nil, 0, setupError(s.path, "has a damaged schema", err)
	}
	return s, n, nil
}

// live is the condition of an entry that has not expired, with the time as parameter ?2.
const live = "(expire_at = 0 OR expire_at > ?2)"

// prepare makes the statements of the shard, to be prepared on first use.
func (s *shard) prepare(ctx context.Context) error {
	p := func(db *sql.DB, dst **stmt, query string) { *dst = newStmt(db, query) }
	// put writes an entry in place: an existing live entry keeps its tags, an expired one loses them.
	// putValue (Set) gives the entry the tagged flag ?8, ending the tags of the entry it replaces.
	// Inserts give the row its buckets (see bucketShift), so that the insert trigger finds nothing
	// to fix; updates leave them to the triggers, which change them only when a time changes bucket.
	buckets := expireBucketSQL("?5") + ", " + usedBucketSQL("?6")
	putHead := `INSERT INTO cashews_entries (key, kind, value, expire_at, used_at, size, expire_bucket, used_bucket) VALUES (?1, ?3, ?4, ?5, ?6, ?7, ` + buckets + `)
		ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, value = excluded.value, expire_at = excluded.expire_at,
		used_at = excluded.used_at, size = excluded.size,
		tagged = CASE WHEN cashews_entries.expire_at <> 0 AND cashews_entries.expire_at <= ?2 THEN 0 ELSE cashews_entries.tagged END`
	putValueHead := `INSERT INTO cashews_entries (key, kind, value, expire_at, used_at, size, tagged, expire_bucket, used_bucket) VALUES (?1, ?3, ?4, ?5, ?6, ?7, ?8, ` + buckets + `)
		ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, value = excluded.value, expire_at = excluded.expire_at,
		used_at = excluded.used_at, size = excluded.size, tagged = excluded.tagged`
	// expiredBefore selects the entries expired at ?1: by bucket (the index), then by time.
	expiredBefore := `expire_bucket > 0 AND expire_bucket <= ` + expireBucketSQL("?1") + ` AND expire_at <= ?1`
	// Reads.
	p(s.r, &s.get, `SELECT kind, value FROM cashews_entries WHERE key = ?1 AND `+live)
	p(s.r, &s.exists, `SELECT 1 FROM cashews_entries WHERE key = ?1 AND `+live)
	p(s.r, &s.getExpire, `SELECT expire_at FROM cashews_entries WHERE key = ?1 AND `+live)
	p(s.r, &s.valueSize, `SELECT size - length(key) FROM cashews_entries WHERE key = ?1 AND `+live)
	p(s.r, &s.members, `SELECT e.kind, m.member IS NOT NULL, m.member FROM cashews_entries e LEFT JOIN cashews_members m ON m.key = e.key
		WHERE e.key = ?1 AND (e.expire_at = 0 OR e.expire_at > ?2)`)
	p(s.r, &s.scanAll, `SELECT key FROM cashews_entries WHERE key >= ?1 AND `+live+` ORDER BY key LIMIT ?3`)
	p(s.r, &s.scanRange, `SELECT key FROM cashews_entries WHERE key >= ?1 AND key < ?4 AND `+live+` ORDER BY key LIMIT ?3`)
	p(s.r, &s.keysCount, `SELECT (SELECT count FROM cashews_stats WHERE id = 0) -
		(SELECT count(*) FROM cashews_entries WHERE `+expiredBefore+`)`)
	p(s.r, &s.stats, `SELECT size FROM cashews_stats WHERE id = 0`)
	// Writes. ?1 is the key and ?2 the time wherever they appear.
	p(s.w, &s.put, putHead)
	p(s.w, &s.putValue, putValueHead)
	p(s.w, &s.putIfAbsent, putValueHead+` WHERE cashews_entries.expire_at <> 0 AND cashews_entries.expire_at <= ?2`)
	p(s.w, &s.update, `UPDATE cashews_entries SET kind = ?3, value = ?4, expire_at = ?5, used_at = ?6, size = ?7, tagged = ?8 WHERE key = ?1 AND `+live)
	p(s.w, &s.untagKey, `DELETE FROM cashews_tags WHERE key = ?1`)
	p(s.w, &s.addTag, `INSERT OR IGNORE INTO cashews_tags (tag, key) VALUES (?2, ?1)`)
	p(s.w, &s.deleteTag, `DELETE FROM cashews_entries WHERE key IN (SELECT key FROM cashews_tags WHERE tag = ?1) RETURNING expire_at`)
	p(s.r, &s.tagKeys, `SELECT t.key FROM cashews_tags t JOIN cashews_entries e ON e.key = t.key WHERE t.tag = ?1 AND (e.expire_at = 0 OR e.expire_at > ?2)`)
	p(s.w, &s.del, `DELETE FROM cashews_entries WHERE key = ?1 RETURNING expire_at`)
	p(s.w, &s.delLive, `DELETE FROM cashews_entries WHERE key = ?1 AND `+live)
	p(s.w, &s.expire, `UPDATE cashews_entries SET expire_at = ?3 WHERE key = ?1 AND `+live)
	p(s.w, &s.unlock, `DELETE FROM cashews_entries WHERE key = ?1 AND kind = 0 AND value = ?3 AND `+live)
	p(s.w, &s.extend, `UPDATE cashews_entries SET expire_at = ?4 WHERE key = ?1 AND kind = 0 AND value = ?3 AND `+live)
	p(s.w, &s.entry, `SELECT kind, expire_at, value FROM cashews_entries WHERE key = ?1`)
	p(s.w, &s.delAny, `DELETE FROM cashews_entries WHERE key = ?1`)
	p(s.w, &s.anyMember, `SELECT EXISTS (SELECT 1 FROM cashews_members WHERE key = ?1)`)
	p(s.w, &s.setEntry, `UPDATE cashews_entries SET expire_at = ?2, used_at = ?3, size = size + ?4 WHERE key = ?1`)
	p(s.w, &s.addMember, `INSERT OR IGNORE INTO cashews_members (key, member) VALUES (?1, ?2)`)
	p(s.w, &s.removeMember, `DELETE FROM cashews_members WHERE key = ?1 AND member = ?2`)
	p(s.w, &s.popMembers, `SELECT member FROM cashews_members WHERE key = ?1 LIMIT ?2`)
	p(s.w, &s.resize, `UPDATE cashews_entries SET size = size + ?2 WHERE key = ?1`)
	p(s.w, &s.cull, `DELETE FROM cashews_entries WHERE id IN
		(SELECT id FROM cashews_entries WHERE `+expiredBefore+` LIMIT ?2)`)
	p(s.w, &s.size, `SELECT size FROM cashews_stats WHERE id = 0`)
	// The index gives the buckets in order; SQLite sorts each bucket's entries by their time.
	p(s.w, &s.oldest, `SELECT id, size FROM cashews_entries ORDER BY used_bucket, used_at LIMIT ?1`)
	p(s.w, &s.deleteID, `DELETE FROM cashews_entries WHERE id = ?1`)
	p(s.w, &s.touch, `UPDATE cashews_entries SET used_at = max(used_at, ?2) WHERE key = ?1`)
	p(s.w, &s.clear, `DELETE FROM cashews_entries WHERE id IN (SELECT id FROM cashews_entries LIMIT ?1)`)
	// The hot read is prepared now: it checks the schema too.
	_, err := s.get.prepared(ctx)
	return err
}

// close closes the shard's pools (and with them its statements).
func (s *shard) close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// tx runs fn in a write transaction (BEGIN IMMEDIATE) on the shard. use lists the statements fn
// runs: they are prepared before the transaction takes the shard's only writing connection.
func (s *shard) tx(ctx context.Context, use []*stmt, fn func(tx *sql.Tx) error) error {
	for _, st := range use {
		if _, err := st.prepared(ctx); err != nil {
			return err
		}
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Dir returns the absolute directory of the shard files.
func (b *Backend) Dir() string { return b.dir }

// Shards returns the number of shard files.
func (b *Backend) Shards() int { return len(b.shards) }

// Close stops the background goroutine, writes the access times not written yet and closes every
// shard. It is idempotent.
func (b *Backend) Close() error {
	b.closeOnce.Do(func() {
		b.closed.Store(true)
		b.cancel()
		if b.done != nil {
			<-b.done
		}
		if b.opts.Eviction == LeastRecentlyUsed {
			ctx, cancel := context.WithTimeout(context.Background(), b.opts.BusyTimeout+time.Second)
			for _, s := range b.shards {
				b.flushTouches(ctx, s)
			}
			cancel()
		}
		b.closeErr = b.closeShards()
	})
	return b.closeErr
}

func (b *Backend) closeShards() error {
	var errs []error
	for _, s := range b.shards {
		if err := s.close(); err != nil {
			errs = append(errs, fmt.Errorf("cashews: disk: closing %s: %w", s.path, err))
		}
	}
	return errors.Join(errs...)
}

// run is the background goroutine: it culls and enforces the size limit every check interval, and
// writes LRU access times when asked. Close stops it.
func (b *Backend) run() {
	defer close(b.done)
	var tick <-chan time.Time
	if b.opts.CheckInterval > 0 {
		t := time.NewTicker(b.opts.CheckInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-b.bg.Done():
			return
		case <-b.flush:
			for _, s := range b.shards {
				b.flushTouches(b.bg, s)
			}
		case <-tick:
			for _, s := range b.shards {
				if b.opts.Eviction == LeastRecentlyUsed {
					b.flushTouches(b.bg, s)
				}
				if err := b.maintain(b.bg, s, true); err != nil && b.bg.Err() == nil {
					b.opts.Logger.Warn("cashews: disk: background cull failed", "file", s.path, "err", err)
				}
			}
		}
	}
}

// Cull removes the expired entries of every shard and enforces the size limit, as the background
// goroutine does every check interval, and returns how many entries it removed. It is for programs
// that turn the goroutine off (check_interval=0) and for tests.
func (b *Backend) Cull(ctx context.Context) (int, error) {
	ctx, cancel, err := b.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer cancel()
	total := 0
	for _, s := range b.shards {
		n, err := b.cullShard(ctx, s, true)
		total += n
		if err != nil {
			return total, b.fail("cull", s, "", err)
		}
	}
	return total, nil
}

func (b *Backend) maintain(ctx context.Context, s *shard, all bool) error {
	_, err := b.cullShard(ctx, s, all)
	return err
}

// cullShard removes expired entries (all of them when all is set, else one batch) and then, while
// the shard is over its limit, the entries the eviction policy picks. Each batch of at most
// CullLimit entries is its own transaction.
func (b *Backend) cullShard(ctx context.Context, s *shard, all bool) (int, error) {
	total := 0
	for {
		var n int64
		err := s.tx(ctx, []*stmt{s.cull}, func(tx *sql.Tx) error {
			res, err := s.cull.in(ctx, tx).ExecContext(ctx, b.now(), b.opts.CullLimit)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		total += int(n)
		if err != nil {
			return total, err
		}
		b.evictedExpired.Add(n)
		if !all || n < int64(b.opts.CullLimit) {
			break
		}
	}
	if b.shardLimit < 0 {
		return total, nil
	}
	for {
		n, err := b.evictBatch(ctx, s)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
}

// evictBatch removes expired entries, or else the oldest entries by used_at, while the shard is over
// its limit, at most CullLimit of them in one transaction. It returns how many it removed: zero
// when the shard is within its limit.
func (b *Backend) evictBatch(ctx context.Context, s *shard) (int, error) {
	removed, expired := 0, false
	err := s.tx(ctx, []*stmt{s.size, s.cull, s.oldest, s.deleteID}, func(tx *sql.Tx) error {
		removed, expired = 0, false
		var size int64
		if err := s.size.in(ctx, tx).QueryRowContext(ctx).Scan(&size); err != nil {
			return err
		}
		excess := size - b.shardLimit
		if excess <= 0 {
			return nil
		}
		res, err := s.cull.in(ctx, tx).ExecContext(ctx, b.now(), b.opts.CullLimit)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			removed, expired = int(n), true
			return nil
		}
		rows, err := s.oldest.in(ctx, tx).QueryContext(ctx, b.opts.CullLimit)
		if err != nil {
			return err
		}
		var ids []int64
		for rows.Next() && excess > 0 {
			var id, sz int64
			if err := rows.Scan(&id, &sz); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
			excess -= sz
		}
		if err := rows.Close(); err != nil {
			return err
		}
		del := s.deleteID.in(ctx, tx)
		for _, id := range ids {
			if _, err := del.ExecContext(ctx, id); err != nil {
				return err
			}
		}
		removed = len(ids)
		return nil
	})
	switch {
	case err != nil:
	case expired:
		b.evictedExpired.Add(int64(removed))
	default:
		b.evictedBytes.Add(int64(removed))
	}
	return removed, err
}

// wrote records that n bytes were written to s, and enforces the size limit when enough were
// written since the last check. An error of the eviction is logged, not returned: the write itself
// succeeded.
func (b *Backend) wrote(ctx context.Context, s *shard, n int) {
	if b.shardLimit < 0 || s.pending.Add(int64(n)) < b.checkEvery {
		return
	}
	s.pending.Store(0)
	for {
		removed, err := b.evictBatch(ctx, s)
		if err != nil {
			if ctx.Err() == nil && !b.closed.Load() {
				b.opts.Logger.Warn("cashews: disk: eviction failed", "file", s.path, "err", err)
			}
			return
		}
		if removed == 0 {
			return
		}
	}
}

// touchKey records an LRU access of key at t.
func (b *Backend) touchKey(s *shard, key string, t int64) {
	const batch, most = 256, 16384
	s.touchMu.Lock()
	if s.touched == nil {
		s.touched = make(map[string]int64)
	}
	n := len(s.touched)
	if n < most {
		s.touched[key] = t
		n++
	}
	s.touchMu.Unlock()
	if n >= batch && b.flush != nil {
		select {
		case b.flush <- struct{}{}:
		default:
		}
	}
}

// flushTouches writes the recorded access times of s in one transaction.
func (b *Backend) flushTouches(ctx context.Context, s *shard) {
	s.touchMu.Lock()
	t := s.touched
	s.touched = nil
	s.touchMu.Unlock()
	if len(t) == 0 {
		return
	}
	err := s.tx(ctx, []*stmt{s.touch}, func(tx *sql.Tx) error {
		st := s.touch.in(ctx, tx)
		for k, at := range t {
			if _, err := st.ExecContext(ctx, []byte(k), at); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && ctx.Err() == nil {
		b.opts.Logger.Warn("cashews: disk: writing access times failed", "file", s.path, "err", err)
	}
}

// Check runs PRAGMA integrity_check on every shard and returns an error naming each damaged file.
func (b *Backend) Check(ctx context.Context) error {
	ctx, cancel, err := b.begin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	var errs []error
	for _, s := range b.shards {
		if err := checkIntegrity(ctx, s.r, s.path); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func checkIntegrity(ctx context.Context, db *sql.DB, path string) error {
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return fmt.Errorf("cashews: disk: integrity check of %s: %w", path, err)
	}
	defer rows.Close()
	var msgs []string
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			return fmt.Errorf("cashews: disk: integrity check of %s: %w", path, err)
		}
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("cashews: disk: integrity check of %s: %w", path, err)
	}
	if len(msgs) != 1 || msgs[0] != "ok" {
		return fmt.Errorf("cashews: disk: integrity check of %s failed: %q", path, msgs)
	}
	return nil
}

// shardOf returns the shard of key.
func (b *Backend) shardOf(key string) *shard {
	return b.shards[ShardIndex(key, len(b.shards))]
}

// ShardIndex returns the shard, from 0 to n-1, that holds key in a directory of n shards: the 64-bit
// FNV-1a hash of the key's bytes modulo n. It never changes between versions and processes: the
// files depend on it.
func ShardIndex(key string, n int) int {
	const offset64, prime64 = 14695981039346656037, 1099511628211
	h := uint64(offset64)
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= prime64
	}
	return int(h % uint64(n))
}

// now returns the clock's time in Unix nanoseconds.
func (b *Backend) now() int64 { return b.clock.Now().UnixNano() }

// stamp returns the used_at of a write or read at now: now, or one more than the last stamp, so that
// the order of eviction follows the order of calls even when the clock stands still.
func (b *Backend) stamp(now int64) int64 {
	for {
		last := b.lastStamp.Load()
		s := max(now, last+1)
		if b.lastStamp.CompareAndSwap(last, s) {
			return s
		}
	}
}

// expireAt returns the expiry time for ttl from now: 0 for no TTL. A TTL over backends.MaxTTL
// counts as MaxTTL, and a sum that would overflow an int64 (a clock set centuries ahead) is the
// largest time instead, never a time in the past.
func expireAt(now int64, ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	return addSat(now, int64(backends.CapTTL(ttl)))
}

// addSat returns a+b for b >= 0, or math.MaxInt64 when the sum overflows.
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

func noop() {}

// begin checks that the backend is open and applies the command timeout.
func (b *Backend) begin(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if b.closed.Load() {
		return ctx, noop, fmt.Errorf("cashews: disk: %w", backends.ErrClosed)
	}
	if b.opts.Timeout > 0 {
		c, cancel := context.WithTimeout(ctx, b.opts.Timeout)
		return c, cancel, nil
	}
	return ctx, noop, nil
}

// fail wraps the error of the command op on shard s (nil when it is not about one shard) for key
// ("" when it has none). An error that says the shard stayed locked or busy, after the busy
// timeout, matches [backends.ErrUnavailable], and the driver's error stays matchable.
func (b *Backend) fail(op string, s *shard, key string, err error) error {
	if b.closed.Load() {
		return fmt.Errorf("cashews: disk: %s: %w", op, backends.ErrClosed)
	}
	if key != "" {
		op += " " + quote.String(key)
	}
	if s != nil {
		op += fmt.Sprintf(" (shard %d, %s)", s.index, s.path)
	}
	if isBusy(err) {
		return fmt.Errorf("cashews: disk: %s: %w: %w", op, backends.ErrUnavailable, err)
	}
	return fmt.Errorf("cashews: disk: %s: %w", op, err)
}

// isBusy reports whether err is SQLite's SQLITE_BUSY or SQLITE_LOCKED (in any of their extended
// forms): another connection held a lock the command needed for longer than it could wait.
func isBusy(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return true
	}
	return false
}
