package cashews

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"reflect"
	"strconv"
	"time"

	"github.com/cashews-go/cashews/internal/quote"
	"github.com/cashews-go/cashews/strategies"
)

// entries stores the entries of one wrapped function with result type R: as *storedEntry Go values in
// the memory backend, and as an encoded wire[R] in byte backends. Both carry the fingerprint of R's
// shape and the Wrap's version, and an entry with another fingerprint reads as a miss.
type entries[R any] struct {
	c      *Cache
	shape  uint64
	replay []error // the errors a condition may store, by index on the wire
}

func newEntries[R any](c *Cache, shape uint64, replay []error) *entries[R] {
	return &entries[R]{c: c, shape: shape, replay: replay}
}

// storedEntry is an entry as the memory backend keeps it.
type storedEntry struct {
	strategies.Entry
	shape uint64
}

// wire is an entry as byte backends keep it, encoded by the backend's codec.
type wire[R any] struct {
	V R        `json:"v"`
	E *wireErr `json:"e,omitempty"`
	X int64    `json:"x,omitempty"` // expires, Unix ns
	S int64    `json:"s,omitempty"` // stale, Unix ns
	F uint64   `json:"f"`           // fingerprint
}

type wireErr struct {
	I int    `json:"i"` // index of the matching replay target, -1 for none
	M string `json:"m"` // the message
}

// ReplayedError is an error result served from cache: its message is the original error's, and it
// matches the target it was stored for with errors.Is.
type ReplayedError struct {
	Msg    string
	Target error // nil when no target matches any more
}

func (e *ReplayedError) Error() string { return e.Msg }

// Unwrap returns the target.
func (e *ReplayedError) Unwrap() error { return e.Target }

func (s *entries[R]) Get(ctx context.Context, key string) (*strategies.Entry, bool, error) {
	r, v, found, err := s.c.get(ctx, key)
	if err != nil || !found {
		return nil, false, err
	}
	if r.goValues {
		se, ok := v.(*storedEntry)
		if !ok || se.shape != s.shape || s.expired(se.Expires) {
			return nil, false, nil // written by something else, by another version, or expired: a miss
		}
		return &se.Entry, true, nil
	}
	data, ok := v.([]byte)
	if !ok {
		return nil, false, fmt.Errorf("%w: %s returned %T for %s, want []byte", ErrWrongType, r.url, v, quote.String(key))
	}
	var w wire[R]
	if err := r.format.Decode(key, data, &w); err != nil {
		if errors.Is(err, ErrTampered) {
			return nil, false, fmt.Errorf("cashews: decode %s from %s: %w", quote.String(key), r.url, err)
		}
		// A value in an older or foreign layout that does not even parse: recompute it.
		return nil, false, nil
	}
	if w.F != s.shape || s.expired(w.X) {
		return nil, false, nil
	}
	e := &strategies.Entry{Value: w.V, Expires: w.X, Stale: w.S}
	if w.E != nil {
		e.Value = nil
		re := &ReplayedError{Msg: w.E.M}
		if w.E.I >= 0 && w.E.I < len(s.replay) {
			re.Target = s.replay[w.E.I]
		}
		e.Err = re
	}
	return e, true, nil
}

// expired reports whether an entry with the given expiry is past it by the Cache's clock. Backends
// expire keys on their own clock; checking here too makes the Cache's clock the one that counts.
func (s *entries[R]) expired(expires int64) bool {
	return expires > 0 && s.c.clock.Now().UnixNano() >= expires
}

func (s *entries[R]) Set(ctx context.Context, key string, e *strategies.Entry, ttl time.Duration, tags []string) (bool, error) {
	if err := checkTTL(CmdSet, ttl); err != nil {
		return false, err
	}
	r, err := s.c.route(key)
	if err != nil || s.c.off(ctx, r, CmdSet) {
		return false, err
	}
	var v any
	if r.goValues {
		v = &storedEntry{Entry: *e, shape: s.shape}
	} else {
		w := wire[R]{X: e.Expires, S: e.Stale, F: s.shape}
		if e.Err != nil {
			w.E = &wireErr{I: -1, M: e.Err.Error()}
			for i, t := range s.replay {
				if errors.Is(e.Err, t) {
					w.E.I = i
					break
				}
			}
		} else if e.Value != nil {
			rv, ok := e.Value.(R)
			if !ok {
				return false, fmt.Errorf("%w: entry value %T for %s, want %v", ErrWrongType, e.Value, quote.String(key), reflect.TypeFor[R]())
			}
			w.V = rv
		}
		if v, err = r.encode(key, w); err != nil {
			return false, err
		}
	}
	return s.c.set(ctx, r, key, v, ttl, setConfig{tags: tags})
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
