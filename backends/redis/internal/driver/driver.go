// Package driver is the seam between the Redis backend and a client library other than rueidis
// (which the backend links itself): a driver registers under a name (Options.Driver, driver= in
// URLs) when its package is imported, so that a program links only the clients it asks for.
// Package backends/redis/goredis registers go-redis.
//
// A driver only carries commands; every command's semantics live in the backend, above it.
package driver

import (
	"context"
	"crypto/tls"
	"log/slog"
	"sync"
	"time"
)

// Driver carries commands to Redis.
type Driver interface {
	// Do runs one command (args[0] is its name) and returns its reply.
	Do(ctx context.Context, args []string) Reply
	// DoMulti runs the commands in one pipeline (on Cluster: one per node) and returns their
	// replies in order.
	DoMulti(ctx context.Context, cmds [][]string) []Reply
	// Masters returns a driver for each master: the driver itself for a single server, one per
	// master node on Cluster.
	Masters(ctx context.Context) ([]Driver, error)
	// IsCluster reports whether the driver talks to a Redis Cluster.
	IsCluster() bool
	// ReloadState (Cluster) reloads the slot map; the backend calls it when a node did not answer
	// or a redirection was not followed.
	ReloadState(ctx context.Context)
	// KnownNodes (Cluster) returns the addresses of the nodes the driver knows, masters and
	// replicas.
	KnownNodes() []string
	// Node (Cluster) returns a driver that sends commands to the node at addr.
	Node(addr string) (Driver, error)
	// Close releases the client if the driver owns it, and what the driver keeps for it.
	Close()
}

// Reply is a command's answer. Err is the command's error, with RedisError set when Redis answered
// with an error (as opposed to a network error or a timeout); otherwise Value is nil (a nil reply),
// an int64, a string, or a []any of such values (an element may be an error).
type Reply struct {
	Value      any
	Err        error
	RedisError bool
}

// Config is what a driver connects with: the backend's options, resolved.
type Config struct {
	Addrs                     []string // at least one
	Cluster                   bool     // connect to a Redis Cluster (cluster=true or several hosts)
	Username, Password        string
	ClientName                string
	DB                        int
	Protocol                  int // 2 or 3
	TLS                       *tls.Config
	DialTimeout               time.Duration
	ReadTimeout, WriteTimeout time.Duration
	PoolSize                  int
	MaxRetries                int // -1: none
	ConnMaxLifetime           time.Duration
	ClusterRefresh            time.Duration // the periodic slot-map reload
	Logger                    *slog.Logger  // the backend's
	// Dialing is called whenever the driver dials (a connection broke or was never made), so
	// that the backend watches its commands more closely.
	Dialing func()
	// Log hands one of the client library's own messages to the backend, which logs it once per
	// burst.
	Log func(ctx context.Context, msg string)
}

// Open connects a driver; it fails when the servers cannot be reached within cfg.DialTimeout.
type Open func(ctx context.Context, cfg Config) (Driver, error)

var (
	mu      sync.Mutex
	drivers = map[string]Open{}
)

// Register makes the driver available under name. A second registration of a name panics.
func Register(name string, open Open) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := drivers[name]; dup {
		panic("cashews: redis: driver " + name + " registered twice")
	}
	drivers[name] = open
}

// Lookup returns the driver registered under name.
func Lookup(name string) (Open, bool) {
	mu.Lock()
	defer mu.Unlock()
	open, ok := drivers[name]
	return open, ok
}

// FromClient is set by package redis: it returns a backend (a *redis.Backend) for opts (a
// redis.Options) over the driver that wrap returns, given the backend's Config (its Logger and
// Log, in particular). Package goredis's NewFromClient calls it with a wrap of the application's
// client. It is a variable here, not a function of package redis, so that package redis exports
// nothing of this seam.
var FromClient func(opts any, wrap func(Config) Driver) (any, error)
