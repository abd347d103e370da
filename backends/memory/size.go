package memory

import (
	"reflect"
	"time"
	"unsafe"
)

const (
	// sampleElems is how many elements of a slice, array or map the size estimate looks into; it
	// extrapolates from them to the rest.
	sampleElems = 8
	// estimateBudget bounds the number of values the size estimate visits, so that its cost is
	// bounded whatever the value. A value with more parts than this (a long linked list, a big tree)
	// is under-counted: give it a Sizer.
	estimateBudget = 4096
	// mapEntryOverhead approximates a map's per-entry cost on top of key and element.
	mapEntryOverhead = 8
)

// valueSize returns the size in bytes of a stored plain value.
func (b *Backend) valueSize(v any) int64 {
	if b.sizer != nil {
		if n, ok := callSizer(b.sizer, v); ok && n >= 0 {
			return n
		}
	}
	return sizeOf(v)
}

// callSizer calls Options.Sizer; a panic is reported as !ok, so that the estimate is used instead.
func callSizer(f func(any) int64, v any) (n int64, ok bool) {
	defer func() {
		if recover() != nil {
			n, ok = 0, false
		}
	}()
	return f(v), true
}

// cacheSize calls CacheSize; a panic (a nil pointer whose method has a value receiver, say) is
// reported as !ok.
func cacheSize(s Sizer) (n int64, ok bool) {
	defer func() {
		if recover() != nil {
			n, ok = 0, false
		}
	}()
	return s.CacheSize(), true
}

// sizeOf returns the size of v: exact for strings, numbers and Sizers, the capacity for []byte (the
// bytes the slice keeps alive, whatever its length), estimated otherwise. A value that cannot be
// sized (a Sizer that panics or returns a negative size, a function, a channel) counts at least its
// own fixed size.
func sizeOf(v any) int64 {
	switch x := v.(type) {
	case nil:
		return 0
	case Sizer:
		if n, ok := cacheSize(x); ok && n >= 0 {
			return n
		}
		// Fall through to the estimate.
	case []byte:
		return int64(cap(x))
	case string:
		return int64(len(x))
	case bool, int8, uint8:
		return 1
	case int16, uint16:
		return 2
	case int32, uint32, float32:
		return 4
	case int, uint, int64, uint64, uintptr, float64, complex64, time.Duration:
		return 8
	case complex128:
		return 16
	case time.Time:
		return 24
	}
	rv := reflect.ValueOf(v)
	e := estimator{budget: estimateBudget}
	return int64(rv.Type().Size()) + e.indirect(rv)
}

// estimator walks a value to estimate the bytes it reaches beyond its own fixed size. It follows
// pointers, interfaces, slices and maps to any depth, counting each block of memory once (so that a
// cycle ends and a shared block is not counted twice), and stops when its budget of visits runs out.
type estimator struct {
	budget int
	few    [8]block       // the first blocks met, searched in order
	nfew   int            // how many of few are used
	seen   map[block]bool // the blocks met after the first 8
}

// block is a piece of memory that pointers, slices or maps reach, with the type it is read as.
type block struct {
	addr unsafe.Pointer
	t    reflect.Type
}

// first reports whether the block at addr is met for the first time, and records it.
func (e *estimator) first(addr unsafe.Pointer, t reflect.Type) bool {
	k := block{addr, t}
	for _, b := range e.few[:e.nfew] {
		if b == k {
			return false
		}
	}
	if e.nfew < len(e.few) {
		e.few[e.nfew] = k
		e.nfew++
		return true
	}
	if e.seen == nil {
		e.seen = make(map[block]bool)
	}
	if e.seen[k] {
		return false
	}
	e.seen[k] = true
	return true
}

// scalar reports whether values of kind k reach no other memory.
func scalar(k reflect.Kind) bool {
	return k >= reflect.Bool && k <= reflect.Complex128
}

// indirect returns the bytes that v reaches through strings, slices, maps, pointers and interfaces,
// not counting v's own fixed size.
func (e *estimator) indirect(v reflect.Value) int64 {
	if e.budget <= 0 {
		return 0
	}
	e.budget--
	switch v.Kind() {
	case reflect.String:
		return int64(v.Len())
	case reflect.Slice:
		if v.IsNil() || !e.first(v.UnsafePointer(), v.Type()) {
			return 0
		}
		return int64(v.Cap())*int64(v.Type().Elem().Size()) + e.elems(v)
	case reflect.Array:
		return e.elems(v)
	case reflect.Pointer:
		if v.IsNil() || !e.first(v.UnsafePointer(), v.Type()) {
			return 0
		}
		el := v.Elem()
		return int64(el.Type().Size()) + e.indirect(el)
	case reflect.Interface:
		if v.IsNil() {
			return 0
		}
		el := v.Elem()
		return int64(el.Type().Size()) + e.indirect(el)
	case reflect.Map:
		n := v.Len()
		if n == 0 || !e.first(v.UnsafePointer(), v.Type()) {
			return 0
		}
		t := v.Type()
		fixed := int64(n) * (int64(t.Key().Size()) + int64(t.Elem().Size()) + mapEntryOverhead)
		if scalar(t.Key().Kind()) && scalar(t.Elem().Kind()) {
			return fixed
		}
		var sampled int64
		seen := 0
		it := v.MapRange()
		for seen < sampleElems && it.Next() {
			sampled += e.indirect(it.Key()) + e.indirect(it.Value())
			seen++
		}
		return fixed + extrapolate(sampled, seen, n)
	case reflect.Struct:
		var n int64
		for i := range v.NumField() {
			if f := v.Field(i); !scalar(f.Kind()) {
				n += e.indirect(f)
			}
		}
		return n
	}
	return 0 // scalars, funcs, channels, unsafe pointers: their fixed size is all that is counted
}

// elems estimates the indirect bytes of a slice's or array's elements from a sample.
func (e *estimator) elems(v reflect.Value) int64 {
	n := v.Len()
	if n == 0 || scalar(v.Type().Elem().Kind()) {
		return 0
	}
	seen := min(n, sampleElems)
	var sampled int64
	for i := range seen {
		sampled += e.indirect(v.Index(i))
	}
	return extrapolate(sampled, seen, n)
}

func extrapolate(sampled int64, seen, total int) int64 {
	if seen == 0 || seen == total {
		return sampled
	}
	return sampled * int64(total) / int64(seen)
}
