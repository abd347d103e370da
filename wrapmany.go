package cashews

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/detect"
	"github.com/cashews-go/cashews/internal/flight"
	"github.com/cashews-go/cashews/internal/quote"
	"github.com/cashews-go/cashews/internal/stats"
	"github.com/cashews-go/cashews/keytemplate"
)

// WrapMany returns fn, a function that loads many ids at once, with a cache around each id's value:
// sturdyc's batch loading. A call of the wrapped function
//
//   - reads the entries of all its ids in one batched command (GetMany: one pipelined round trip on
//     Redis, per node on a Cluster; one command per backend when the keys go to several);
//   - calls fn once, with only the ids that missed, and returns the values from cache and from fn
//     together, in one map;
//   - stores each value fn returned under its own key, rendered by the [Key] template over the id
//     ("user:{.}" for an int id), with its own TTL ([TTL], [TTLFunc] over the id, or [ResultTTL]
//     over the value), in one SetMany per backend (one Set per key when the Wrap has [Tags]).
//
// Ids fn leaves out of its map are not found: they are absent from the result and nothing is stored
// for them. An error from fn fails the call: the wrapped function returns the values it found in the
// cache together with the error, and stores nothing. Duplicate ids in one call count once.
//
// Concurrent calls share work per id (unless [NoDedup]): an id that another call is loading is not
// loaded again; the call waits for that load's result, so two batches that share ids load each shared
// id once. Each caller waits on its own context; a load runs detached from the callers'
// cancellation, bounded by [LoadTimeout] (or the Cache's [WithLoadTimeout]), and is cancelled when
// every caller waiting for it has given up. A panic in fn reaches every waiting caller as an error.
//
// Like [Wrap], the wrapped function fails open: when the cache cannot be read, every id misses and fn
// loads them all; when the values cannot be stored, they are returned all the same; the failure is
// logged once per burst and counted ([Cache.SuppressedErrors]). [Strict] returns read errors instead.
//
// The strategy is simple (the default) or strategies.Early: then each entry turns stale earlyTTL
// after it was stored, a call that finds stale entries returns them, and the stale ids of a call are
// refreshed together in one background batch (one refresh per id at a time in this process), in a
// goroutine the Cache owns and Close stops. Other strategies are a configuration error, as are
// [StoreErrors] and [OnlyStoreErrors] (fn's error belongs to the batch, not to one id). [StoreIf]
// sees each value with a nil error; [MinLatency] compares the batch's duration.
//
// Every id served from cache records a detect hit (strategy "many", or "early"), and Stats counts
// each id as a call of the function, a hit or a miss; a batch load counts as one load.
//
// Configuration mistakes are returned here, as by [Wrap]; [MustWrapMany] panics with them.
func WrapMany[ID comparable, V any](c *Cache, fn func(context.Context, []ID) (map[ID]V, error), opts ...WrapOption) (func(context.Context, []ID) (map[ID]V, error), error) {
	if fn == nil {
		return nil, fmt.Errorf("%w: WrapMany of a nil function", ErrConfig)
	}
	cfg, name, err := wrapConfig("WrapMany", c, fn, opts)
	if err != nil {
		return nil, err
	}
	if errs := resolve[ID, V](cfg, name); len(errs) > 0 {
		return nil, fmt.Errorf("cashews: WrapMany %s: %w", name, errors.Join(errs...))
	}
	if cfg.Replay != nil {
		return nil, fmt.Errorf("%w: %s: WrapMany does not store errors (StoreErrors, OnlyStoreErrors): an error of the function belongs to the whole batch", ErrConfig, name)
	}
	if cfg.Key == "" && anonymous(name) {
		return nil, fmt.Errorf("%w: %s is an anonymous function: give it a Key template or a Name, so that its keys mean something and stay the same across builds", ErrConfig, name)
	}
	tmpl, err := keyTemplate[ID](cfg, name)
	if err != nil {
		return nil, fmt.Errorf("cashews: WrapMany %s: %w", name, err)
	}
	tags := make([]*keytemplate.Template[ID], len(cfg.Tags))
	for i, src := range cfg.Tags {
		if tags[i], err = keytemplate.Compile[ID](src); err != nil {
			return nil, fmt.Errorf("cashews: WrapMany %s: tag: %w", name, err)
		}
	}
	m := &many[ID, V]{
		c: c, fn: fn, name: name, cfg: cfg, tmpl: tmpl, tags: tags, strategy: "many",
		strict: cfg.Strict || c.strict, loadTimeout: cfg.LoadTimeout,
	}
	if m.loadTimeout == 0 {
		m.loadTimeout = c.loadTimeout
	}
	if cfg.Key == "" {
		m.prefix = cfg.Prefix
	}
	if err := checkResultType[V](c, m.prefix+literalPrefix(tmpl.String())); err != nil {
		return nil, fmt.Errorf("cashews: WrapMany %s: %w", name, err)
	}
	m.ent = newEntries[V](c, shapeOf[V](cfg.Version), nil)
	m.st = c.stats.fn(statsName(name, tmpl.String()))
	m.env = &Env{Cache: c, entries: m.ent, Config: cfg, Name: name, Strict: m.strict, LoadTimeout: m.loadTimeout, Stats: m.st}
	switch s := cfg.strategy.(type) {
	case nil:
	case interface {
		Strategy
		EarlyRefresh() (earlyTTL, timeout time.Duration)
	}:
		// Decorate checks the early options against the TTL options, as for Wrap.
		if _, err := s.Decorate(func(context.Context, WrapCall) (any, error) { return nil, nil }, m.env); err != nil {
			return nil, fmt.Errorf("cashews: WrapMany %s: %w", name, err)
		}
		if err := c.requireStrategy(s.Name(), m.prefix+literalPrefix(tmpl.String())); err != nil {
			return nil, fmt.Errorf("cashews: WrapMany %s: %w", name, err)
		}
		m.earlyTTL, m.refreshTimeout = s.EarlyRefresh()
		m.strategy = s.Name()
	default:
		return nil, fmt.Errorf("%w: %s: WrapMany takes the simple or the early strategy, not %s", ErrConfig, name, s.Name())
	}
	if err := m.env.RequireTTL(m.strategy); err != nil {
		return nil, err
	}
	return m.call, nil
}

// MustWrapMany is [WrapMany] that panics with a configuration mistake instead of returning it.
func MustWrapMany[ID comparable, V any](c *Cache, fn func(context.Context, []ID) (map[ID]V, error), opts ...WrapOption) func(context.Context, []ID) (map[ID]V, error) {
	w, err := WrapMany(c, fn, opts...)
	if err != nil {
		panic(err)
	}
	return w
}

// many is one function wrapped by WrapMany.
type many[ID comparable, V any] struct {
	c        *Cache
	fn       func(context.Context, []ID) (map[ID]V, error)
	name     string
	cfg      *WrapConfig
	env      *Env
	ent      *entries[V]
	tmpl     *keytemplate.Template[ID]
	prefix   string // the KeyPrefix of a default key (a template has it compiled in)
	tags     []*keytemplate.Template[ID]
	st       *stats.Func
	strategy string // for detect: "many" or "early"
	strict   bool

	loadTimeout    time.Duration
	earlyTTL       time.Duration // with strategies.Early: entries turn stale after it; else 0
	refreshTimeout time.Duration

	mu         sync.Mutex
	inflight   map[string]*batch[V] // keys being loaded, by the batch loading them
	recent     map[string]*batch[V] // keys of batches that finished lately, for callers with an earlier mark
	refreshing map[string]struct{}  // keys with a background refresh running
	seq        uint64               // batches finished so far
	swept      time.Time
}

// batch is one run of the wrapped function for the keys it claimed.
type batch[V any] struct {
	done     chan struct{}
	keys     []string
	vals     map[string]V // by key: the values the function returned; set before done closes
	err      error
	waiters  int // callers waiting, under many.mu
	cancel   context.CancelFunc
	gone     bool // every waiter gave up
	finished uint64
	at       time.Time
}

// one is an id of a call with its key.
type one[ID comparable] struct {
	id  ID
	key string
}

func (m *many[ID, V]) call(ctx context.Context, ids []ID) (map[ID]V, error) {
	// The ids, each once, with their keys.
	items := make([]one[ID], 0, len(ids))
	seen := make(map[ID]struct{}, len(ids))
	for _, id := range ids {
		if _, dup := seen[id]; dup {
			continue
		}
		seen[id] = struct{}{}
		key, err := m.tmpl.Render(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("cashews: %s: key: %w", m.name, err)
		}
		items = append(items, one[ID]{id, m.prefix + key})
	}
	out := make(map[ID]V, len(items))
	if len(items) == 0 {
		return out, nil
	}
	for range items {
		m.st.Inc(stats.Calls)
	}

	recompute := m.env.Mark(ctx) == flight.NoMark
	mark := m.mark()
	var missed, stale []one[ID]
	if recompute {
		missed = items
	} else {
		keys := make([]string, len(items))
		for i, it := range items {
			keys[i] = it.key
		}
		got, err := m.ent.getMany(ctx, keys)
		if err != nil {
			if m.strict || !routable(ctx, err) {
				return nil, err
			}
			m.c.bypass(ctx, keys[0], err)
			got = nil
		}
		d := detect.FromContext(ctx)
		now := m.c.clock.Now().UnixNano()
		for i, it := range items {
			var e *Entry
			if got != nil {
				e = got[i]
			}
			v, ok := entryValue[V](e)
			if !ok {
				m.st.Inc(stats.FuncMisses)
				missed = append(missed, it)
				continue
			}
			out[it.id] = v
			if e.Stale > 0 && now >= e.Stale {
				m.st.Inc2(stats.FuncHits, stats.StaleEarly)
				stale = append(stale, it)
			} else {
				m.st.Inc(stats.FuncHits)
			}
			if d != nil {
				h := detect.Hit{Key: it.key, Strategy: m.strategy, Backend: m.c.BackendName(it.key)}
				if e.Expires > 0 {
					h.TTL = time.Duration(e.Expires - now)
				}
				d.Add(h)
			}
		}
	}
	if len(stale) > 0 {
		m.refresh(ctx, stale)
	}
	if len(missed) == 0 {
		return out, nil
	}
	if recompute {
		mark = noMark
	}
	vals, err := m.load(ctx, missed, mark)
	for _, it := range missed {
		if v, ok := vals[it.key]; ok {
			out[it.id] = v
		}
	}
	return out, err
}

// entryValue returns the value of an entry that holds a V (an entry another Wrap stored with an
// error result is a miss).
func entryValue[V any](e *Entry) (V, bool) {
	var zero V
	if e == nil || e.Err != nil {
		return zero, false
	}
	if e.Value == nil {
		return zero, true // a stored nil of a nilable V
	}
	v, ok := e.Value.(V)
	return v, ok
}

const noMark = ^uint64(0)

// recentFor is how long a finished batch's values stay available to callers whose reads began before
// it finished (as in internal/flight).
const recentFor = 2 * time.Second

func (m *many[ID, V]) mark() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seq
}

// load returns the values of missed, by key: it joins the batches already loading some of them,
// takes the values of batches that finished after mark, and runs the function once for the rest.
func (m *many[ID, V]) load(ctx context.Context, missed []one[ID], mark uint64) (map[string]V, error) {
	if m.cfg.NoDedup {
		b := m.start(ctx, missed, false)
		select {
		case <-b.done:
			return b.vals, b.err
		case <-ctx.Done():
			b.cancel()
			return nil, ctx.Err()
		}
	}
	vals := make(map[string]V, len(missed))
	var waits []*batch[V]
	var claim []one[ID]
	m.mu.Lock()
	if m.inflight == nil {
		m.inflight = map[string]*batch[V]{}
	}
	joined := map[*batch[V]]bool{}
	for _, it := range missed {
		if b := m.inflight[it.key]; b != nil {
			if !joined[b] {
				joined[b] = true
				waits = append(waits, b)
			}
			continue
		}
		if b := m.recent[it.key]; b != nil && mark != noMark && b.finished > mark {
			if v, ok := b.vals[it.key]; ok {
				vals[it.key] = v
			}
			continue
		}
		claim = append(claim, it)
	}
	if len(claim) > 0 {
		b := m.start(ctx, claim, true)
		waits = append(waits, b)
	}
	for _, b := range waits {
		b.waiters++
	}
	m.mu.Unlock()

	var errs []error
	for i, b := range waits {
		select {
		case <-b.done:
		case <-ctx.Done():
			m.leave(waits[i:])
			return vals, ctx.Err()
		}
		if b.err != nil {
			errs = append(errs, b.err)
			continue
		}
		for _, it := range missed {
			if v, ok := b.vals[it.key]; ok {
				vals[it.key] = v
			}
		}
	}
	if len(errs) > 0 {
		return vals, fmt.Errorf("cashews: %s: %w", m.name, errors.Join(errs...))
	}
	return vals, nil
}

// leave takes a caller who gave up off bs; a batch that nobody waits for any more is cancelled, and
// its keys are free for the next caller. A batch that finished meanwhile is left alone.
func (m *many[ID, V]) leave(bs []*batch[V]) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range bs {
		select {
		case <-b.done:
			continue
		default:
		}
		b.waiters--
		if b.waiters == 0 && !b.gone {
			b.gone = true
			b.cancel()
			for _, k := range b.keys {
				if m.inflight[k] == b {
					delete(m.inflight, k)
				}
			}
		}
	}
}

// start runs the function for items in a goroutine of its own, detached from ctx's cancellation
// but not its values, bounded by the load timeout. With register, the batch is entered in
// m.inflight for its keys; m.mu is then held by the caller.
func (m *many[ID, V]) start(ctx context.Context, items []one[ID], register bool) *batch[V] {
	b := &batch[V]{done: make(chan struct{}), keys: make([]string, len(items))}
	for i, it := range items {
		b.keys[i] = it.key
		if register {
			m.inflight[it.key] = b
		}
	}
	bctx := context.WithoutCancel(ctx)
	if m.loadTimeout > 0 {
		bctx, b.cancel = context.WithTimeout(bctx, m.loadTimeout)
	} else {
		bctx, b.cancel = context.WithCancel(bctx)
	}
	go func() {
		defer b.cancel()
		m.run(bctx, b, items, register)
	}()
	return b
}

// run loads items, stores their values and finishes b.
func (m *many[ID, V]) run(ctx context.Context, b *batch[V], items []one[ID], registered bool) {
	vals, err := m.fetch(ctx, items)
	b.vals, b.err = vals, err
	if !registered {
		close(b.done)
		return
	}
	m.mu.Lock()
	for _, k := range b.keys {
		if m.inflight[k] == b {
			delete(m.inflight, k)
		}
	}
	m.seq++
	b.finished, b.at = m.seq, time.Now()
	if err == nil && !b.gone {
		m.remember(b)
	}
	m.mu.Unlock()
	close(b.done)
}

// remember keeps b's keys in m.recent for callers with an earlier mark, and forgets batches older
// than recentFor. m.mu is held.
func (m *many[ID, V]) remember(b *batch[V]) {
	if m.recent == nil {
		m.recent = map[string]*batch[V]{}
	}
	if b.at.Sub(m.swept) > recentFor {
		for k, r := range m.recent {
			if b.at.Sub(r.at) > recentFor {
				delete(m.recent, k)
			}
		}
		m.swept = b.at
	}
	for _, k := range b.keys {
		m.recent[k] = b
	}
}

// fetch calls the function with the ids of items and stores what it returns. It returns the values
// by key. A panic of the function is returned as a *flight.PanicError.
func (m *many[ID, V]) fetch(ctx context.Context, items []one[ID]) (vals map[string]V, err error) {
	ids := make([]ID, len(items))
	for i, it := range items {
		ids[i] = it.id
	}
	start := m.c.clock.Now()
	failed := true
	defer func() {
		if r := recover(); r != nil {
			vals, err = nil, &flight.PanicError{Value: r, Stack: debug.Stack()}
		}
		m.st.Load(m.c.clock.Now().Sub(start), failed)
	}()
	got, err := m.fn(ctx, ids)
	failed = err != nil && !errors.Is(err, ErrNotFound)
	if err != nil {
		return nil, err
	}
	elapsed := m.c.clock.Now().Sub(start)
	vals = make(map[string]V, len(got))
	store := make([]manyItem, 0, len(got))
	for _, it := range items {
		v, ok := got[it.id]
		if !ok {
			continue
		}
		vals[it.key] = v
		if elapsed < m.cfg.MinLatency {
			continue
		}
		if cond := m.cfg.Condition; cond != nil && cond(v, nil) != StoreValue {
			continue
		}
		call := WrapCall{Key: it.key, TTL: m.cfg.TTL, Arg: it.id}
		switch {
		case m.cfg.TTLFunc != nil:
			call.TTL = backends.CapTTL(m.cfg.TTLFunc(it.id))
		case m.cfg.ResultTTL != nil:
			if call.TTL = m.cfg.ResultTTL(v, nil); call.TTL <= 0 {
				continue
			}
			call.TTL = backends.CapTTL(call.TTL)
		}
		if len(m.tags) > 0 {
			call.Tags = make([]string, len(m.tags))
			for i, t := range m.tags {
				if call.Tags[i], err = t.Render(ctx, it.id); err != nil {
					return nil, fmt.Errorf("cashews: %s: tag: %w", m.name, err)
				}
			}
		}
		e := m.env.NewEntry(call, m.earlyTTL)
		e.Value = v
		store = append(store, manyItem{key: it.key, entry: e, ttl: call.TTL, tags: call.Tags})
	}
	if len(store) > 0 {
		if serr := m.ent.setMany(ctx, store); serr != nil && !m.strict {
			m.env.RouteAround(ctx, store[0].key, serr)
		}
	}
	return vals, nil
}

// refresh starts one background batch that loads stale again, leaving out the keys that a refresh
// or a load is already running for. It runs in a goroutine the Cache owns (Close cancels and waits
// for it), detached from the caller's cancellation, bounded by the refresh timeout; a refresh that
// fails leaves the stale entries in place.
func (m *many[ID, V]) refresh(ctx context.Context, stale []one[ID]) {
	m.mu.Lock()
	if m.refreshing == nil {
		m.refreshing = map[string]struct{}{}
	}
	var todo []one[ID]
	for _, it := range stale {
		if _, running := m.refreshing[it.key]; running {
			continue
		}
		if m.inflight[it.key] != nil {
			continue
		}
		m.refreshing[it.key] = struct{}{}
		todo = append(todo, it)
	}
	m.mu.Unlock()
	if len(todo) == 0 {
		return
	}
	done := func() {
		m.mu.Lock()
		for _, it := range todo {
			delete(m.refreshing, it.key)
		}
		m.mu.Unlock()
	}
	caller := context.WithoutCancel(ctx)
	started := m.c.Go(func(bg context.Context) {
		defer done()
		rctx, cancel := context.WithTimeout(caller, m.refreshTimeout)
		defer cancel()
		stop := context.AfterFunc(bg, cancel)
		defer stop()
		if detect.FromContext(rctx) != nil {
			rctx, _ = detect.New(rctx) // the refresh's hits are not the caller's
		}
		m.fetch(rctx, todo)
	})
	if !started {
		done()
		return
	}
	for range todo {
		m.st.Inc(stats.Refreshes)
	}
}

// manyItem is one entry that a WrapMany stores.
type manyItem struct {
	key   string
	entry *Entry
	ttl   time.Duration
	tags  []string
}

// getMany reads the entries at keys in one GetMany per backend and returns them in the order of
// keys, nil for a miss (see [entries.Get] for what reads as one).
func (s *entries[R]) getMany(ctx context.Context, keys []string) ([]*Entry, error) {
	if r := s.c.only.Load(); r != nil && s.c.txOf(ctx) == nil {
		return s.getManyOn(ctx, r, keys) // one backend takes every key: no grouping
	}
	at := make(map[string]int, len(keys))
	for i, k := range keys {
		at[k] = i
	}
	out := make([]*Entry, len(keys))
	err := s.c.getMany(ctx, keys, func(r *route, key string, v any) error {
		e, found, err := s.decode(ctx, r, key, v)
		if err != nil {
			return err
		}
		if found {
			out[at[key]] = e
		}
		return nil
	})
	return out, err
}

// getManyOn is getMany when every key goes to r.
func (s *entries[R]) getManyOn(ctx context.Context, r *route, keys []string) ([]*Entry, error) {
	out := make([]*Entry, len(keys))
	if s.c.off(ctx, r, CmdGetMany) {
		return out, nil
	}
	res, err := s.c.run(ctx, Call{cmd: CmdGetMany, keys: keys, r: r, do: func(ctx context.Context) (Result, error) {
		entries, err := r.getMany(ctx, keys)
		return Result{Value: entries, OK: err == nil}, err
	}})
	if err != nil {
		return nil, err
	}
	entries, _ := res.Value.([]backends.Entry)
	if len(entries) != len(keys) {
		return nil, fmt.Errorf("cashews: get_many on %s returned %d entries for %d keys", r.url, len(entries), len(keys))
	}
	for i, e := range entries {
		if !e.Found {
			continue
		}
		d, found, err := s.decode(ctx, r, keys[i], e.Value)
		if err != nil {
			return nil, err
		}
		if found {
			out[i] = d
		}
	}
	return out, nil
}

// setMany stores items: one SetMany per backend, or one Set per item when an item has tags (SetMany
// keeps no tags). An item that fails to encode is left out (and counted, see Cache.EncodeErrors).
func (s *entries[R]) setMany(ctx context.Context, items []manyItem) error {
	var errs []error
	batch := make([]backends.Item, 0, len(items))
	inTx := s.c.txOf(ctx) != nil // a transaction buffers each Set
	for _, it := range items {
		if err := checkTTL(CmdSetMany, it.ttl); err != nil {
			return err
		}
		if len(it.tags) > 0 || inTx {
			if _, err := s.Set(ctx, it.key, it.entry, it.ttl, it.tags); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		r, err := s.c.route(it.key)
		if err != nil {
			return err
		}
		v, err := s.encode(ctx, r, it.key, it.entry)
		if err != nil {
			continue // counted and logged by encode
		}
		batch = append(batch, backends.Item{Key: it.key, Value: v, TTL: it.ttl})
	}
	if err := s.c.setItems(ctx, batch); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// setItems stores encoded values with their own TTLs, in one SetMany per backend (WrapMany and
// the commit of a transaction).
func (c *Cache) setItems(ctx context.Context, items []backends.Item) error {
	groups := map[*route][]backends.Item{}
	var order []*route
	for _, it := range items {
		r, err := c.route(it.Key)
		if err != nil {
			return err
		}
		if c.off(ctx, r, CmdSetMany) {
			continue
		}
		if _, ok := groups[r]; !ok {
			order = append(order, r)
		}
		groups[r] = append(groups[r], it)
	}
	var errs []error
	for _, r := range order {
		batch := groups[r]
		keys := make([]string, len(batch))
		for i, it := range batch {
			keys[i] = it.Key
		}
		_, err := c.run(ctx, Call{cmd: CmdSetMany, keys: keys, r: r, do: func(ctx context.Context) (Result, error) {
			err := r.setMany(ctx, batch)
			return Result{OK: err == nil}, err
		}})
		if err != nil {
			errs = append(errs, fmt.Errorf("set %s: %w", quote.Strings(keys), err))
		}
	}
	return errors.Join(errs...)
}
