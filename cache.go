package cashews

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cashews-go/cashews/backends"
	_ "github.com/cashews-go/cashews/backends/memory" // registers mem://
	"github.com/cashews-go/cashews/codec"
	"github.com/cashews-go/cashews/internal/coarse"
	"github.com/cashews-go/cashews/internal/flight"
	"github.com/cashews-go/cashews/internal/quote"
	"github.com/cashews-go/cashews/internal/shared"
	"github.com/cashews-go/cashews/internal/stats"
)

// Cache routes each key to a backend by the longest matching prefix and runs the commands of the
// direct API on it. Create one with [New] and add backends with [Cache.Setup]. A Cache is safe for
// concurrent use; Setup, Use and Close may run while commands run.
type Cache struct {
	mu          sync.Mutex // serializes Setup, Use and Close
	routes      atomic.Pointer[[]*route]
	only        atomic.Pointer[route]   // the route when there is one and it takes every key (prefix ""); else nil
	hooks       atomic.Pointer[[]Hook]  // the hooks added by Use and OnCommand
	handler     atomic.Pointer[Handler] // the chain of hooks, built-in and the user's; nil when the user added none
	clock       backends.Clock
	coarse      *coarse.Clock // the system clock for expiry checks on reads (see expired); nil with WithClock
	logger      *slog.Logger
	closed      atomic.Bool
	loads       flight.Group[any]
	suppressed  atomic.Int64
	strict      bool          // WithStrict: wrapped functions and GetOrSet return backend errors
	loadTimeout time.Duration // WithLoadTimeout: the default bound of a shared load
	bypassLog   burstLog      // failures routed around at keys that no route takes

	stats statsRegistry // the counters behind Stats

	encodeErrors atomic.Int64 // results of wrapped functions their backend's codec could not encode
	encodeLog    burstLog
	tamperedLog  burstLog // values that bulk reads left out for failing their signature check

	tx txState // transactions (see Transaction)

	bgCtx    context.Context // cancelled by Close; background work runs under it
	bgCancel context.CancelFunc
	bgWG     sync.WaitGroup
}

// route is one backend with its prefix, value format, capabilities and built-in hooks.
type route struct {
	prefix   string
	url      string           // redacted, for hooks and errors
	backend  backends.Backend // the backend's core
	caps                      // the backend's capabilities (nil: missing, derived where exact)
	health   *health          // the health breaker (hook healthCheck)
	sup      *suppressor      // suppress=true (hook suppression); nil: off
	goValues bool             // the backend keeps Go values; format is nil
	format   *codec.Format    // encodes values for a byte backend
	disabled atomic.Uint64    // commandMask of disabled commands
	bypass   burstLog         // failures of this backend routed around by Wrap and GetOrSet
	tampered burstLog         // entries that failed to decode, replaced by Wrap and GetOrSet
	stats    *backendStats    // the backend's counters
	shares   bool             // the backend hands kept memory to reads marked by shared.Mark
}

// Option configures a Cache.
type Option func(*Cache)

// WithClock makes the Cache and the backends it sets up read time from clock instead of the system
// clock. Its purpose is testing: TTLs, rate windows and breakers move when the test says so.
func WithClock(clock backends.Clock) Option {
	return func(c *Cache) { c.clock = clock }
}

// WithLogger sets the logger of the Cache and its backends (default: slog.Default()). The Redis
// drivers' own messages go to it too, once per burst.
func WithLogger(logger *slog.Logger) Option {
	return func(c *Cache) { c.logger = logger }
}

// WithStrict makes wrapped functions and GetOrSet return the errors of the cache (a backend that
// cannot be reached, a command that timed out) instead of routing around them. By default they fail
// open: a read that fails counts as a miss, so the function runs, and a write that fails leaves the
// result unstored; the failure is logged once per burst and counted in [Cache.SuppressedErrors].
// [Strict] makes one wrapped function strict.
func WithStrict() Option {
	return func(c *Cache) { c.strict = true }
}

// WithLoadTimeout bounds every shared load (the run of a wrapped function or of GetOrSet's loader
// that concurrent callers wait for) to d, unless the Wrap sets its own [LoadTimeout]. The load's
// context ends after d even while callers still wait; zero means no bound (the default: a load ends
// when its function returns, or when every caller waiting for it has given up).
func WithLoadTimeout(d time.Duration) Option {
	return func(c *Cache) { c.loadTimeout = max(d, 0) }
}

// New returns a Cache with no backends. Call Setup before using it. Nil options are ignored, and so
// are a nil clock and a nil logger: the Cache then uses the system clock and slog.Default().
func New(opts ...Option) *Cache {
	c := &Cache{}
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	if c.clock == nil {
		c.clock = backends.SystemClock{}
	}
	_, system := c.clock.(backends.SystemClock)
	if c.logger == nil {
		c.logger = slog.Default()
	}
	c.bgCtx, c.bgCancel = context.WithCancel(context.Background())
	empty := []*route{}
	c.routes.Store(&empty)
	if system {
		c.coarse = coarse.New(unixNow, func(run func(stop <-chan struct{})) bool {
			return c.Go(func(ctx context.Context) { run(ctx.Done()) })
		})
	}
	return c
}

// SetupOption configures one backend at Setup.
type SetupOption func(*setupConfig)

type setupConfig struct {
	prefix     string
	onDeletion func(backends.Deletion)
	errs       []error
}

// WithPrefix routes the keys that start with p to the backend being set up. The prefix stays part of
// the key. Without it the backend gets every key that no other prefix claims.
func WithPrefix(p string) SetupOption {
	return func(s *setupConfig) { s.prefix = p }
}

// OnDeletion makes the backend being set up call fn for every entry that leaves it, with the cause:
// evicted for its bound on entries (backends.CauseSize) or bytes (CauseBytes), expired
// (CauseExpired), deleted by a command (CauseDeleted) or replaced by a write (CauseReplaced). fn
// runs in the goroutine that removed the entry (a command's, or the backend's purge), outside the
// backend's locks, so it may use the Cache; the command returns after fn did. The Value of a wrapped
// function's entry is its result. Keep fn fast: it runs on the write path.
//
// The backend must be able to tell (backends.DeletionNotifier): mem:// can, and its documentation
// says which entries it reports; disk:// and Redis cannot know of entries that other processes or
// the server remove, so Setup of one with OnDeletion is an error, as is a nil fn.
// Evictions are also counted without a callback, in [Cache.Stats].
func OnDeletion(fn func(backends.Deletion)) SetupOption {
	return func(s *setupConfig) {
		if fn == nil {
			s.errs = append(s.errs, fmt.Errorf("%w: OnDeletion with a nil function", ErrInvalidArgument))
		}
		s.onDeletion = fn
	}
}

// Setup opens the backend the URL names and routes keys to it. The scheme picks the backend (mem://
// is built in; redis://, rediss:// and disk:// need their package imported); the query holds its
// parameters. Parameters every backend takes:
//
//	enable=false, disable=true  start with every command disabled (see Cache.Enable); both given
//	                            and disagreeing is an error
//	suppress=true               backend errors become misses and false; they are logged once per
//	                            burst and counted (Cache.SuppressedErrors); lock commands and
//	                            counters still return theirs (matching ErrUnavailable)
//	codec=json|gob|raw          how byte backends encode values (default json)
//	compress=gzip|zlib          compress encoded values of at least compress_min bytes (default 1KiB)
//	secret=...                  sign every value (counters included) with HMAC over key and payload
//	digest=sha256|sha384|sha512 the HMAC hash (default sha256)
//
// An unknown scheme or parameter, or a value that does not parse, is an error that names it. Setting
// up a second backend for the same prefix is an error. A backend that cannot be reached yet is not:
// redis:// connects in the background (see its package). Every backend gets a health breaker: after
// 5 commands in a row fail with ErrUnavailable, its commands fail at once until it answers a ping.
func (c *Cache) Setup(rawURL string, opts ...SetupOption) error {
	sc, err := setupOptions(opts)
	if err != nil {
		return err
	}
	u, params, err := backends.ParseURL(rawURL)
	if err != nil {
		return err
	}
	factory, err := backends.Lookup(u.Scheme)
	if err != nil {
		return err
	}
	common, err := parseCommon(params)
	if err != nil {
		return err
	}
	b, err := factory(backends.Config{URL: u, Params: params, Clock: c.clock, Logger: c.logger})
	if err != nil {
		return err
	}
	if err := params.CheckUnused(); err != nil {
		b.Close()
		return err
	}
	if err := c.add(b, backends.Redact(u), sc, common); err != nil {
		b.Close()
		return err
	}
	return nil
}

// SetupBackend routes keys to a backend the caller opened (a Redis backend over an existing client,
// say). The Cache takes ownership: Close closes it. The params string holds the parameters every
// backend takes (see Setup), such as "suppress=true&secret=...", or is empty. A nil backend is an
// error matching [ErrInvalidArgument].
func (c *Cache) SetupBackend(b backends.Backend, params string, opts ...SetupOption) error {
	if isNil(b) {
		return fmt.Errorf("%w: SetupBackend with a nil backend (%T)", ErrInvalidArgument, b)
	}
	sc, err := setupOptions(opts)
	if err != nil {
		return err
	}
	_, p, err := backends.ParseURL("backend:?" + params)
	if err != nil {
		return err
	}
	common, err := parseCommon(p)
	if err != nil {
		return err
	}
	if err := p.CheckUnused(); err != nil {
		return err
	}
	return c.add(b, fmt.Sprintf("%T", b), sc, common)
}

// setupOptions applies opts; a nil one is an error.
func setupOptions(opts []SetupOption) (setupConfig, error) {
	var sc setupConfig
	for i, o := range opts {
		if o == nil {
			return sc, fmt.Errorf("%w: setup option %d of %d is nil", ErrInvalidArgument, i+1, len(opts))
		}
		o(&sc)
	}
	return sc, errors.Join(sc.errs...)
}

// isNil reports whether v is nil or holds a nil pointer, map, slice, channel or function.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Chan, reflect.Func, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

// commonParams are the setup parameters every backend takes.
type commonParams struct {
	disabled bool
	suppress bool
	format   codec.Options
	encoding bool // a codec parameter was given explicitly
}

func parseCommon(p *backends.Params) (commonParams, error) {
	var cp commonParams
	enable, err := p.Bool("enable", true)
	if err != nil {
		return cp, err
	}
	disable, err := p.Bool("disable", false)
	if err != nil {
		return cp, err
	}
	if p.Has("enable") && p.Has("disable") && enable == disable {
		return cp, fmt.Errorf("cashews: URL parameters enable=%s and disable=%s contradict each other: give one", p.String("enable", ""), p.String("disable", ""))
	}
	cp.disabled = !enable || disable
	if cp.suppress, err = p.Bool("suppress", false); err != nil {
		return cp, err
	}
	for _, name := range []string{"codec", "compress", "compress_min", "secret", "digest"} {
		if p.Has(name) {
			cp.encoding = true
		}
	}
	cp.format.Codec = p.String("codec", "")
	cp.format.Compress = p.String("compress", "")
	min, err := p.Size("compress_min", 0, 0, 1<<40)
	if err != nil {
		return cp, err
	}
	cp.format.CompressMin = int(min)
	cp.format.Secret = []byte(p.String("secret", ""))
	cp.format.Digest = p.String("digest", "")
	if p.Has("digest") && len(cp.format.Secret) == 0 {
		// Without a secret nothing is signed: a digest alone would look like protection and be none.
		return cp, fmt.Errorf("cashews: URL parameter digest=%s chooses the hash that signs values, but there is no secret to sign with: add secret=... or drop digest", quote.String(cp.format.Digest))
	}
	return cp, nil
}

func (c *Cache) add(b backends.Backend, name string, sc setupConfig, cp commonParams) error {
	prefix := sc.prefix
	r := &route{prefix: prefix, url: name, goValues: backends.StoresGoValues(b), stats: newBackendStats(name, prefix, b)}
	if sc.onDeletion != nil {
		n, ok := b.(backends.DeletionNotifier)
		if !ok {
			return fmt.Errorf("cashews: %s cannot report deletions (it does not implement backends.DeletionNotifier): OnDeletion is for mem://", name)
		}
		fn := sc.onDeletion
		n.OnDeletion(func(d backends.Deletion) {
			if se, ok := d.Value.(*storedEntry); ok {
				d.Value = se.Value
			}
			fn(d)
		})
	}
	if r.goValues && cp.encoding {
		return fmt.Errorf("cashews: %s keeps Go values as they are, so codec, compress, secret and digest do not apply (add copy=true to encode values)", name)
	}
	if sr, ok := b.(shared.Reader); ok && !r.goValues {
		r.shares = sr.SharesReads()
	}
	if !r.goValues {
		f, err := codec.New(cp.format)
		if err != nil {
			return err
		}
		r.format = f
	}
	if cp.disabled {
		r.disabled.Store(uint64(allCommands))
	}
	r.backend = b
	r.caps = capsOf(b)
	if len(cp.format.Secret) > 0 && !r.goValues {
		// Counters are signed too: Incr reads, verifies, adds and signs with compare-and-swap.
		r.counter = withSignedCounters(b, r.format, name)
	}
	// The built-in hooks of the backend (see Hook): the health breaker and stats, suppression.
	r.health = &health{cache: c, name: name, ping: r.ping(), st: r.stats}
	if cp.suppress {
		r.sup = &suppressor{cache: c, name: name, st: r.stats}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return ErrClosed
	}
	old := c.routeList()
	for _, o := range old {
		if o.prefix == prefix {
			return fmt.Errorf("cashews: a backend (%s) is already set up for prefix %s", o.url, quote.String(prefix))
		}
	}
	routes := append(append([]*route(nil), old...), r)
	sort.SliceStable(routes, func(i, j int) bool { return len(routes[i].prefix) > len(routes[j].prefix) })
	c.only.Store(nil) // before the list changes: route never pairs the new list with a stale only
	c.routes.Store(&routes)
	if len(routes) == 1 && routes[0].prefix == "" {
		c.only.Store(routes[0])
	}
	c.stats.addBackend(r.stats)
	return nil
}

func (c *Cache) routeList() []*route { return *c.routes.Load() }

// errNilCache is the error of the functions and methods given a nil *Cache.
var errNilCache = fmt.Errorf("%w: nil *cashews.Cache", ErrInvalidArgument)

// route returns the backend for key: the one with the longest prefix that key starts with. When one
// backend without a prefix is all there is, it is the answer without matching.
func (c *Cache) route(key string) (*route, error) {
	if c == nil {
		return nil, errNilCache
	}
	if r := c.only.Load(); r != nil {
		return r, nil
	}
	return c.match(key)
}

// match returns the route whose prefix is the longest that key starts with. c is not nil.
func (c *Cache) match(key string) (*route, error) {
	for _, r := range *c.routes.Load() {
		if strings.HasPrefix(key, r.prefix) {
			return r, nil
		}
	}
	if c.closed.Load() {
		return nil, ErrClosed
	}
	return nil, fmt.Errorf("%w %s: set up a backend without a prefix or with a prefix of this key", ErrNoBackend, quote.String(key))
}

// Close closes every backend, stops the background work of the Cache (early refreshes) and waits for
// it to end. It is idempotent: later calls return nil. Commands after Close return [ErrClosed].
func (c *Cache) Close() error {
	if c == nil {
		return errNilCache
	}
	c.mu.Lock()
	if c.closed.Swap(true) {
		c.mu.Unlock()
		return nil
	}
	routes := c.routeList()
	empty := []*route{}
	c.only.Store(nil)
	c.routes.Store(&empty)
	c.mu.Unlock()

	c.bgCancel()
	c.bgWG.Wait()
	var errs []error
	for _, r := range routes {
		if err := r.backend.Close(); err != nil {
			errs = append(errs, fmt.Errorf("cashews: close %s: %w", r.url, err))
		}
	}
	return errors.Join(errs...)
}

// Go runs fn in a goroutine owned by the Cache: its context is cancelled by Close, and Close waits for
// it to return. After Close, Go runs nothing and returns false. Layers built on the Cache use it for
// their background work (early refreshes in package strategies, background revalidation in package
// middleware), so that Close stops it. A nil fn runs nothing and returns false.
func (c *Cache) Go(fn func(ctx context.Context)) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() || fn == nil {
		return false
	}
	c.bgWG.Add(1)
	go func() {
		defer c.bgWG.Done()
		fn(c.bgCtx)
	}()
	return true
}

// Clock returns the clock of the Cache ([WithClock]), for layers built on the Cache that make time
// decisions (package middleware), so that a test's clock moves them too.
func (c *Cache) Clock() backends.Clock { return c.clock }

// SuppressedErrors returns how many backend errors were routed around so far: turned into misses
// and false by the backends set up with suppress=true, turned into a run of the function by wrapped
// functions and GetOrSet failing open, and entries that failed to decode (tampered or corrupted)
// and were replaced.
func (c *Cache) SuppressedErrors() int64 { return c.suppressed.Load() }

// bypass records that a caller routed around a failure of the cache at key: it counts err in
// [Cache.SuppressedErrors] and logs it once per burst per backend (the first at once, then one
// record every 10 seconds with the count). The strategies call it when they fail open
// ([Env.RouteAround], [Env.Bypass]).
func (c *Cache) bypass(ctx context.Context, key string, err error) {
	c.suppressed.Add(1)
	b, name := &c.bypassLog, ""
	if r, rerr := c.route(key); rerr == nil {
		b, name = &r.bypass, r.url
		r.stats.n.Inc(stats.Suppressed)
	}
	b.log(ctx, c, slog.LevelError, "cashews: cache error routed around",
		slog.String("backend", name), slog.String("key", shortKey(key)), slog.Any("error", err))
}

// replaced records an entry at key that failed to decode and is computed again, which replaces it.
func (c *Cache) replaced(ctx context.Context, r *route, key string, err error) {
	c.suppressed.Add(1)
	r.stats.n.Inc(stats.Suppressed)
	r.tampered.log(ctx, c, slog.LevelError, "cashews: stored entry failed to decode; computing it again",
		slog.String("backend", r.url), slog.String("key", shortKey(key)), slog.Any("error", err))
}

// BackendName returns the URL of the backend that key routes to, with passwords and secrets
// redacted, or "" when no backend takes the key: for logs ("caching in redis://cache:6379/0") and
// for the detect hits of layers built on the Cache.
func (c *Cache) BackendName(key string) string {
	r, err := c.route(key)
	if err != nil {
		return ""
	}
	return r.url
}
