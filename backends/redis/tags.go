package redis

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cashews-go/cashews/backends"
)

// Tags on Redis, where a tag's keys may live in other slots than the tag (on Cluster) and nothing
// spans two slots atomically.
//
// Each tagged write gets a random token τ (16 hex digits). The backend keeps two things:
//
//   - the key's record, at recordKey(key): τ followed by the key's tags. It is in the key's own slot
//     (a hash tag chosen for that slot), so that one script writes the value and its record, and one
//     deletes them; it has the key's TTL. A write without tags deletes it, and so do Delete,
//     DeleteMany and DeleteMatch. A key "carries" the tags of its record.
//   - each tag's index, a sorted set at tagKey(tag) whose members are τ + state + key and whose
//     scores are the time the key expires (+inf: never) plus a margin. Members are unique per write,
//     so removing the members one has read never removes another write's.
//
// A tagged Set (1) adds τ+"p"+key to every tag's index ("pending"), (2) writes the value and the
// record in one script, (3) adds τ+"d"+key ("done") and removes the pending member. DeleteTags reads
// a tag's members, deletes each key whose record still starts with the member's token (one script in
// the key's slot, so that it never deletes a value written since by another Set), removes from the
// key's other tags the members of the deleted write, and removes the members it read. A Set that
// returned before DeleteTags started has its "done" member in the index, and its record unless the
// key was written or deleted since: the key is deleted. A Set racing DeleteTags may lose its pending
// member, but its done member comes after its value, so a later DeleteTags finds it. If step 3 fails,
// the pending member still covers the key (and Set returns the error).
//
// Writes without tags (Set, SetMany) end a key's tags too, by deleting its record, but only once the
// backend has seen tags in use (tagsSeen: it ran SetTagged, DeleteTags or TagKeys, or found a record
// when it deleted or expired a key), so that a program that never uses tags pays nothing for them. A
// write of a tagged key by a backend that has not seen tags yet leaves the key's record: DeleteTags
// then deletes the new value too. That errs on the side of deleting; it never misses a tagged value.
//
// Bookkeeping goes with its keys: records expire, and are deleted, with their keys; a tag's members
// expire by their scores (pruned on every add) and are removed when their key is deleted or
// overwritten through this backend; a tag's index expires when its last member would. Redis' own
// eviction (maxmemory-policy other than noeviction) can drop a record or an index while its key
// lives: the backend cannot prevent it, and DeleteTags then misses the key.

// tagMargin is added to a member's score: members outlive their keys by this much, so that the
// clocks of two Cluster nodes (the key's and the tag's) and the time between the steps of a Set
// never make a member go before its key.
const tagMargin = time.Second

const (
	recordPrefix = "_cashews:kt:"   // + "{" + slot tag + "}" + key: a key's record
	tagPrefix    = "_cashews:tags:" // + tag: a tag's index
	// legacyTagPrefix starts the sets in which the Cache of earlier versions kept a tag's keys.
	// DeleteTags still deletes the keys they list, so that no value stored before an upgrade outlives
	// the invalidation of its tag.
	legacyTagPrefix = "_cashews:tag:"
	tokenLen        = 16
)

var _ backends.Tagger = (*Backend)(nil)

// internalKey reports whether key is the backend's own bookkeeping, which Scan never yields and
// DeleteMatch never deletes by itself.
func internalKey(key string) bool {
	return strings.HasPrefix(key, recordPrefix) || strings.HasPrefix(key, tagPrefix)
}

func tagKey(tag string) string { return tagPrefix + tag }

// recordKey returns the key of key's record: in key's slot, whatever key's own hash tag.
func recordKey(key string) string {
	return recordPrefix + "{" + slotTag(keySlot(key)) + "}" + key
}

// crc16 is the CRC16-CCITT (XModem) of Redis Cluster's key slots.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// keySlot returns the Cluster slot of key: the CRC16 of its hash tag (the text between the first
// "{" and the next "}", when not empty) or of the whole key, modulo 16384.
func keySlot(key string) uint16 {
	if s := strings.IndexByte(key, '{'); s >= 0 {
		if e := strings.IndexByte(key[s+1:], '}'); e > 0 {
			key = key[s+1 : s+1+e]
		}
	}
	return crc16(key) & 16383
}

var (
	slotTagsOnce sync.Once
	slotTags     [16384]string
)

// slotTag returns a short hash tag whose slot is slot.
func slotTag(slot uint16) string {
	slotTagsOnce.Do(func() {
		const digits = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		left := len(slotTags)
		for n := 0; left > 0; n++ {
			var buf [8]byte
			i := len(buf)
			for v := n; ; v /= len(digits) {
				i--
				buf[i] = digits[v%len(digits)]
				if v < len(digits) {
					break
				}
			}
			s := string(buf[i:])
			if sl := crc16(s) & 16383; slotTags[sl] == "" {
				slotTags[sl] = s
				left--
			}
		}
	})
	return slotTags[slot]
}

// newToken returns a write's token.
func newToken() string {
	const hex = "0123456789abcdef"
	var b [tokenLen]byte
	v := rand.Uint64()
	for i := range b {
		b[i] = hex[v>>(4*i)&15]
	}
	return string(b[:])
}

// encodeRecord returns the record of a write: its token and its tags.
func encodeRecord(token string, tags []string) string {
	var b strings.Builder
	b.WriteString(token)
	var n [binary.MaxVarintLen64]byte
	for _, t := range tags {
		b.Write(n[:binary.PutUvarint(n[:], uint64(len(t)))])
		b.WriteString(t)
	}
	return b.String()
}

// decodeRecord returns the token and tags of a record; ok is false for a record that does not parse
// (not written by this backend).
func decodeRecord(rec string) (token string, tags []string, ok bool) {
	if len(rec) < tokenLen {
		return "", nil, false
	}
	token, rest := rec[:tokenLen], rec[tokenLen:]
	for len(rest) > 0 {
		n, w := binary.Uvarint([]byte(rest[:min(len(rest), binary.MaxVarintLen64)]))
		if w <= 0 || uint64(len(rest)-w) < n {
			return "", nil, false
		}
		tags = append(tags, rest[w:w+int(n)])
		rest = rest[w+int(n):]
	}
	return token, tags, true
}

// member returns the index member of a write: token, state ('p' pending, 'd' done), key.
func member(token string, state byte, key string) string {
	return token + string(state) + key
}

// parseMember splits a member; ok is false for one that does not parse.
func parseMember(m string) (token string, key string, ok bool) {
	if len(m) < tokenLen+1 {
		return "", "", false
	}
	return m[:tokenLen], m[tokenLen+1:], true
}

// uniqueTags returns tags without repeats.
func uniqueTags(tags []string) []string {
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		dup := false
		for _, o := range out {
			if o == t {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, t)
		}
	}
	return out
}

var (
	// tagIndexScript adds a member to a tag's index and removes others, or raises the scores of
	// existing members; it prunes the members whose keys have expired, and makes the index expire
	// with its last member.
	// ARGV: op, ttl in ms ("0": never expires), margin in ms, then for op "add" the member to add and
	// members to remove, for op "bump" the members whose scores to raise.
	tagIndexScript = newScript("tag index", `
local key = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. now)
local score = '+inf'
if ARGV[2] ~= '0' then
  score = now + tonumber(ARGV[2]) + tonumber(ARGV[3])
end
if ARGV[1] == 'bump' then
  for i = 4, #ARGV do
    redis.call('ZADD', key, 'XX', 'GT', score, ARGV[i])
  end
else
  redis.call('ZADD', key, score, ARGV[4])
  if #ARGV > 4 then
    redis.call('ZREM', key, unpack(ARGV, 5))
  end
end
local top = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
if top[2] then
  if top[2] == 'inf' then
    redis.call('PERSIST', key)
  else
    redis.call('PEXPIREAT', key, top[2])
  end
end
return 1`)

	// setScript writes a value and its record (or deletes the record of a write without tags) when
	// the mode allows, and returns {stored, the record it replaced}.
	// KEYS: key, record. ARGV: value, ttl in ms ("0": none), mode ("", "NX", "XX"), record ("": none).
	setScript = newScript("set", `
local exists = redis.call('EXISTS', KEYS[1]) == 1
if (ARGV[3] == 'NX' and exists) or (ARGV[3] == 'XX' and not exists) then
  return {0, false}
end
local old = redis.call('GET', KEYS[2])
if ARGV[2] == '0' then
  redis.call('SET', KEYS[1], ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
if ARGV[4] == '' then
  if old then redis.call('DEL', KEYS[2]) end
elseif ARGV[2] == '0' then
  redis.call('SET', KEYS[2], ARGV[4])
else
  redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[2])
end
return {1, old}`)

	// deleteScript deletes a key and its record, and returns {deleted, the record}.
	// KEYS: key, record.
	deleteScript = newScript("delete", `
local old = redis.call('GET', KEYS[2])
if old then redis.call('DEL', KEYS[2]) end
return {redis.call('UNLINK', KEYS[1]), old}`)

	// deleteTaggedScript deletes a key and its record only when the record is of the write with the
	// token, and returns {deleted (-1: another write's, or none), the record}.
	// KEYS: key, record. ARGV: token.
	deleteTaggedScript = newScript("delete tagged", `
local rec = redis.call('GET', KEYS[2])
if rec and string.sub(rec, 1, 16) == ARGV[1] then
  redis.call('DEL', KEYS[2])
  return {redis.call('UNLINK', KEYS[1]), rec}
end
return {-1, false}`)

	// expireScript sets the TTL of an existing key and of its record, and returns {exists, the
	// record}.
	// KEYS: key, record. ARGV: ttl in ms ("0": remove the TTL).
	expireScript = newScript("expire", `
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {0, false}
end
local rec = redis.call('GET', KEYS[2])
for i = 1, 2 do
  if i == 1 or rec then
    if ARGV[1] == '0' then
      redis.call('PERSIST', KEYS[i])
    else
      redis.call('PEXPIRE', KEYS[i], ARGV[1])
    end
  end
end
return {1, rec}`)
)

// scriptCall is one script to run in a pipeline.
type scriptCall struct {
	s    *script
	keys []string
	args []string
}

// evalMulti runs the scripts in one pipeline (on Cluster, one per node) and returns their replies in
// order. A script the server does not have yet is sent again with EVAL.
func (b *Backend) evalMulti(ctx context.Context, calls []scriptCall) []reply {
	if len(calls) == 0 {
		return nil
	}
	build := func(c scriptCall, eval bool) command {
		a := make([]string, 0, 3+len(c.keys)+len(c.args))
		if eval {
			a = append(a, "EVAL", c.s.src)
		} else {
			a = append(a, "EVALSHA", c.s.sha)
		}
		a = append(a, strconv.Itoa(len(c.keys)))
		a = append(a, c.keys...)
		a = append(a, c.args...)
		return command{args: a, keyAt: 3, nkeys: len(c.keys)}
	}
	cs := make([]command, len(calls))
	for i, c := range calls {
		cs[i] = build(c, false)
	}
	rs := b.ex.doMulti(ctx, cs)
	var again []int
	for i, r := range rs {
		if r.err != nil && strings.HasPrefix(strings.TrimPrefix(r.err.Error(), "ERR "), "NOSCRIPT") {
			again = append(again, i)
		}
	}
	if len(again) > 0 {
		retry := make([]command, len(again))
		for j, i := range again {
			retry[j] = build(calls[i], true)
		}
		for j, r := range b.ex.doMulti(ctx, retry) {
			rs[again[j]] = r
		}
	}
	for _, c := range calls {
		b.wrote(c.keys...)
	}
	return rs
}

// pair reads a script's {integer, string or nil} reply.
func pair(r reply) (n int64, s string, found bool, err error) {
	a, err := r.arr()
	if err != nil {
		return 0, "", false, err
	}
	if len(a) != 2 {
		return 0, "", false, fmt.Errorf("unexpected reply: %d elements, want 2", len(a))
	}
	if n, err = a[0].int(); err != nil {
		return 0, "", false, err
	}
	s, found, err = a[1].str()
	return n, s, found, err
}

// forget removes the index members of the write whose record is rec from the indexes of its tags,
// except the members in skip (removed by the caller). It runs after the record went: the write is
// not the key's any more. Errors are returned: a member left behind makes a later DeleteTags look at
// a key that no longer carries the tag, which it leaves alone, and is pruned then.
func (b *Backend) forget(key string, recs []string) []command {
	b.tagsSeen.Store(true)
	var cs []command
	for _, rec := range recs {
		token, tags, ok := decodeRecord(rec)
		if !ok {
			continue
		}
		for _, t := range tags {
			cs = append(cs, keyCmd(false, "ZREM", tagKey(t), member(token, 'p', key), member(token, 'd', key)))
		}
	}
	return cs
}

// runCleanup runs the commands that remove stale index members; it reports the first error.
func (b *Backend) runCleanup(ctx context.Context, cs []command) error {
	if len(cs) == 0 {
		return nil
	}
	cctx, cancel := b.withTimeout(ctx)
	defer cancel()
	for _, r := range b.ex.doMulti(cctx, cs) {
		if r.err != nil {
			return b.fail(ctx, "ZREM", "", r.err)
		}
	}
	return nil
}

// modeArg is the mode argument of setScript.
func modeArg(mode backends.SetMode) string {
	switch mode {
	case backends.SetIfAbsent:
		return "NX"
	case backends.SetIfPresent:
		return "XX"
	}
	return ""
}

// ttlArg is a TTL in whole milliseconds, "0" for none.
func ttlArg(ttl time.Duration) string {
	if ttl <= 0 {
		return "0"
	}
	return ms(ttl)
}

// SetTagged is Set that also attaches tags to the key, replacing the tags it had (see the comment at
// the top of this file for how). It takes three round trips: the tags' pending members, the value
// with its record, the tags' done members (with the removal of the replaced write's members).
func (b *Backend) SetTagged(ctx context.Context, key string, value any, ttl time.Duration, mode backends.SetMode, tags []string) (bool, error) {
	if len(tags) == 0 {
		return b.Set(ctx, key, value, ttl, mode)
	}
	if b.closed.Load() {
		return false, errClosed
	}
	if err := checkTTL(ttl); err != nil {
		return false, err
	}
	if mode > backends.SetIfPresent {
		return false, invalid("unknown set mode %d", mode)
	}
	v, err := toBytes(key, value)
	if err != nil {
		return false, err
	}
	b.tagsSeen.Store(true)
	tags = uniqueTags(tags)
	token := newToken()
	pending, done := member(token, 'p', key), member(token, 'd', key)
	ttlS, margin := ttlArg(ttl), ms(tagMargin)

	// 1. Pending members: from now on a DeleteTags of any of the tags looks at the key.
	calls := make([]scriptCall, len(tags))
	for i, t := range tags {
		calls[i] = scriptCall{s: tagIndexScript, keys: []string{tagKey(t)}, args: []string{"add", ttlS, margin, pending}}
	}
	cctx, cancel := b.withTimeout(ctx)
	rs := b.evalMulti(cctx, calls)
	cancel()
	for i, r := range rs {
		if r.err != nil {
			undo := make([]command, len(tags))
			for j, t := range tags {
				undo[j] = keyCmd(false, "ZREM", tagKey(t), pending)
			}
			_ = b.runCleanup(ctx, undo) // best effort: a pending member without its write is pruned later
			return false, b.fail(ctx, "tag index", tagKey(tags[i]), r.err)
		}
	}

	// 2. The value and its record.
	cctx, cancel = b.withTimeout(ctx)
	r := b.evalMulti(cctx, []scriptCall{{s: setScript, keys: []string{key, recordKey(key)},
		args: []string{v, ttlS, modeArg(mode), encodeRecord(token, tags)}}})[0]
	cancel()
	stored, old, hadOld, err := pair(r)
	if err != nil {
		// The value may have been written: the pending members stay, so that DeleteTags finds it.
		return false, b.fail(ctx, "set", key, err)
	}
	if stored == 0 {
		undo := make([]command, len(tags))
		for j, t := range tags {
			undo[j] = keyCmd(false, "ZREM", tagKey(t), pending)
		}
		_ = b.runCleanup(ctx, undo)
		return false, nil
	}

	// 3. Done members, after the value: a DeleteTags racing step 2 may have removed the pending ones.
	for i, t := range tags {
		calls[i] = scriptCall{s: tagIndexScript, keys: []string{tagKey(t)}, args: []string{"add", ttlS, margin, done, pending}}
	}
	cctx, cancel = b.withTimeout(ctx)
	rs = b.evalMulti(cctx, calls)
	cancel()
	for i, r := range rs {
		if r.err != nil {
			return true, b.fail(ctx, "tag index", tagKey(tags[i]), r.err) // the pending member covers the key
		}
	}
	if hadOld {
		return true, b.runCleanup(ctx, b.forget(key, []string{old}))
	}
	return true, nil
}

// DeleteTags removes every key that carries one of tags (see the comment at the top of this file),
// and the keys that the tag sets of earlier versions list.
func (b *Backend) DeleteTags(ctx context.Context, tags ...string) (int, error) {
	if b.closed.Load() {
		return 0, errClosed
	}
	if len(tags) == 0 {
		return 0, nil
	}
	b.tagsSeen.Store(true)
	tags = uniqueTags(tags)
	reads := make([]command, 0, 2*len(tags))
	for _, t := range tags {
		reads = append(reads, keyCmd(true, "ZRANGE", tagKey(t), "0", "-1"), keyCmd(true, "SMEMBERS", legacyTagPrefix+t))
	}
	cctx, cancel := b.withTimeout(ctx)
	rs := b.ex.doMulti(cctx, reads)
	cancel()

	type write struct{ key, token string }
	var (
		writes  []write
		seen    = map[write]bool{}
		read    = map[string][]string{} // tag index → members read
		legacy  []string
		legacyK []string
	)
	for i, t := range tags {
		members, err := rs[2*i].strs()
		if err != nil {
			return 0, b.fail(ctx, "ZRANGE", tagKey(t), err)
		}
		read[tagKey(t)] = members
		for _, m := range members {
			token, key, ok := parseMember(m)
			if w := (write{key, token}); ok && !seen[w] {
				seen[w] = true
				writes = append(writes, w)
			}
		}
		old, err := rs[2*i+1].strs()
		switch {
		case err != nil && strings.Contains(err.Error(), "WRONGTYPE"): // not a set of ours
		case err != nil:
			return 0, b.fail(ctx, "SMEMBERS", legacyTagPrefix+t, err)
		case len(old) > 0:
			legacy = append(legacy, old...)
			legacyK = append(legacyK, legacyTagPrefix+t)
		}
	}

	total := 0
	var cleanup []command
	for start := 0; start < len(writes); start += chunk {
		part := writes[start:min(start+chunk, len(writes))]
		calls := make([]scriptCall, len(part))
		for i, w := range part {
			calls[i] = scriptCall{s: deleteTaggedScript, keys: []string{w.key, recordKey(w.key)}, args: []string{w.token}}
		}
		cctx, cancel := b.withTimeout(ctx)
		rs := b.evalMulti(cctx, calls)
		cancel()
		for i, r := range rs {
			n, rec, found, err := pair(r)
			if err != nil {
				return total, b.fail(ctx, "delete tagged", part[i].key, err)
			}
			if n > 0 {
				total += int(n)
			}
			if found {
				cleanup = append(cleanup, b.forget(part[i].key, []string{rec})...)
			}
		}
	}
	// The members read are of deleted writes or of writes no key carries any more; a write that
	// came since has members of its own.
	for idx, members := range read {
		for start := 0; start < len(members); start += chunk {
			cleanup = append(cleanup, keyCmd(false, "ZREM", idx, members[start:min(start+chunk, len(members))]...))
		}
	}
	if err := b.runCleanup(ctx, cleanup); err != nil {
		return total, err
	}
	if len(legacy) > 0 {
		n, err := b.DeleteMany(ctx, legacy)
		total += n
		if err != nil {
			return total, err
		}
		if _, err := b.DeleteMany(ctx, legacyK); err != nil {
			return total, err
		}
	}
	return total, nil
}

// TagKeys returns the live keys that carry tag: the keys of the tag's index whose records are still
// of the indexed write.
func (b *Backend) TagKeys(ctx context.Context, tag string) ([]string, error) {
	if b.closed.Load() {
		return nil, errClosed
	}
	b.tagsSeen.Store(true)
	cctx, cancel := b.withTimeout(ctx)
	members, err := b.ex.do(cctx, keyCmd(true, "ZRANGE", tagKey(tag), "0", "-1")).strs()
	cancel()
	if err != nil {
		return nil, b.fail(ctx, "ZRANGE", tagKey(tag), err)
	}
	tokens := map[string][]string{} // key → tokens indexed
	var keys []string
	for _, m := range members {
		token, key, ok := parseMember(m)
		if !ok {
			continue
		}
		if tokens[key] == nil {
			keys = append(keys, key)
		}
		tokens[key] = append(tokens[key], token)
	}
	var out []string
	for start := 0; start < len(keys); start += chunk {
		part := keys[start:min(start+chunk, len(keys))]
		cs := make([]command, 0, 2*len(part))
		for _, k := range part {
			cs = append(cs, keyCmd(true, "GET", recordKey(k)), keyCmd(true, "EXISTS", k))
		}
		cctx, cancel := b.withTimeout(ctx)
		rs := b.ex.doMulti(cctx, cs)
		cancel()
		for i, k := range part {
			rec, found, err := rs[2*i].str()
			if err != nil {
				return nil, b.fail(ctx, "GET", recordKey(k), err)
			}
			n, err := rs[2*i+1].int()
			if err != nil {
				return nil, b.fail(ctx, "EXISTS", k, err)
			}
			if !found || n == 0 || len(rec) < tokenLen {
				continue
			}
			for _, token := range tokens[k] {
				if rec[:tokenLen] == token {
					out = append(out, k)
					break
				}
			}
		}
	}
	return out, nil
}

// bumpTags raises the scores of the index members of the write whose record is rec to a key's new
// TTL (after Expire), so that they do not go before the key.
func (b *Backend) bumpTags(ctx context.Context, key, rec string, ttl time.Duration) error {
	b.tagsSeen.Store(true)
	token, tags, ok := decodeRecord(rec)
	if !ok {
		return nil
	}
	calls := make([]scriptCall, len(tags))
	for i, t := range tags {
		calls[i] = scriptCall{s: tagIndexScript, keys: []string{tagKey(t)},
			args: []string{"bump", ttlArg(ttl), ms(tagMargin), member(token, 'd', key), member(token, 'p', key)}}
	}
	cctx, cancel := b.withTimeout(ctx)
	defer cancel()
	for i, r := range b.evalMulti(cctx, calls) {
		if r.err != nil {
			return b.fail(ctx, "tag index", tagKey(tags[i]), r.err)
		}
	}
	return nil
}
