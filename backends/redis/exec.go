package redis

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// executor carries commands to Redis. It is the only thing an engine (rueidis, go-redis)
// implements; every command's semantics live in Backend, above it.
type executor interface {
	// do runs one command.
	do(ctx context.Context, c command) reply
	// doMulti runs the commands in one pipeline (on Cluster: one per node) and returns their replies
	// in order. Commands may be for keys of different slots, but each command's keys share a slot.
	doMulti(ctx context.Context, cs []command) []reply
	// masters returns an executor for each master: the executor itself for a single server, one per
	// master node on Cluster.
	masters(ctx context.Context) ([]executor, error)
	// isCluster reports whether the executor talks to a Redis Cluster.
	isCluster() bool
	// knownNodes (Cluster) returns the addresses of the nodes the driver knows, masters and
	// replicas, to ask for the topology.
	knownNodes() []string
	// node (Cluster) returns an executor that sends commands to the node at addr, over the
	// driver's connection to it when it has one.
	node(addr string) (executor, error)
	// close releases the client if the executor owns it.
	close()
}

// cachingExecutor is implemented by engines with client-side caching (rueidis with client_side=true).
type cachingExecutor interface {
	// getCached is GET through the local cache: a hit is served without a round trip. ttl bounds
	// how long the entry stays local (also bounded by the key's own TTL).
	getCached(ctx context.Context, key string, ttl time.Duration) (r reply, hit bool)
	// getManyCached is getCached for several keys in one round trip for the misses; it returns
	// the replies in order and how many were hits.
	getManyCached(ctx context.Context, keys []string, ttl time.Duration) (rs []reply, hits int)
}

// keyGetter is implemented by executors that send GET key without building a command (rueidis,
// and the guard and lazy executors over it): the hot path of Get.
type keyGetter interface {
	get(ctx context.Context, key string) reply
}

// getVia runs GET key on ex, through its get when it has one.
func getVia(ctx context.Context, ex executor, key string) reply {
	if g, ok := ex.(keyGetter); ok {
		return g.get(ctx, key)
	}
	return ex.do(ctx, keyCmd(true, "GET", key))
}

// command is one Redis command: args[0] is its name; args[keyAt:keyAt+nkeys] are its keys (which
// route it on Cluster). A read-only command may be retried by the engine after a network error.
type command struct {
	args     []string
	keyAt    int
	nkeys    int
	readOnly bool
}

// keyCmd builds "name key args..." with one key.
func keyCmd(readOnly bool, name, key string, args ...string) command {
	a := make([]string, 0, 2+len(args))
	a = append(a, name, key)
	a = append(a, args...)
	return command{args: a, keyAt: 1, nkeys: 1, readOnly: readOnly}
}

// plainCmd builds a command without keys.
func plainCmd(readOnly bool, args ...string) command {
	return command{args: args, readOnly: readOnly}
}

// name returns the command's name for error messages ("EVALSHA" is reported as the script's name by
// the caller).
func (c command) name() string {
	if len(c.args) == 0 {
		return "?"
	}
	return c.args[0]
}

// kind is the type of a reply.
type kind uint8

const (
	kindNil kind = iota
	kindInt
	kindStr
	kindArr
	kindOther // a double, boolean, map or other RESP3 type the backend does not use
)

// reply is a command's answer: an error, or a value of one kind. fault marks an error that did not
// come from Redis (a network error or a timeout), as opposed to an error reply.
type reply struct {
	err   error
	fault bool
	kind  kind
	i     int64
	s     string
	a     []reply
}

func errReply(err error) reply { return reply{err: err} }

// int returns an integer reply.
func (r reply) int() (int64, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.kind != kindInt {
		return 0, r.unexpected("an integer")
	}
	return r.i, nil
}

// intText returns an integer sent as text, as GET sends a counter.
func (r reply) intText() (int64, error) {
	s, found, err := r.str()
	if err != nil {
		return 0, err
	}
	if !found {
		return 0, r.unexpected("an integer as text")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, unexpectedReply(fmt.Sprintf("unexpected reply: %q is not an integer", s))
	}
	return n, nil
}

// str returns a string reply; found is false for a nil reply.
func (r reply) str() (s string, found bool, err error) {
	if r.err != nil {
		return "", false, r.err
	}
	switch r.kind {
	case kindNil:
		return "", false, nil
	case kindStr:
		return r.s, true, nil
	}
	return "", false, r.unexpected("a string")
}

// arr returns an array reply; a nil reply is an empty array.
func (r reply) arr() ([]reply, error) {
	if r.err != nil {
		return nil, r.err
	}
	switch r.kind {
	case kindNil:
		return nil, nil
	case kindArr:
		return r.a, nil
	}
	return nil, r.unexpected("an array")
}

// strs returns an array of strings.
func (r reply) strs() ([]string, error) {
	a, err := r.arr()
	if err != nil {
		return nil, err
	}
	out := make([]string, len(a))
	for i, e := range a {
		s, _, err := e.str()
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

// ints returns an array of integers.
func (r reply) ints() ([]int64, error) {
	a, err := r.arr()
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(a))
	for i, e := range a {
		n, err := e.int()
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

func (r reply) unexpected(want string) error {
	names := [...]string{"nil", "an integer", "a string", "an array", "a value of another type"}
	return unexpectedReply(fmt.Sprintf("unexpected reply: got %s, want %s", names[r.kind], want))
}

// unexpectedReply is the error of a reply of another kind than the command gives: Redis answered,
// so it is not a sign that it is unavailable.
type unexpectedReply string

func (e unexpectedReply) Error() string { return string(e) }
