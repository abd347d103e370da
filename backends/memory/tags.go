package memory

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"
	"time"

	"github.com/cashews-go/cashews/backends"
)

// Tags. An entry stored with tags carries them (entry.tags), and the backend keeps an index from each
// tag to the keys whose entries carry it. The index is not made of entries: it is never evicted,
// does not count against MaxEntries, and Scan never sees it. It changes together with the entries,
// under the key's shard lock: when an entry goes (deleted, expired and purged, evicted, cleared) or
// gets a new value from a Set, its key leaves the index of every tag it carried. So the index holds
// exactly the keys whose current entries carry the tag, and a DeleteTags that starts after a tagged
// Set returned finds the key.
//
// Lock order: a key's shard lock, then a tag shard's lock; never the other way round.

// tagShards is the number of locks of the tag index.
const tagShards = 64

// tagOverhead is what one tag of an entry adds to the entry's cost against MaxBytes, on top of the
// tag's length: the index's map slot and the string header.
const tagOverhead = 48

// tagSet is the tags of one entry.
type tagSet struct {
	names []string
	cost  int64 // against maxBytes
}

func (t *tagSet) has(tag string) bool {
	for _, n := range t.names {
		if n == tag {
			return true
		}
	}
	return false
}

// newTagSet returns the tags without repeats, or nil for none.
func newTagSet(tags []string) *tagSet {
	if len(tags) == 0 {
		return nil
	}
	ts := &tagSet{names: make([]string, 0, len(tags))}
	for _, t := range tags {
		if !ts.has(t) {
			ts.names = append(ts.names, t)
			ts.cost += int64(len(t)) + tagOverhead
		}
	}
	return ts
}

// tagShard is one lock's worth of the tag index: tag → keys.
type tagShard struct {
	mu sync.Mutex
	m  map[string]map[string]struct{}
	_  [48]byte
}

func (b *Backend) tagShard(tag string) *tagShard {
	return &b.tags[maphash.String(b.seed, tag)%tagShards]
}

// indexLocked adds key to the index of each of its tags. The key's shard lock must be held.
func (b *Backend) indexLocked(key string, ts *tagSet) {
	for _, t := range ts.names {
		sh := b.tagShard(t)
		sh.mu.Lock()
		if sh.m == nil {
			sh.m = make(map[string]map[string]struct{})
		}
		keys := sh.m[t]
		if keys == nil {
			keys = make(map[string]struct{})
			sh.m[t] = keys
		}
		keys[key] = struct{}{}
		sh.mu.Unlock()
	}
}

// unindexLocked removes key from the index of each of its tags, dropping a tag that has no key
// left. The key's shard lock must be held.
func (b *Backend) unindexLocked(key string, ts *tagSet) {
	for _, t := range ts.names {
		sh := b.tagShard(t)
		sh.mu.Lock()
		if keys := sh.m[t]; keys != nil {
			delete(keys, key)
			if len(keys) == 0 {
				delete(sh.m, t)
			}
		}
		sh.mu.Unlock()
	}
}

// setTagsLocked replaces the tags of e (nil: none), in the entry, the index and the byte count. s.mu
// must be held.
func (b *Backend) setTagsLocked(s *shard, e *entry, ts *tagSet) {
	if old := e.tags; old != nil {
		b.unindexLocked(e.key, old)
		if b.maxBytes > 0 {
			b.bytes.Add(-old.cost)
		}
		s.tagged--
	}
	e.tags = ts
	if ts != nil {
		b.indexLocked(e.key, ts)
		if b.maxBytes > 0 {
			b.bytes.Add(ts.cost)
		}
		s.tagged++
	}
}

// tagKeys returns the keys in the index of tag now.
func (b *Backend) tagKeys(tag string) []string {
	sh := b.tagShard(tag)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	keys := make([]string, 0, len(sh.m[tag]))
	for k := range sh.m[tag] {
		keys = append(keys, k)
	}
	return keys
}

// SetTagged is Set that attaches tags to the key (see [backends.Tagger]), replacing the tags the
// key had. Each tag adds its length and 48 bytes to the entry's cost against MaxBytes; tags never
// count against MaxEntries, and they are never evicted apart from their entry.
func (b *Backend) SetTagged(_ context.Context, key string, value any, ttl time.Duration, mode backends.SetMode, tags []string) (bool, error) {
	if b.closed.Load() {
		return false, errClosed
	}
	if err := checkTTL(ttl); err != nil {
		return false, err
	}
	if mode > backends.SetIfPresent {
		return false, fmt.Errorf("cashews: memory backend: unknown set mode %d: %w", mode, backends.ErrInvalidArgument)
	}
	ts := newTagSet(tags)
	var extra int64
	if ts != nil {
		extra = ts.cost
	}
	value, size, err := b.prepare(key, value, extra)
	if err != nil {
		return false, err
	}
	return b.set(key, value, size, ttl, mode, ts), nil
}

// DeleteTags removes every key whose entry carries one of tags, and returns how many live keys it
// removed (expired entries carrying a tag are removed too, uncounted).
func (b *Backend) DeleteTags(_ context.Context, tags ...string) (int, error) {
	if b.closed.Load() {
		return 0, errClosed
	}
	c := clockReader{b: b}
	n := 0
	for _, tag := range tags {
		for _, k := range b.tagKeys(tag) {
			s, h := b.shardFor(k)
			s.mu.Lock()
			if e := s.find(k, h); e != nil && e.tags != nil && e.tags.has(tag) {
				live := !c.expired(e)
				if live {
					n++
				}
				b.removeLocked(s, e, deleted(live))
			}
			b.unlock(s)
		}
	}
	return n, nil
}

// TagKeys returns the live keys whose entries carry tag.
func (b *Backend) TagKeys(_ context.Context, tag string) ([]string, error) {
	if b.closed.Load() {
		return nil, errClosed
	}
	c := clockReader{b: b}
	keys := b.tagKeys(tag)
	out := keys[:0]
	for _, k := range keys {
		s, h := b.shardFor(k)
		s.mu.RLock()
		if e := s.find(k, h); e != nil && e.tags != nil && e.tags.has(tag) && !c.expired(e) {
			out = append(out, k)
		}
		s.mu.RUnlock()
	}
	return out, nil
}
