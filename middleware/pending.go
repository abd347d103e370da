package middleware

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cashews-go/cashews/internal/burst"
)

// maxPendingKeys bounds the keys remembered from failed invalidations; past it, the next retry drops
// every response the middleware stored instead (more than needed, never less).
var maxPendingKeys = 1024

// pending remembers the invalidations that failed, so that no response they should have dropped is
// served once the backend answers again: while any is pending, every request first tries them again
// and, until they succeed, neither reads nor writes the cache (it goes to the handler, as on a miss).
// The hit path loads one atomic. It lives in this process only: another process that shares the
// backend and did not see the failure still serves what it holds until the entry expires.
type pending struct {
	any   atomic.Bool
	mu    sync.Mutex // guards the fields below
	keys  []string   // DeleteMany
	globs []string   // DeleteMatch patterns
	tags  []string   // DeleteTags
	all   bool       // too much to remember, or a scan that failed: drop everything under the prefix
	retry sync.Mutex // one retry at a time; other requests meanwhile bypass the cache

	log burst.Log // the retries that failed for another reason than unavailability
}

// pendingLogEvery spaces the records of retries that fail for another reason than an unavailable
// backend (those are logged once per pause of the gate), since every request retries.
const pendingLogEvery = 10 * time.Second

// add records an invalidation that failed.
func (p *pending) add(keys, globs, tags []string, all bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys = append(p.keys, keys...)
	p.globs = append(p.globs, globs...)
	p.tags = append(p.tags, tags...)
	if all || len(p.keys)+len(p.globs)+len(p.tags) > maxPendingKeys {
		p.all, p.keys, p.globs, p.tags = true, nil, nil, nil
	}
	p.any.Store(true)
}

// settle tries the pending invalidations again; it reports whether none is left. A request that finds
// another one retrying does not wait for it: it bypasses the cache.
func (p *pending) settle(ctx context.Context, h *handler) (bool, error) {
	if !p.retry.TryLock() {
		return false, nil
	}
	defer p.retry.Unlock()
	p.mu.Lock()
	keys, globs, tags, all := p.keys, p.globs, p.tags, p.all
	p.keys, p.globs, p.tags, p.all = nil, nil, nil, false
	p.mu.Unlock()

	var err error
	if all {
		// Every key of the middleware is the prefix, the escaped path (empty only for a URL without
		// one) and a space: other keys that share the prefix, if the program has any, stay.
		globs, keys, tags = []string{h.cfg.prefix + "/*", h.cfg.prefix + " *"}, nil, nil
	}
	if len(keys) > 0 {
		if _, err = h.c.DeleteMany(ctx, keys...); err == nil {
			keys = nil
		}
	}
	for len(globs) > 0 && err == nil {
		if _, err = h.c.DeleteMatch(ctx, globs[0]); err == nil {
			globs = globs[1:]
		}
	}
	if len(tags) > 0 && err == nil {
		if _, err = h.c.DeleteTags(ctx, tags...); err == nil {
			tags = nil
		}
	}
	if err != nil {
		p.add(keys, globs, tags, all)
		return false, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	left := p.all || len(p.keys)+len(p.globs)+len(p.tags) > 0 // added while this retry ran
	p.any.Store(left)
	return !left, nil
}
