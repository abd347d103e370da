package redis

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/backends/redis/internal/driver"
	"github.com/cashews-go/cashews/internal/burst"
)

// driverExec is the executor over a driver registered by another package (go-redis, registered by
// package backends/redis/goredis): it turns the driver's replies into the backend's, and on
// Cluster follows up faults and redirections the driver left (see clusterRetry).
type driverExec struct{ d driver.Driver }

func (e driverExec) do(ctx context.Context, c command) reply {
	r := fromDriver(e.d.Do(ctx, c.args))
	if e.d.IsCluster() {
		return clusterRetry(ctx, e.d.ReloadState, r, func() reply { return fromDriver(e.d.Do(ctx, c.args)) })
	}
	return r
}

func (e driverExec) doMulti(ctx context.Context, cs []command) []reply {
	if len(cs) == 0 {
		return nil
	}
	args := make([][]string, len(cs))
	for i, c := range cs {
		args[i] = c.args
	}
	rs := e.d.DoMulti(ctx, args)
	out := make([]reply, len(rs))
	for i, r := range rs {
		out[i] = fromDriver(r)
	}
	if e.d.IsCluster() {
		for i, r := range out {
			out[i] = clusterRetry(ctx, e.d.ReloadState, r, func() reply { return fromDriver(e.d.Do(ctx, cs[i].args)) })
		}
	}
	return out
}

func (e driverExec) masters(ctx context.Context) ([]executor, error) {
	ds, err := e.d.Masters(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]executor, len(ds))
	for i, d := range ds {
		out[i] = driverExec{d}
	}
	return out, nil
}

func (e driverExec) isCluster() bool      { return e.d.IsCluster() }
func (e driverExec) knownNodes() []string { return e.d.KnownNodes() }
func (e driverExec) close()               { e.d.Close() }

func (e driverExec) node(addr string) (executor, error) {
	d, err := e.d.Node(addr)
	if err != nil {
		return nil, err
	}
	return driverExec{d}, nil
}

// fromDriver converts a driver's reply: an error from Redis as redisErrReply says, any other error
// as a fault.
func fromDriver(r driver.Reply) reply {
	if r.Err != nil {
		if r.RedisError {
			return redisErrReply(r.Err)
		}
		return faultReply(r.Err)
	}
	return fromValue(r.Value)
}

func fromValue(v any) reply {
	switch v := v.(type) {
	case nil:
		return reply{}
	case int64:
		return reply{kind: kindInt, i: v}
	case string:
		return reply{kind: kindStr, s: v}
	case []any:
		a := make([]reply, len(v))
		for i, e := range v {
			a[i] = fromValue(e)
		}
		return reply{kind: kindArr, a: a}
	case error:
		return errReply(v)
	}
	return reply{kind: kindOther}
}

// driverConfig resolves opts for a driver.
func driverConfig(opts Options, st *guardState, logs *driverLog) driver.Config {
	retries := opts.MaxRetries
	if retries < 0 {
		retries = -1
	}
	return driver.Config{
		Addrs: opts.addrs(), Cluster: opts.Mode == ModeCluster || len(opts.Addrs) > 1,
		Username: opts.Username, Password: opts.Password, ClientName: opts.ClientName, DB: opts.DB,
		Protocol: opts.Protocol, TLS: opts.TLS, DialTimeout: opts.DialTimeout,
		ReadTimeout: opts.ReadTimeout, WriteTimeout: opts.WriteTimeout, PoolSize: opts.PoolSize,
		MaxRetries: retries, ConnMaxLifetime: opts.ConnMaxLifetime, ClusterRefresh: opts.clusterRefresh(),
		Logger: logs.logger, Dialing: st.trip, Log: logs.log,
	}
}

// driverLogEvery is how often a backend logs its driver's own messages while they keep coming:
// the first at once, then one record per period with the count of the others.
const driverLogEvery = 10 * time.Second

// driverLog is one backend's share of its driver's own messages (go-redis prints them through one
// logger for the whole process; package goredis hands each to the backends whose drivers are
// open): it logs them to the backend's logger once per burst.
type driverLog struct {
	logger *slog.Logger
	driver string
	addrs  string
	burst  burst.Log
}

func newDriverLog(opts Options) *driverLog {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	return &driverLog{logger: logger, driver: opts.Driver, addrs: strings.Join(opts.addrs(), ",")}
}

// log logs msg unless a record went out less than driverLogEvery ago; then it only counts it.
func (s *driverLog) log(ctx context.Context, msg string) {
	if unseen, due := s.burst.Due(time.Now(), driverLogEvery); due {
		s.logger.LogAttrs(ctx, slog.LevelWarn, "cashews: redis: "+s.driver+": "+msg,
			slog.String("addrs", s.addrs), slog.Int64("unlogged_since_last_record", unseen))
	}
}

// goredisPackage is the package that registers the go-redis driver.
const goredisPackage = "github.com/cashews-go/cashews/backends/redis/goredis"

// registered reports whether a package registered the driver name.
func registered(name string) bool {
	_, ok := driver.Lookup(name)
	return ok
}

// errUnregistered is the error of a driver that no imported package registered.
func errUnregistered(name string) error {
	return fmt.Errorf("cashews: redis: driver=%s is not linked into this program: import _ %q to use it: %w",
		name, goredisPackage, backends.ErrInvalidArgument)
}

func init() { driver.FromClient = fromClient }

// fromClient is driver.FromClient: a backend over a client the application already has, wrapped as
// a driver by wrap (package goredis's NewFromClient). Only opts.Timeout, opts.Logger and
// opts.Driver (the client library's name, for its messages) are used.
func fromClient(o any, wrap func(driver.Config) driver.Driver) (any, error) {
	opts, ok := o.(Options)
	if !ok {
		return nil, fmt.Errorf("cashews: redis: fromClient with %T, want redis.Options: %w", o, backends.ErrInvalidArgument)
	}
	st := &guardState{timeout: opts.timeout(), always: true}
	logs := newDriverLog(opts)
	d := wrap(driver.Config{Logger: logs.logger, Log: logs.log})
	return newBackend(driverExec{d}, opts, st, nil), nil
}
