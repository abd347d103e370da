package cashews

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"reflect"
	"strconv"
	"time"

	"github.com/cashews-go/cashews/codec"
	"github.com/cashews-go/cashews/internal/quote"
)

// entries stores the entries of one wrapped function with result type R: as *storedEntry Go values in
// the memory backend, and in byte backends as the encoded R with the entry's metadata in the value's
// header (codec.Entry), so that Get[R] reads an entry as it reads a value Set stored. Both carry the
// fingerprint of R's shape and the Wrap's version: an entry with another fingerprint reads as a miss.
// A value that Set stored at the key reads as a fresh entry when it is an R (whatever the version).
type entries[R any] struct {
	c      *Cache
	shape  uint64
	replay []error // the errors a condition may store, by index in the entry
}

func newEntries[R any](c *Cache, shape uint64, replay []error) *entries[R] {
	return &entries[R]{c: c, shape: shape, replay: replay}
}

// storedEntry is an entry as the memory backend keeps it. An error result is kept as the
// *ReplayedError that byte backends rebuild, so that hits replay the same error on every backend.
type storedEntry struct {
	Entry
	shape uint64
}

// ReplayedError is an error result served from cache, on every backend: its message is the original
// error's, and it matches with errors.Is the first of the targets given to [StoreErrors] or
// [OnlyStoreErrors] that the original matched (none, for an error a custom [StoreIf] condition
// stored that matches no such target). The original error itself is not kept: byte backends
// cannot keep it, and mem:// replays the same error they do.
type ReplayedError struct {
	Msg    string
	Target error // nil when no target matches
}

func (e *ReplayedError) Error() string { return e.Msg }

// Unwrap returns the target.
func (e *ReplayedError) Unwrap() error { return e.Target }

// replayed returns the error hits replay for err: the ReplayedError with the first target it matches,
// and that target's index (-1 for none).
func (s *entries[R]) replayed(err error) (*ReplayedError, int) {
	var re *ReplayedError
	if errors.As(err, &re) && err == error(re) {
		for i, t := range s.replay {
			if re.Target == t {
				return re, i
			}
		}
		return &ReplayedError{Msg: re.Msg}, -1
	}
	for i, t := range s.replay {
		if errors.Is(err, t) {
			return &ReplayedError{Msg: err.Error(), Target: t}, i
		}
	}
	return &ReplayedError{Msg: err.Error()}, -1
}

// Get returns the entry at key. An entry that fails to decode is a miss: the function runs and its
// result replaces the bad bytes. One that fails its signature check (tampered with) is also logged
// once per burst and counted in Cache.SuppressedErrors.
func (s *entries[R]) Get(ctx context.Context, key string) (*Entry, bool, error) {
	r, v, found, err := s.c.get(ctx, key)
	if err != nil || !found {
		return nil, false, err
	}
	return s.decode(ctx, r, key, v)
}

// decode turns the raw value v that key's route r holds into an entry, as Get describes.
func (s *entries[R]) decode(ctx context.Context, r *route, key string, v any) (*Entry, bool, error) {
	if r.goValues {
		switch x := v.(type) {
		case *storedEntry:
			if x.shape != s.shape || s.c.expired(x.Expires) {
				return nil, false, nil // written by another version, or expired: a miss
			}
			return &x.Entry, true, nil
		case R:
			return &Entry{Value: x}, true, nil // a value Set stored
		}
		if rv, err := convert[R](key, v); err == nil {
			return &Entry{Value: rv}, true, nil // an integer of another type, or nil
		}
		return nil, false, nil // a value of another type: recompute and replace it
	}
	data, ok := v.([]byte)
	if !ok {
		return nil, false, fmt.Errorf("%w: %s returned %T for %s, want []byte", ErrWrongType, r.url, v, quote.String(key))
	}
	var rv R
	m, err := r.format.DecodeMeta(key, data, &rv)
	if err != nil {
		if errors.Is(err, ErrTampered) {
			// Changed, copied from another key, or unsigned: never decoded; recomputed, and the
			// function's result replaces it. Logged and counted.
			s.c.replaced(ctx, r, key, fmt.Errorf("cashews: decode %s from %s: %w", quote.String(key), r.url, err))
		}
		// Another Go type, or a value that does not even parse: recompute and replace it.
		return nil, false, nil
	}
	if !m.IsEntry {
		if m.Legacy {
			return nil, false, nil // an entry of an older version's layout, or a foreign value
		}
		return &Entry{Value: rv}, true, nil // a value Set stored, checked to be an R
	}
	if m.Entry.Shape != s.shape || s.c.expired(m.Entry.Expires) {
		return nil, false, nil
	}
	e := &Entry{Value: rv, Expires: m.Entry.Expires, Stale: m.Entry.Stale}
	if m.Entry.Err {
		re := &ReplayedError{Msg: m.Entry.ErrMsg}
		if i := m.Entry.ErrTarget; i >= 0 && i < len(s.replay) {
			re.Target = s.replay[i]
		}
		e.Value, e.Err = nil, re
	}
	return e, true, nil
}

func (s *entries[R]) Set(ctx context.Context, key string, e *Entry, ttl time.Duration, tags []string) (bool, error) {
	if err := checkTTL(CmdSet, ttl); err != nil {
		return false, err
	}
	r, err := s.c.route(key)
	if err != nil || s.c.off(ctx, r, CmdSet) {
		return false, err
	}
	v, err := s.encode(ctx, r, key, e)
	if err != nil {
		return false, err
	}
	return s.c.set(ctx, r, key, v, ttl, setConfig{tags: tags})
}

// encode returns what route r stores for entry e at key: a *storedEntry for the memory backend,
// the encoded bytes for the others.
func (s *entries[R]) encode(ctx context.Context, r *route, key string, e *Entry) (any, error) {
	var re *ReplayedError
	target := -1
	if e.Err != nil {
		re, target = s.replayed(e.Err)
	}
	var v any
	if r.goValues {
		se := &storedEntry{Entry: *e, shape: s.shape}
		if re != nil {
			se.Value, se.Err = nil, re
		}
		v = se
	} else {
		ce := codec.Entry{Shape: s.shape, Expires: e.Expires, Stale: e.Stale}
		var value any
		if re != nil {
			ce.Err, ce.ErrTarget, ce.ErrMsg = true, target, re.Msg
		} else if e.Value != nil {
			rv, ok := e.Value.(R)
			if !ok {
				return nil, fmt.Errorf("%w: entry value %T for %s, want %v", ErrWrongType, e.Value, quote.String(key), reflect.TypeFor[R]())
			}
			value = rv
		}
		data, err := r.format.EncodeEntry(key, value, ce)
		if err != nil {
			err = fmt.Errorf("cashews: encode %s for %s: %w", quote.String(key), r.url, err)
			s.c.encodeFailed(ctx, r, key, err)
			return nil, err
		}
		v = data
	}
	return v, nil
}

// shapeOf returns a fingerprint of T's shape as reflection sees it (kinds, type names, field names,
// types and tags, recursively) and of version.
func shapeOf[T any](version string) uint64 {
	h := fnv.New64a()
	writeShape(h, reflect.TypeFor[T](), map[reflect.Type]bool{})
	h.Write([]byte("|v=" + version))
	return h.Sum64()
}

type writer interface{ Write([]byte) (int, error) }

func writeShape(h writer, t reflect.Type, seen map[reflect.Type]bool) {
	w := func(s string) { h.Write([]byte(s)) }
	w(t.Kind().String() + ":" + t.PkgPath() + "." + t.Name() + "(")
	defer w(")")
	if seen[t] {
		return // a recursive type: its name is enough
	}
	seen[t] = true
	defer delete(seen, t)
	switch t.Kind() {
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			w(f.Name + " " + string(f.Tag) + " ")
			writeShape(h, f.Type, seen)
		}
	case reflect.Pointer, reflect.Slice, reflect.Chan:
		writeShape(h, t.Elem(), seen)
	case reflect.Array:
		w(strconv.Itoa(t.Len()))
		writeShape(h, t.Elem(), seen)
	case reflect.Map:
		writeShape(h, t.Key(), seen)
		writeShape(h, t.Elem(), seen)
	}
}
