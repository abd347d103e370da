package redis

import (
	"bytes"
	"context"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/internal/quote"
	"github.com/cashews-go/cashews/internal/shared"
)

const (
	// chunk is the most keys one command or pipeline carries (MGET, UNLINK, SET pipelines), so
	// that no single command holds Redis for long.
	chunk = 1000
	// defaultScanBatch is Scan's batch when the caller gives none.
	defaultScanBatch = 100
	// deleteScanCount is the COUNT hint of DeleteMatch's SCAN.
	deleteScanCount = 1000
	// maxBitOffset bounds bit arrays at 2^32 bits (512 MiB), as Redis does.
	maxBitOffset = 1 << 32
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("cashews: redis: "+format+": %w", append(args, backends.ErrInvalidArgument)...)
}

func checkTTL(ttl time.Duration) error {
	if ttl < 0 {
		return invalid("negative TTL %s", ttl)
	}
	return nil
}

func checkLockTTL(ttl time.Duration) error {
	if ttl <= 0 {
		return invalid("lock TTL %s is not positive", ttl)
	}
	return nil
}

// toBytes accepts the values a byte backend stores.
func toBytes(key string, value any) (string, error) {
	switch v := value.(type) {
	case []byte:
		return string(v), nil
	case string:
		return v, nil
	}
	return "", invalid("the Redis backend stores []byte values; got %T for key %s", value, quote.String(key))
}

// setCmd builds SET for a mode and TTL.
func setCmd(key, value string, ttl time.Duration, mode backends.SetMode) command {
	args := make([]string, 0, 6)
	args = append(args, "SET", key, value)
	if ttl > 0 {
		args = append(args, "PX", ms(ttl))
	}
	switch mode {
	case backends.SetIfAbsent:
		args = append(args, "NX")
	case backends.SetIfPresent:
		args = append(args, "XX")
	}
	return command{args: args, keyAt: 1, nkeys: 1}
}

// Get returns the value at key as a []byte the caller owns. With client-side caching a hit is
// served from local memory; for a context that the Cache marked (see internal/shared: the Cache
// does not modify what it reads, and its callers must not either), a hit returns the local copy
// itself, which costs no allocation.
func (b *Backend) Get(ctx context.Context, key string) (any, bool, error) {
	ctx, keep := shared.Unmark(ctx)
	if b.closed.Load() {
		return nil, false, errClosed
	}
	if b.stores != nil {
		if v, ok := b.stores.peek(key, time.Now()); ok {
			b.cs.Inc(csHits)
			if keep || !v.found {
				return v.v, v.found, nil
			}
			return bytes.Clone(v.v.([]byte)), true, nil
		}
	}
	cctx, cancel := b.withTimeout(ctx)
	defer cancel()
	var r reply
	if b.csc != nil {
		var hit bool
		r, hit = b.csc.getCached(cctx, key, b.cscTTL)
		b.count(r, hit)
	} else {
		r = getVia(cctx, b.ex, key)
	}
	s, found, err := r.str()
	if err != nil {
		return nil, false, b.fail(ctx, "GET", key, err)
	}
	if !found {
		return nil, false, nil
	}
	if b.csc != nil && !keep {
		return []byte(s), true, nil // the local cache keeps s
	}
	return stringBytes(s), true, nil
}

// SharesReads reports whether Get returns memory the backend keeps for a context that the Cache
// marked: with client-side caching (see internal/shared).
func (b *Backend) SharesReads() bool { return b.stores != nil }

// stringBytes returns the bytes of s without a copy. A reply's string is the driver's, made for the
// reply (or kept by the client-side cache): the bytes are handed to the Cache, which does not modify
// them, and to callers, who must not (see cashews.Get).
func stringBytes(s string) []byte {
	if len(s) == 0 {
		return []byte{}
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// count records a client-side cache hit or miss (errors are neither).
func (b *Backend) count(r reply, hit bool) {
	switch {
	case r.err != nil:
	case hit:
		b.cs.Inc(csHits)
	default:
		b.cs.Inc(csMisses)
	}
}

// GetMany returns one Entry per key, in order, with one pipelined GET per key (in chunks), so that
// keys may be in any slots on Cluster. As MGET does, it reports a key of another type (a set, a
// sorted set), which holds no value, as not found.
func (b *Backend) GetMany(ctx context.Context, keys []string) ([]backends.Entry, error) {
	if b.closed.Load() {
		return nil, errClosed
	}
	out := make([]backends.Entry, len(keys))
	missed := keys
	var at []int // with client-side caching: the indexes of the keys not served locally
	if b.stores != nil {
		missed, at = nil, nil
		now := time.Now()
		for i, k := range keys {
			if v, ok := b.stores.peek(k, now); ok {
				b.cs.Inc(csHits)
				if v.found {
					out[i] = backends.Entry{Value: bytes.Clone(v.v.([]byte)), Found: true}
				}
				continue
			}
			missed, at = append(missed, k), append(at, i)
		}
	}
	for start := 0; start < len(missed); start += chunk {
		part := missed[start:min(start+chunk, len(missed))]
		rs := b.getMany(ctx, part)
		for i, r := range rs {
			s, found, err := r.str()
			if err != nil && !r.fault && strings.Contains(err.Error(), "WRONGTYPE") {
				continue // a key that holds no value: absent, as MGET reports it
			}
			if err != nil {
				return nil, b.fail(ctx, "GET", part[i], err)
			}
			j := start + i
			if at != nil {
				j = at[j]
			}
			if found {
				out[j] = backends.Entry{Value: []byte(s), Found: true}
			}
		}
	}
	return out, nil
}

func (b *Backend) getMany(ctx context.Context, keys []string) []reply {
	cctx, cancel := b.withTimeout(ctx)
	defer cancel()
	if b.csc != nil {
		rs, hits := b.csc.getManyCached(cctx, keys, b.cscTTL)
		errs := 0
		for _, r := range rs {
			if r.err != nil {
				errs++
			}
		}
		b.cs.Add(csHits, int64(hits))
		b.cs.Add(csMisses, int64(len(rs)-hits-errs))
		return rs
	}
	cs := make([]command, len(keys))
	for i, k := range keys {
		cs[i] = keyCmd(true, "GET", k)
	}
	return b.ex.doMulti(cctx, cs)
}

// Set stores value (a []byte or string) at key with ttl when mode allows it (SET with PX and NX or
// XX), and reports whether it stored. Once the backend has seen tags in use (see tagsSeen), the write
// also ends the key's tags: with SetAlways, GETDEL of the key's record and SET in one pipeline; with
// IfAbsent or IfPresent, a script that does both when the mode allows it.
func (b *Backend) Set(ctx context.Context, key string, value any, ttl time.Duration, mode backends.SetMode) (bool, error) {
	if b.closed.Load() {
		return false, errClosed
	}
	if err := checkTTL(ttl); err != nil {
		return false, err
	}
	if mode > backends.SetIfPresent {
		return false, invalid("unknown set mode %d", mode)
	}
	v, err := toBytes(key, value)
	if err != nil {
		return false, err
	}
	cctx, cancel := b.withTimeout(ctx)
	defer cancel()
	if !b.tagsSeen.Load() {
		_, stored, err := b.ex.do(cctx, setCmd(key, v, ttl, mode)).str()
		b.wrote(key)
		if err != nil {
			return false, b.fail(ctx, "SET", key, err)
		}
		return stored, nil
	}
	if mode != backends.SetAlways {
		r := b.evalMulti(cctx, []scriptCall{{s: setScript, keys: []string{key, recordKey(key)}, args: []string{v, ttlArg(ttl), modeArg(mode), ""}}})[0]
		stored, old, hadOld, err := pair(r)
		if err != nil {
			return false, b.fail(ctx, "set", key, err)
		}
		if hadOld {
			return stored > 0, b.runCleanup(ctx, b.forget(key, []string{old}))
		}
		return stored > 0, nil
	}
	// The record goes first: a tagged Set between the two commands leaves a record that the value
	// does not carry, which can only make DeleteTags delete this value too, never miss one.
	rs := b.ex.doMulti(cctx, []command{keyCmd(false, "GETDEL", recordKey(key)), setCmd(key, v, ttl, mode)})
	b.wrote(key)
	if rs[1].err != nil {
		return false, b.fail(ctx, "SET", key, rs[1].err)
	}
	old, hadOld, err := rs[0].str()
	if err != nil {
		return true, b.fail(ctx, "GETDEL", recordKey(key), err)
	}
	if hadOld {
		return true, b.runCleanup(ctx, b.forget(key, []string{old}))
	}
	return true, nil
}

// SetMany stores every item with pipelined SETs (once tags were seen, each after the GETDEL of the
// key's record, as in Set), in chunks. It checks every item before storing any. It is not atomic:
// after an error some items may be stored.
func (b *Backend) SetMany(ctx context.Context, items []backends.Item) error {
	if b.closed.Load() {
		return errClosed
	}
	if !b.tagsSeen.Load() {
		return b.setManyPlain(ctx, items)
	}
	cs := make([]command, 2*len(items))
	for i, it := range items {
		if err := checkTTL(it.TTL); err != nil {
			return fmt.Errorf("%w (key %s)", err, quote.String(it.Key))
		}
		v, err := toBytes(it.Key, it.Value)
		if err != nil {
			return err
		}
		cs[2*i] = keyCmd(false, "GETDEL", recordKey(it.Key))
		cs[2*i+1] = setCmd(it.Key, v, it.TTL, backends.SetAlways)
	}
	var cleanup []command
	for start := 0; start < len(cs); start += 2 * chunk {
		part := cs[start:min(start+2*chunk, len(cs))]
		cctx, cancel := b.withTimeout(ctx)
		rs := b.ex.doMulti(cctx, part)
		cancel()
		if b.stores != nil {
			keys := make([]string, len(part)/2)
			for i, it := range items[start/2 : start/2+len(part)/2] {
				keys[i] = it.Key
			}
			b.wrote(keys...)
		}
		for i, r := range rs {
			key := items[(start+i)/2].Key
			if r.err != nil {
				return b.fail(ctx, part[i].name(), key, r.err)
			}
			if i%2 == 0 {
				if old, found, _ := r.str(); found {
					cleanup = append(cleanup, b.forget(key, []string{old})...)
				}
			}
		}
	}
	return b.runCleanup(ctx, cleanup)
}

// setManyPlain is SetMany before the backend has seen tags in use: SETs only.
func (b *Backend) setManyPlain(ctx context.Context, items []backends.Item) error {
	cs := make([]command, len(items))
	for i, it := range items {
		if err := checkTTL(it.TTL); err != nil {
			return fmt.Errorf("%w (key %s)", err, quote.String(it.Key))
		}
		v, err := toBytes(it.Key, it.Value)
		if err != nil {
			return err
		}
		cs[i] = setCmd(it.Key, v, it.TTL, backends.SetAlways)
	}
	for start := 0; start < len(cs); start += chunk {
		part := cs[start:min(start+chunk, len(cs))]
		cctx, cancel := b.withTimeout(ctx)
		rs := b.ex.doMulti(cctx, part)
		cancel()
		if b.stores != nil {
			keys := make([]string, len(part))
			for i, it := range items[start : start+len(part)] {
				keys[i] = it.Key
			}
			b.wrote(keys...)
		}
		for i, r := range rs {
			if r.err != nil {
				return b.fail(ctx, "SET", items[start+i].Key, r.err)
			}
		}
	}
	return nil
}

// Exists reports whether key is present.
func (b *Backend) Exists(ctx context.Context, key string) (bool, error) {
	return b.boolCmd(ctx, keyCmd(true, "EXISTS", key), key)
}

// boolCmd runs a command with an integer reply and reports whether it is positive.
func (b *Backend) boolCmd(ctx context.Context, c command, key string) (bool, error) {
	n, err := b.intCmd(ctx, c, key)
	return n > 0, err
}

func (b *Backend) intCmd(ctx context.Context, c command, key string) (int64, error) {
	if b.closed.Load() {
		return 0, errClosed
	}
	cctx, cancel := b.withTimeout(ctx)
	defer cancel()
	n, err := b.ex.do(cctx, c).int()
	if !c.readOnly {
		b.wrote(key)
	}
	if err != nil {
		return 0, b.fail(ctx, c.name(), key, err)
	}
	return n, nil
}

// Delete removes key and its record (a script: UNLINK of both) and reports whether the key was
// present.
func (b *Backend) Delete(ctx context.Context, key string) (bool, error) {
	if b.closed.Load() {
		return false, errClosed
	}
	n, err := b.deleteKeys(ctx, []string{key})
	return n > 0, err
}

// DeleteMany removes keys (with their records: one pipelined script per key, in chunks) and returns
// how many were present.
func (b *Backend) DeleteMany(ctx context.Context, keys []string) (int, error) {
	if b.closed.Load() {
		return 0, errClosed
	}
	total := 0
	for start := 0; start < len(keys); start += chunk {
		n, err := b.deleteKeys(ctx, keys[start:min(start+chunk, len(keys))])
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// deleteKeys removes keys (at most a chunk) and their records, then the index members of the
// records' writes.
func (b *Backend) deleteKeys(ctx context.Context, keys []string) (int, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	calls := make([]scriptCall, len(keys))
	for i, k := range keys {
		calls[i] = scriptCall{s: deleteScript, keys: []string{k, recordKey(k)}}
	}
	cctx, cancel := b.withTimeout(ctx)
	rs := b.evalMulti(cctx, calls)
	cancel()
	total := 0
	var cleanup []command
	for i, r := range rs {
		n, old, hadOld, err := pair(r)
		if err != nil {
			return total, b.fail(ctx, "UNLINK", keys[i], err)
		}
		total += int(n)
		if hadOld {
			cleanup = append(cleanup, b.forget(keys[i], []string{old})...)
		}
	}
	return total, b.runCleanup(ctx, cleanup)
}

// literal returns the key a pattern without wildcards matches, and whether it has none.
func literal(pattern string) (string, bool) {
	var key []byte
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; c {
		case '*', '?', '[':
			return "", false
		case '\\':
			if i+1 < len(pattern) {
				i++
			}
			key = append(key, pattern[i])
		default:
			key = append(key, c)
		}
	}
	return string(key), true
}

// DeleteMatch removes every key matching the glob pattern and returns how many it removed: SCAN
// MATCH with COUNT 1000 on every master, then each page's keys with their records (as DeleteMany). A
// pattern without wildcards is one Delete. The backend's own bookkeeping is never matched. On Cluster
// it stays exact while slots migrate (see the package documentation). Each round trip has the
// backend's timeout; the caller's context bounds the whole.
func (b *Backend) DeleteMatch(ctx context.Context, pattern string) (int, error) {
	if b.closed.Load() {
		return 0, errClosed
	}
	if key, ok := literal(pattern); ok {
		if internalKey(key) {
			return 0, nil
		}
		return b.deleteKeys(ctx, []string{key})
	}
	if b.isCluster() {
		return b.clusterDeleteMatch(ctx, pattern)
	}
	nodes, err := b.masters(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, node := range nodes {
		for keys, err := range b.scanNode(ctx, node, pattern, deleteScanCount) {
			if err != nil {
				return total, err
			}
			n, err := b.deleteKeys(ctx, keys)
			total += n
			if err != nil {
				return total, err
			}
		}
	}
	return total, nil
}

func (b *Backend) masters(ctx context.Context) ([]executor, error) {
	cctx, cancel := b.withTimeout(ctx)
	defer cancel()
	nodes, err := b.ex.masters(cctx)
	if err != nil {
		return nil, b.fail(ctx, "list masters", "", err)
	}
	return nodes, nil
}

// scanNode yields the pages of SCAN MATCH pattern COUNT count on one node, until the cursor is 0,
// without the backend's own bookkeeping (records and tag indexes). Empty pages are skipped; a key
// may appear twice (SCAN's guarantee).
func (b *Backend) scanNode(ctx context.Context, node executor, pattern string, count int) iter.Seq2[[]string, error] {
	return func(yield func([]string, error) bool) {
		cursor := "0"
		n := strconv.Itoa(count)
		for {
			if err := ctx.Err(); err != nil {
				yield(nil, b.fail(ctx, "SCAN", pattern, err))
				return
			}
			cctx, cancel := b.withTimeout(ctx)
			page, err := node.do(cctx, plainCmd(true, "SCAN", cursor, "MATCH", pattern, "COUNT", n)).arr()
			cancel()
			if err == nil && (len(page) != 2 || page[0].kind != kindStr) {
				err = fmt.Errorf("unexpected SCAN reply of %d elements", len(page))
			}
			var keys []string
			if err == nil {
				keys, err = page[1].strs()
			}
			if err != nil {
				yield(nil, b.fail(ctx, "SCAN", pattern, err))
				return
			}
			keys = slices.DeleteFunc(keys, internalKey)
			if len(keys) > 0 && !yield(keys, nil) {
				return
			}
			cursor = page[0].s
			if cursor == "0" {
				return
			}
		}
	}
}

// Scan yields the keys matching the glob pattern in batches of about batch keys (100 when batch is
// not positive), with SCAN MATCH pattern COUNT batch on every master in turn. On a single server a
// key may be yielded twice, as SCAN may return it twice; on Cluster each key is yielded once (Scan
// remembers the keys it yielded) and none that existed the whole time is missed, even while slots
// migrate (see the package documentation).
func (b *Backend) Scan(ctx context.Context, pattern string, batch int) iter.Seq2[[]string, error] {
	if batch <= 0 {
		batch = defaultScanBatch
	}
	return func(yield func([]string, error) bool) {
		if b.closed.Load() {
			yield(nil, errClosed)
			return
		}
		if key, ok := literal(pattern); ok {
			if internalKey(key) {
				return
			}
			found, err := b.Exists(ctx, key)
			switch {
			case err != nil:
				yield(nil, err)
			case found:
				yield([]string{key}, nil)
			}
			return
		}
		if b.isCluster() {
			b.clusterScan(ctx, pattern, batch, yield)
			return
		}
		nodes, err := b.masters(ctx)
		if err != nil {
			yield(nil, err)
			return
		}
		var buf []string
		for _, node := range nodes {
			for keys, err := range b.scanNode(ctx, node, pattern, batch) {
				if err != nil {
					yield(nil, err)
					return
				}
				buf = append(buf, keys...)
				for len(buf) >= batch {
					out := append([]string(nil), buf[:batch]...)
					buf = buf[batch:]
					if !yield(out, nil) {
						return
					}
				}
			}
		}
		if len(buf) > 0 {
			yield(buf, nil)
		}
	}
}

// Incr adds by to the integer at key (INCRBY; with ttl > 0 a Lua script that sets the TTL only when
// it creates the key). The value is kept as decimal text. A value that is not an integer is an
// error wrapping [backends.ErrNotInteger]; a sum out of the int64 range one wrapping
// [backends.ErrInvalidArgument].
func (b *Backend) Incr(ctx context.Context, key string, by int64, ttl time.Duration) (int64, error) {
	if b.closed.Load() {
		return 0, errClosed
	}
	if err := checkTTL(ttl); err != nil {
		return 0, err
	}
	cctx, cancel := b.withTimeout(ctx)
	defer cancel()
	byS := strconv.FormatInt(by, 10)
	var (
		n   int64
		err error
	)
	if ttl == 0 {
		n, err = b.ex.do(cctx, keyCmd(false, "INCRBY", key, byS)).int()
		b.wrote(key)
	} else {
		n, err = b.eval(cctx, incrScript, key, byS, ms(ttl)).intText()
	}
	if err != nil {
		return 0, b.fail(ctx, "INCRBY", key, err)
	}
	return n, nil
}

// CompareAndSwap stores new at key, keeping its TTL, if the key holds a value with the bytes of old,
// in one Lua script, and reports whether it did (see [backends.CompareAndSwapper]). When it does not,
// the script's reply carries the current value, so a caller's retry needs no second round trip.
func (b *Backend) CompareAndSwap(ctx context.Context, key string, old, new []byte) (bool, backends.Entry, error) {
	if b.closed.Load() {
		return false, backends.Entry{}, errClosed
	}
	cctx, cancel := b.withTimeout(ctx)
	defer cancel()
	a, err := b.eval(cctx, casScript, key, string(old), string(new)).arr()
	if err == nil && (len(a) == 0 || len(a) > 2) {
		err = fmt.Errorf("unexpected reply: an array of %d elements", len(a))
	}
	if err != nil {
		return false, backends.Entry{}, b.fail(ctx, "compare and swap", key, err)
	}
	swapped, err := a[0].int()
	if err != nil {
		return false, backends.Entry{}, b.fail(ctx, "compare and swap", key, err)
	}
	if swapped == 1 || len(a) == 1 {
		return swapped == 1, backends.Entry{}, nil
	}
	cur, _, err := a[1].str()
	if err != nil {
		return false, backends.Entry{}, b.fail(ctx, "compare and swap", key, err)
	}
	return false, backends.Entry{Value: []byte(cur), Found: true}, nil
}

// Expire sets the TTL of an existing key and of its record (a script: PEXPIRE, or PERSIST for
// zero) and reports whether the key exists. A tagged key's index members get the new expiry too.
func (b *Backend) Expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if b.closed.Load() {
		return false, errClosed
	}
	if err := checkTTL(ttl); err != nil {
		return false, err
	}
	cctx, cancel := b.withTimeout(ctx)
	r := b.evalMulti(cctx, []scriptCall{{s: expireScript, keys: []string{key, recordKey(key)}, args: []string{ttlArg(ttl)}}})[0]
	cancel()
	n, rec, tagged, err := pair(r)
	if err != nil {
		return false, b.fail(ctx, "PEXPIRE", key, err)
	}
	if tagged {
		return n > 0, b.bumpTags(ctx, key, rec, ttl)
	}
	return n > 0, nil
}

// GetExpire returns the remaining TTL of key (PTTL, in milliseconds; a TTL under 1 ms reads as 1 ms).
func (b *Backend) GetExpire(ctx context.Context, key string) (time.Duration, bool, error) {
	n, err := b.intCmd(ctx, keyCmd(true, "PTTL", key), key)
	switch {
	case err != nil:
		return 0, false, err
	case n == -2:
		return 0, false, nil
	case n == -1:
		return backends.NoExpiration, true, nil
	case n < 1:
		n = 1
	}
	return time.Duration(n) * time.Millisecond, true, nil
}

// Ping checks that Redis answers PING (on Cluster: some node).
func (b *Backend) Ping(ctx context.Context) error {
	if b.closed.Load() {
		return errClosed
	}
	cctx, cancel := b.withTimeout(ctx)
	defer cancel()
	if _, _, err := b.ex.do(cctx, plainCmd(true, "PING")).str(); err != nil {
		return b.fail(ctx, "PING", "", err)
	}
	return nil
}

// Clear removes every key of the database: FLUSHDB on every master. Keys other programs stored in
// the same database go too.
func (b *Backend) Clear(ctx context.Context) error {
	if b.closed.Load() {
		return errClosed
	}
	defer b.wroteAll()
	if b.isCluster() {
		return b.clusterClear(ctx)
	}
	nodes, err := b.masters(ctx)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		cctx, cancel := b.withTimeout(ctx)
		_, _, err := n.do(cctx, plainCmd(false, "FLUSHDB")).str()
		cancel()
		if err != nil {
			return b.fail(ctx, "FLUSHDB", "", err)
		}
	}
	return nil
}

// SetLock takes the lock at key for token with ttl unless the key is present (SET NX PX).
func (b *Backend) SetLock(ctx context.Context, key, token string, ttl time.Duration) (bool, error) {
	if err := checkLockTTL(ttl); err != nil {
		return false, err
	}
	if b.closed.Load() {
		return false, errClosed
	}
	// A plain SET NX: a lock is never tagged, and a key that exists is left alone.
	cctx, cancel := b.withTimeout(ctx)
	defer cancel()
	_, stored, err := b.ex.do(cctx, setCmd(key, token, ttl, backends.SetIfAbsent)).str()
	b.wrote(key)
	if err != nil {
		return false, b.fail(ctx, "SET", key, err)
	}
	return stored, nil
}

// Unlock removes the lock at key only when it holds token (a Lua compare-and-delete).
func (b *Backend) Unlock(ctx context.Context, key, token string) (bool, error) {
	if b.closed.Load() {
		return false, errClosed
	}
	cctx, cancel := b.withTimeout(ctx)
	defer cancel()
	n, err := b.eval(cctx, unlockScript, key, token).int()
	if err != nil {
		return false, b.fail(ctx, "unlock", key, err)
	}
	return n > 0, nil
}

// ExtendLock sets the TTL of the lock at key only when it holds token (a Lua compare-and-expire).
func (b *Backend) ExtendLock(ctx context.Context, key, token string, ttl time.Duration) (bool, error) {
	if b.closed.Load() {
		return false, errClosed
	}
	if err := checkLockTTL(ttl); err != nil {
		return false, err
	}
	cctx, cancel := b.withTimeout(ctx)
	defer cancel()
	n, err := b.eval(cctx, extendScript, key, token, ms(ttl)).int()
	if err != nil {
		return false, b.fail(ctx, "extend lock", key, err)
	}
	return n > 0, nil
}

// IsLocked reports whether the lock at key is held by anyone, that is whether the key exists.
func (b *Backend) IsLocked(ctx context.Context, key string) (bool, error) {
	return b.Exists(ctx, key)
}

// KeysCount returns the number of keys in the database: DBSIZE, summed over the masters on Cluster
// (while slots migrate, counted slot by slot, each key once). Keys that have expired but that Redis
// has not yet evicted are counted.
func (b *Backend) KeysCount(ctx context.Context) (int64, error) {
	if b.closed.Load() {
		return 0, errClosed
	}
	if b.isCluster() {
		return b.clusterKeysCount(ctx)
	}
	nodes, err := b.masters(ctx)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, n := range nodes {
		cctx, cancel := b.withTimeout(ctx)
		c, err := n.do(cctx, plainCmd(true, "DBSIZE")).int()
		cancel()
		if err != nil {
			return 0, b.fail(ctx, "DBSIZE", "", err)
		}
		total += c
	}
	return total, nil
}

// ValueSize returns the memory Redis uses for key, its value and their overhead (MEMORY USAGE), so
// it is larger than the stored bytes; a missing key is 0.
func (b *Backend) ValueSize(ctx context.Context, key string) (int64, error) {
	if b.closed.Load() {
		return 0, errClosed
	}
	cctx, cancel := b.withTimeout(ctx)
	defer cancel()
	r := b.ex.do(cctx, command{args: []string{"MEMORY", "USAGE", key}, keyAt: 2, nkeys: 1, readOnly: true})
	if r.err == nil && r.kind == kindNil {
		return 0, nil
	}
	n, err := r.int()
	if err != nil {
		return 0, b.fail(ctx, "MEMORY USAGE", key, err)
	}
	return n, nil
}

// SetAdd adds members to the set at key and returns how many were new (SADD in a Lua script that
// applies the TTL rule of [backends.SetStore.SetAdd]). Adding no members changes nothing.
func (b *Backend) SetAdd(ctx context.Context, key string, ttl time.Duration, members ...string) (int, error) {
	if b.closed.Load() {
		return 0, errClosed
	}
	if err := checkTTL(ttl); err != nil {
		return 0, err
	}
	if len(members) == 0 {
		return 0, nil
	}
	args := make([]string, 0, 1+len(members))
	args = append(args, ms(ttl))
	args = append(args, members...)
	cctx, cancel := b.withTimeout(ctx)
	defer cancel()
	n, err := b.eval(cctx, setAddScript, key, args...).int()
	if err != nil {
		return 0, b.fail(ctx, "SADD", key, err)
	}
	return int(n), nil
}

// SetRemove removes members from the set at key (SREM) and returns how many were present.
func (b *Backend) SetRemove(ctx context.Context, key string, members ...string) (int, error) {
	if b.closed.Load() {
		return 0, errClosed
	}
	if len(members) == 0 {
		return 0, nil
	}
	n, err := b.intCmd(ctx, keyCmd(false, "SREM", key, members...), key)
	return int(n), err
}

// SetPop removes and returns up to count members of the set at key (SPOP key count).
func (b *Backend) SetPop(ctx context.Context, key string, count int) ([]string, error) {
	if b.closed.Load() {
		return nil, errClosed
	}
	if count < 0 {
		return nil, invalid("SetPop count %d is negative", count)
	}
	if count == 0 {
		return []string{}, nil
	}
	return b.strsCmd(ctx, keyCmd(false, "SPOP", key, strconv.Itoa(count)), key)
}

// SetMembers returns every member of the set at key (SMEMBERS); a missing key is an empty set.
func (b *Backend) SetMembers(ctx context.Context, key string) ([]string, error) {
	if b.closed.Load() {
		return nil, errClosed
	}
	return b.strsCmd(ctx, keyCmd(true, "SMEMBERS", key), key)
}

func (b *Backend) strsCmd(ctx context.Context, c command, key string) ([]string, error) {
	cctx, cancel := b.withTimeout(ctx)
	defer cancel()
	out, err := b.ex.do(cctx, c).strs()
	if !c.readOnly {
		b.wrote(key)
	}
	if err != nil {
		return nil, b.fail(ctx, c.name(), key, err)
	}
	return out, nil
}

// checkBits validates a counter width and indexes.
func checkBits(size int, indexes []int64) error {
	if size < 1 || size > 63 {
		return invalid("bit counter size %d is not from 1 to 63", size)
	}
	for _, i := range indexes {
		if i < 0 || uint64(i) >= maxBitOffset/uint64(size) {
			return invalid("bit counter index %d is out of range [0, %d)", i, maxBitOffset/uint64(size))
		}
	}
	return nil
}

// GetBits returns the unsigned counters of size bits at the given indexes (BITFIELD_RO key GET
// u<size> #index...). The bit array is a Redis string: a key holding a plain value reads its bytes.
func (b *Backend) GetBits(ctx context.Context, key string, size int, indexes ...int64) ([]int64, error) {
	if b.closed.Load() {
		return nil, errClosed
	}
	if err := checkBits(size, indexes); err != nil {
		return nil, err
	}
	if len(indexes) == 0 {
		return []int64{}, nil
	}
	typ := "u" + strconv.Itoa(size)
	args := make([]string, 0, 2+3*len(indexes))
	args = append(args, "BITFIELD_RO", key)
	for _, i := range indexes {
		args = append(args, "GET", typ, "#"+strconv.FormatInt(i, 10))
	}
	return b.intsCmd(ctx, command{args: args, keyAt: 1, nkeys: 1, readOnly: true}, key, len(indexes))
}

// IncrBits adds by to the counters of size bits at the given indexes, saturating at 0 and
// 2^size-1 (BITFIELD key OVERFLOW SAT INCRBY u<size> #index by...), and returns their new values. An
// index given twice is incremented twice. A missing key is created without TTL.
func (b *Backend) IncrBits(ctx context.Context, key string, size int, by int64, indexes ...int64) ([]int64, error) {
	if b.closed.Load() {
		return nil, errClosed
	}
	if err := checkBits(size, indexes); err != nil {
		return nil, err
	}
	if len(indexes) == 0 {
		return []int64{}, nil
	}
	typ, byS := "u"+strconv.Itoa(size), strconv.FormatInt(by, 10)
	args := make([]string, 0, 4+4*len(indexes))
	args = append(args, "BITFIELD", key, "OVERFLOW", "SAT")
	for _, i := range indexes {
		args = append(args, "INCRBY", typ, "#"+strconv.FormatInt(i, 10), byS)
	}
	return b.intsCmd(ctx, command{args: args, keyAt: 1, nkeys: 1}, key, len(indexes))
}

func (b *Backend) intsCmd(ctx context.Context, c command, key string, want int) ([]int64, error) {
	cctx, cancel := b.withTimeout(ctx)
	defer cancel()
	out, err := b.ex.do(cctx, c).ints()
	if !c.readOnly {
		b.wrote(key)
	}
	if err == nil && len(out) != want {
		err = fmt.Errorf("got %d values, want %d", len(out), want)
	}
	if err != nil {
		return nil, b.fail(ctx, c.name(), key, err)
	}
	return out, nil
}

// SliceIncr is the sliding-window counter, a Lua script over a sorted set of event times (in
// microseconds since the Unix epoch, so now is read at microsecond precision). The key expires
// window after the last recorded event, by the server's clock.
func (b *Backend) SliceIncr(ctx context.Context, key string, now time.Time, window time.Duration, limit int64) (int64, bool, error) {
	if b.closed.Load() {
		return 0, false, errClosed
	}
	if window <= 0 {
		return 0, false, invalid("SliceIncr window %s is not positive", window)
	}
	if limit <= 0 {
		return 0, false, invalid("SliceIncr limit %d is not positive", limit)
	}
	window = backends.CapTTL(window)
	t := now.UnixMicro()
	cutoff := t - window.Microseconds()
	member := strconv.FormatInt(t, 10) + "-" + b.memberPfx + "-" + strconv.FormatUint(b.seq.Add(1), 36)
	cctx, cancel := b.withTimeout(ctx)
	defer cancel()
	res, err := b.eval(cctx, sliceIncrScript, key,
		strconv.FormatInt(t, 10), strconv.FormatInt(cutoff, 10), strconv.FormatInt(limit, 10), member, ms(window)).ints()
	if err == nil && len(res) != 2 {
		err = fmt.Errorf("got %d values, want 2", len(res))
	}
	if err != nil {
		return 0, false, b.fail(ctx, "slice incr", key, err)
	}
	return res[0], res[1] == 1, nil
}
