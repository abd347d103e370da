package redis

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// goredisExec is the executor over a go-redis client (a *Client, *ClusterClient, *Ring or failover
// client behind the UniversalClient interface).
type goredisExec struct {
	c    goredis.UniversalClient
	owns bool // close closes c

	mu    sync.Mutex
	nodes map[string]*goredis.Client // Cluster: clients of single nodes, for the keyspace commands
}

func toAny(args []string) []any {
	a := make([]any, len(args))
	for i, s := range args {
		a[i] = s
	}
	return a
}

func (e *goredisExec) do(ctx context.Context, c command) reply {
	r := fromGoredis(e.c.Do(ctx, toAny(c.args)...))
	if cc, ok := e.c.(*goredis.ClusterClient); ok {
		return clusterRetry(ctx, cc.ReloadState, r, func() reply { return fromGoredis(e.c.Do(ctx, toAny(c.args)...)) })
	}
	return r
}

func (e *goredisExec) doMulti(ctx context.Context, cs []command) []reply {
	if len(cs) == 0 {
		return nil
	}
	p := e.c.Pipeline()
	cmds := make([]*goredis.Cmd, len(cs))
	for i, c := range cs {
		cmds[i] = p.Do(ctx, toAny(c.args)...)
	}
	_, _ = p.Exec(ctx) // each command carries its own error
	out := make([]reply, len(cmds))
	for i, c := range cmds {
		out[i] = fromGoredis(c)
	}
	if cc, ok := e.c.(*goredis.ClusterClient); ok {
		for i, r := range out {
			out[i] = clusterRetry(ctx, cc.ReloadState, r, func() reply { return fromGoredis(e.c.Do(ctx, toAny(cs[i].args)...)) })
		}
	}
	return out
}

func (e *goredisExec) masters(ctx context.Context) ([]executor, error) {
	var (
		mu  sync.Mutex
		out []executor
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
		return []executor{e}, nil
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (e *goredisExec) isCluster() bool {
	_, ok := e.c.(*goredis.ClusterClient)
	return ok
}

// knownNodes returns the cluster client's seeds and the nodes of its slot map.
func (e *goredisExec) knownNodes() []string {
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

// node returns a client of the node at addr, made with the cluster client's options (go-redis
// does not lend its own) and kept until close.
func (e *goredisExec) node(addr string) (executor, error) {
	cc, ok := e.c.(*goredis.ClusterClient)
	if !ok {
		return nil, errors.New("not a cluster client")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if c, ok := e.nodes[addr]; ok {
		return &goredisExec{c: c}, nil
	}
	o := cc.Options()
	opt := &goredis.Options{
		Addr: addr, ClientName: o.ClientName, Dialer: o.Dialer, OnConnect: o.OnConnect,
		Protocol: o.Protocol, Username: o.Username, Password: o.Password,
		CredentialsProvider: o.CredentialsProvider, CredentialsProviderContext: o.CredentialsProviderContext,
		StreamingCredentialsProvider: o.StreamingCredentialsProvider,
		MaxRetries:                   -1, DialTimeout: o.DialTimeout, ReadTimeout: o.ReadTimeout, WriteTimeout: o.WriteTimeout,
		ContextTimeoutEnabled: o.ContextTimeoutEnabled, PoolFIFO: o.PoolFIFO, PoolSize: o.PoolSize,
		PoolTimeout: o.PoolTimeout, ConnMaxIdleTime: o.ConnMaxIdleTime, ConnMaxLifetime: o.ConnMaxLifetime,
		TLSConfig: o.TLSConfig, DisableIdentity: o.DisableIdentity, IdentitySuffix: o.IdentitySuffix,
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
	return &goredisExec{c: c}, nil
}

func (e *goredisExec) close() {
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
func fromGoredis(c *goredis.Cmd) reply {
	v, err := c.Result()
	if err != nil {
		if errors.Is(err, goredis.Nil) {
			return reply{}
		}
		var re goredis.Error
		if errors.As(err, &re) {
			return redisErrReply(err)
		}
		return faultReply(err)
	}
	return fromValue(v)
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
