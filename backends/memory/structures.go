package memory

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/cashews-go/cashews/backends"
)

// memberSet is the value of a set key.
type memberSet map[string]struct{}

// bitArray is the value of a bit array key, laid out as Redis' BITFIELD lays out a string: the
// counter at index i of size bits occupies bits i*size to i*size+size-1, bit 0 being the most
// significant bit of byte 0, and its most significant bit comes first. So counters written with one
// size read the same with another on every backend.
type bitArray struct {
	buf []byte
}

// window is the value of a sliding-window key: the times of its events in unix nanoseconds.
type window struct {
	events []int64
}

// structSize is the value size of a set, bit array or sliding window. The shard's lock must be held.
func (b *Backend) structSize(e *entry) int64 {
	switch v := e.stored().value.(type) {
	case memberSet:
		var n int64
		for m := range v {
			n += int64(len(m)) + setMemberOverhead
		}
		return n
	case *bitArray:
		return int64(len(v.buf))
	case *window:
		return 8 * int64(cap(v.events))
	}
	return 0
}

// SetAdd adds members to the set at key and returns how many were new. With ttl > 0 the set expires
// no earlier than ttl from now (a later expiry, or none, is kept); with ttl == 0 it never expires. A
// key holding a plain value is an error wrapping [backends.ErrWrongType]. Adding no members changes
// nothing.
func (b *Backend) SetAdd(_ context.Context, key string, ttl time.Duration, members ...string) (int, error) {
	if b.closed.Load() {
		return 0, errClosed
	}
	if err := checkTTL(ttl); err != nil {
		return 0, err
	}
	c := clockReader{b: b}
	s, h := b.shardFor(key)
	s.mu.Lock()
	e := s.find(key, h)
	live := e != nil && !c.expired(e)
	if live && e.stored().kind != kindSet {
		b.unlock(s)
		return 0, wrongType(key, e.stored().kind)
	}
	if len(members) == 0 {
		b.unlock(s)
		return 0, nil
	}
	exp := c.expireAt(ttl)
	var set memberSet
	if live {
		set = e.stored().value.(memberSet)
		if old := e.expiry(); ttl == 0 || (old != 0 && old < exp) {
			s.setExpireLocked(e, exp)
		}
	} else {
		set = make(memberSet, len(members))
		e = b.renewLocked(s, e, key, h, kindSet, set, 0, exp)
	}
	added, grown := 0, int64(0)
	for _, m := range members {
		if _, ok := set[m]; !ok {
			set[m] = struct{}{}
			added++
			grown += int64(len(m)) + setMemberOverhead
		}
	}
	b.resizeLocked(e, e.vsize+grown)
	b.wrote(s, e, &c)
	return added, nil
}

// liveSet returns the live set entry at key, nil for a missing key, or an error for another kind.
// s.mu must be held.
func (s *shard) liveSet(key string, h uint64, c *clockReader) (*entry, error) {
	e := s.live(key, h, c)
	if e == nil {
		return nil, nil
	}
	if e.stored().kind != kindSet {
		return nil, wrongType(key, e.stored().kind)
	}
	return e, nil
}

// SetRemove removes members from the set at key and returns how many were present. A set left empty
// is removed.
func (b *Backend) SetRemove(_ context.Context, key string, members ...string) (int, error) {
	if b.closed.Load() {
		return 0, errClosed
	}
	c := clockReader{b: b}
	s, h := b.shardFor(key)
	s.mu.Lock()
	defer b.unlock(s)
	e, err := s.liveSet(key, h, &c)
	if e == nil {
		return 0, err
	}
	set := e.stored().value.(memberSet)
	removed, shrunk := 0, int64(0)
	for _, m := range members {
		if _, ok := set[m]; ok {
			delete(set, m)
			removed++
			shrunk += int64(len(m)) + setMemberOverhead
		}
	}
	if len(set) == 0 {
		b.removeLocked(s, e, backends.CauseDeleted)
	} else {
		b.resizeLocked(e, e.vsize-shrunk)
	}
	return removed, nil
}

// SetPop removes and returns up to count members of the set at key, in no particular order. A
// negative count is an error wrapping [backends.ErrInvalidArgument]; a set left empty is removed.
func (b *Backend) SetPop(_ context.Context, key string, count int) ([]string, error) {
	if b.closed.Load() {
		return nil, errClosed
	}
	if count < 0 {
		return nil, fmt.Errorf("cashews: memory backend: SetPop count %d is negative: %w", count, backends.ErrInvalidArgument)
	}
	c := clockReader{b: b}
	s, h := b.shardFor(key)
	s.mu.Lock()
	defer b.unlock(s)
	e, err := s.liveSet(key, h, &c)
	if e == nil || count == 0 {
		return []string{}, err
	}
	set := e.stored().value.(memberSet)
	out := make([]string, 0, min(count, len(set)))
	var shrunk int64
	for m := range set { // map order is unspecified, which is what SPOP promises
		if len(out) == count {
			break
		}
		out = append(out, m)
		delete(set, m)
		shrunk += int64(len(m)) + setMemberOverhead
	}
	if len(set) == 0 {
		b.removeLocked(s, e, backends.CauseDeleted)
	} else {
		b.resizeLocked(e, e.vsize-shrunk)
	}
	return out, nil
}

// SetMembers returns every member of the set at key, in no particular order; a missing key is an
// empty set.
func (b *Backend) SetMembers(_ context.Context, key string) ([]string, error) {
	if b.closed.Load() {
		return nil, errClosed
	}
	c := clockReader{b: b}
	s, h := b.shardFor(key)
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, err := s.liveSet(key, h, &c)
	if e == nil {
		if err != nil {
			return nil, err
		}
		return []string{}, nil
	}
	set := e.stored().value.(memberSet)
	out := make([]string, 0, len(set))
	for m := range set {
		out = append(out, m)
	}
	return out, nil
}

// checkBits validates a counter width and indexes and returns the number of bytes needed.
func checkBits(size int, indexes []int64) (int, error) {
	if size < 1 || size > 63 {
		return 0, fmt.Errorf("cashews: memory backend: bit counter size %d is not from 1 to 63: %w", size, backends.ErrInvalidArgument)
	}
	var maxEnd uint64
	for _, i := range indexes {
		if i < 0 || uint64(i) >= maxBitOffset/uint64(size) {
			return 0, fmt.Errorf("cashews: memory backend: bit counter index %d is out of range [0, %d): %w", i, maxBitOffset/uint64(size), backends.ErrInvalidArgument)
		}
		maxEnd = max(maxEnd, (uint64(i)+1)*uint64(size))
	}
	return int((maxEnd + 7) / 8), nil
}

// field reads the counter of size bits at bit offset off (BITFIELD's layout: see bitArray). Bits past
// the end of b read as zeros.
func field(b []byte, off uint64, size uint) uint64 {
	end := off + uint64(size)
	var v uint64
	for o := off &^ 7; o < end; o += 8 { // each byte the counter touches, at most 9
		lo, hi := max(off, o), min(end, o+8)
		var by byte
		if o/8 < uint64(len(b)) {
			by = b[o/8]
		}
		n := hi - lo
		v = v<<n | uint64(by>>(o+8-hi))&(1<<n-1)
	}
	return v
}

// setField writes the counter of size bits at bit offset off; b must be long enough.
func setField(b []byte, off uint64, size uint, v uint64) {
	end := off + uint64(size)
	for o := off &^ 7; o < end; o += 8 {
		lo, hi := max(off, o), min(end, o+8)
		n := hi - lo
		mask := byte(0xff>>(lo-o)) & byte(0xff<<(o+8-hi))
		part := byte(v >> (end - hi) & (1<<n - 1))
		b[o/8] = b[o/8]&^mask | part<<(o+8-hi)
	}
}

// GetBits returns the unsigned counters of size bits at the given indexes of the bit array at key; a
// missing key reads as zeros. Indexes must be in [0, 2^32/size).
func (b *Backend) GetBits(_ context.Context, key string, size int, indexes ...int64) ([]int64, error) {
	if b.closed.Load() {
		return nil, errClosed
	}
	if _, err := checkBits(size, indexes); err != nil {
		return nil, err
	}
	out := make([]int64, len(indexes))
	c := clockReader{b: b}
	s, h := b.shardFor(key)
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := s.live(key, h, &c)
	if e == nil {
		return out, nil
	}
	if e.stored().kind != kindBits {
		return nil, wrongType(key, e.stored().kind)
	}
	buf := e.stored().value.(*bitArray).buf
	for j, i := range indexes {
		out[j] = int64(field(buf, uint64(i)*uint64(size), uint(size)))
	}
	return out, nil
}

// IncrBits adds by to the counters of size bits at the given indexes, saturating at 0 and
// 2^size-1, and returns their new values. A missing key is created without TTL; an existing one keeps
// its TTL. An index repeated in indexes is incremented once per occurrence.
func (b *Backend) IncrBits(_ context.Context, key string, size int, by int64, indexes ...int64) ([]int64, error) {
	if b.closed.Load() {
		return nil, errClosed
	}
	need, err := checkBits(size, indexes)
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(indexes))
	c := clockReader{b: b}
	s, h := b.shardFor(key)
	s.mu.Lock()
	e := s.find(key, h)
	live := e != nil && !c.expired(e)
	if live && e.stored().kind != kindBits {
		b.unlock(s)
		return nil, wrongType(key, e.stored().kind)
	}
	if len(indexes) == 0 {
		b.unlock(s)
		return out, nil
	}
	var arr *bitArray
	if live {
		arr = e.stored().value.(*bitArray)
	} else {
		arr = &bitArray{}
		e = b.renewLocked(s, e, key, h, kindBits, arr, 0, 0)
	}
	if need > len(arr.buf) {
		buf := make([]byte, need)
		copy(buf, arr.buf)
		arr.buf = buf
		b.resizeLocked(e, int64(len(buf)))
	}
	limit := int64(1)<<size - 1
	for j, i := range indexes {
		off := uint64(i) * uint64(size)
		old := int64(field(arr.buf, off, uint(size)))
		var v int64
		switch {
		case by > 0 && by >= limit-old:
			v = limit
		case by < 0 && by <= -old:
			v = 0
		default:
			v = old + by
		}
		setField(arr.buf, off, uint(size), uint64(v))
		out[j] = v
	}
	b.wrote(s, e, &c)
	return out, nil
}

// SliceIncr is the sliding-window counter: atomically under the shard's lock, it forgets the events
// at key at or before now-window, then records one at now if fewer than limit remain. It returns the
// number of events in (now-window, now] after the call and whether it recorded this one. The key
// expires window after its newest event. The window and the limit must be positive (errors wrapping
// [backends.ErrInvalidArgument]).
func (b *Backend) SliceIncr(_ context.Context, key string, now time.Time, win time.Duration, limit int64) (int64, bool, error) {
	if b.closed.Load() {
		return 0, false, errClosed
	}
	if win <= 0 {
		return 0, false, fmt.Errorf("cashews: memory backend: SliceIncr window %s is not positive: %w", win, backends.ErrInvalidArgument)
	}
	if limit <= 0 {
		return 0, false, fmt.Errorf("cashews: memory backend: SliceIncr limit %d is not positive: %w", limit, backends.ErrInvalidArgument)
	}
	win = backends.CapTTL(win)
	t := now.UnixNano()
	from := t - int64(win)
	c := clockReader{b: b}
	s, h := b.shardFor(key)
	s.mu.Lock()
	e := s.find(key, h)
	live := e != nil && !c.expired(e)
	if live && e.stored().kind != kindWindow {
		b.unlock(s)
		return 0, false, wrongType(key, e.stored().kind)
	}
	var w *window
	if live {
		w = e.stored().value.(*window)
	} else {
		w = &window{}
	}
	// Forget old events in place; count the ones up to now (a concurrent caller may have recorded a
	// slightly later now).
	kept := w.events[:0]
	var count int64
	newest := int64(0)
	for _, ev := range w.events {
		if ev > from {
			kept = append(kept, ev)
			if ev <= t {
				count++
			}
			newest = max(newest, ev)
		}
	}
	w.events = kept
	if int64(len(w.events)) > limit {
		// A caller lowered the limit: keep only the newest limit events, as every backend does.
		slices.Sort(w.events)
		w.events = w.events[int64(len(w.events))-limit:]
		count, newest = 0, 0
		for _, ev := range w.events {
			if ev <= t {
				count++
			}
			newest = max(newest, ev)
		}
	}
	recorded := int64(len(w.events)) < limit
	if recorded {
		if w.events == nil {
			w.events = make([]int64, 0, min(limit, 16))
		}
		w.events = append(w.events, t)
		count++
		newest = max(newest, t)
	}
	if len(w.events) == 0 {
		if e != nil {
			b.removeLocked(s, e, backends.CauseDeleted)
		}
		b.unlock(s)
		return count, recorded, nil
	}
	exp := newest + int64(win)
	if exp < newest { // overflow
		exp = 1<<63 - 1
	}
	size := 8 * int64(cap(w.events))
	if live {
		b.resizeLocked(e, size)
		s.setExpireLocked(e, exp)
	} else {
		e = b.renewLocked(s, e, key, h, kindWindow, w, size, exp)
	}
	b.wrote(s, e, &c)
	return count, recorded, nil
}
