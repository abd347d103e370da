// Package goredis links the go-redis client (github.com/redis/go-redis/v9) into the Redis backend,
// for programs that ask for it: importing it registers the driver of driver=go-redis (and
// redis.DriverGoRedis), and [NewFromClient] puts the backend over a go-redis client the application
// already has. A program that imports only backends/redis links rueidis alone; without this import,
// driver=go-redis is an error that names it.
//
//	import (
//		_ "github.com/cashews-go/cashews/backends/redis"
//		_ "github.com/cashews-go/cashews/backends/redis/goredis"
//	)
//
//	err := cache.Setup("redis://localhost:6379/0?driver=go-redis")
//
// Importing this package also routes go-redis' own log messages (a failed dial, a pool in trouble),
// which go-redis prints through one logger for the whole process, to the loggers of the backends
// that use it, once per burst each; with none open, they go to slog.Default(). A program that calls
// go-redis' SetLogger itself afterwards takes them back.
package goredis

import (
	"fmt"
	"log/slog"

	goredisv9 "github.com/redis/go-redis/v9"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/backends/redis"
	"github.com/cashews-go/cashews/backends/redis/internal/driver"
	"github.com/cashews-go/cashews/backends/redis/internal/goredisdrv" // registers driver=go-redis
)

// NewFromClient returns a backend over a go-redis client the application already has: a
// *redis.Client, *redis.ClusterClient, *redis.Ring or failover client. Only opts.Timeout and
// opts.Logger are used; the client's own options apply otherwise. Close does not close the client.
//
// go-redis honours a context's deadline only with ContextTimeoutEnabled set in its options; without
// it a hung server holds a call for the client's ReadTimeout, whatever opts.Timeout says. The
// backend logs a warning when the option is off.
func NewFromClient(c goredisv9.UniversalClient, opts redis.Options) (*redis.Backend, error) {
	if c == nil {
		return nil, fmt.Errorf("cashews: redis: NewFromClient with a nil client: %w", backends.ErrInvalidArgument)
	}
	if len(opts.Addrs) > 0 || opts.ClientSide || opts.Driver == redis.DriverRueidis {
		return nil, fmt.Errorf("cashews: redis: NewFromClient takes its connection from the client; Options.Addrs, ClientSide and Driver must be empty: %w", backends.ErrInvalidArgument)
	}
	opts.Driver = redis.DriverGoRedis // for its messages
	b, err := driver.FromClient(opts, func(cfg driver.Config) driver.Driver { return goredisdrv.Wrap(c, cfg) })
	if err != nil {
		return nil, err
	}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = redis.DefaultTimeout
	}
	if !goredisdrv.ContextTimeoutEnabled(c) && timeout > 0 {
		logger := opts.Logger
		if logger == nil {
			logger = slog.Default()
		}
		logger.Warn("cashews: redis: the go-redis client has ContextTimeoutEnabled=false, so a hung server can hold calls for the client's ReadTimeout, longer than the backend's timeout",
			"timeout", timeout)
	}
	return b.(*redis.Backend), nil
}
