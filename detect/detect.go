// Package detect tells which results of a request came from cache. A detector travels in a
// context.Context: every strategy that serves a result from cache records a [Hit] in it, with the
// key, the strategy, the remaining TTL, the backend and, for failover, the error it covered.
//
//	ctx, d := detect.New(ctx)
//	user, err := getUser(ctx, id)          // a wrapped function
//	for _, h := range d.Hits() { ... }     // what was served from cache
//
// Without a detector in the context, recording costs one atomic load: until the first call of New
// in the process, strategies skip the context lookup altogether. Detectors nest: an outer detector
// sees the hits recorded under an inner one (see [New]).
package detect

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Hit is one result served from cache.
type Hit struct {
	Key      string        // the cache key
	Strategy string        // the strategy that served it: "simple", "failover", "early", ...
	TTL      time.Duration // how long the entry has left, or 0 when unknown or it never expires
	Backend  string        // the backend's URL, passwords redacted
	Err      error         // for failover: the error the cached result covered
}

// Detector collects the hits of one context. It is safe for concurrent use.
type Detector struct {
	mu     sync.Mutex
	hits   []Hit
	parent *Detector // the detector of the context New was given, which sees these hits too
}

type ctxKey struct{}

var used atomic.Bool

// New returns a context that carries a new Detector, and the Detector. Detectors nest: when ctx
// already carries one (an outer detect.New, or middleware.FromCacheHeaders), the hits recorded in the
// new Detector are recorded in the outer one too, so the outer sees every hit of the work under it,
// and the new one only those under itself.
func New(ctx context.Context) (context.Context, *Detector) {
	used.Store(true)
	d := &Detector{}
	d.parent, _ = ctx.Value(ctxKey{}).(*Detector)
	return context.WithValue(ctx, ctxKey{}, d), d
}

// FromContext returns the Detector in ctx, or nil.
func FromContext(ctx context.Context) *Detector {
	if !used.Load() {
		return nil
	}
	d, _ := ctx.Value(ctxKey{}).(*Detector)
	return d
}

// Record adds h to the Detector in ctx, if there is one.
func Record(ctx context.Context, h Hit) {
	if d := FromContext(ctx); d != nil {
		d.Add(h)
	}
}

// Add records a hit, in d and in the detectors d is nested in.
func (d *Detector) Add(h Hit) {
	for ; d != nil; d = d.parent {
		d.mu.Lock()
		d.hits = append(d.hits, h)
		d.mu.Unlock()
	}
}

// Hits returns a copy of the hits recorded so far, in the order they were recorded.
func (d *Detector) Hits() []Hit {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Hit(nil), d.hits...)
}

// Keys returns the keys of the hits recorded so far.
func (d *Detector) Keys() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	keys := make([]string, len(d.hits))
	for i, h := range d.hits {
		keys[i] = h.Key
	}
	return keys
}

// Len returns how many hits were recorded.
func (d *Detector) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.hits)
}
