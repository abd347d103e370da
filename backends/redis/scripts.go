package redis

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/cashews-go/cashews/backends"
)

// script is a Lua script run with EVALSHA, falling back to EVAL when the server does not have it
// (after a restart or SCRIPT FLUSH). Every script takes exactly one key, so it runs on that key's node
// on Cluster.
type script struct {
	name string
	src  string
	sha  string
}

func newScript(name, src string) *script {
	sum := sha1.Sum([]byte(src))
	return &script{name: name, src: src, sha: hex.EncodeToString(sum[:])}
}

// eval runs s on key with args. Scripts are not retried after a network error: they write.
func (b *Backend) eval(ctx context.Context, s *script, key string, args ...string) reply {
	a := make([]string, 0, 4+len(args))
	a = append(a, "EVALSHA", s.sha, "1", key)
	a = append(a, args...)
	c := command{args: a, keyAt: 3, nkeys: 1}
	r := b.ex.do(ctx, c)
	if r.err != nil && strings.HasPrefix(strings.TrimPrefix(r.err.Error(), "ERR "), "NOSCRIPT") {
		a[0], a[1] = "EVAL", s.src
		r = b.ex.do(ctx, c)
	}
	b.wrote(key) // every script writes
	return r
}

// ms returns a TTL in whole milliseconds, rounded up so that a positive TTL is never zero, and at
// most backends.MaxTTL (rounding time.Duration(math.MaxInt64) up used to overflow).
func ms(d time.Duration) string {
	const milli = int64(time.Millisecond)
	return strconv.FormatInt((int64(backends.CapTTL(d))+milli-1)/milli, 10)
}

var (
	// incrScript: INCRBY that sets the TTL only when it creates the key. It returns the new value
	// as the stored text, not INCRBY's reply: Lua numbers are doubles, which would round counters
	// beyond 2^53.
	// ARGV: by, ttl in ms (> 0).
	incrScript = newScript("incr", `
local created = redis.call('EXISTS', KEYS[1]) == 0
redis.call('INCRBY', KEYS[1], ARGV[1])
if created then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return redis.call('GET', KEYS[1])`)

	// casScript: replace the value only when it is still the one the caller read, keeping the TTL
	// (PTTL then SET PX rather than KEEPTTL, which needs Redis 6). It returns {1} when it swapped,
	// {0, value} when the key holds another value, and {0} when it is missing or of another type.
	// ARGV: old, new.
	casScript = newScript("compare and swap", `
local v = redis.pcall('GET', KEYS[1])
if type(v) ~= 'string' then
  return {0}
end
if v ~= ARGV[1] then
  return {0, v}
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
else
  redis.call('SET', KEYS[1], ARGV[2])
end
return {1}`)

	// unlockScript: delete the lock only when it holds the token. A key of another type is not
	// held by the token.
	// ARGV: token.
	unlockScript = newScript("unlock", `
local v = redis.pcall('GET', KEYS[1])
if type(v) == 'string' and v == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)

	// extendScript: set the lock's TTL only when it holds the token.
	// ARGV: token, ttl in ms.
	extendScript = newScript("extend lock", `
local v = redis.pcall('GET', KEYS[1])
if type(v) == 'string' and v == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`)

	// setAddScript: SADD, then the TTL rule: with ttl == 0 the set never expires; with ttl > 0 a new
	// set gets it, and an existing one keeps a later expiry (or none) and otherwise gets ttl.
	// ARGV: ttl in ms ("0": none), members...
	setAddScript = newScript("set add", `
local key = KEYS[1]
local existed = redis.call('EXISTS', key) == 1
local added = 0
for i = 2, #ARGV, 1000 do
  added = added + redis.call('SADD', key, unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
local ttl = tonumber(ARGV[1])
if ttl == 0 then
  redis.call('PERSIST', key)
elseif not existed then
  redis.call('PEXPIRE', key, ARGV[1])
else
  local cur = redis.call('PTTL', key)
  if cur >= 0 and cur < ttl then
    redis.call('PEXPIRE', key, ARGV[1])
  end
end
return added`)

	// sliceIncrScript: the sliding-window counter over a sorted set whose scores are event times in
	// microseconds. Forget the events at or before the cutoff, record one at now (with a unique
	// member) if fewer than limit remain and then expire the key window after it, and count the
	// events up to now. A window holding more than limit events (a caller lowered the limit) keeps
	// its newest limit.
	// ARGV: now µs, cutoff µs, limit, member, window in ms.
	sliceIncrScript = newScript("slice incr", `
local key = KEYS[1]
redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[2])
local limit = tonumber(ARGV[3])
if redis.call('ZCARD', key) > limit then
  redis.call('ZREMRANGEBYRANK', key, 0, -(limit + 1))
end
local rec = 0
if redis.call('ZCARD', key) < tonumber(ARGV[3]) then
  redis.call('ZADD', key, ARGV[1], ARGV[4])
  redis.call('PEXPIRE', key, ARGV[5])
  rec = 1
end
return {redis.call('ZCOUNT', key, '-inf', ARGV[1]), rec}`)
)
