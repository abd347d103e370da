package disk

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"math"
	"strconv"
	"time"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/internal/quote"
)

// valueBytes returns the bytes of a value handed to Set.
func valueBytes(key string, v any) ([]byte, error) {
	b, ok := v.([]byte)
	if !ok {
		return nil, fmt.Errorf("cashews: disk: value of key %s has type %T: the disk backend stores []byte values only (a Cache encodes other values): %w",
			quote.String(key), v, backends.ErrInvalidArgument)
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

func checkTTL(ttl time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("cashews: disk: negative TTL %s: %w", ttl, backends.ErrInvalidArgument)
	}
	return nil
}

// Get returns the []byte value at key, which the caller owns. A key that holds a set or a
// sliding window is an error wrapping [backends.ErrWrongType].
func (b *Backend) Get(ctx context.Context, key string) (any, bool, error) {
	ctx, cancel, err := b.begin(ctx)
	if err != nil {
		return nil, false, err
	}
	defer cancel()
	s := b.shardOf(key)
	now := b.now()
	var kind int
	var v []byte
	if err := s.get.QueryRowContext(ctx, []byte(key), now).Scan(&kind, &v); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, false, nil
		}
		return nil, false, b.fail("get", s, key, err)
	}
	if kind != kindString {
		return nil, false, fmt.Errorf("cashews: disk: get %s: the key holds a %s: %w", quote.String(key), kindName(kind), backends.ErrWrongType)
	}
	if v == nil {
		v = []byte{}
	}
	if b.opts.Eviction == LeastRecentlyUsed {
		b.touchKey(s, key, b.stamp(now))
	}
	return v, true, nil
}

func kindName(kind int) string {
	switch kind {
	case kindString:
		return "value"
	case kindSet:
		return "set"
	case kindWindow:
		return "sliding window"
	}
	return "kind " + strconv.Itoa(kind)
}

// GetMany returns the values at keys. As Redis' MGET, it reports a key that holds a set or a sliding
// window as not found.
func (b *Backend) GetMany(ctx context.Context, keys []string) ([]backends.Entry, error) {
	ctx, cancel, err := b.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	out := make([]backends.Entry, len(keys))
	now := b.now()
	for i, key := range keys {
		s := b.shardOf(key)
		var kind int
		var v []byte
		err := s.get.QueryRowContext(ctx, []byte(key), now).Scan(&kind, &v)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			continue
		case err != nil:
			return nil, b.fail("get many", s, key, err)
		case kind != kindString:
			continue
		}
		if v == nil {
			v = []byte{}
		}
		out[i] = backends.Entry{Value: v, Found: true}
		if b.opts.Eviction == LeastRecentlyUsed {
			b.touchKey(s, key, b.stamp(now))
		}
	}
	return out, nil
}

// Set stores the []byte value at key. Any other type of value is an error wrapping
// [backends.ErrInvalidArgument]. Set replaces a set or a sliding window, as Redis' SET does.
func (b *Backend) Set(ctx context.Context, key string, value any, ttl time.Duration, mode backends.SetMode) (bool, error) {
	v, err := valueBytes(key, value)
	if err != nil {
		return false, err
	}
	if err := checkTTL(ttl); err != nil {
		return false, err
	}
	ctx, cancel, err := b.begin(ctx)
	if err != nil {
		return false, err
	}
	defer cancel()
	s := b.shardOf(key)
	var st *stmt
	switch mode {
	case backends.SetAlways:
		st = s.putValue
	case backends.SetIfAbsent:
		st = s.putIfAbsent
	case backends.SetIfPresent:
		st = s.update
	default:
		return false, fmt.Errorf("cashews: disk: unknown set mode %d: %w", mode, backends.ErrInvalidArgument)
	}
	now := b.now()
	size := len(key) + len(v)
	res, err := st.ExecContext(ctx, []byte(key), now, kindString, v, expireAt(now, ttl), b.stamp(now), size, 0)
	if err != nil {
		return false, b.fail("set", s, key, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, b.fail("set", s, key, err)
	}
	if n > 0 {
		b.wrote(ctx, s, size)
	}
	return n > 0, nil
}

// SetMany stores every item. The items of one shard are stored in one transaction; a failure may
// leave the items of other shards stored.
func (b *Backend) SetMany(ctx context.Context, items []backends.Item) error {
	vals := make([][]byte, len(items))
	for i, it := range items {
		v, err := valueBytes(it.Key, it.Value)
		if err != nil {
			return err
		}
		if err := checkTTL(it.TTL); err != nil {
			return err
		}
		vals[i] = v
	}
	ctx, cancel, err := b.begin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	for si, idx := range b.group(len(items), func(i int) string { return items[i].Key }) {
		s := b.shards[si]
		size := 0
		err := s.tx(ctx, []*stmt{s.putValue}, func(tx *sql.Tx) error {
			st := s.putValue.in(ctx, tx)
			now := b.now()
			for _, i := range idx {
				it := items[i]
				sz := len(it.Key) + len(vals[i])
				if _, err := st.ExecContext(ctx, []byte(it.Key), now, kindString, vals[i], expireAt(now, it.TTL), b.stamp(now), sz, 0); err != nil {
					return err
				}
				size += sz
			}
			return nil
		})
		if err != nil {
			return b.fail("set many", s, "", err)
		}
		b.wrote(ctx, s, size)
	}
	return nil
}

// group returns the indexes 0..n-1 grouped by the shard of key(i), in order, keyed by shard index.
func (b *Backend) group(n int, key func(int) string) map[int][]int {
	g := make(map[int][]int)
	for i := range n {
		si := ShardIndex(key(i), len(b.shards))
		g[si] = append(g[si], i)
	}
	return g
}

// Exists reports whether key is present.
func (b *Backend) Exists(ctx context.Context, key string) (bool, error) {
	ctx, cancel, err := b.begin(ctx)
	if err != nil {
		return false, err
	}
	defer cancel()
	var one int
	s := b.shardOf(key)
	err = s.exists.QueryRowContext(ctx, []byte(key), b.now()).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, b.fail("exists", s, key, err)
	}
	return true, nil
}

// Delete removes key and reports whether it was present.
func (b *Backend) Delete(ctx context.Context, key string) (bool, error) {
	ctx, cancel, err := b.begin(ctx)
	if err != nil {
		return false, err
	}
	defer cancel()
	now := b.now()
	var exp int64
	s := b.shardOf(key)
	err = s.del.QueryRowContext(ctx, []byte(key), now).Scan(&exp)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, b.fail("delete", s, key, err)
	}
	return exp == 0 || exp > now, nil
}

// DeleteMany removes keys and returns how many were present. The keys of one shard are removed in
// one transaction.
func (b *Backend) DeleteMany(ctx context.Context, keys []string) (int, error) {
	ctx, cancel, err := b.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer cancel()
	total := 0
	for si, idx := range b.group(len(keys), func(i int) string { return keys[i] }) {
		s := b.shards[si]
		n, err := b.deleteKeys(ctx, s, func(yield func(string) bool) {
			for _, i := range idx {
				if !yield(keys[i]) {
					return
				}
			}
		})
		total += n
		if err != nil {
			return total, b.fail("delete many", s, "", err)
		}
	}
	return total, nil
}

// deleteKeys removes keys from s in one transaction and returns how many were live.
func (b *Backend) deleteKeys(ctx context.Context, s *shard, keys iter.Seq[string]) (int, error) {
	total := 0
	err := s.tx(ctx, []*stmt{s.delLive}, func(tx *sql.Tx) error {
		total = 0
		st := s.delLive.in(ctx, tx)
		now := b.now()
		for k := range keys {
			res, err := st.ExecContext(ctx, []byte(k), now)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			total += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return total, nil
}

// deleteMatchBatch is how many keys DeleteMatch removes in one transaction.
const deleteMatchBatch = 500

// DeleteMatch removes every key matching the glob pattern, shard by shard, in transactions of at
// most 500 keys, and returns how many it removed.
func (b *Backend) DeleteMatch(ctx context.Context, pattern string) (int, error) {
	total := 0
	for keys, err := range b.scan(ctx, pattern, deleteMatchBatch, true) {
		if err != nil {
			return total, err
		}
		if len(keys) == 0 {
			continue
		}
		ctx, cancel, err := b.begin(ctx)
		if err != nil {
			return total, err
		}
		// One page comes from one shard (scan with perShard).
		s := b.shardOf(keys[0])
		n, err := b.deleteKeys(ctx, s, func(yield func(string) bool) {
			for _, k := range keys {
				if !yield(k) {
					return
				}
			}
		})
		cancel()
		total += n
		if err != nil {
			return total, b.fail("delete match", s, pattern, err)
		}
	}
	return total, nil
}

// Scan yields the keys matching the glob pattern, shard after shard, in batches of about batch keys
// (100 when batch <= 0). In each shard it reads the keys from the pattern's literal prefix on, in
// key order, and filters them with [backends.Match].
func (b *Backend) Scan(ctx context.Context, pattern string, batch int) iter.Seq2[[]string, error] {
	return b.scan(ctx, pattern, batch, false)
}

// scan is Scan; with perShard, no batch mixes keys of two shards.
func (b *Backend) scan(ctx context.Context, pattern string, batch int, perShard bool) iter.Seq2[[]string, error] {
	if batch <= 0 {
		batch = 100
	}
	return func(yield func([]string, error) bool) {
		prefix := backends.LiteralPrefix(pattern)
		end, bounded := prefixEnd(prefix)
		var out []string
		for _, s := range b.shards {
			from := []byte(prefix)
			for {
				keys, err := b.scanPage(ctx, s, from, end, bounded, batch)
				if err != nil {
					yield(nil, err)
					return
				}
				for _, k := range keys {
					if backends.Match(pattern, k) {
						out = append(out, k)
					}
				}
				if len(out) >= batch {
					if !yield(out, nil) {
						return
					}
					out = nil
				}
				if len(keys) < batch {
					break
				}
				from = append([]byte(keys[len(keys)-1]), 0) // the smallest key after the last one
			}
			if perShard && len(out) > 0 {
				if !yield(out, nil) {
					return
				}
				out = nil
			}
		}
		if len(out) > 0 {
			yield(out, nil)
		}
	}
}

// scanPage returns up to limit live keys of s from from on (and before end when bounded), in order.
func (b *Backend) scanPage(ctx context.Context, s *shard, from, end []byte, bounded bool, limit int) ([]string, error) {
	ctx, cancel, err := b.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	var rows *sql.Rows
	if bounded {
		rows, err = s.scanRange.QueryContext(ctx, from, b.now(), limit, end)
	} else {
		rows, err = s.scanAll.QueryContext(ctx, from, b.now(), limit)
	}
	if err != nil {
		return nil, b.fail("scan", s, "", err)
	}
	defer rows.Close()
	keys := make([]string, 0, limit)
	for rows.Next() {
		var k []byte
		if err := rows.Scan(&k); err != nil {
			return nil, b.fail("scan", s, "", err)
		}
		keys = append(keys, string(k))
	}
	if err := rows.Err(); err != nil {
		return nil, b.fail("scan", s, "", err)
	}
	return keys, nil
}

// prefixEnd returns the smallest byte string greater than every string that starts with prefix, or
// false when there is none (an empty prefix, or one of 0xff bytes only).
func prefixEnd(prefix string) ([]byte, bool) {
	p := []byte(prefix)
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] < 0xff {
			p[i]++
			return p[:i+1], true
		}
	}
	return nil, false
}

// parseInteger parses a counter as Redis does: the canonical decimal form of an int64 only (no
// sign "+", no leading zeros, no spaces).
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

// Incr adds by to the integer at key in one transaction. The counter is stored as its decimal text,
// so Get returns, say, []byte("42").
func (b *Backend) Incr(ctx context.Context, key string, by int64, ttl time.Duration) (int64, error) {
	if err := checkTTL(ttl); err != nil {
		return 0, err
	}
	ctx, cancel, err := b.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer cancel()
	s := b.shardOf(key)
	var result int64
	var size int
	err = s.tx(ctx, []*stmt{s.entry, s.put}, func(tx *sql.Tx) error {
		now := b.now()
		kind, exp, val, found, err := readEntry(ctx, tx, s, key, now)
		if err != nil {
			return err
		}
		cur, newExp := int64(0), expireAt(now, ttl)
		if found {
			if kind != kindString {
				return fmt.Errorf("the key holds a %s: %w", kindName(kind), backends.ErrWrongType)
			}
			var ok bool
			if cur, ok = parseInteger(val); !ok {
				return fmt.Errorf("value %s: %w", quote.String(truncate(val)), backends.ErrNotInteger)
			}
			newExp = exp
		}
		if (by > 0 && cur > math.MaxInt64-by) || (by < 0 && cur < math.MinInt64-by) {
			return fmt.Errorf("%d + %d overflows an int64: %w", cur, by, backends.ErrInvalidArgument)
		}
		result = cur + by
		v := strconv.AppendInt(nil, result, 10)
		size = len(key) + len(v)
		_, err = s.put.in(ctx, tx).ExecContext(ctx, []byte(key), now, kindString, v, newExp, b.stamp(now), size)
		return err
	})
	if err != nil {
		return 0, b.fail("incr", s, key, err)
	}
	b.wrote(ctx, s, size)
	return result, nil
}

// CompareAndSwap stores new at key, keeping its expiry, if the key holds a value with the bytes of
// old, in one transaction, and reports whether it did (see [backends.CompareAndSwapper]).
func (b *Backend) CompareAndSwap(ctx context.Context, key string, old, new []byte) (bool, backends.Entry, error) {
	ctx, cancel, err := b.begin(ctx)
	if err != nil {
		return false, backends.Entry{}, err
	}
	defer cancel()
	s := b.shardOf(key)
	var swapped bool
	var current backends.Entry
	size := len(key) + len(new)
	err = s.tx(ctx, []*stmt{s.entry, s.put}, func(tx *sql.Tx) error {
		now := b.now()
		kind, exp, val, found, err := readEntry(ctx, tx, s, key, now)
		if err != nil || !found || kind != kindString {
			return err
		}
		if !bytes.Equal(val, old) {
			if val == nil {
				val = []byte{}
			}
			current = backends.Entry{Value: val, Found: true}
			return nil
		}
		if new == nil {
			new = []byte{}
		}
		if _, err := s.put.in(ctx, tx).ExecContext(ctx, []byte(key), now, kindString, new, exp, b.stamp(now), size); err != nil {
			return err
		}
		swapped = true
		return nil
	})
	if err != nil {
		return false, backends.Entry{}, b.fail("compare and swap", s, key, err)
	}
	if swapped {
		b.wrote(ctx, s, size)
	}
	return swapped, current, nil
}

func truncate(v []byte) string {
	if len(v) > 32 {
		return string(v[:32]) + "..."
	}
	return string(v)
}

// readEntry reads the entry at key inside a write transaction; found is false for a missing or an
// expired entry.
func readEntry(ctx context.Context, tx *sql.Tx, s *shard, key string, now int64) (kind int, exp int64, val []byte, found bool, err error) {
	err = s.entry.in(ctx, tx).QueryRowContext(ctx, []byte(key)).Scan(&kind, &exp, &val)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, nil, false, nil
	}
	if err != nil {
		return 0, 0, nil, false, err
	}
	if exp != 0 && exp <= now {
		return kind, exp, nil, false, nil
	}
	return kind, exp, val, true, nil
}

// Expire sets the TTL of an existing key; zero removes its expiry.
func (b *Backend) Expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := checkTTL(ttl); err != nil {
		return false, err
	}
	ctx, cancel, err := b.begin(ctx)
	if err != nil {
		return false, err
	}
	defer cancel()
	now := b.now()
	s := b.shardOf(key)
	res, err := s.expire.ExecContext(ctx, []byte(key), now, expireAt(now, ttl))
	if err != nil {
		return false, b.fail("expire", s, key, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, b.fail("expire", s, key, err)
	}
	return n > 0, nil
}

// GetExpire returns the remaining TTL of key.
func (b *Backend) GetExpire(ctx context.Context, key string) (time.Duration, bool, error) {
	ctx, cancel, err := b.begin(ctx)
	if err != nil {
		return 0, false, err
	}
	defer cancel()
	now := b.now()
	var exp int64
	s := b.shardOf(key)
	err = s.getExpire.QueryRowContext(ctx, []byte(key), now).Scan(&exp)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, false, nil
	case err != nil:
		return 0, false, b.fail("get expire", s, key, err)
	case exp == 0:
		return backends.NoExpiration, true, nil
	}
	return time.Duration(exp - now), true, nil
}

// Ping reads the statistics row of every shard.
func (b *Backend) Ping(ctx context.Context) error {
	ctx, cancel, err := b.begin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	for _, s := range b.shards {
		var size int64
		if err := s.stats.QueryRowContext(ctx).Scan(&size); err != nil {
			return b.fail("ping", s, "", err)
		}
	}
	return nil
}

// Clear removes every key, shard by shard, in transactions of at most 1000 entries.
func (b *Backend) Clear(ctx context.Context) error {
	ctx, cancel, err := b.begin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	for _, s := range b.shards {
		for {
			var n int64
			err := s.tx(ctx, []*stmt{s.clear}, func(tx *sql.Tx) error {
				res, err := s.clear.in(ctx, tx).ExecContext(ctx, 1000)
				if err != nil {
					return err
				}
				n, err = res.RowsAffected()
				return err
			})
			if err != nil {
				return b.fail("clear", s, "", err)
			}
			if n == 0 {
				break
			}
		}
		s.pending.Store(0)
	}
	return nil
}

// SetLock takes the lock at key for token, unless the key is present. The lock is a plain value
// holding the token, as in Redis; the row's write is atomic, so one process wins.
func (b *Backend) SetLock(ctx context.Context, key, token string, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, fmt.Errorf("cashews: disk: lock TTL %s: want a positive TTL: %w", ttl, backends.ErrInvalidArgument)
	}
	return b.Set(ctx, key, []byte(token), ttl, backends.SetIfAbsent)
}

// Unlock removes the lock at key when token holds it.
func (b *Backend) Unlock(ctx context.Context, key, token string) (bool, error) {
	ctx, cancel, err := b.begin(ctx)
	if err != nil {
		return false, err
	}
	defer cancel()
	s := b.shardOf(key)
	res, err := s.unlock.ExecContext(ctx, []byte(key), b.now(), []byte(token))
	if err != nil {
		return false, b.fail("unlock", s, key, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, b.fail("unlock", s, key, err)
	}
	return n > 0, nil
}

// ExtendLock sets the TTL of the lock at key when token holds it.
func (b *Backend) ExtendLock(ctx context.Context, key, token string, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, fmt.Errorf("cashews: disk: lock TTL %s: want a positive TTL: %w", ttl, backends.ErrInvalidArgument)
	}
	ctx, cancel, err := b.begin(ctx)
	if err != nil {
		return false, err
	}
	defer cancel()
	now := b.now()
	s := b.shardOf(key)
	res, err := s.extend.ExecContext(ctx, []byte(key), now, []byte(token), expireAt(now, ttl))
	if err != nil {
		return false, b.fail("extend lock", s, key, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, b.fail("extend lock", s, key, err)
	}
	return n > 0, nil
}

// IsLocked reports whether the lock at key is held.
func (b *Backend) IsLocked(ctx context.Context, key string) (bool, error) {
	return b.Exists(ctx, key)
}

// KeysCount returns the exact number of live keys: the count the shards keep, less the expired
// entries not culled yet (counted through the expiry index), in one snapshot per shard.
func (b *Backend) KeysCount(ctx context.Context) (int64, error) {
	ctx, cancel, err := b.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer cancel()
	now := b.now()
	var total int64
	for _, s := range b.shards {
		var n int64
		if err := s.keysCount.QueryRowContext(ctx, now).Scan(&n); err != nil {
			return 0, b.fail("keys count", s, "", err)
		}
		total += n
	}
	return total, nil
}

// ValueSize returns the length of the value at key; for a set, the total length of its members; for
// a sliding window, 8 bytes per event.
func (b *Backend) ValueSize(ctx context.Context, key string) (int64, error) {
	ctx, cancel, err := b.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer cancel()
	var n int64
	s := b.shardOf(key)
	err = s.valueSize.QueryRowContext(ctx, []byte(key), b.now()).Scan(&n)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, nil
	case err != nil:
		return 0, b.fail("value size", s, key, err)
	}
	return n, nil
}
