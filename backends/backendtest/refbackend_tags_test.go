package backendtest

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/cashews-go/cashews/backends"
)

// put stores en at key. With untag, the tags of the entry it replaces end; the mutants that forget
// to end them pass false.
func (b *refBackend) put(key string, en *refEntry, untag bool) {
	if old := b.m[key]; old != nil && untag {
		b.untag(key, old)
	}
	b.m[key] = en
}

// drop removes key; with untag its tags end too.
func (b *refBackend) drop(key string, untag bool) {
	if old := b.m[key]; old != nil && untag {
		b.untag(key, old)
	}
	delete(b.m, key)
}

// untag removes key from the index of every tag en carries.
func (b *refBackend) untag(key string, en *refEntry) {
	for _, t := range en.tags {
		delete(b.tagged[t], key)
		if len(b.tagged[t]) == 0 {
			delete(b.tagged, t)
		}
	}
	en.tags = nil
}

func (b *refBackend) SetTagged(ctx context.Context, key string, value any, ttl time.Duration, mode backends.SetMode, tags []string) (bool, error) {
	if err := checkTTL(ttl); err != nil {
		return false, err
	}
	v, err := b.in(value)
	if err != nil {
		return false, err
	}
	if err := b.lock(ctx); err != nil {
		return false, err
	}
	defer b.mu.Unlock()
	en := b.setLocked(key, v, ttl, mode)
	if en == nil {
		return false, nil
	}
	for _, t := range tags {
		if slices.Contains(en.tags, t) {
			continue
		}
		en.tags = append(en.tags, t)
		if b.tagged[t] == nil {
			b.tagged[t] = make(map[string]bool)
		}
		b.tagged[t][key] = true
	}
	return true, nil
}

func (b *refBackend) DeleteTags(ctx context.Context, tags ...string) (int, error) {
	if err := b.lock(ctx); err != nil {
		return 0, err
	}
	n := 0
	for _, t := range tags {
		keys := slices.Collect(maps.Keys(b.tagged[t]))
		if b.mutant == "tags-race" {
			// Read the members, let writers in, then drop the whole tag: members added meanwhile
			// are lost.
			b.mu.Unlock()
			time.Sleep(time.Millisecond)
			b.mu.Lock()
		}
		for _, k := range keys {
			if b.entry(k) != nil {
				n++
			}
			if en := b.m[k]; en != nil {
				if b.mutant == "orphan-tags" {
					delete(b.tagged[t], k) // forgets the key's other tags
				} else {
					b.untag(k, en)
				}
				delete(b.m, k)
			}
		}
		if b.mutant == "tags-race" {
			delete(b.tagged, t)
		}
	}
	b.mu.Unlock()
	return n, nil
}

func (b *refBackend) TagKeys(ctx context.Context, tag string) ([]string, error) {
	if err := b.lock(ctx); err != nil {
		return nil, err
	}
	defer b.mu.Unlock()
	var out []string
	for k := range b.tagged[tag] {
		if b.entry(k) != nil {
			out = append(out, k)
		}
	}
	return out, nil
}
