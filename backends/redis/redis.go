package redis

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/backends/redis/internal/driver"
	"github.com/cashews-go/cashews/internal/quote"
	"github.com/cashews-go/cashews/internal/stripe"
)

func init() {
	backends.Register("redis", open)
	backends.Register("rediss", open)
}

// Defaults of [Options].
const (
	// DefaultTimeout is the deadline of each command when [Options.Timeout] is zero.
	DefaultTimeout = 100 * time.Millisecond
	// DefaultClientSideTTL bounds how long a value stays in the client-side cache when
	// [Options.ClientSideTTL] is zero (a key's own TTL bounds it too).
	DefaultClientSideTTL = 10 * time.Minute
	// DefaultClientSideSize is the client-side cache's size per connection when
	// [Options.ClientSideSize] is zero.
	DefaultClientSideSize = 128 << 20
	// DefaultAddr is the server's address when [Options.Addrs] is empty.
	DefaultAddr = "localhost:6379"
	// DefaultClusterRefreshInterval is how often a Cluster client reloads the slot map when
	// nothing prompts it, when [Options.ClusterRefreshInterval] is zero.
	DefaultClusterRefreshInterval = time.Minute
)

// Mode chooses between a single server and Redis Cluster.
type Mode uint8

// The modes.
const (
	// ModeAuto: several addresses mean Cluster; one address is whatever the server is (rueidis asks
	// it; the go-redis driver assumes a single server).
	ModeAuto Mode = iota
	// ModeSingle: one server (or a proxy in front of many); cluster=false.
	ModeSingle
	// ModeCluster: Redis Cluster, seeded by the addresses; cluster=true.
	ModeCluster
)

// The drivers.
const (
	// DriverRueidis runs commands on github.com/redis/rueidis: auto-pipelining and client-side
	// caching. The default.
	DriverRueidis = "rueidis"
	// DriverGoRedis runs commands on github.com/redis/go-redis/v9. It is linked only into programs
	// that import package backends/redis/goredis, which registers it; without that import,
	// driver=go-redis is an error that says so.
	DriverGoRedis = "go-redis"
)

// Options configure a backend opened by [New]. The zero value means defaults: a connection to
// localhost:6379, database 0, rueidis, RESP3, 100 ms per command. goredis.NewFromClient uses only Timeout
// and Logger.
type Options struct {
	// Addrs are the servers' "host:port" addresses (DefaultAddr when empty). Several addresses are
	// seeds of a Redis Cluster.
	Addrs []string
	// Mode chooses between a single server and Redis Cluster (see [Mode]).
	Mode Mode
	// DB is the database number; it must be 0 on Cluster.
	DB int
	// Username and Password authenticate the connections (AUTH / HELLO AUTH).
	Username, Password string
	// ClientName is set on every connection (CLIENT SETNAME).
	ClientName string
	// Protocol is the RESP version, 2 or 3 (0 means 3). Client-side caching needs 3.
	Protocol int
	// TLS, when not nil, connects over TLS with this configuration.
	TLS *tls.Config

	// DialTimeout bounds connecting, including the handshake (driver default when zero: 5s). A
	// command's own deadline (Timeout) bounds it too.
	DialTimeout time.Duration
	// ReadTimeout and WriteTimeout bound socket reads and writes (driver defaults when zero).
	// rueidis has one such timeout for both (ConnWriteTimeout, which also paces its health PINGs):
	// it takes the larger of the two.
	ReadTimeout, WriteTimeout time.Duration
	// Timeout is the deadline of each command when the caller's context has no earlier one:
	// DefaultTimeout when zero; a negative Timeout sets none. Operations of several round trips
	// (DeleteMatch, Scan, KeysCount and Clear on Cluster) apply it to each round trip.
	Timeout time.Duration

	// PoolSize is the number of connections: go-redis' pool (per node); for rueidis the pool of
	// its dedicated connections (auto-pipelined commands share 2^PipelineMultiplex connections).
	// Driver default when zero.
	PoolSize int
	// PipelineMultiplex (rueidis only): 2^PipelineMultiplex pipelined connections per node, from 1
	// to 8; zero means the driver's default and -1 one connection.
	PipelineMultiplex int
	// AlwaysPipelining (rueidis only) sends even a lone command through the connection's pipeline,
	// so that a command that runs out of time only drops its late reply and the connection stays.
	// By default a lone command is written and read on the caller's goroutine, which is faster
	// (no hand-off between goroutines) but closes the connection when its deadline passes.
	AlwaysPipelining bool
	// MaxRetries: how often a command is retried after a network error. Zero means the driver's
	// default (go-redis: 3 retries of any command; rueidis: read-only commands retried until their
	// deadline); a negative value disables retries.
	MaxRetries int
	// ConnMaxLifetime closes connections older than this (zero: never).
	ConnMaxLifetime time.Duration

	// ClientSide turns on client-side caching (rueidis, RESP3, Redis 6 or later): Get and GetMany
	// are served from a local cache that Redis invalidates when a key changes.
	ClientSide bool
	// ClientSideSize is the local cache's size in bytes per connection (DefaultClientSideSize when
	// zero).
	ClientSideSize int64
	// ClientSideTTL bounds how long a value stays local (DefaultClientSideTTL when zero); the key's
	// own TTL bounds it too.
	ClientSideTTL time.Duration

	// ClusterRefreshInterval (Cluster) is how often the client reloads the slot map when nothing
	// prompts it (DefaultClusterRefreshInterval when zero). Both drivers also reload it at once
	// when a node redirects a command (MOVED) or stops answering.
	ClusterRefreshInterval time.Duration

	// Driver is DriverRueidis (the default when empty) or DriverGoRedis (import package
	// backends/redis/goredis to link it).
	Driver string
	// ConnectAtSetup makes New connect before it returns and fail when the servers cannot be
	// reached (connect_at_setup=true). By default New connects in the background (see [New]).
	ConnectAtSetup bool
	// Logger receives the backend's log records (slog.Default when nil).
	Logger *slog.Logger
}

// Stats are the client-side cache's counters.
type Stats struct {
	// Hits counts reads served from the local cache, Misses reads that went to Redis.
	Hits, Misses int64
}

// Backend is the Redis backend. It stores []byte values; the Cache encodes values before handing
// them over. It is safe for concurrent use.
type Backend struct {
	ex        executor
	csc       cachingExecutor // nil without client-side caching
	stores    *storeSet       // the client-side caches, for the backend's own writes
	cscTTL    time.Duration
	timeout   time.Duration
	deadlines *deadlines // bound commands by timeout when the caller's context cannot end
	logger    *slog.Logger
	memberPfx string // makes SliceIncr members unique across processes

	lastMasters atomic.Pointer[[]string] // Cluster: the masters of the last topology, asked first

	closed    atomic.Bool
	closeOnce sync.Once
	seq       atomic.Uint64
	tagsSeen  atomic.Bool // tags are in use: writes end a key's tags (see tags.go)
	cs        *stripe.Set // the client-side cache's counters, csHits and csMisses, per P
}

// The client-side cache's counters in Backend.cs.
const (
	csHits = iota
	csMisses
)

var (
	_ backends.Full              = (*Backend)(nil)
	_ backends.CompareAndSwapper = (*Backend)(nil)
)

var errClosed = fmt.Errorf("cashews: redis: %w", backends.ErrClosed)

// New returns a backend for opts. By default it connects in the background, as sql.Open does: it
// waits up to a second for the first attempt, so that a healthy server is connected when New
// returns, and returns the backend when the attempt succeeded, or failed because the servers could
// not be reached, or is still under way. A command sent while the first attempt is under way waits
// for it within its deadline; after an attempt failed, commands (and Ping) fail at once with an
// error matching backends.ErrUnavailable that wraps the last connection error, until an attempt
// succeeds. Attempts go on every 50 to 500 ms until one succeeds or Close. A first attempt that the server
// refused (a wrong password, a certificate that does not verify, cluster=true on a single server)
// is New's error. With [Options.ConnectAtSetup], New connects before it returns and fails when the
// servers cannot be reached within the dial timeout. Errors name the servers, never the password;
// options that do not make sense fail at once either way.
func New(opts Options) (*Backend, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	// A driver of another package (go-redis) may block in its pool and dialer: every command is
	// guarded.
	st := &guardState{timeout: opts.timeout(), always: opts.Driver != "" && opts.Driver != DriverRueidis}
	var logs *driverLog
	if st.always {
		logs = newDriverLog(opts)
	}
	var stores *storeSet
	if opts.ClientSide {
		stores = newStoreSet()
	}
	connect := func(ctx context.Context) (executor, error) { return connect(ctx, opts, st, stores, logs) }
	if opts.ConnectAtSetup {
		ex, err := connect(context.Background())
		if err != nil {
			var perm permanent
			if errors.As(err, &perm) {
				return nil, perm.err
			}
			return nil, err
		}
		return newBackend(ex, opts, st, stores), nil
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	lz := newLazy(connect, logger, strings.Join(opts.addrs(), ","), opts.Mode == ModeCluster || len(opts.Addrs) > 1)
	lz.waitFirst(setupWait)
	if err := lz.setupError(); err != nil {
		lz.close()
		return nil, err
	}
	return newBackend(lz, opts, st, stores), nil
}

// connect makes one connection attempt with the driver of opts: rueidis, or a driver another
// package registered (go-redis: package goredis), which gets logs for its own messages.
func connect(ctx context.Context, opts Options, st *guardState, stores *storeSet, logs *driverLog) (executor, error) {
	var (
		ex  executor
		err error
	)
	switch opts.Driver {
	case "", DriverRueidis:
		ex, err = newRueidis(ctx, opts, st, stores)
	default:
		open, ok := driver.Lookup(opts.Driver)
		if !ok { // check made sure it is registered
			return nil, permanent{errUnregistered(opts.Driver)}
		}
		var d driver.Driver
		if d, err = open(ctx, driverConfig(opts, st, logs)); err == nil {
			ex = driverExec{d}
		}
	}
	if err != nil {
		return nil, err
	}
	if ex.isCluster() && opts.DB != 0 {
		ex.close()
		return nil, permanent{fmt.Errorf("cashews: redis: %s is a Redis Cluster, which has only database 0 (got db=%d)", strings.Join(opts.addrs(), ","), opts.DB)}
	}
	if opts.Mode == ModeCluster && !ex.isCluster() {
		ex.close()
		return nil, permanent{fmt.Errorf("cashews: redis: cluster=true, but %s is not a Redis Cluster node", strings.Join(opts.addrs(), ","))}
	}
	return ex, nil
}

// timeout returns the per-command deadline (0: none).
func (o Options) timeout() time.Duration {
	switch {
	case o.Timeout == 0:
		return DefaultTimeout
	case o.Timeout > 0:
		return o.Timeout
	}
	return 0
}

func newBackend(ex executor, opts Options, st *guardState, stores *storeSet) *Backend {
	b := &Backend{logger: opts.Logger, timeout: opts.timeout()}
	b.deadlines = newDeadlines(b.timeout)
	b.cs = stripe.New(2)
	if b.logger == nil {
		b.logger = slog.Default()
	}
	st.armed.Store(true)
	g := newGuard(ex, st)
	b.ex = g
	if opts.ClientSide && stores != nil {
		b.csc, b.stores = g, stores
		b.cscTTL = opts.ClientSideTTL
		if b.cscTTL <= 0 {
			b.cscTTL = DefaultClientSideTTL
		}
	}
	var r [8]byte
	_, _ = rand.Read(r[:])
	b.memberPfx = hex.EncodeToString(r[:])
	return b
}

// addrs returns the addresses to connect to.
func (o Options) addrs() []string {
	if len(o.Addrs) == 0 {
		return []string{DefaultAddr}
	}
	return o.Addrs
}

// check validates opts.
func (o Options) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("cashews: redis: "+format+": %w", append(args, backends.ErrInvalidArgument)...)
	}
	for _, a := range o.Addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return bad("address %s: want host:port", quote.String(a))
		}
	}
	switch {
	case o.Mode > ModeCluster:
		return bad("unknown mode %d", o.Mode)
	case o.Mode == ModeSingle && len(o.Addrs) > 1:
		return bad("%d addresses with cluster=false: a single server has one address", len(o.Addrs))
	case o.DB < 0:
		return bad("database %d is negative", o.DB)
	case o.DB != 0 && (o.Mode == ModeCluster || len(o.Addrs) > 1):
		return bad("Redis Cluster has only database 0 (got db=%d)", o.DB)
	case o.Protocol != 0 && o.Protocol != 2 && o.Protocol != 3:
		return bad("protocol %d: want 2 or 3", o.Protocol)
	case o.Driver != "" && o.Driver != DriverRueidis && o.Driver != DriverGoRedis:
		return bad("driver %q: want %s or %s", o.Driver, DriverRueidis, DriverGoRedis)
	case o.Driver == DriverGoRedis && !registered(o.Driver):
		return errUnregistered(o.Driver)
	case o.ClientSide && o.Driver == DriverGoRedis:
		return bad("client-side caching needs the rueidis driver (got driver=%s)", o.Driver)
	case o.ClientSide && o.Protocol == 2:
		return bad("client-side caching needs RESP3 (got protocol=2)")
	case o.PipelineMultiplex < -1 || o.PipelineMultiplex > rueidis.MaxPipelineMultiplex:
		return bad("pipeline_multiplex %d: want -1 to %d", o.PipelineMultiplex, rueidis.MaxPipelineMultiplex)
	case o.PoolSize < 0:
		return bad("pool size %d is negative", o.PoolSize)
	case o.ClientSideSize < 0 || o.ClientSideSize > 1<<40:
		return bad("client-side cache size %d: want 0 to 1TiB", o.ClientSideSize)
	case o.DialTimeout < 0 || o.ReadTimeout < 0 || o.WriteTimeout < 0 || o.ConnMaxLifetime < 0 || o.ClientSideTTL < 0 || o.ClusterRefreshInterval < 0:
		return bad("negative duration in Options")
	}
	return nil
}

func newRueidis(ctx context.Context, o Options, st *guardState, stores *storeSet) (executor, error) {
	opt := rueidis.ClientOption{
		InitAddress:       o.addrs(),
		Username:          o.Username,
		Password:          o.Password,
		ClientName:        o.ClientName,
		SelectDB:          o.DB,
		TLSConfig:         o.TLS,
		AlwaysRESP2:       o.Protocol == 2,
		ForceSingleClient: o.Mode == ModeSingle,
		BlockingPoolSize:  o.PoolSize,
		PipelineMultiplex: o.PipelineMultiplex,
		DisableRetry:      o.MaxRetries < 0,
		ConnLifetime:      o.ConnMaxLifetime,
		DisableCache:      !o.ClientSide,
		CacheSizeEachConn: int(o.ClientSideSize),
		ConnWriteTimeout:  max(o.ReadTimeout, o.WriteTimeout),
		AlwaysPipelining:  o.AlwaysPipelining,
		ClusterOption:     rueidis.ClusterOption{ShardsRefreshInterval: o.clusterRefresh()},
	}
	opt.Dialer.Timeout = o.DialTimeout
	conns := newConnRegistry()
	// Dialing again means a connection broke or was never made: the driver's slow path.
	opt.DialCtxFn = func(ctx context.Context, addr string, d *net.Dialer, cfg *tls.Config) (net.Conn, error) {
		st.trip()
		return conns.dial(ctx, addr, d, cfg)
	}
	if o.ClientSide {
		if opt.CacheSizeEachConn == 0 {
			opt.CacheSizeEachConn = DefaultClientSideSize
		}
		opt.NewCacheStoreFn = func(so rueidis.CacheStoreOption) rueidis.CacheStore {
			return stores.newStore(so.CacheSizeEachConn)
		}
	}
	c, err := rueidis.NewClient(opt)
	if err != nil {
		return nil, fmt.Errorf("cashews: redis: connect to %s: %w", strings.Join(o.addrs(), ","), err)
	}
	ex := newRueidisExec(c, true)
	ex.stores = stores
	if ex.cluster {
		ex.dialNode = nodeDialer(opt, o)
		if stores != nil {
			stores.slots.Store(newSlotGuard(1 << max(opt.PipelineMultiplex, 0)))
		}
	}
	dial := o.DialTimeout
	if dial <= 0 {
		dial = rueidis.DefaultDialTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, dial)
	defer cancel()
	if err := ex.connectAll(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("cashews: redis: connect to %s: %w", strings.Join(o.addrs(), ","), err)
	}
	if ex.cluster {
		ex.monitor = startClusterMonitor(ex, stores.guard(), conns)
	}
	return ex, nil
}

// Stats returns the client-side cache's hit and miss counts (zero without client-side caching).
func (b *Backend) Stats() Stats {
	return Stats{Hits: b.cs.Load(csHits), Misses: b.cs.Load(csMisses)}
}

// IsCluster reports whether the backend talks to a Redis Cluster. Before a backend that connects in
// the background has a connection, it says what the options say (cluster=true or several hosts),
// and false for a single host that may turn out to be a Cluster node.
func (b *Backend) IsCluster() bool { return b.isCluster() }

func (b *Backend) isCluster() bool { return b.ex.isCluster() }

// Close closes the connections (not those of a client given to goredis.NewFromClient) and stops the
// client's goroutines. It is idempotent; other methods called after Close return an error wrapping
// [backends.ErrClosed].
func (b *Backend) Close() error {
	b.closeOnce.Do(func() {
		b.closed.Store(true)
		b.ex.close()
		b.deadlines.close()
	})
	return nil
}

// wrote tells the client-side caches that the backend wrote keys, so that its next reads of them
// see the write (see localStore).
func (b *Backend) wrote(keys ...string) {
	if b.stores != nil {
		b.stores.invalidate(keys, false)
	}
}

// wroteAll is wrote for every key (Clear).
func (b *Backend) wroteAll() {
	if b.stores != nil {
		b.stores.invalidate(nil, true)
	}
}

// noCancel is the CancelFunc of a context the backend did not derive.
func noCancel() {}

// withTimeout bounds ctx by the backend's timeout unless it already ends sooner.
func (b *Backend) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if b.timeout <= 0 {
		return ctx, noCancel
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= b.timeout {
		return ctx, noCancel
	}
	if ctx.Done() == nil { // nothing else ends ctx: a shared deadline (see deadlines) bounds it
		d := b.deadlines.get(time.Now())
		if ctx == context.Background() {
			return d, noCancel
		}
		return &valuesCtx{Context: d, vals: ctx}, noCancel
	}
	return context.WithTimeout(ctx, b.timeout)
}

// fail wraps a command's error with the command, the key and, for known Redis errors, the
// backends sentinel. parent is the caller's context, to tell the backend's timeout from the caller's.
func (b *Backend) fail(parent context.Context, op, key string, err error) error {
	where := "cashews: redis: " + op
	if key != "" {
		where += " " + quote.String(key)
	}
	msg := err.Error()
	switch {
	case b.closed.Load():
		return fmt.Errorf("%s: %w (%v)", where, backends.ErrClosed, err)
	case strings.Contains(msg, "WRONGTYPE"):
		return fmt.Errorf("%s: %s: %w", where, msg, backends.ErrWrongType)
	case strings.Contains(msg, "not an integer"):
		return fmt.Errorf("%s: %s: %w", where, msg, backends.ErrNotInteger)
	case strings.Contains(msg, "overflow"):
		return fmt.Errorf("%s: %s: %w", where, msg, backends.ErrInvalidArgument)
	case callerDone(parent):
		// The caller's own context ended: its doing, not a sign that Redis is unavailable.
		return fmt.Errorf("%s: %w", where, err)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: no answer within timeout=%s: %w: %w", where, b.timeout, backends.ErrUnavailable, err)
	case unavailable(err):
		return fmt.Errorf("%s: %w: %w", where, backends.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", where, err)
}

// callerDone reports whether the caller's context ended: cancelled, or past its deadline (a socket
// deadline set from it may fire a moment before the context's own timer marks it done).
func callerDone(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// driverRedisError is an error reply of Redis from a driver's client library: go-redis marks its
// own with a RedisError method (its Error interface), which this matches without linking go-redis.
type driverRedisError interface {
	error
	RedisError()
}

// unavailable reports whether err means that Redis could not be reached or could not serve: any
// error but an error reply of Redis about the command (except those saying that the server is not
// ready: LOADING, BUSY, MASTERDOWN, CLUSTERDOWN, TRYAGAIN), an unexpected reply, and a permanent
// setup error. Network errors, timeouts, a connection being made, a client that gave up (rueidis'
// ErrClosing, the client-side cache's ErrDoCacheAborted) and too many commands waiting all are.
func unavailable(err error) bool {
	var ur unexpectedReply
	var perm permanent
	if errors.As(err, &ur) || errors.As(err, &perm) {
		return false
	}
	msg := ""
	if re := (*rueidis.RedisError)(nil); errors.As(err, &re) && re != nil {
		msg = re.Error()
	} else if de := driverRedisError(nil); errors.As(err, &de) {
		msg = de.Error()
	} else {
		return true
	}
	for _, p := range []string{"LOADING", "BUSY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}
