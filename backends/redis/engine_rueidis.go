package redis

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/redis/rueidis"
)

// rueidisExec is the executor over a rueidis client: auto-pipelining, and client-side caching when
// the client was built with it.
type rueidisExec struct {
	c       rueidis.Client
	cluster bool
	owns    bool            // close closes c
	stores  *storeSet       // the client-side caches, when the client has them
	monitor *clusterMonitor // Cluster: watches the masters' health

	// dialNode (Cluster) opens a client of one node the cluster client does not know (a master
	// importing its first slots); such clients are kept in extra and closed with the executor.
	dialNode func(addr string) (rueidis.Client, error)
	mu       sync.Mutex
	extra    map[string]rueidis.Client
}

func newRueidisExec(c rueidis.Client, owns bool) *rueidisExec {
	return &rueidisExec{c: c, cluster: c.Mode() == rueidis.ClientModeCluster, owns: owns}
}

func (e *rueidisExec) build(c command) rueidis.Completed {
	// Arbitrary takes the tokens before the keys, Keys the keys (which route the command on
	// Cluster), Args the rest; a command without keys is all tokens.
	a := e.c.B().Arbitrary(c.args[:c.keyAt]...).Keys(c.args[c.keyAt : c.keyAt+c.nkeys]...).Args(c.args[c.keyAt+c.nkeys:]...)
	if c.readOnly {
		return a.ReadOnly()
	}
	return a.Build()
}

func (e *rueidisExec) do(ctx context.Context, c command) reply {
	r := fromRueidis(e.c.Do(ctx, e.build(c)))
	if e.cluster {
		return retryTryAgain(ctx, r, func() reply { return fromRueidis(e.c.Do(ctx, e.build(c))) })
	}
	return r
}

// get is do(GET key) with the command from rueidis' builder, which takes its slice from a pool.
func (e *rueidisExec) get(ctx context.Context, key string) reply {
	r := fromRueidis(e.c.Do(ctx, e.c.B().Get().Key(key).Build()))
	if e.cluster {
		return retryTryAgain(ctx, r, func() reply { return fromRueidis(e.c.Do(ctx, e.c.B().Get().Key(key).Build())) })
	}
	return r
}

func (e *rueidisExec) doMulti(ctx context.Context, cs []command) []reply {
	if len(cs) == 0 {
		return nil
	}
	built := make([]rueidis.Completed, len(cs))
	for i, c := range cs {
		built[i] = e.build(c)
	}
	res := e.c.DoMulti(ctx, built...)
	out := make([]reply, len(res))
	for i, r := range res {
		out[i] = fromRueidis(r)
		if e.cluster {
			out[i] = retryTryAgain(ctx, out[i], func() reply { return fromRueidis(e.c.Do(ctx, e.build(cs[i]))) })
		}
	}
	return out
}

func (e *rueidisExec) getCached(ctx context.Context, key string, ttl time.Duration) (reply, bool) {
	r := e.c.DoCache(ctx, e.c.B().Get().Key(key).Cache(), ttl)
	return fromRueidis(r), r.IsCacheHit()
}

func (e *rueidisExec) getManyCached(ctx context.Context, keys []string, ttl time.Duration) ([]reply, int) {
	if len(keys) == 0 {
		return nil, 0
	}
	cmds := make([]rueidis.CacheableTTL, len(keys))
	for i, k := range keys {
		cmds[i] = rueidis.CT(e.c.B().Get().Key(k).Cache(), ttl)
	}
	res := e.c.DoMultiCache(ctx, cmds...)
	out := make([]reply, len(res))
	hits := 0
	for i, r := range res {
		out[i] = fromRueidis(r)
		if r.IsCacheHit() {
			hits++
		}
	}
	return out, hits
}

func (e *rueidisExec) masters(ctx context.Context) ([]executor, error) {
	if e.cluster {
		return nil, errors.New("on Cluster the masters come from the topology")
	}
	return []executor{e}, nil
}

func (e *rueidisExec) isCluster() bool { return e.cluster }

func (e *rueidisExec) knownNodes() []string {
	if !e.cluster {
		return nil
	}
	addrs := make([]string, 0, 8)
	for a := range e.c.Nodes() {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	return addrs
}

func (e *rueidisExec) node(addr string) (executor, error) {
	if n, ok := e.c.Nodes()[addr]; ok {
		return &rueidisExec{c: n}, nil // a node's client shares the cluster's connection: never closed
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if n, ok := e.extra[addr]; ok {
		return &rueidisExec{c: n}, nil
	}
	if e.dialNode == nil {
		return nil, fmt.Errorf("node %s is not known to the client", addr)
	}
	n, err := e.dialNode(addr)
	if err != nil {
		return nil, fmt.Errorf("connect to node %s: %w", addr, err)
	}
	if e.extra == nil {
		e.extra = map[string]rueidis.Client{}
	}
	e.extra[addr] = n
	return &rueidisExec{c: n}, nil
}

// connectKeys returns 256 keys whose hash slots differ in their low 8 bits: reading them through
// the cache path, which picks a node's connection by the key's slot, touches every connection.
func (e *rueidisExec) connectKeys() []string {
	seen := make(map[uint16]bool)
	var keys []string
	for i := 0; len(keys) < 1<<rueidis.MaxPipelineMultiplex; i++ {
		k := "cashews:connect:" + strconv.Itoa(i)
		c := e.c.B().Get().Key(k).Cache()
		if s := c.Slot() & (1<<rueidis.MaxPipelineMultiplex - 1); !seen[s] {
			seen[s] = true
			keys = append(keys, k)
		}
	}
	return keys
}

// connectAll opens every connection now: rueidis opens a node's pipelined connections, and a
// Cluster's nodes, when a command first needs them, and a connection opened while Redis hangs can
// hold its command beyond the deadline (see guard). On a single server it reads connectKeys (GETs
// of keys nobody writes, cached for a millisecond with client-side caching); on Cluster it sends
// PING to every node the client knows, and fails only if none answers (a replica may be down).
func (e *rueidisExec) connectAll(ctx context.Context) error {
	if e.cluster {
		nodes := e.c.Nodes()
		errs := make(chan error, len(nodes))
		for addr, n := range nodes {
			go func() { // owned by connectAll: it reads every result
				err := n.Do(ctx, n.B().Ping().Build()).Error()
				if err != nil {
					err = fmt.Errorf("%s: %w", addr, err)
				}
				errs <- err
			}()
		}
		var all []error
		for range nodes {
			if err := <-errs; err != nil {
				all = append(all, err)
			}
		}
		if len(all) == len(nodes) && len(all) > 0 {
			return errors.Join(all...)
		}
		return nil
	}
	keys := e.connectKeys()
	cmds := make([]rueidis.CacheableTTL, len(keys))
	for i, k := range keys {
		cmds[i] = rueidis.CT(e.c.B().Get().Key(k).Cache(), time.Millisecond)
	}
	for _, r := range e.c.DoMultiCache(ctx, cmds...) {
		if err := r.Error(); err != nil && !rueidis.IsRedisNil(err) {
			return err
		}
	}
	return nil
}

func (e *rueidisExec) close() {
	if e.monitor != nil {
		e.monitor.close()
	}
	e.mu.Lock()
	for _, n := range e.extra {
		n.Close()
	}
	e.extra = nil
	e.mu.Unlock()
	if e.owns {
		e.c.Close()
	}
}

// fromRueidis converts a rueidis result. A redis nil is a nil reply, not an error.
func fromRueidis(r rueidis.RedisResult) reply {
	m, err := r.ToMessage()
	if err != nil {
		if rueidis.IsRedisNil(err) {
			return reply{}
		}
		if _, ok := rueidis.IsRedisErr(err); ok {
			return redisErrReply(err)
		}
		return faultReply(err)
	}
	return fromMessage(&m)
}

func fromMessage(m *rueidis.RedisMessage) reply {
	switch {
	case m.IsNil():
		return reply{}
	case m.IsInt64():
		n, _ := m.AsInt64()
		return reply{kind: kindInt, i: n}
	case m.IsString():
		s, _ := m.ToString()
		return reply{kind: kindStr, s: s}
	case m.IsArray():
		vs, _ := m.ToArray()
		a := make([]reply, len(vs))
		for i := range vs {
			a[i] = fromMessage(&vs[i])
		}
		return reply{kind: kindArr, a: a}
	}
	if err := m.Error(); err != nil {
		return errReply(err)
	}
	// A verbatim string (CLUSTER NODES on RESP3) keeps its format: "txt:...".
	if s, err := m.ToString(); err == nil && len(s) >= 4 && s[3] == ':' {
		return reply{kind: kindStr, s: s[4:]}
	}
	return reply{kind: kindOther}
}
