package cashews

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/internal/quote"
	"github.com/cashews-go/cashews/internal/shared"
)

// NoExpiration is the TTL that [Cache.GetExpire] reports for a key that never expires.
const NoExpiration = backends.NoExpiration

// internalPrefix starts the keys that strategies keep for themselves (locks, counters, filters).
// Scan never yields them.
const internalPrefix = "_cashews:"

// checkTTL rejects a negative TTL, naming the command.
func checkTTL(cmd Command, ttl time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("%w: %s: negative TTL %v", ErrInvalidArgument, cmd, ttl)
	}
	return nil
}

// SetOption modifies a Set.
type SetOption interface {
	applySet(*setConfig)
}

type setConfig struct {
	mode backends.SetMode
	tags []string
}

type setMode backends.SetMode

func (m setMode) applySet(s *setConfig) { s.mode = backends.SetMode(m) }

// IfAbsent makes Set write only when the key does not exist.
func IfAbsent() SetOption { return setMode(backends.SetIfAbsent) }

// IfPresent makes Set write only when the key exists.
func IfPresent() SetOption { return setMode(backends.SetIfPresent) }

// TagsOption is the option that [Tags] returns: it works for Set and for Wrap.
type TagsOption []string

func (t TagsOption) applySet(s *setConfig) { s.tags = append(s.tags, t...) }

// applyWrap adds the tags to a Wrap call; there they are templates over the argument, like the key.
func (t TagsOption) applyWrap(c *WrapConfig) { c.Tags = append(c.Tags, t...) }

// Tags attaches tags to stored keys, so that [Cache.DeleteTags] removes them and [Cache.TagKeys]
// finds them. With Set, the tags are attached to the key; with Wrap, they are templates rendered from
// the argument ("user:{ID}"). The key's backend keeps them (it must implement backends.Tagger, as
// every backend of this module does; on another, a Set with tags fails with an error matching
// errors.ErrUnsupported). A key's tags last as long as the value they were stored with: a later Set
// of the key replaces them, and Delete or expiry ends them.
func Tags(tags ...string) TagsOption { return TagsOption(tags) }

// Set stores value at key for ttl (zero: no expiry) and reports whether it stored, which is false
// only when IfAbsent or IfPresent said no, or when set is disabled. The memory backend keeps value
// as it is: do not mutate it afterwards. Byte backends store it encoded by the backend's codec.
func (c *Cache) Set(ctx context.Context, key string, value any, ttl time.Duration, opts ...SetOption) (bool, error) {
	sc, err := setOptions(opts)
	if err != nil {
		return false, err
	}
	if err := checkTTL(CmdSet, ttl); err != nil {
		return false, err
	}
	r, err := c.route(key)
	if err != nil || c.off(ctx, r, CmdSet) {
		return false, err
	}
	v, err := r.encode(key, value)
	if err != nil {
		return false, err
	}
	return c.set(ctx, r, key, v, ttl, sc)
}

// setOptions applies opts; a nil one is an error.
func setOptions(opts []SetOption) (setConfig, error) {
	var sc setConfig
	for i, o := range opts {
		if o == nil {
			return sc, fmt.Errorf("%w: set option %d of %d is nil", ErrInvalidArgument, i+1, len(opts))
		}
		o.applySet(&sc)
	}
	return sc, nil
}

// set stores an already encoded value, with its tags when there are any. Without hooks of the
// user's, it runs the built-in hooks written out (see Hook: the switches were asked by the caller;
// suppression around the health breaker and stats), as the hit path does.
func (c *Cache) set(ctx context.Context, r *route, key string, v any, ttl time.Duration, sc setConfig) (bool, error) {
	if len(sc.tags) > 0 && r.tagger == nil {
		return false, fmt.Errorf("cashews: set %s with tags: the backend %s keeps no tags (it does not implement backends.Tagger): %w", quote.String(key), r.url, errors.ErrUnsupported)
	}
	if txUsed.Load() {
		if t := c.txOf(ctx); t != nil {
			return t.set(ctx, r, key, v, ttl, sc)
		}
	}
	if c.hooked() {
		return c.setHooked(ctx, r, key, v, ttl, sc)
	}
	if err := r.health.allow(); err != nil {
		r.stats.failed(ctx, err)
		err, _ = r.sup.filter(ctx, CmdSet, err)
		return false, err
	}
	var ok bool
	var err error
	if len(sc.tags) > 0 {
		ok, err = r.tagger.SetTagged(ctx, key, v, ttl, sc.mode, sc.tags)
	} else {
		ok, err = r.backend.Set(ctx, key, v, ttl, sc.mode)
	}
	r.health.record(err)
	r.stats.wrote(ctx, ok, err)
	if err != nil {
		if err, _ = r.sup.filter(ctx, CmdSet, err); err == nil {
			ok = false
		}
	}
	return ok, err
}

// setHooked runs set through the chain; apart from set for the reason given at getHooked.
func (c *Cache) setHooked(ctx context.Context, r *route, key string, v any, ttl time.Duration, sc setConfig) (bool, error) {
	res, err := c.run(ctx, Call{cmd: CmdSet, key: key, value: v, tags: sc.tags, r: r, do: func(ctx context.Context) (Result, error) {
		var ok bool
		var err error
		if len(sc.tags) > 0 {
			ok, err = r.tagger.SetTagged(ctx, key, v, ttl, sc.mode, sc.tags)
		} else {
			ok, err = r.backend.Set(ctx, key, v, ttl, sc.mode)
		}
		return Result{OK: ok}, err
	}})
	return res.OK, err
}

// SetRaw stores value at key without encoding it. Byte backends take only []byte and string values.
//
// The canonical decimal text of an int64 ("42", as a string or []byte) is a counter on every
// backend: a byte backend stores the text, which its Incr counts from, and mem:// stores the
// int64, so that Incr counts from it and Get reads it as an integer there too. (With a secret,
// Get and Incr refuse raw values on byte backends: they are not signed.)
func (c *Cache) SetRaw(ctx context.Context, key string, value any, ttl time.Duration, opts ...SetOption) (bool, error) {
	sc, err := setOptions(opts)
	if err != nil {
		return false, err
	}
	if err := checkTTL(CmdSet, ttl); err != nil {
		return false, err
	}
	r, err := c.route(key)
	if err != nil || c.off(ctx, r, CmdSet) {
		return false, err
	}
	if r.goValues {
		if n, ok := counterText(value); ok {
			value = n
		}
	} else {
		switch b := value.(type) {
		case []byte:
		case string:
			value = []byte(b)
		default:
			return false, fmt.Errorf("%w: SetRaw on %s takes []byte or string, not %T", ErrInvalidArgument, r.url, value)
		}
	}
	return c.set(ctx, r, key, value, ttl, sc)
}

// get runs the get command and returns the stored value as the backend keeps it. It is every read's
// path, so route, the switches and, without hooks of the user's, the other built-in hooks (see
// Hook: suppression around the health breaker and stats) are written out here: the compiler
// inlines none of them, and the chain would cost a call and an allocation per hook.
func (c *Cache) get(ctx context.Context, key string) (*route, any, bool, error) {
	if c == nil {
		return nil, nil, false, errNilCache
	}
	r := c.only.Load()
	if r == nil {
		var err error
		if r, err = c.match(key); err != nil {
			return r, nil, false, err
		}
	}
	if r.disabled.Load()&(1<<CmdGet) != 0 || ctxSwitches.Load() && offInContext(ctx, CmdGet) {
		return r, nil, false, nil
	}
	if txUsed.Load() {
		if t := c.txOf(ctx); t != nil {
			return t.get(ctx, r, key)
		}
	}
	if c.hooked() {
		return c.getHooked(ctx, r, key)
	}
	if err := r.health.allow(); err != nil {
		r.stats.failed(ctx, err)
		err, _ = r.sup.filter(ctx, CmdGet, err)
		return r, nil, false, err
	}
	if r.shares { // what the Cache reads it does not modify, nor may its callers (see Get)
		ctx = shared.Mark(ctx)
	}
	v, found, err := r.backend.Get(ctx, key)
	r.health.record(err)
	r.stats.read(ctx, found, err)
	if err != nil {
		if err, _ = r.sup.filter(ctx, CmdGet, err); err == nil {
			v, found = nil, false
		}
	}
	return r, v, found, err
}

// getHooked runs get through the chain. It is apart from get so that the closure's captures do
// not move get's variables to the heap.
func (c *Cache) getHooked(ctx context.Context, r *route, key string) (*route, any, bool, error) {
	res, err := c.run(ctx, Call{cmd: CmdGet, key: key, r: r, do: func(ctx context.Context) (Result, error) {
		if r.shares {
			ctx = shared.Mark(ctx)
		}
		v, ok, err := r.backend.Get(ctx, key)
		return Result{Value: v, OK: ok}, err
	}})
	return r, res.Value, res.OK, err
}

// GetRaw returns the value stored at key as the backend keeps it, without decoding: the Go value for
// the memory backend, the stored bytes for byte backends. A miss is (nil, false, nil). The value may
// be shared with the cache (the stored Go value on mem://, the local copy of Redis' client-side
// cache), so it must not be modified, as for [Get].
func (c *Cache) GetRaw(ctx context.Context, key string) (any, bool, error) {
	_, v, found, err := c.get(ctx, key)
	return v, found, err
}

// Exists reports whether key is present; false when exists is disabled.
func (c *Cache) Exists(ctx context.Context, key string) (bool, error) {
	if t := c.txOf(ctx); t != nil {
		return t.existsCmd(ctx, key)
	}
	return c.keyBool(ctx, CmdExists, key, func(ctx context.Context, r *route) (bool, error) {
		return r.backend.Exists(ctx, key)
	})
}

// Delete removes key and reports whether it was present.
func (c *Cache) Delete(ctx context.Context, key string) (bool, error) {
	if t := c.txOf(ctx); t != nil {
		n, err := t.delete(ctx, key)
		return n > 0, err
	}
	return c.keyBool(ctx, CmdDelete, key, func(ctx context.Context, r *route) (bool, error) {
		return r.backend.Delete(ctx, key)
	})
}

// Expire sets the TTL of an existing key (zero removes its expiry) and reports whether the key
// exists.
func (c *Cache) Expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := checkTTL(CmdExpire, ttl); err != nil {
		return false, err
	}
	if t := c.txOf(ctx); t != nil {
		return t.expire(ctx, key, ttl)
	}
	return c.keyBool(ctx, CmdExpire, key, func(ctx context.Context, r *route) (bool, error) {
		return r.backend.Expire(ctx, key, ttl)
	})
}

// keyBool runs a single-key command that returns a bool.
func (c *Cache) keyBool(ctx context.Context, cmd Command, key string, fn func(context.Context, *route) (bool, error)) (bool, error) {
	r, err := c.route(key)
	if err != nil {
		return false, err
	}
	if err := r.supports(cmd); err != nil {
		return false, err
	}
	res, err := c.run(ctx, Call{cmd: cmd, key: key, r: r, do: func(ctx context.Context) (Result, error) {
		ok, err := fn(ctx, r)
		return Result{OK: ok}, err
	}})
	return res.OK, err
}

// GetExpire returns the remaining TTL of key. The three cases are told apart by found and ttl:
// a missing key is (0, false, nil); a key without expiry is ([NoExpiration], true, nil); otherwise
// ttl is positive.
func (c *Cache) GetExpire(ctx context.Context, key string) (ttl time.Duration, found bool, err error) {
	if t := c.txOf(ctx); t != nil {
		return t.getExpire(ctx, key)
	}
	r, err := c.route(key)
	if err != nil {
		return 0, false, err
	}
	res, err := c.run(ctx, Call{cmd: CmdGetExpire, key: key, r: r, do: func(ctx context.Context) (Result, error) {
		ttl, found, err := r.backend.GetExpire(ctx, key)
		return Result{Value: ttl, OK: found}, err
	}})
	ttl, _ = res.Value.(time.Duration)
	return ttl, res.OK, err
}

// Incr adds by to the integer at key and returns the new value. A missing key counts from zero and,
// when ttl > 0, is created with that TTL; an existing key keeps its TTL. A value that is not an
// integer gives an error matching [ErrNotInteger]. When incr is disabled it returns (0, nil).
func (c *Cache) Incr(ctx context.Context, key string, by int64, ttl time.Duration) (int64, error) {
	if err := checkTTL(CmdIncr, ttl); err != nil {
		return 0, err
	}
	r, err := c.route(key)
	if err != nil {
		return 0, err
	}
	if err := r.supports(CmdIncr); err != nil {
		return 0, err
	}
	if t := c.txOf(ctx); t != nil && !c.off(ctx, r, CmdIncr) { // disabled: the switches answer 0
		return t.incr(ctx, r, key, by, ttl)
	}
	res, err := c.run(ctx, Call{cmd: CmdIncr, key: key, r: r, do: func(ctx context.Context) (Result, error) {
		n, err := r.counter.Incr(ctx, key, by, ttl)
		return Result{Value: n, OK: err == nil}, err
	}})
	n, _ := res.Value.(int64)
	return n, err
}

// ValueSize returns the size in bytes of the value at key (an estimate for Go values in memory); a
// missing key is 0.
func (c *Cache) ValueSize(ctx context.Context, key string) (int64, error) {
	r, err := c.route(key)
	if err != nil {
		return 0, err
	}
	if err := r.supports(CmdValueSize); err != nil {
		return 0, err
	}
	res, err := c.run(ctx, Call{cmd: CmdValueSize, key: key, r: r, do: func(ctx context.Context) (Result, error) {
		n, err := r.admin.ValueSize(ctx, key)
		return Result{Value: n, OK: n > 0}, err
	}})
	n, _ := res.Value.(int64)
	return n, err
}

// byRoute groups keys by their backend, keeping their order.
func (c *Cache) byRoute(keys []string) ([]*route, map[*route][]string, error) {
	var order []*route
	groups := make(map[*route][]string)
	for _, k := range keys {
		r, err := c.route(k)
		if err != nil {
			return nil, nil, err
		}
		if _, seen := groups[r]; !seen {
			order = append(order, r)
		}
		groups[r] = append(groups[r], k)
	}
	return order, groups, nil
}

// SetMany stores every value of items for ttl, encoding values for byte backends.
func (c *Cache) SetMany(ctx context.Context, items map[string]any, ttl time.Duration) error {
	if err := checkTTL(CmdSetMany, ttl); err != nil {
		return err
	}
	if t := c.txOf(ctx); t != nil {
		return t.setMany(ctx, items, ttl)
	}
	keys := make([]string, 0, len(items))
	for k := range items {
		keys = append(keys, k)
	}
	order, groups, err := c.byRoute(keys)
	if err != nil {
		return err
	}
	for _, r := range order {
		if c.off(ctx, r, CmdSetMany) {
			continue // the switches would turn it away: no need to encode
		}
		batch := make([]backends.Item, 0, len(groups[r]))
		for _, k := range groups[r] {
			v, err := r.encode(k, items[k])
			if err != nil {
				return err
			}
			batch = append(batch, backends.Item{Key: k, Value: v, TTL: ttl})
		}
		_, err := c.run(ctx, Call{cmd: CmdSetMany, keys: groups[r], r: r, do: func(ctx context.Context) (Result, error) {
			err := r.setMany(ctx, batch)
			return Result{OK: err == nil}, err
		}})
		if err != nil {
			return err
		}
	}
	return nil
}

// getMany reads keys route by route and calls fn for each key found, with its route and raw value.
func (c *Cache) getMany(ctx context.Context, keys []string, fn func(r *route, key string, v any) error) error {
	if t := c.txOf(ctx); t != nil {
		return t.getMany(ctx, keys, fn)
	}
	order, groups, err := c.byRoute(keys)
	if err != nil {
		return err
	}
	for _, r := range order {
		ks := groups[r]
		res, err := c.run(ctx, Call{cmd: CmdGetMany, keys: ks, r: r, do: func(ctx context.Context) (Result, error) {
			entries, err := r.getMany(ctx, ks)
			return Result{Value: entries, OK: err == nil}, err
		}})
		if err != nil {
			return err
		}
		entries, _ := res.Value.([]backends.Entry)
		if len(entries) != len(ks) {
			return fmt.Errorf("cashews: get_many on %s returned %d entries for %d keys", r.url, len(entries), len(ks))
		}
		for i, e := range entries {
			if !e.Found {
				continue
			}
			if err := fn(r, ks[i], e.Value); err != nil {
				return err
			}
		}
	}
	return nil
}

// DeleteMany removes keys and returns how many were present.
func (c *Cache) DeleteMany(ctx context.Context, keys ...string) (int, error) {
	if t := c.txOf(ctx); t != nil {
		return t.delete(ctx, keys...)
	}
	order, groups, err := c.byRoute(keys)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, r := range order {
		ks := groups[r]
		res, err := c.run(ctx, Call{cmd: CmdDeleteMany, keys: ks, r: r, do: func(ctx context.Context) (Result, error) {
			n, err := r.deleteMany(ctx, ks)
			return Result{Value: n, OK: n > 0}, err
		}})
		n, _ := res.Value.(int)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// patternRoutes returns the backends that may hold keys matching pattern: those whose prefix and the
// pattern's literal prefix agree.
func (c *Cache) patternRoutes(pattern string) []*route {
	lit := backends.LiteralPrefix(pattern)
	var out []*route
	for _, r := range c.routeList() {
		if strings.HasPrefix(lit, r.prefix) || strings.HasPrefix(r.prefix, lit) {
			out = append(out, r)
		}
	}
	return out
}

// DeleteMatch removes every key matching the glob pattern (Redis rules: *, ?, [a-z], \ escapes) from
// every backend that may hold such keys, and returns how many it removed.
func (c *Cache) DeleteMatch(ctx context.Context, pattern string) (int, error) {
	if c == nil {
		return 0, errNilCache
	}
	if t := c.txOf(ctx); t != nil {
		return t.deleteMatch(ctx, pattern)
	}
	total := 0
	for _, r := range c.patternRoutes(pattern) {
		if err := r.supports(CmdDeleteMatch); err != nil {
			return total, err
		}
		res, err := c.run(ctx, Call{cmd: CmdDeleteMatch, key: pattern, r: r, do: func(ctx context.Context) (Result, error) {
			n, err := r.deleteMatch(ctx, pattern)
			return Result{Value: n, OK: n > 0}, err
		}})
		n, _ := res.Value.(int)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// ScanOption modifies Scan and GetMatch.
type ScanOption func(*scanConfig)

type scanConfig struct{ batch int }

// Batch sets how many keys Scan and GetMatch fetch from a backend at a time (default 100).
func Batch(n int) ScanOption {
	return func(s *scanConfig) {
		if n > 0 {
			s.batch = n
		}
	}
}

// scan calls fn with each batch of keys matching pattern, route by route, until fn returns false.
// Keys that route to another backend and the Cache's internal keys are left out.
func (c *Cache) scan(ctx context.Context, pattern string, opts []ScanOption, fn func(r *route, keys []string) bool) error {
	if c == nil {
		return errNilCache
	}
	sc := scanConfig{batch: 100}
	for i, o := range opts {
		if o == nil {
			return fmt.Errorf("%w: scan option %d of %d is nil", ErrInvalidArgument, i+1, len(opts))
		}
		o(&sc)
	}
	if t := c.txOf(ctx); t != nil {
		return t.scan(ctx, pattern, opts, fn)
	}
	for _, r := range c.patternRoutes(pattern) {
		if err := r.supports(CmdScan); err != nil {
			return err
		}
		// One scan of a backend is one command for the hooks, however many batches it takes;
		// its result's Value is the number of keys it yielded.
		more := true
		_, err := c.run(ctx, Call{cmd: CmdScan, key: pattern, r: r, do: func(ctx context.Context) (Result, error) {
			n := 0
			for keys, err := range r.scanner.Scan(ctx, pattern, sc.batch) {
				if err != nil {
					return Result{Value: n, OK: n > 0}, err
				}
				kept := keys[:0:0]
				for _, k := range keys {
					if kr, err := c.route(k); err != nil || kr != r {
						continue
					}
					if strings.HasPrefix(k[len(r.prefix):], internalPrefix) {
						continue // the Cache's own, after the route's prefix (a transaction's lock)
					}
					kept = append(kept, k)
				}
				n += len(kept)
				if len(kept) > 0 && !fn(r, kept) {
					more = false
					break
				}
			}
			return Result{Value: n, OK: n > 0}, nil
		}})
		if err != nil {
			return err
		}
		if !more {
			return nil
		}
	}
	return nil
}

// Scan returns an iterator over the keys that match the glob pattern, fetched from the backends in
// batches (see [Batch]). A key present for the whole scan is yielded at least once. An error ends the
// sequence after it is yielded with an empty key.
func (c *Cache) Scan(ctx context.Context, pattern string, opts ...ScanOption) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		stopped := false
		err := c.scan(ctx, pattern, opts, func(_ *route, keys []string) bool {
			for _, k := range keys {
				if !yield(k, nil) {
					stopped = true
					return false
				}
			}
			return true
		})
		if err != nil && !stopped {
			yield("", err)
		}
	}
}

// Ping checks every backend and returns their errors joined.
func (c *Cache) Ping(ctx context.Context) error {
	return c.eachRoute(ctx, CmdPing, func(ctx context.Context, r *route) (Result, error) {
		err := r.health.ping(ctx)
		return Result{OK: err == nil}, err
	})
}

// Clear removes every key of every backend, including keys that other programs sharing the store
// wrote (for Redis, this is FLUSHDB).
func (c *Cache) Clear(ctx context.Context) error {
	if c.txOf(ctx) != nil {
		return fmt.Errorf("%w: Clear inside a transaction", ErrInvalidArgument)
	}
	return c.eachRoute(ctx, CmdClear, func(ctx context.Context, r *route) (Result, error) {
		err := r.admin.Clear(ctx)
		return Result{OK: err == nil}, err
	})
}

// KeysCount returns the number of keys over all backends, as each backend counts them (see the
// backend's documentation: Redis' DBSIZE also counts the keys that keep its tags).
func (c *Cache) KeysCount(ctx context.Context) (int64, error) {
	var total int64
	err := c.eachRoute(ctx, CmdKeysCount, func(ctx context.Context, r *route) (Result, error) {
		n, err := r.admin.KeysCount(ctx)
		total += n
		return Result{Value: n, OK: err == nil}, err
	})
	return total, err
}

func (c *Cache) eachRoute(ctx context.Context, cmd Command, fn func(context.Context, *route) (Result, error)) error {
	if c == nil {
		return errNilCache
	}
	if c.closed.Load() {
		return ErrClosed
	}
	var errs []error
	for _, r := range c.routeList() {
		if err := r.supports(cmd); err != nil {
			errs = append(errs, err)
			continue
		}
		if _, err := c.run(ctx, Call{cmd: cmd, r: r, do: func(ctx context.Context) (Result, error) { return fn(ctx, r) }}); err != nil {
			errs = append(errs, fmt.Errorf("cashews: %s on %s: %w", cmd, r.url, err))
		}
	}
	return errors.Join(errs...)
}

// DeleteTags removes every key that carries any of the tags, from every backend, and returns how
// many it removed. A key carries the tags of the Set (or wrapped call) that stored its current value:
// a later write of the key without them, a Delete or its expiry end them. A Set with the tag that
// returned before DeleteTags started is always seen, whatever the backend's bounds and eviction.
func (c *Cache) DeleteTags(ctx context.Context, tags ...string) (int, error) {
	if c == nil {
		return 0, errNilCache
	}
	total := 0
	if len(tags) == 0 {
		return 0, nil
	}
	if t := c.txOf(ctx); t != nil {
		return t.deleteTags(ctx, tags...)
	}
	for _, r := range c.routeList() {
		tg := r.tagger
		if tg == nil {
			continue // it holds no tagged keys: Set with tags fails there
		}
		res, err := c.run(ctx, Call{cmd: CmdDeleteTags, tags: tags, r: r, do: func(ctx context.Context) (Result, error) {
			n, err := tg.DeleteTags(ctx, tags...)
			return Result{Value: n, OK: n > 0}, err
		}})
		n, _ := res.Value.(int)
		total += n
		if err != nil {
			return total, fmt.Errorf("cashews: delete tags %s on %s: %w", quote.Strings(tags), r.url, err)
		}
	}
	return total, nil
}

// TagKeys returns the keys that carry tag and are still present, from every backend.
func (c *Cache) TagKeys(ctx context.Context, tag string) ([]string, error) {
	if c == nil {
		return nil, errNilCache
	}
	if t := c.txOf(ctx); t != nil {
		return t.tagKeys(ctx, tag)
	}
	var out []string
	for _, r := range c.routeList() {
		tg := r.tagger
		if tg == nil {
			continue
		}
		res, err := c.run(ctx, Call{cmd: CmdTagKeys, tags: []string{tag}, r: r, do: func(ctx context.Context) (Result, error) {
			keys, err := tg.TagKeys(ctx, tag)
			return Result{Value: keys, OK: len(keys) > 0}, err
		}})
		if err != nil {
			return out, fmt.Errorf("cashews: tag keys %s on %s: %w", quote.String(tag), r.url, err)
		}
		keys, _ := res.Value.([]string)
		out = append(out, keys...)
	}
	return out, nil
}

// SetAdd adds members to the set at key and returns how many were new. With ttl > 0 the set
// expires no earlier than ttl from now; with ttl == 0 it never expires.
func (c *Cache) SetAdd(ctx context.Context, key string, ttl time.Duration, members ...string) (int, error) {
	if err := checkTTL(CmdSetAdd, ttl); err != nil {
		return 0, err
	}
	return c.keyInt(ctx, CmdSetAdd, key, func(ctx context.Context, r *route) (int, error) {
		return r.sets.SetAdd(ctx, key, ttl, members...)
	})
}

// SetRemove removes members from the set at key and returns how many were present.
func (c *Cache) SetRemove(ctx context.Context, key string, members ...string) (int, error) {
	return c.keyInt(ctx, CmdSetRemove, key, func(ctx context.Context, r *route) (int, error) {
		return r.sets.SetRemove(ctx, key, members...)
	})
}

func (c *Cache) keyInt(ctx context.Context, cmd Command, key string, fn func(context.Context, *route) (int, error)) (int, error) {
	r, err := c.route(key)
	if err != nil {
		return 0, err
	}
	if err := r.supports(cmd); err != nil {
		return 0, err
	}
	res, err := c.run(ctx, Call{cmd: cmd, key: key, r: r, do: func(ctx context.Context) (Result, error) {
		n, err := fn(ctx, r)
		return Result{Value: n, OK: n > 0}, err
	}})
	n, _ := res.Value.(int)
	return n, err
}

// SetPop removes and returns up to count members of the set at key; a missing key gives none.
func (c *Cache) SetPop(ctx context.Context, key string, count int) ([]string, error) {
	return c.keyStrings(ctx, CmdSetPop, key, func(ctx context.Context, r *route) ([]string, error) {
		return r.sets.SetPop(ctx, key, count)
	})
}

// SetMembers returns the members of the set at key; a missing key is an empty set.
func (c *Cache) SetMembers(ctx context.Context, key string) ([]string, error) {
	return c.keyStrings(ctx, CmdSetMembers, key, func(ctx context.Context, r *route) ([]string, error) {
		return r.sets.SetMembers(ctx, key)
	})
}

func (c *Cache) keyStrings(ctx context.Context, cmd Command, key string, fn func(context.Context, *route) ([]string, error)) ([]string, error) {
	r, err := c.route(key)
	if err != nil {
		return nil, err
	}
	if err := r.supports(cmd); err != nil {
		return nil, err
	}
	res, err := c.run(ctx, Call{cmd: cmd, key: key, r: r, do: func(ctx context.Context) (Result, error) {
		s, err := fn(ctx, r)
		return Result{Value: s, OK: len(s) > 0}, err
	}})
	s, _ := res.Value.([]string)
	return s, err
}

// GetBits returns the unsigned counters of size bits (1 to 63) at the given indexes of the bit array
// at key; a missing key reads as zeros, and so does a disabled command. Every backend lays the array
// out as Redis' BITFIELD (u<size> #index) does: counter i is bits i*size to i*size+size-1, most
// significant bit first, bit 0 being the top bit of byte 0, so counters written with one size read
// the same with another.
func (c *Cache) GetBits(ctx context.Context, key string, size int, indexes ...int64) ([]int64, error) {
	return c.keyBits(ctx, CmdGetBits, key, len(indexes), func(ctx context.Context, r *route) ([]int64, error) {
		return r.bits.GetBits(ctx, key, size, indexes...)
	})
}

// IncrBits adds by to the counters of size bits at the given indexes, saturating at 0 and
// 2^size-1, and returns their new values. Together with GetBits it makes Bloom filters and
// counting sketches.
func (c *Cache) IncrBits(ctx context.Context, key string, size int, by int64, indexes ...int64) ([]int64, error) {
	return c.keyBits(ctx, CmdIncrBits, key, len(indexes), func(ctx context.Context, r *route) ([]int64, error) {
		return r.bits.IncrBits(ctx, key, size, by, indexes...)
	})
}

// keyBits runs get_bits or incr_bits. When the switches or suppression answer with no counters,
// they read as n zeros.
func (c *Cache) keyBits(ctx context.Context, cmd Command, key string, n int, fn func(context.Context, *route) ([]int64, error)) ([]int64, error) {
	r, err := c.route(key)
	if err != nil {
		return nil, err
	}
	if err := r.supports(cmd); err != nil {
		return nil, err
	}
	res, err := c.run(ctx, Call{cmd: cmd, key: key, r: r, do: func(ctx context.Context) (Result, error) {
		v, err := fn(ctx, r)
		return Result{Value: v, OK: err == nil}, err
	}})
	v, _ := res.Value.([]int64)
	if v == nil && err == nil {
		v = make([]int64, n)
	}
	return v, err
}

// SliceIncr is the sliding-window counter: atomically, it forgets the events at key older than
// window, then records one event now if fewer than limit remain. It returns the number of events in
// the window after the call and whether this one was recorded; at most limit events are kept. The
// rate limit strategies are built on it. The window and the limit must be positive: a limit of 0 (or
// less) is an error matching [ErrInvalidArgument] on every backend, as a call that could never record
// is a mistake in the program. When disabled it returns (0, true, nil).
func (c *Cache) SliceIncr(ctx context.Context, key string, window time.Duration, limit int64) (count int64, recorded bool, err error) {
	if window <= 0 || limit <= 0 {
		return 0, false, fmt.Errorf("%w: slice_incr: window %v and limit %d must be positive", ErrInvalidArgument, window, limit)
	}
	r, err := c.route(key)
	if err != nil {
		return 0, false, err
	}
	if err := r.supports(CmdSliceIncr); err != nil {
		return 0, false, err
	}
	now := c.clock.Now()
	res, err := c.run(ctx, Call{cmd: CmdSliceIncr, key: key, r: r, do: func(ctx context.Context) (Result, error) {
		n, rec, err := r.window.SliceIncr(ctx, key, now, window, limit)
		return Result{Value: n, OK: rec}, err
	}})
	n, _ := res.Value.(int64)
	return n, res.OK, err
}
