package goredisdrv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/cashews-go/cashews/backends/redis/internal/driver"
)

// Open connects a go-redis client for cfg: a ClusterClient for a Cluster, a Client otherwise.
func Open(ctx context.Context, cfg driver.Config) (driver.Driver, error) {
	proto := cfg.Protocol
	if proto == 0 {
		proto = 3
	}
	retries := cfg.MaxRetries
	if retries < 0 {
		retries = -1
	}
	var c goredis.UniversalClient
	ex := &goredisExec{owns: true}
	if cfg.Cluster {
		ex.copts = &goredis.ClusterOptions{
			Addrs: cfg.Addrs, Username: cfg.Username, Password: cfg.Password, ClientName: cfg.ClientName,
			Protocol: proto, TLSConfig: cfg.TLS, DialTimeout: cfg.DialTimeout, ReadTimeout: cfg.ReadTimeout,
			WriteTimeout: cfg.WriteTimeout, ContextTimeoutEnabled: true, PoolSize: cfg.PoolSize,
			MaxRetries: retries, ConnMaxLifetime: cfg.ConnMaxLifetime, DialerRetries: 1,
			ClusterStateReloadInterval: cfg.ClusterRefresh, ClusterSlots: ex.loadSlots,
		}
		c = goredis.NewClusterClient(ex.copts)
	} else {
		c = goredis.NewClient(&goredis.Options{
			Addr: cfg.Addrs[0], Username: cfg.Username, Password: cfg.Password, ClientName: cfg.ClientName,
			DB: cfg.DB, Protocol: proto, TLSConfig: cfg.TLS, DialTimeout: cfg.DialTimeout,
			ReadTimeout: cfg.ReadTimeout, WriteTimeout: cfg.WriteTimeout, ContextTimeoutEnabled: true,
			PoolSize: cfg.PoolSize, MaxRetries: retries, ConnMaxLifetime: cfg.ConnMaxLifetime,
			DialerRetries: 1, // a dial that fails fails the attempt at once; the command's retries and the Cache's health breaker decide what next
		})
	}
	hook := dialHook{dialing: cfg.Dialing, last: new(lastError)}
	c.AddHook(hook)
	ex.logs = logs.add(cfg.Log)
	dial := cfg.DialTimeout
	if dial <= 0 {
		dial = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, dial)
	defer cancel()
	ex.c = c
	if err := c.Ping(ctx).Err(); err != nil {
		ex.Close()
		if dialErr := hook.last.get(); dialErr != nil && !errors.Is(err, dialErr) {
			// go-redis retries a failed dial until the deadline and then reports only the
			// deadline; the dial's own error (a certificate, a refused port) is the cause.
			err = fmt.Errorf("%w (last dial error: %w)", err, dialErr)
		}
		return nil, fmt.Errorf("cashews: redis: connect to %s: %w", strings.Join(cfg.Addrs, ","), err)
	}
	return ex, nil
}

// Wrap returns the driver over a client the application already has, for the backend whose
// configuration is cfg (its Log). It adds no hook to the client, and Close does not close it.
func Wrap(c goredis.UniversalClient, cfg driver.Config) driver.Driver {
	return &goredisExec{c: c, logs: logs.add(cfg.Log)}
}

// ContextTimeoutEnabled reports whether c honours a context's deadline while it reads (true for
// clients of unknown types).
func ContextTimeoutEnabled(c goredis.UniversalClient) bool {
	switch c := c.(type) {
	case *goredis.Client:
		return c.Options().ContextTimeoutEnabled
	case *goredis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	case *goredis.Ring:
		return c.Options().ContextTimeoutEnabled
	}
	return true
}

// dialHook tells the backend when go-redis dials (a connection broke or was never made) and keeps
// the last dial error, for the error of a failed setup.
type dialHook struct {
	dialing func()
	last    *lastError
}

func (h dialHook) DialHook(next goredis.DialHook) goredis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if h.dialing != nil {
			h.dialing()
		}
		conn, err := next(ctx, network, addr)
		if err != nil {
			h.last.set(err)
		}
		return conn, err
	}
}

func (h dialHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook { return next }

func (h dialHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return next
}

// lastError holds the latest of a series of errors.
type lastError struct {
	mu  sync.Mutex
	err error
}

func (l *lastError) set(err error) {
	l.mu.Lock()
	l.err = err
	l.mu.Unlock()
}

func (l *lastError) get() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}
