package disk

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/internal/quote"
)

// Sets keep their members in cashews_members, one row each; the entry of the set (kind set, empty
// value) carries its expiry and its size (the key plus the members' bytes). An empty set is removed,
// as in Redis.

// SetAdd adds members to the set at key and returns how many were new. With ttl > 0 the set expires
// no earlier than ttl from now: a later expiry, or none, is kept. With ttl == 0 it never expires.
func (b *Backend) SetAdd(ctx context.Context, key string, ttl time.Duration, members ...string) (int, error) {
	if err := checkTTL(ttl); err != nil {
		return 0, err
	}
	ctx, cancel, err := b.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer cancel()
	if len(members) == 0 {
		return 0, nil
	}
	s := b.shardOf(key)
	added, grow := 0, 0
	err = s.tx(ctx, []*stmt{s.entry, s.delAny, s.put, s.addMember, s.setEntry}, func(tx *sql.Tx) error {
		added, grow = 0, 0
		now := b.now()
		kind, exp, _, found, err := readEntry(ctx, tx, s, key, now)
		if err != nil {
			return err
		}
		newExp := expireAt(now, ttl)
		switch {
		case found && kind != kindSet:
			return fmt.Errorf("the key holds a %s: %w", kindName(kind), backends.ErrWrongType)
		case found:
			if ttl > 0 && (exp == 0 || exp > newExp) {
				newExp = exp
			}
		default:
			// Remove an expired entry (and, by trigger, its members) before the set starts anew.
			if _, err := s.delAny.in(ctx, tx).ExecContext(ctx, []byte(key)); err != nil {
				return err
			}
			if _, err := s.put.in(ctx, tx).ExecContext(ctx, []byte(key), now, kindSet, []byte{}, newExp, 0, len(key)); err != nil {
				return err
			}
			grow = len(key)
		}
		add := s.addMember.in(ctx, tx)
		for _, m := range members {
			res, err := add.ExecContext(ctx, []byte(key), []byte(m))
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n > 0 {
				added++
				grow += len(m)
			}
		}
		memberBytes := grow
		if !found {
			memberBytes -= len(key)
		}
		_, err = s.setEntry.in(ctx, tx).ExecContext(ctx, []byte(key), newExp, b.stamp(now), memberBytes)
		return err
	})
	if err != nil {
		return 0, b.fail("set add", s, key, err)
	}
	b.wrote(ctx, s, grow)
	return added, nil
}

// SetRemove removes members from the set at key and returns how many were present.
func (b *Backend) SetRemove(ctx context.Context, key string, members ...string) (int, error) {
	ctx, cancel, err := b.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer cancel()
	if len(members) == 0 {
		return 0, nil
	}
	s := b.shardOf(key)
	removed := 0
	err = s.tx(ctx, []*stmt{s.entry, s.removeMember, s.anyMember, s.delAny, s.resize}, func(tx *sql.Tx) error {
		removed = 0
		found, err := b.liveSet(ctx, tx, s, key)
		if err != nil || !found {
			return err
		}
		rm := s.removeMember.in(ctx, tx)
		shrink := 0
		for _, m := range members {
			res, err := rm.ExecContext(ctx, []byte(key), []byte(m))
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n > 0 {
				removed++
				shrink += len(m)
			}
		}
		return b.shrinkSet(ctx, tx, s, key, shrink)
	})
	if err != nil {
		return 0, b.fail("set remove", s, key, err)
	}
	return removed, nil
}

// SetPop removes and returns up to count members of the set at key.
func (b *Backend) SetPop(ctx context.Context, key string, count int) ([]string, error) {
	if count < 0 {
		return nil, fmt.Errorf("cashews: disk: set pop count %d: want zero or more: %w", count, backends.ErrInvalidArgument)
	}
	ctx, cancel, err := b.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	out := []string{}
	if count == 0 {
		return out, nil
	}
	s := b.shardOf(key)
	err = s.tx(ctx, []*stmt{s.entry, s.popMembers, s.removeMember, s.anyMember, s.delAny, s.resize}, func(tx *sql.Tx) error {
		out = out[:0]
		found, err := b.liveSet(ctx, tx, s, key)
		if err != nil || !found {
			return err
		}
		rows, err := s.popMembers.in(ctx, tx).QueryContext(ctx, []byte(key), count)
		if err != nil {
			return err
		}
		for rows.Next() {
			var m []byte
			if err := rows.Scan(&m); err != nil {
				rows.Close()
				return err
			}
			out = append(out, string(m))
		}
		if err := rows.Close(); err != nil {
			return err
		}
		rm := s.removeMember.in(ctx, tx)
		shrink := 0
		for _, m := range out {
			if _, err := rm.ExecContext(ctx, []byte(key), []byte(m)); err != nil {
				return err
			}
			shrink += len(m)
		}
		return b.shrinkSet(ctx, tx, s, key, shrink)
	})
	if err != nil {
		return nil, b.fail("set pop", s, key, err)
	}
	return out, nil
}

// liveSet reports whether key holds a live set, and is an error wrapping ErrWrongType when it holds
// something else.
func (b *Backend) liveSet(ctx context.Context, tx *sql.Tx, s *shard, key string) (bool, error) {
	kind, _, _, found, err := readEntry(ctx, tx, s, key, b.now())
	if err != nil || !found {
		return false, err
	}
	if kind != kindSet {
		return false, fmt.Errorf("the key holds a %s: %w", kindName(kind), backends.ErrWrongType)
	}
	return true, nil
}

// shrinkSet lowers the size of the set at key by n bytes, and removes the set when it has no member
// left.
func (b *Backend) shrinkSet(ctx context.Context, tx *sql.Tx, s *shard, key string, n int) error {
	if n == 0 {
		return nil
	}
	var has bool
	if err := s.anyMember.in(ctx, tx).QueryRowContext(ctx, []byte(key)).Scan(&has); err != nil {
		return err
	}
	if !has {
		_, err := s.delAny.in(ctx, tx).ExecContext(ctx, []byte(key))
		return err
	}
	_, err := s.resize.in(ctx, tx).ExecContext(ctx, []byte(key), -n)
	return err
}

// SetMembers returns every member of the set at key, in byte order.
func (b *Backend) SetMembers(ctx context.Context, key string) ([]string, error) {
	ctx, cancel, err := b.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	s := b.shardOf(key)
	rows, err := s.members.QueryContext(ctx, []byte(key), b.now())
	if err != nil {
		return nil, b.fail("set members", s, key, err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var kind int
		var has bool
		var m []byte
		if err := rows.Scan(&kind, &has, &m); err != nil {
			return nil, b.fail("set members", s, key, err)
		}
		if kind != kindSet {
			return nil, fmt.Errorf("cashews: disk: set members %s: the key holds a %s: %w", quote.String(key), kindName(kind), backends.ErrWrongType)
		}
		if has {
			out = append(out, string(m))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, b.fail("set members", s, key, err)
	}
	return out, nil
}

// Bit arrays are strings laid out as Redis' BITFIELD lays them out: the counter at index i of size
// bits occupies the bits i*size to i*size+size-1, bit 0 being the most significant bit of byte 0,
// so GetBits on disk and on Redis read the same bytes the same way.

// maxBits bounds the bit offsets, as Redis does (512 MiB strings).
const maxBits = 1 << 32

func checkBits(size int, indexes []int64) error {
	if size < 1 || size > 63 {
		return fmt.Errorf("cashews: disk: bit counter size %d: want 1 to 63: %w", size, backends.ErrInvalidArgument)
	}
	for _, i := range indexes {
		if i < 0 || i > (maxBits-int64(size))/int64(size) {
			return fmt.Errorf("cashews: disk: bit counter index %d: want 0 to %d: %w", i, (maxBits-int64(size))/int64(size), backends.ErrInvalidArgument)
		}
	}
	return nil
}

func readBits(buf []byte, off int64, size int) int64 {
	var v int64
	for i := range int64(size) {
		o := off + i
		bit := int64(0)
		if o/8 < int64(len(buf)) {
			bit = int64(buf[o/8]>>(7-o%8)) & 1
		}
		v = v<<1 | bit
	}
	return v
}

func writeBits(buf []byte, off int64, size int, v int64) {
	for i := range int64(size) {
		o := off + i
		mask := byte(1) << (7 - o%8)
		if v>>(int64(size)-1-i)&1 == 1 {
			buf[o/8] |= mask
		} else {
			buf[o/8] &^= mask
		}
	}
}

// GetBits returns the unsigned counters of size bits at indexes of the bit array at key.
func (b *Backend) GetBits(ctx context.Context, key string, size int, indexes ...int64) ([]int64, error) {
	if err := checkBits(size, indexes); err != nil {
		return nil, err
	}
	v, found, err := b.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	var buf []byte
	if found {
		buf = v.([]byte)
	}
	out := make([]int64, len(indexes))
	for j, i := range indexes {
		out[j] = readBits(buf, i*int64(size), size)
	}
	return out, nil
}

// IncrBits adds by to the counters of size bits at indexes, saturating at 0 and 2^size-1, in one
// transaction, and returns their new values. The key keeps its expiry.
func (b *Backend) IncrBits(ctx context.Context, key string, size int, by int64, indexes ...int64) ([]int64, error) {
	if err := checkBits(size, indexes); err != nil {
		return nil, err
	}
	ctx, cancel, err := b.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	s := b.shardOf(key)
	out := make([]int64, len(indexes))
	written := 0
	err = s.tx(ctx, []*stmt{s.entry, s.put}, func(tx *sql.Tx) error {
		now := b.now()
		kind, exp, val, found, err := readEntry(ctx, tx, s, key, now)
		if err != nil {
			return err
		}
		if found && kind != kindString {
			return fmt.Errorf("the key holds a %s: %w", kindName(kind), backends.ErrWrongType)
		}
		if !found {
			val, exp = nil, 0
		}
		need := int64(len(val))
		for _, i := range indexes {
			need = max(need, ((i+1)*int64(size)+7)/8)
		}
		buf := make([]byte, need)
		copy(buf, val)
		top := int64(1)<<size - 1
		for j, i := range indexes {
			off := i * int64(size)
			v := readBits(buf, off, size)
			switch {
			case by > 0 && by > top-v:
				v = top
			case by < 0 && (by == math.MinInt64 || -by > v):
				v = 0
			default:
				v += by
			}
			writeBits(buf, off, size, v)
			out[j] = v
		}
		written = len(key) + len(buf)
		_, err = s.put.in(ctx, tx).ExecContext(ctx, []byte(key), now, kindString, buf, exp, b.stamp(now), written)
		return err
	})
	if err != nil {
		return nil, b.fail("incr bits", s, key, err)
	}
	b.wrote(ctx, s, written)
	return out, nil
}

// A sliding window is an entry of kind window whose value is the times of its events in Unix
// nanoseconds, 8 bytes each, big-endian, in ascending order.

// SliceIncr is the sliding-window counter (see [backends.SlidingWindow.SliceIncr]), in one transaction.
// The key expires window after its last event, measured from the times the caller passes.
func (b *Backend) SliceIncr(ctx context.Context, key string, now time.Time, window time.Duration, limit int64) (int64, bool, error) {
	if window <= 0 {
		return 0, false, fmt.Errorf("cashews: disk: sliding window %s: want a positive duration: %w", window, backends.ErrInvalidArgument)
	}
	if limit <= 0 {
		return 0, false, fmt.Errorf("cashews: disk: sliding window limit %d: want a positive limit: %w", limit, backends.ErrInvalidArgument)
	}
	window = backends.CapTTL(window)
	ctx, cancel, err := b.begin(ctx)
	if err != nil {
		return 0, false, err
	}
	defer cancel()
	s := b.shardOf(key)
	var count int64
	var recorded bool
	written := 0
	err = s.tx(ctx, []*stmt{s.entry, s.delAny, s.put}, func(tx *sql.Tx) error {
		clockNow := b.now()
		kind, _, val, found, err := readEntry(ctx, tx, s, key, clockNow)
		if err != nil {
			return err
		}
		if found && kind != kindWindow {
			return fmt.Errorf("the key holds a %s: %w", kindName(kind), backends.ErrWrongType)
		}
		t := now.UnixNano()
		cut := t - int64(window)
		var events []int64
		for i := 0; i+8 <= len(val); i += 8 {
			if e := int64(binary.BigEndian.Uint64(val[i:])); e > cut {
				events = append(events, e)
			}
		}
		before := len(val) / 8
		recorded = int64(len(events)) < limit
		if recorded {
			at, _ := slices.BinarySearch(events, t)
			events = slices.Insert(events, at, t)
		}
		if int64(len(events)) > limit {
			events = events[int64(len(events))-limit:]
		}
		count = int64(len(events))
		switch {
		case count == 0:
			if found {
				_, err = s.delAny.in(ctx, tx).ExecContext(ctx, []byte(key))
			}
			return err
		case !recorded && len(events) == before:
			return nil // nothing changed
		}
		buf := make([]byte, 8*len(events))
		for i, e := range events {
			binary.BigEndian.PutUint64(buf[8*i:], uint64(e))
		}
		written = len(key) + len(buf)
		_, err = s.put.in(ctx, tx).ExecContext(ctx, []byte(key), clockNow, kindWindow, buf, addSat(events[len(events)-1], int64(window)), b.stamp(clockNow), written)
		return err
	})
	if err != nil {
		return 0, false, b.fail("slice incr", s, key, err)
	}
	b.wrote(ctx, s, written)
	return count, recorded, nil
}
