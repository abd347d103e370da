package memory

import (
	"reflect"
	"time"
)

const (
	// sampleElems is how many elements of a slice, array or map the size estimate looks into; it
	// extrapolates from them to the rest.
	sampleElems = 8
	// estimateBudget bounds the number of values the size estimate visits.
	estimateBudget = 256
	// estimateDepth bounds how deep the size estimate follows pointers and containers.
	estimateDepth = 8
	// mapEntryOverhead approximates a map's per-entry cost on top of key and element.
	mapEntryOverhead = 8
)

// valueSize returns the size in bytes of a stored plain value.
func (b *Backend) valueSize(v any) int64 {
	if b.sizer != nil {
		if n := b.sizer(v); n >= 0 {
			return n
		}
	}
	return sizeOf(v)
}

// sizeOf returns the size of v: exact for bytes, strings, numbers and Sizers, estimated otherwise.
func sizeOf(v any) int64 {
	switch x := v.(type) {
	case nil:
		return 0
	case Sizer:
		return max(x.CacheSize(), 0)
	case []byte:
		return int64(len(x))
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
	return int64(rv.Type().Size()) + e.indirect(rv, 0)
}

// estimator walks a value to estimate the bytes it reaches beyond its own fixed size.
type estimator struct {
	budget int
}

// scalar reports whether values of kind k reach no other memory.
func scalar(k reflect.Kind) bool {
	return k >= reflect.Bool && k <= reflect.Complex128
}

// indirect returns the bytes that v reaches through strings, slices, maps, pointers and interfaces,
// not counting v's own fixed size.
func (e *estimator) indirect(v reflect.Value, depth int) int64 {
	if e.budget <= 0 || depth > estimateDepth {
		return 0
	}
	e.budget--
	switch v.Kind() {
	case reflect.String:
		return int64(v.Len())
	case reflect.Slice:
		if v.IsNil() {
			return 0
		}
		return int64(v.Cap())*int64(v.Type().Elem().Size()) + e.elems(v, depth)
	case reflect.Array:
		return e.elems(v, depth)
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return 0
		}
		el := v.Elem()
		return int64(el.Type().Size()) + e.indirect(el, depth+1)
	case reflect.Map:
		n := v.Len()
		if n == 0 {
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
			sampled += e.indirect(it.Key(), depth+1) + e.indirect(it.Value(), depth+1)
			seen++
		}
		return fixed + extrapolate(sampled, seen, n)
	case reflect.Struct:
		var n int64
		for i := range v.NumField() {
			if f := v.Field(i); !scalar(f.Kind()) {
				n += e.indirect(f, depth+1)
			}
		}
		return n
	}
	return 0 // scalars, funcs, channels, unsafe pointers
}

// elems estimates the indirect bytes of a slice's or array's elements from a sample.
func (e *estimator) elems(v reflect.Value, depth int) int64 {
	n := v.Len()
	if n == 0 || scalar(v.Type().Elem().Kind()) {
		return 0
	}
	seen := min(n, sampleElems)
	var sampled int64
	for i := range seen {
		sampled += e.indirect(v.Index(i), depth+1)
	}
	return extrapolate(sampled, seen, n)
}

func extrapolate(sampled int64, seen, total int) int64 {
	if seen == 0 || seen == total {
		return sampled
	}
	return sampled * int64(total) / int64(seen)
}
