package redis

import (
	"context"
	"errors"
	"sync"

	goredis "github.com/redis/go-redis/v9"
)

// goredisExec is the executor over a go-redis client (a *Client, *ClusterClient, *Ring or failover
// client behind the UniversalClient interface).
type goredisExec struct {
	c    goredis.UniversalClient
	owns bool // close closes c
}

func toAny(args []string) []any {
	a := make([]any, len(args))
	for i, s := range args {
		a[i] = s
	}
	return a
}

func (e *goredisExec) do(ctx context.Context, c command) reply {
	return fromGoredis(e.c.Do(ctx, toAny(c.args)...))
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

func (e *goredisExec) close() {
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
			return errReply(err)
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
