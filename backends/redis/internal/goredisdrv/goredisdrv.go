// Package goredisdrv is the go-redis driver of the Redis backend (see package driver). Package
// backends/redis/goredis registers it; it is apart from that package so that the backend's own
// tests can use it.
package goredisdrv

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/cashews-go/cashews/backends/redis/internal/driver"
)

func init() { driver.Register("go-redis", Open) }

// goredisExec is the driver over a go-redis client (a *Client, *ClusterClient, *Ring or failover
// client behind the UniversalClient interface).
type goredisExec struct {
	c    goredis.UniversalClient
	owns bool  // close closes c
	logs *sink // the backend's share of go-redis' messages; nil for node clients

	mu    sync.Mutex
	nodes map[string]*goredis.Client // Cluster: clients of single nodes, for the keyspace commands

	// Cluster opened by the backend: its options (for the node clients, before c exists) and
	// the nodes of the last slot map loadSlots read.
	copts     *goredis.ClusterOptions
	slotNodes atomic.Pointer[[]string]
}

func toAny(args []string) []any {
	a := make([]any, len(args))
	for i, s := range args {
		a[i] = s
	}
	return a
}

// Do runs one command.
func (e *goredisExec) Do(ctx context.Context, args []string) driver.Reply {
	return fromGoredis(e.c.Do(ctx, toAny(args)...))
}

// DoMulti runs the commands in one pipeline.
func (e *goredisExec) DoMulti(ctx context.Context, cs [][]string) []driver.Reply {
	if len(cs) == 0 {
		return nil
	}
	p := e.c.Pipeline()
	cmds := make([]*goredis.Cmd, len(cs))
	for i, c := range cs {
		cmds[i] = p.Do(ctx, toAny(c)...)
	}
	_, _ = p.Exec(ctx) // each command carries its own error
	out := make([]driver.Reply, len(cmds))
	for i, c := range cmds {
		out[i] = fromGoredis(c)
	}
	return out
}

// ReloadState reloads the slot map of a cluster client.
func (e *goredisExec) ReloadState(ctx context.Context) {
	if cc, ok := e.c.(*goredis.ClusterClient); ok {
		cc.ReloadState(ctx)
	}
}

// Masters returns a driver per master.
func (e *goredisExec) Masters(ctx context.Context) ([]driver.Driver, error) {
	var (
		mu  sync.Mutex
		out []driver.Driver
	)
	collect := func(_ context.Context, c *goredis.Client) error {
		mu.Lock()
		out = append(out, &goredisExec{c: c})
		mu.Unlock()
		return nil
	}
	var err error
	switch c := e.c.(type) {
	case *goredis.ClusterClient:
		err = c.ForEachMaster(ctx, collect)
	case *goredis.Ring:
		err = c.ForEachShard(ctx, collect)
	default:
		return []driver.Driver{e}, nil
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// IsCluster reports whether the client is a cluster client.
func (e *goredisExec) IsCluster() bool {
	_, ok := e.c.(*goredis.ClusterClient)
	return ok
}

// KnownNodes returns the cluster client's seeds and the nodes of its slot map.
func (e *goredisExec) KnownNodes() []string {
	cc, ok := e.c.(*goredis.ClusterClient)
	if !ok {
		return nil
	}
	seen := map[string]bool{}
	for _, a := range cc.Options().Addrs {
		seen[a] = true
	}
	var mu sync.Mutex
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = cc.ForEachShard(ctx, func(_ context.Context, c *goredis.Client) error {
		mu.Lock()
		seen[c.Options().Addr] = true
		mu.Unlock()
		return nil
	})
	out := make([]string, 0, len(seen))
	for a := range seen {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// Node returns a client of the node at addr, made with the cluster client's options (go-redis
// does not lend its own) and kept until close.
func (e *goredisExec) Node(addr string) (driver.Driver, error) {
	cc, ok := e.c.(*goredis.ClusterClient)
	if !ok {
		return nil, errors.New("not a cluster client")
	}
	return e.nodeOf(cc.Options(), addr), nil
}

// nodeOf returns the client of the node at addr, made with the cluster's options o.
func (e *goredisExec) nodeOf(o *goredis.ClusterOptions, addr string) *goredisExec {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c, ok := e.nodes[addr]; ok {
		return &goredisExec{c: c}
	}
	opt := &goredis.Options{
		Addr: addr, ClientName: o.ClientName, Dialer: o.Dialer, OnConnect: o.OnConnect,
		Protocol: o.Protocol, Username: o.Username, Password: o.Password,
		CredentialsProvider:          o.CredentialsProvider,
		CredentialsProviderContext:   o.CredentialsProviderContext,
		StreamingCredentialsProvider: o.StreamingCredentialsProvider,
		MaxRetries:                   -1,
		DialTimeout:                  o.DialTimeout,
		DialerRetries:                o.DialerRetries,
		ReadTimeout:                  o.ReadTimeout,
		WriteTimeout:                 o.WriteTimeout,
		ContextTimeoutEnabled:        o.ContextTimeoutEnabled,
		PoolFIFO:                     o.PoolFIFO,
		PoolSize:                     o.PoolSize,
		PoolTimeout:                  o.PoolTimeout,
		ConnMaxIdleTime:              o.ConnMaxIdleTime,
		ConnMaxLifetime:              o.ConnMaxLifetime,
		TLSConfig:                    o.TLSConfig,
		DisableIdentity:              o.DisableIdentity,
		IdentitySuffix:               o.IdentitySuffix,
	}
	var c *goredis.Client
	if o.NewClient != nil {
		c = o.NewClient(opt)
	} else {
		c = goredis.NewClient(opt)
	}
	if e.nodes == nil {
		e.nodes = map[string]*goredis.Client{}
	}
	e.nodes[addr] = c
	return &goredisExec{c: c}
}

// loadSlots is the ClusterSlots function of a ClusterClient the backend opens. go-redis reloads
// its slot map by asking one node at a time, without a deadline of its own: a node that hangs (a
// frozen master) holds the reload for the read timeout, and no other reload starts meanwhile. This
// asks up to 8 nodes at once (the seeds and the nodes of the last map, masters first), each
// within a second, and returns the first answer.
func (e *goredisExec) loadSlots(ctx context.Context) ([]goredis.ClusterSlot, error) {
	seen := map[string]bool{}
	var addrs []string
	add := func(list []string) {
		for _, a := range list {
			if !seen[a] && len(addrs) < 8 {
				seen[a] = true
				addrs = append(addrs, a)
			}
		}
	}
	if last := e.slotNodes.Load(); last != nil {
		add(*last)
	}
	add(e.copts.Addrs)
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	type answer struct {
		slots []goredis.ClusterSlot
		err   error
	}
	answers := make(chan answer, len(addrs))
	for _, a := range addrs {
		n := e.nodeOf(e.copts, a).c
		go func() { // owned by loadSlots: the channel holds every answer, cancel ends the rest
			s, err := n.ClusterSlots(ctx).Result()
			if err == nil && len(s) == 0 {
				err = fmt.Errorf("%s: empty CLUSTER SLOTS", a)
			}
			answers <- answer{s, err}
		}()
	}
	var errs []error
	for range addrs {
		a := <-answers
		if a.err != nil {
			errs = append(errs, a.err)
			continue
		}
		var nodes []string // masters first, then replicas
		for _, s := range a.slots {
			if len(s.Nodes) > 0 {
				nodes = append(nodes, s.Nodes[0].Addr)
			}
		}
		for _, s := range a.slots {
			for _, n := range s.Nodes[min(1, len(s.Nodes)):] {
				nodes = append(nodes, n.Addr)
			}
		}
		e.slotNodes.Store(&nodes)
		return a.slots, nil
	}
	return nil, errors.Join(errs...)
}

// Close closes the node clients, and the client if the driver opened it.
func (e *goredisExec) Close() {
	logs.remove(e.logs)
	e.mu.Lock()
	for _, c := range e.nodes {
		_ = c.Close()
	}
	e.nodes = nil
	e.mu.Unlock()
	if e.owns {
		_ = e.c.Close()
	}
}

// fromGoredis converts a go-redis result. redis.Nil is a nil reply, not an error.
func fromGoredis(c *goredis.Cmd) driver.Reply {
	v, err := c.Result()
	if err != nil {
		if errors.Is(err, goredis.Nil) {
			return driver.Reply{}
		}
		var re goredis.Error
		return driver.Reply{Err: err, RedisError: errors.As(err, &re)}
	}
	return driver.Reply{Value: v}
}
