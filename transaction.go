package cashews

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/internal/quote"
)

// Errors of transactions.
var (
	// ErrTxLocked is returned by a write inside a locked or serializable transaction when another
	// transaction holds the key (or, serializable, the Cache) past the transaction's timeout.
	ErrTxLocked = errors.New("cashews: locked by another transaction")
	// ErrTxDone is returned by commands made with the context of a transaction that has ended.
	ErrTxDone = errors.New("cashews: the transaction has ended")
)

// TxMode is how a transaction isolates its writes; see [Cache.Transaction].
type TxMode uint8

// The transaction modes, as Python cashews has them.
const (
	// TxLocked locks every key the transaction writes until it ends (the default).
	TxLocked TxMode = iota
	// TxFast takes no locks.
	TxFast
	// TxSerializable is TxLocked that also runs one transaction at a time per Cache.
	TxSerializable
)

// String returns the mode's name.
func (m TxMode) String() string {
	switch m {
	case TxFast:
		return "fast"
	case TxLocked:
		return "locked"
	case TxSerializable:
		return "serializable"
	}
	return "TxMode(?)"
}

func (m TxMode) applyTx(c *txConfig) { c.mode = m }

// TxOption configures [Cache.Transaction]: a [TxMode], or [TxTimeout].
type TxOption interface{ applyTx(*txConfig) }

type txConfig struct {
	mode    TxMode
	timeout time.Duration
}

type txTimeout time.Duration

func (d txTimeout) applyTx(c *txConfig) { c.timeout = time.Duration(d) }

// DefaultTxTimeout bounds a transaction when [TxTimeout] is not given.
const DefaultTxTimeout = 10 * time.Second

// TxTimeout bounds a transaction (default [DefaultTxTimeout]): the context of its function ends
// after d, a write that waits for a lock longer fails with [ErrTxLocked], the commit gets d more,
// and the locks it takes expire after 2×d, so that a process that dies holds them no longer. d must
// be positive.
func TxTimeout(d time.Duration) TxOption { return txTimeout(d) }

// TxLockPrefix makes the key of the lock that locked and serializable transactions take on a key:
// the key's backend prefix, TxLockPrefix, then the key ("user:1" on a backend set up for "user:" →
// "user:_cashews:tx-lock:user:1"; "k" on the backend without a prefix → "_cashews:tx-lock:k"). It
// lives in the key's backend; Scan and GetMatch never yield it.
const TxLockPrefix = internalPrefix + "tx-lock:"

// txUsed becomes true at the first transaction; until then commands skip the context lookup.
var txUsed atomic.Bool

type txCtxKey struct{}

// txState is what a Cache keeps for its transactions.
type txState struct {
	once sync.Once
	slot chan struct{} // the one serializable transaction running
}

func (s *txState) acquire(ctx context.Context) error {
	s.once.Do(func() { s.slot = make(chan struct{}, 1) })
	select {
	case s.slot <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: waited for the serializable transaction running: %w", ErrTxLocked, context.Cause(ctx))
	}
}

func (s *txState) release() { <-s.slot }

// Transaction runs fn with a context in which the commands of c are buffered instead of sent: a
// write made with that context (Set, SetMany, Delete, DeleteMany, DeleteMatch, DeleteTags, Incr,
// Expire, and what wrapped functions store) is visible to the reads made with it (Get, GetMany,
// GetMatch, Scan, Exists, GetExpire, TagKeys, wrapped functions' reads) and to no one else. When fn
// returns nil the writes are applied to the backends; when it returns an error or panics they are
// dropped (and the panic goes on). Transaction returns fn's error, or the commit's.
//
// Modes (options; default [TxLocked]):
//
//   - [TxFast]: no locks. Two transactions that write one key both commit, the last one's value
//     stays; an increment is applied as one (Incr by the sum), so concurrent increments add up.
//   - [TxLocked]: every key the transaction writes (for DeleteMatch and DeleteTags, every key they
//     match) is locked at the write (at a key of [TxLockPrefix] in the key's backend) until the
//     transaction ends; another transaction's write of the key waits for it, up to its timeout,
//     then fails with [ErrTxLocked]. The locks live in the backend, so they hold across processes
//     that share it. Reads are not locked, and neither are writes made outside transactions.
//   - [TxSerializable]: TxLocked, and one transaction at a time per Cache: a transaction waits for
//     the one running (up to its timeout) before fn runs. Across processes only the key locks hold.
//
// What a commit is: the deletes in one DeleteMany per backend, then the values in one SetMany per
// backend (one Set per key with tags), then increments (one Incr each) and expiries. It is not
// atomic: readers outside see the writes land key by key, and a commit that fails, or a process
// that dies during it, leaves the writes before the failure applied and the rest not (the error
// names the failure; the locks then expire after 2×timeout). A conditional Set (IfAbsent,
// IfPresent) decides at the write, from what the transaction sees, and is applied unconditionally.
//
// Nested use: Transaction called with a context of a running transaction of c joins it (its mode and
// timeout are the outer one's); when its fn fails, the writes it made are dropped and the outer
// transaction goes on; they are applied only when the outer one commits.
//
// Other commands made with the context (locks, sets of strings, bit counters, sliding windows,
// ValueSize, KeysCount, Ping) run at once, outside the transaction; Clear is an error inside one.
// Commands made with the context after the transaction ended fail with [ErrTxDone].
func (c *Cache) Transaction(ctx context.Context, fn func(ctx context.Context) error, opts ...TxOption) (err error) {
	if c == nil {
		return errNilCache
	}
	if fn == nil {
		return fmt.Errorf("%w: Transaction with a nil function", ErrInvalidArgument)
	}
	cfg := txConfig{mode: TxLocked, timeout: DefaultTxTimeout}
	for i, o := range opts {
		if o == nil {
			return fmt.Errorf("%w: transaction option %d of %d is nil", ErrInvalidArgument, i+1, len(opts))
		}
		o.applyTx(&cfg)
	}
	if cfg.mode > TxSerializable {
		return fmt.Errorf("%w: transaction mode %d", ErrInvalidArgument, cfg.mode)
	}
	if cfg.timeout <= 0 {
		return fmt.Errorf("%w: transaction timeout %v must be positive", ErrInvalidArgument, cfg.timeout)
	}
	if outer := c.txOf(ctx); outer != nil {
		return outer.nested(ctx, fn)
	}
	txUsed.Store(true)
	t := &tx{c: c, mode: cfg.mode, timeout: cfg.timeout, ops: map[string]*txOp{}}
	link := &txLink{t: t}
	link.next, _ = ctx.Value(txCtxKey{}).(*txLink) // a transaction of another Cache goes on
	fctx, cancel := context.WithTimeout(context.WithValue(ctx, txCtxKey{}, link), cfg.timeout)
	defer cancel()
	if cfg.mode == TxSerializable {
		if err := c.tx.acquire(fctx); err != nil {
			return err
		}
		defer c.tx.release()
	}
	if cfg.mode != TxFast {
		t.token = newToken()
	}
	defer func() {
		if p := recover(); p != nil {
			t.end(ctx, false)
			panic(p)
		}
	}()
	if err := fn(fctx); err != nil {
		t.end(ctx, false)
		return err
	}
	if err := fctx.Err(); err != nil {
		t.end(ctx, false)
		return fmt.Errorf("cashews: transaction not committed: %w", context.Cause(fctx))
	}
	return t.end(ctx, true)
}

// txOf returns the running transaction of c in ctx, or nil. A transaction that ended is returned
// too: its commands fail with ErrTxDone.
func (c *Cache) txOf(ctx context.Context) *tx {
	if !txUsed.Load() {
		return nil
	}
	l, _ := ctx.Value(txCtxKey{}).(*txLink)
	for ; l != nil && l.t != nil; l = l.next {
		if l.t.c == c {
			return l.t
		}
	}
	return nil
}

// txLink is what a context carries: the transactions of one or more Caches, innermost first. A
// link without a transaction ends the list (see outside).
type txLink struct {
	t    *tx
	next *txLink
}

// tx is one transaction: the state of every key it wrote, as the backends will hold it.
type tx struct {
	c       *Cache
	mode    TxMode
	timeout time.Duration
	token   string // the owner of its locks

	mu    sync.Mutex
	ops   map[string]*txOp
	locks []string // lock keys held
	done  bool
}

// txOp is what a transaction did to one key, in the order the commit applies it.
type txOp struct {
	del     bool   // deleted first (at the write, or before a later set or incr)
	set     *txSet // then stored
	delta   int64  // then incremented by delta (incr: true)
	incr    bool
	incrTT  time.Duration // the TTL of an increment that creates the key
	counter int64         // the integer the key holds for the transaction after its increments
	expire  *txSet        // then its TTL set (value unused)
}

// txSet is a value written (encoded as its route stores it) or an expiry set, with when.
type txSet struct {
	r    *route
	v    any
	ttl  time.Duration
	at   time.Time
	tags []string
}

// remaining returns the TTL left at now: (ttl, true) while live, NoExpiration for none, and
// false once it has run out.
func (s *txSet) remaining(now time.Time) (time.Duration, bool) {
	if s.ttl == 0 {
		return NoExpiration, true
	}
	left := s.ttl - now.Sub(s.at)
	return left, left > 0
}

// outside returns ctx without the transaction: commands made with it reach the backends.
func outside(ctx context.Context) context.Context {
	return context.WithValue(ctx, txCtxKey{}, &txLink{})
}

// begin locks t and reports whether it still runs.
func (t *tx) begin() error {
	t.mu.Lock()
	if t.done {
		t.mu.Unlock()
		return ErrTxDone
	}
	return nil
}

// op returns the state of key, creating it.
func (t *tx) op(key string) *txOp {
	o := t.ops[key]
	if o == nil {
		o = &txOp{}
		t.ops[key] = o
	}
	return o
}

// lock takes the transaction's lock on key (locked and serializable modes), waiting up to the
// transaction's deadline. t.mu is held, and released while waiting.
func (t *tx) lock(ctx context.Context, key string) error {
	if t.mode == TxFast {
		return nil
	}
	r, err := t.c.route(key)
	if err != nil {
		return err
	}
	lk := r.prefix + TxLockPrefix + key
	if slices.Contains(t.locks, lk) {
		return nil
	}
	octx := outside(ctx)
	wait := time.Millisecond
	for {
		ok, err := t.c.setLock(octx, lk, t.token, 2*t.timeout)
		if err != nil {
			if ctx.Err() != nil { // the transaction's time ran out while the backend was busy
				return fmt.Errorf("%w: key %s: %w", ErrTxLocked, quote.String(key), err)
			}
			return fmt.Errorf("cashews: transaction: lock %s: %w", quote.String(key), err)
		}
		if ok {
			t.locks = append(t.locks, lk)
			return nil
		}
		t.mu.Unlock()
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			t.mu.Lock()
			return fmt.Errorf("%w: key %s: %w", ErrTxLocked, quote.String(key), context.Cause(ctx))
		}
		t.mu.Lock()
		if t.done {
			return ErrTxDone
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// view returns what key holds for the transaction: its encoded value and whether it is there, from
// the transaction's writes or else the backend.
func (t *tx) view(ctx context.Context, r *route, key string) (any, bool, error) {
	o := t.ops[key]
	if o == nil || (!o.del && o.set == nil && !o.incr) { // untouched, or an expiry only
		if o != nil && o.expire != nil {
			if _, live := o.expire.remaining(t.c.clock.Now()); !live {
				return nil, false, nil
			}
		}
		_, v, found, err := t.c.get(outside(ctx), key)
		return v, found, err
	}
	now := t.c.clock.Now()
	if o.expire != nil {
		if _, live := o.expire.remaining(now); !live {
			return nil, false, nil
		}
	}
	if o.incr {
		v, err := r.encode(key, o.counter)
		return v, err == nil, err
	}
	if o.set != nil {
		if _, live := o.set.remaining(now); live {
			return o.set.v, true, nil
		}
	}
	return nil, false, nil
}

// exists reports whether key holds something for the transaction.
func (t *tx) exists(ctx context.Context, key string) (bool, error) {
	o := t.ops[key]
	if o == nil {
		return t.c.Exists(outside(ctx), key)
	}
	r, err := t.c.route(key)
	if err != nil {
		return false, err
	}
	if !o.del && o.set == nil && !o.incr {
		if o.expire != nil {
			if _, live := o.expire.remaining(t.c.clock.Now()); !live {
				return false, nil
			}
		}
		return t.c.Exists(outside(ctx), key)
	}
	_, found, err := t.view(ctx, r, key)
	return found, err
}

// get is Cache.get inside the transaction.
func (t *tx) get(ctx context.Context, r *route, key string) (*route, any, bool, error) {
	if err := t.begin(); err != nil {
		return r, nil, false, err
	}
	defer t.mu.Unlock()
	v, found, err := t.view(ctx, r, key)
	return r, v, found, err
}

// set is Cache.set inside the transaction.
func (t *tx) set(ctx context.Context, r *route, key string, v any, ttl time.Duration, sc setConfig) (bool, error) {
	if err := t.begin(); err != nil {
		return false, err
	}
	defer t.mu.Unlock()
	if err := t.lock(ctx, key); err != nil {
		return false, err
	}
	if sc.mode != backends.SetAlways {
		present, err := t.exists(ctx, key)
		if err != nil {
			return false, err
		}
		if present != (sc.mode == backends.SetIfPresent) {
			return false, nil
		}
	}
	// A Set replaces whatever the key held, its tags and TTL too: nothing before it matters.
	*t.op(key) = txOp{set: &txSet{r: r, v: v, ttl: ttl, at: t.c.clock.Now(), tags: sc.tags}}
	return true, nil
}

// delete marks keys deleted and returns how many held something.
func (t *tx) delete(ctx context.Context, keys ...string) (int, error) {
	if err := t.begin(); err != nil {
		return 0, err
	}
	defer t.mu.Unlock()
	return t.deleteLocked(ctx, keys)
}

func (t *tx) deleteLocked(ctx context.Context, keys []string) (int, error) {
	n := 0
	for _, key := range keys {
		if err := t.lock(ctx, key); err != nil {
			return n, err
		}
		present, err := t.exists(ctx, key)
		if err != nil {
			return n, err
		}
		if present {
			n++
		}
		*t.op(key) = txOp{del: true}
	}
	return n, nil
}

// incr is Cache.Incr inside the transaction.
func (t *tx) incr(ctx context.Context, r *route, key string, by int64, ttl time.Duration) (int64, error) {
	if err := t.begin(); err != nil {
		return 0, err
	}
	defer t.mu.Unlock()
	if err := t.lock(ctx, key); err != nil {
		return 0, err
	}
	o := t.op(key)
	if !o.incr {
		var base int64
		present := false
		switch {
		case o.set != nil:
			if _, live := o.set.remaining(t.c.clock.Now()); live {
				n, _, err := decode[int64](t.c, r, key, o.set.v)
				if err != nil {
					return 0, fmt.Errorf("%w: incr %s: %w", ErrNotInteger, quote.String(key), err)
				}
				base, present = n, true
			}
		case !o.del:
			n, found, err := Get[int64](outside(ctx), t.c, key)
			if err != nil {
				if errors.Is(err, ErrWrongType) {
					err = fmt.Errorf("%w: incr %s: %w", ErrNotInteger, quote.String(key), err)
				}
				return 0, err
			}
			base, present = n, found
		}
		o.incr, o.counter = true, base
		if !present {
			o.incrTT = ttl
			if o.set != nil { // an expired value of the transaction's: the key is created anew
				o.set, o.del = nil, true
			}
		}
	}
	o.delta += by
	o.counter += by
	return o.counter, nil
}

// expire is Cache.Expire inside the transaction.
func (t *tx) expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := t.begin(); err != nil {
		return false, err
	}
	defer t.mu.Unlock()
	if err := t.lock(ctx, key); err != nil {
		return false, err
	}
	present, err := t.exists(ctx, key)
	if err != nil || !present {
		return false, err
	}
	o := t.op(key)
	now := t.c.clock.Now()
	if o.set != nil && !o.incr {
		o.set.ttl, o.set.at = ttl, now
		return true, nil
	}
	o.expire = &txSet{ttl: ttl, at: now}
	return true, nil
}

// getExpire is Cache.GetExpire inside the transaction.
func (t *tx) getExpire(ctx context.Context, key string) (time.Duration, bool, error) {
	if err := t.begin(); err != nil {
		return 0, false, err
	}
	defer t.mu.Unlock()
	o := t.ops[key]
	now := t.c.clock.Now()
	switch {
	case o == nil:
		return t.c.GetExpire(outside(ctx), key)
	case o.expire != nil:
		if ttl, live := o.expire.remaining(now); live {
			if present, err := t.exists(ctx, key); err != nil || !present {
				return 0, false, err
			}
			return ttl, true, nil
		}
		return 0, false, nil
	case o.set != nil:
		ttl, live := o.set.remaining(now)
		if !live {
			return 0, false, nil
		}
		return ttl, true, nil
	case o.incr && (o.del || o.incrTT > 0):
		if o.incrTT == 0 {
			return NoExpiration, true, nil
		}
		return o.incrTT, true, nil // created by the transaction: its TTL starts at the commit
	case o.incr:
		ttl, found, err := t.c.GetExpire(outside(ctx), key)
		if err == nil && !found {
			return NoExpiration, true, nil
		}
		return ttl, found, err
	}
	return 0, false, nil // deleted
}

// live returns the keys the transaction wrote that hold something and match pattern, by route.
func (t *tx) live(ctx context.Context, pattern string) []string {
	var out []string
	now := t.c.clock.Now()
	for k, o := range t.ops {
		if !backends.Match(pattern, k) {
			continue
		}
		if o.expire != nil {
			if _, ok := o.expire.remaining(now); !ok {
				continue
			}
		}
		switch {
		case o.incr:
		case o.set != nil:
			if _, ok := o.set.remaining(now); !ok {
				continue
			}
		case o.del:
			continue
		default: // an expiry of a key the backend holds: the backend's scan yields it
			continue
		}
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// scan is Cache.scan inside the transaction: the keys the transaction wrote first, then the
// backends' keys it did not touch.
func (t *tx) scan(ctx context.Context, pattern string, opts []ScanOption, fn func(r *route, keys []string) bool) error {
	if err := t.begin(); err != nil {
		return err
	}
	mine := t.live(ctx, pattern)
	touched := make(map[string]bool, len(t.ops))
	for k, o := range t.ops {
		touched[k] = o.del || o.set != nil || o.incr
	}
	t.mu.Unlock()
	for _, k := range mine {
		r, err := t.c.route(k)
		if err != nil {
			continue
		}
		if !fn(r, []string{k}) {
			return nil
		}
	}
	return t.c.scan(outside(ctx), pattern, opts, func(r *route, keys []string) bool {
		kept := keys[:0:0]
		for _, k := range keys {
			if !touched[k] {
				kept = append(kept, k)
			}
		}
		return len(kept) == 0 || fn(r, kept)
	})
}

// matching returns the keys matching pattern that hold something for the transaction.
func (t *tx) matching(ctx context.Context, pattern string) ([]string, error) {
	var keys []string
	err := t.scan(ctx, pattern, nil, func(_ *route, ks []string) bool {
		keys = append(keys, ks...)
		return true
	})
	return keys, err
}

// deleteMatch is Cache.DeleteMatch inside the transaction.
func (t *tx) deleteMatch(ctx context.Context, pattern string) (int, error) {
	keys, err := t.matching(ctx, pattern)
	if err != nil {
		return 0, err
	}
	return t.delete(ctx, keys...)
}

// tagKeys returns the keys that carry any of tags for the transaction.
func (t *tx) tagKeys(ctx context.Context, tags ...string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, tag := range tags {
		keys, err := t.c.TagKeys(outside(ctx), tag)
		if err != nil {
			return nil, err
		}
		if err := t.begin(); err != nil {
			return nil, err
		}
		for _, k := range keys {
			if o := t.ops[k]; o != nil && (o.del || o.set != nil) {
				continue // the transaction decides this key's tags
			}
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
		now := t.c.clock.Now()
		for k, o := range t.ops {
			if o.set == nil || o.incr || !slices.Contains(o.set.tags, tag) || seen[k] {
				continue
			}
			if _, live := o.set.remaining(now); live {
				seen[k] = true
				out = append(out, k)
			}
		}
		t.mu.Unlock()
	}
	sort.Strings(out)
	return out, nil
}

// deleteTags is Cache.DeleteTags inside the transaction.
func (t *tx) deleteTags(ctx context.Context, tags ...string) (int, error) {
	keys, err := t.tagKeys(ctx, tags...)
	if err != nil {
		return 0, err
	}
	return t.delete(ctx, keys...)
}

// snapshot returns a copy of the transaction's writes, for a nested transaction to go back to.
func (t *tx) snapshot() map[string]txOp {
	out := make(map[string]txOp, len(t.ops))
	for k, o := range t.ops {
		c := *o
		if o.set != nil {
			s := *o.set
			c.set = &s
		}
		if o.expire != nil {
			e := *o.expire
			c.expire = &e
		}
		out[k] = c
	}
	return out
}

// nested runs fn inside t; when fn fails (or panics), the writes it made are dropped.
func (t *tx) nested(ctx context.Context, fn func(ctx context.Context) error) error {
	if err := t.begin(); err != nil {
		return err
	}
	saved := t.snapshot()
	t.mu.Unlock()
	undo := func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		t.ops = make(map[string]*txOp, len(saved))
		for k, o := range saved {
			t.ops[k] = &o
		}
	}
	defer func() {
		if p := recover(); p != nil {
			undo()
			panic(p)
		}
	}()
	if err := fn(ctx); err != nil {
		undo()
		return err
	}
	return nil
}

// end commits (when commit) or drops the transaction's writes, and releases its locks.
func (t *tx) end(parent context.Context, commit bool) error {
	t.mu.Lock()
	t.done = true
	ops, locks := t.ops, t.locks
	t.ops, t.locks = nil, nil
	t.mu.Unlock()
	// The commit and the unlocks are not cut short by the caller's cancellation: a commit applied
	// in part is worse than one applied late.
	ctx, cancel := context.WithTimeout(outside(context.WithoutCancel(parent)), t.timeout)
	defer cancel()
	var err error
	if commit {
		err = t.commit(ctx, ops)
	}
	for _, lk := range locks {
		t.c.unlock(ctx, lk, t.token)
	}
	return err
}

// commit applies ops: deletes, values, increments, expiries.
func (t *tx) commit(ctx context.Context, ops map[string]*txOp) error {
	keys := slices.Sorted(maps.Keys(ops))
	var errs []error
	var dels []string
	for _, k := range keys {
		if ops[k].del {
			dels = append(dels, k)
		}
	}
	if len(dels) > 0 {
		if _, err := t.c.DeleteMany(ctx, dels...); err != nil {
			errs = append(errs, fmt.Errorf("delete %s: %w", quote.Strings(dels), err))
		}
	}
	now := t.c.clock.Now()
	var items []backends.Item
	for _, k := range keys {
		s := ops[k].set
		if s == nil {
			continue
		}
		ttl, live := s.remaining(now)
		if !live {
			continue // it expired during the transaction
		}
		if ttl == NoExpiration {
			ttl = 0
		}
		if len(s.tags) > 0 {
			if _, err := t.c.set(ctx, s.r, k, s.v, ttl, setConfig{tags: s.tags}); err != nil {
				errs = append(errs, fmt.Errorf("set %s: %w", quote.String(k), err))
			}
			continue
		}
		items = append(items, backends.Item{Key: k, Value: s.v, TTL: ttl})
	}
	if err := t.c.setItems(ctx, items); err != nil {
		errs = append(errs, err)
	}
	for _, k := range keys {
		o := ops[k]
		if o.incr {
			if _, err := t.c.Incr(ctx, k, o.delta, o.incrTT); err != nil {
				errs = append(errs, fmt.Errorf("incr %s: %w", quote.String(k), err))
			}
		}
		if o.expire != nil {
			ttl, live := o.expire.remaining(now)
			if !live {
				_, err := t.c.Delete(ctx, k)
				errs = appendErr(errs, "expire", k, err)
				continue
			}
			if ttl == NoExpiration {
				ttl = 0
			}
			_, err := t.c.Expire(ctx, k, ttl)
			errs = appendErr(errs, "expire", k, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("cashews: transaction commit (applied in part): %w", errors.Join(errs...))
	}
	return nil
}

func appendErr(errs []error, what, key string, err error) []error {
	if err == nil {
		return errs
	}
	return append(errs, fmt.Errorf("%s %s: %w", what, quote.String(key), err))
}

// existsCmd is Cache.Exists inside the transaction.
func (t *tx) existsCmd(ctx context.Context, key string) (bool, error) {
	if err := t.begin(); err != nil {
		return false, err
	}
	defer t.mu.Unlock()
	return t.exists(ctx, key)
}

// setMany is Cache.SetMany inside the transaction: a Set of each item.
func (t *tx) setMany(ctx context.Context, items map[string]any, ttl time.Duration) error {
	for _, k := range slices.Sorted(maps.Keys(items)) {
		if _, err := t.c.Set(ctx, k, items[k], ttl); err != nil {
			return err
		}
	}
	return nil
}

// getMany is Cache.getMany inside the transaction: the keys it wrote from its writes, the others
// in one batch from the backends.
func (t *tx) getMany(ctx context.Context, keys []string, fn func(r *route, key string, v any) error) error {
	if err := t.begin(); err != nil {
		return err
	}
	var untouched []string
	type found struct {
		r   *route
		key string
		v   any
	}
	var mine []found
	for _, k := range keys {
		if o := t.ops[k]; o == nil || (!o.del && o.set == nil && !o.incr && o.expire == nil) {
			untouched = append(untouched, k)
			continue
		}
		r, err := t.c.route(k)
		if err != nil {
			t.mu.Unlock()
			return err
		}
		v, ok, err := t.view(ctx, r, k)
		if err != nil {
			t.mu.Unlock()
			return err
		}
		if ok {
			mine = append(mine, found{r, k, v})
		}
	}
	t.mu.Unlock()
	for _, f := range mine {
		if err := fn(f.r, f.key, f.v); err != nil {
			return err
		}
	}
	if len(untouched) == 0 {
		return nil
	}
	return t.c.getMany(outside(ctx), untouched, fn)
}
