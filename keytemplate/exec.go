package keytemplate

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/cashews-go/cashews/internal/quote"
)

// An ExecError reports a value that could not be rendered: a nil pointer on the path to a field, a
// missing context value, a malformed JSON Web Token, or an error from a registered formatter, which
// Err wraps.
type ExecError struct {
	Template    string // the template source
	Placeholder string // the placeholder without its braces, such as "User.Name:lower"
	Err         error  // what went wrong
}

func (e *ExecError) Error() string {
	return fmt.Sprintf("keytemplate: %s: {%s}: %v", quote.String(e.Template), e.Placeholder, e.Err)
}

func (e *ExecError) Unwrap() error { return e.Err }

// nilText is how a nil pointer, interface, slice element or map value renders where it is allowed
// to: inside a collection, and anywhere in a default key.
const nilText = "<nil>"

// maxDepth bounds the nesting of values rendered through reflection, so that a cyclic value fails
// instead of overflowing the stack.
const maxDepth = 100

// run executes the program. p is the address of the argument. When the program needs reflection,
// p and h are both the address of a copy of the argument on the heap; otherwise h is nil, and p may
// point to the caller's stack, so nothing that run calls with p may let it escape. Ops that need
// reflection therefore start again from h.
func (pr *program) run(ctx context.Context, dst []byte, p, h unsafe.Pointer) ([]byte, error) {
	var (
		values  *valueList // looked up at the first context value
		looked  bool
		scratch string // holds a value looked up in a map[string]string
		mark    int    // where the output of the current {*} placeholder starts
	)
	for i := 0; i < len(pr.ops); i++ {
		o := &pr.ops[i]
		start := len(dst)
		var err error
		switch o.kind {
		case opText:
			dst = append(dst, o.text...)
			continue
		case opMark:
			mark = len(dst)
			continue
		case opGuard:
			q, _ := walk(p, o.path, &scratch) // an enclosing guard saw the pointers before
			if *(*unsafe.Pointer)(q) == nil {
				dst = append(dst, nilText...)
				i += o.skip
			} else {
				dst = append(dst, o.text...)
			}
			continue
		case opContext:
			if !looked {
				values, looked = contextValues(ctx), true
			}
			v, ok := values.lookup(o.text)
			if !ok {
				err = fmt.Errorf("no context value %q (set it with keytemplate.WithValue)", o.text)
			}
			dst = append(dst, v...)
		case opValue:
			if o.slow {
				dst, err = pr.appendSlow(dst, h, o)
				break
			}
			var q unsafe.Pointer
			if q, err = walk(p, o.path, &scratch); err == nil {
				dst = appendLeaf(dst, q, &o.leaf)
			}
		case opFormat:
			start = mark
		}
		for j := 0; err == nil && j < len(o.fmts); j++ {
			dst, err = o.fmts[j].apply(dst, start)
		}
		if err != nil {
			return dst, &ExecError{Template: pr.src, Placeholder: o.src, Err: err}
		}
	}
	return dst, nil
}

// walk follows path from p without reflection, so p does not escape. A value found in a
// map[string]string is stored in scratch. Paths with a stepMap belong to slow ops, which
// appendSlow renders.
func walk(p unsafe.Pointer, path []step, scratch *string) (unsafe.Pointer, error) {
	for i := range path {
		s := &path[i]
		switch s.kind {
		case stepField:
			p = unsafe.Add(p, s.off)
		case stepDeref:
			if p = *(*unsafe.Pointer)(p); p == nil {
				return nil, nilError(s.name)
			}
		case stepStringMap:
			*scratch = (*(*map[string]string)(p))[s.key]
			p = unsafe.Pointer(scratch)
		}
	}
	return p, nil
}

func nilError(name string) error {
	if name == "" {
		return errors.New("the argument is a nil pointer")
	}
	return fmt.Errorf("%s is a nil pointer", name)
}

// appendSlow renders an op that needs reflection, starting from h, the address of a copy of the
// argument on the heap.
func (pr *program) appendSlow(dst []byte, h unsafe.Pointer, o *op) ([]byte, error) {
	p := h
	for i := range o.path {
		s := &o.path[i]
		switch s.kind {
		case stepField:
			p = unsafe.Add(p, s.off)
		case stepDeref:
			if p = *(*unsafe.Pointer)(p); p == nil {
				return dst, nilError(s.name)
			}
		case stepStringMap:
			v := (*(*map[string]string)(p))[s.key]
			p = unsafe.Pointer(&v)
		case stepMap:
			v := reflect.NewAt(s.mapT, p).Elem().MapIndex(s.mapK)
			c := reflect.New(s.mapT.Elem())
			if v.IsValid() {
				c.Elem().Set(v)
			}
			p = c.UnsafePointer()
		}
	}
	l := &o.leaf
	switch l.how {
	case leafReflect:
		r := valueRenderer{reg: pr.reg, key: l.key, name: l.name}
		// A separate buffer, because escape analysis cannot tell that the recursive renderer
		// does not keep its buffer, and dst may be on the stack of Render.
		b, err := r.append(nil, reflect.NewAt(l.typ, p).Elem(), 0, true, l.top)
		return append(dst, b...), err
	case leafLenMap:
		return strconv.AppendInt(dst, int64(reflect.NewAt(l.typ, p).Elem().Len()), 10), nil
	}
	return appendLeaf(dst, p, l), nil
}

// appendLeaf renders the value at p, for every leaf that needs no reflection.
func appendLeaf(dst []byte, p unsafe.Pointer, l *leaf) []byte {
	switch l.how {
	case leafScalar:
		return appendScalar(dst, p, l.kind, l.key)
	case leafBytes:
		return appendBytes(dst, *(*[]byte)(p), l.key)
	case leafByteArray:
		return appendBytes(dst, unsafe.Slice((*byte)(p), l.n), l.key)
	case leafList:
		b := *(*[]byte)(p) // only the pointer and length of the slice header are used
		return appendScalars(dst, unsafe.Pointer(unsafe.SliceData(b)), len(b), l)
	case leafArray:
		return appendScalars(dst, p, l.n, l)
	case leafTime:
		return (*(*time.Time)(p)).AppendFormat(dst, time.RFC3339Nano)
	case leafDuration:
		return append(dst, (*(*time.Duration)(p)).String()...)
	case leafLenString:
		return strconv.AppendInt(dst, int64(len(*(*string)(p))), 10)
	case leafLenSlice:
		return strconv.AppendInt(dst, int64(len(*(*[]byte)(p))), 10)
	case leafLenArray:
		return strconv.AppendInt(dst, int64(l.n), 10)
	}
	panic("keytemplate: internal error: leaf needs reflection")
}

// appendScalars renders n scalars stored l.size bytes apart from p: joined with "," in templates,
// each in brackets in default keys.
func appendScalars(dst []byte, p unsafe.Pointer, n int, l *leaf) []byte {
	for i := range n {
		switch {
		case l.key:
			dst = append(dst, '[')
		case i > 0:
			dst = append(dst, ',')
		}
		dst = appendScalar(dst, unsafe.Add(p, uintptr(i)*l.size), l.kind, l.key)
		if l.key {
			dst = append(dst, ']')
		}
	}
	return dst
}

// appendScalar renders the bool, number or string of kind k at p.
func appendScalar(dst []byte, p unsafe.Pointer, k reflect.Kind, key bool) []byte {
	switch k {
	case reflect.Bool:
		return strconv.AppendBool(dst, *(*bool)(p))
	case reflect.Int:
		return strconv.AppendInt(dst, int64(*(*int)(p)), 10)
	case reflect.Int8:
		return strconv.AppendInt(dst, int64(*(*int8)(p)), 10)
	case reflect.Int16:
		return strconv.AppendInt(dst, int64(*(*int16)(p)), 10)
	case reflect.Int32:
		return strconv.AppendInt(dst, int64(*(*int32)(p)), 10)
	case reflect.Int64:
		return strconv.AppendInt(dst, *(*int64)(p), 10)
	case reflect.Uint:
		return strconv.AppendUint(dst, uint64(*(*uint)(p)), 10)
	case reflect.Uint8:
		return strconv.AppendUint(dst, uint64(*(*uint8)(p)), 10)
	case reflect.Uint16:
		return strconv.AppendUint(dst, uint64(*(*uint16)(p)), 10)
	case reflect.Uint32:
		return strconv.AppendUint(dst, uint64(*(*uint32)(p)), 10)
	case reflect.Uint64:
		return strconv.AppendUint(dst, *(*uint64)(p), 10)
	case reflect.Uintptr:
		return strconv.AppendUint(dst, uint64(*(*uintptr)(p)), 10)
	case reflect.Float32:
		return strconv.AppendFloat(dst, float64(*(*float32)(p)), 'g', -1, 32)
	case reflect.Float64:
		return strconv.AppendFloat(dst, *(*float64)(p), 'g', -1, 64)
	case reflect.Complex64:
		return append(dst, strconv.FormatComplex(complex128(*(*complex64)(p)), 'g', -1, 64)...)
	case reflect.Complex128:
		return append(dst, strconv.FormatComplex(*(*complex128)(p), 'g', -1, 128)...)
	case reflect.String:
		return appendString(dst, *(*string)(p), key)
	}
	panic("keytemplate: internal error: not a scalar kind: " + k.String())
}

func appendString(dst []byte, s string, key bool) []byte {
	if key {
		return appendEscaped(dst, s)
	}
	return append(dst, s...)
}

// appendBytes renders a byte slice: in templates as text when it is valid UTF-8 made of printable
// characters, and otherwise in lower-case hexadecimal; in default keys always as escaped text.
func appendBytes(dst, b []byte, key bool) []byte {
	if key {
		return appendEscaped(dst, unsafe.String(unsafe.SliceData(b), len(b)))
	}
	if isPrintable(b) {
		return append(dst, b...)
	}
	return hexAppend(dst, b)
}

func isPrintable(b []byte) bool {
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size <= 1 || !unicode.IsPrint(r) {
			return false
		}
		b = b[size:]
	}
	return true
}

const hexDigits = "0123456789abcdef"

func hexAppend(dst, b []byte) []byte {
	for _, c := range b {
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return dst
}

// escaped lists the ASCII characters that default keys escape: the characters that delimit the
// encoding, the escape character itself, and control characters.
var escaped = func() (t [utf8.RuneSelf]bool) {
	for c := range t {
		t[c] = c < 0x20 || c == 0x7f
	}
	for _, c := range "%,=[]{}<>" {
		t[c] = true
	}
	return t
}()

// appendEscaped appends s with the characters in escaped, and the bytes of invalid UTF-8, written
// as "%" and two upper-case hexadecimal digits, as in URLs.
func appendEscaped(dst []byte, s string) []byte {
	const upper = "0123456789ABCDEF"
	done := 0
	for i := 0; i < len(s); {
		c := s[i]
		size := 1
		if c >= utf8.RuneSelf {
			var r rune
			if r, size = utf8.DecodeRuneInString(s[i:]); r != utf8.RuneError || size > 1 {
				i += size
				continue
			}
		} else if !escaped[c] {
			i++
			continue
		}
		dst = append(dst, s[done:i]...)
		dst = append(dst, '%', upper[c>>4], upper[c&0xf])
		i++
		done = i
	}
	return append(dst, s[done:]...)
}

// A valueRenderer renders values through reflection: values of types with a renderer of their own,
// and collections and interfaces, in templates or in default keys.
type valueRenderer struct {
	reg  *registry
	key  bool   // the default-key encoding
	name string // the field path, for errors
}

// append renders v. named is set while v is the value the placeholder names, or one that pointers
// and interfaces lead to from it, and not an element of a collection: in templates, a nil pointer
// there is an error. top is set for the argument of a default key: its struct omits its braces.
func (r *valueRenderer) append(dst []byte, v reflect.Value, depth int, named, top bool) ([]byte, error) {
	if depth > maxDepth {
		return dst, fmt.Errorf("%s is nested more than %d levels deep (a cycle?)", describe(r.name), maxDepth)
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			if named && !r.key && v.Kind() == reflect.Pointer {
				return dst, nilError(r.name)
			}
			if named && !r.key {
				return dst, fmt.Errorf("%s is a nil interface", describe(r.name))
			}
			return append(dst, nilText...), nil
		}
	}
	t := v.Type()
	if render := r.reg.types[t]; render != nil {
		s, err := callRenderer(render, addr(v))
		return appendString(dst, s, r.key), err
	}
	switch t {
	case timeType:
		return v.Interface().(time.Time).AppendFormat(dst, time.RFC3339Nano), nil
	case durationType:
		return append(dst, time.Duration(v.Int()).String()...), nil
	}
	if t.Implements(stringerType) {
		s, err := callString(v)
		return appendString(dst, s, r.key), err
	}
	switch k := v.Kind(); k {
	case reflect.Pointer:
		if ek := t.Elem().Kind(); r.key && (ek == reflect.Pointer || ek == reflect.Interface) {
			dst = append(dst, '&')
		}
		return r.append(dst, v.Elem(), depth+1, named, top)
	case reflect.Interface:
		e := v.Elem()
		if r.key { // the dynamic type, so that 1 and "1" differ
			dst = append(dst, '<')
			dst = appendEscaped(dst, e.Type().String())
			dst = append(dst, '>')
		}
		return r.append(dst, e, depth+1, named, top)
	case reflect.Slice, reflect.Array:
		if e := t.Elem(); e.Kind() == reflect.Uint8 && r.reg.types[e] == nil && !e.Implements(stringerType) {
			b := make([]byte, v.Len())
			for i := range b {
				b[i] = byte(v.Index(i).Uint())
			}
			return appendBytes(dst, b, r.key), nil
		}
		var err error
		for i := range v.Len() {
			switch {
			case r.key:
				dst = append(dst, '[')
			case i > 0:
				dst = append(dst, ',')
			}
			if dst, err = r.append(dst, v.Index(i), depth+1, false, false); err != nil {
				return dst, err
			}
			if r.key {
				dst = append(dst, ']')
			}
		}
		return dst, nil
	case reflect.Map:
		return r.appendMap(dst, v, depth)
	case reflect.Struct:
		if !r.key {
			return dst, fmt.Errorf("cannot render %s of type %v", describe(r.name), t)
		}
		if !top {
			dst = append(dst, '{')
		}
		sep := ""
		var err error
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			dst = append(dst, sep...)
			dst = append(dst, f.Name...)
			dst = append(dst, '=')
			sep = ","
			if dst, err = r.append(dst, v.Field(i), depth+1, false, false); err != nil {
				return dst, err
			}
		}
		if !top {
			dst = append(dst, '}')
		}
		return dst, nil
	case reflect.Func, reflect.Chan, reflect.UnsafePointer:
		return dst, fmt.Errorf("cannot render %s of type %v", describe(r.name), t)
	default:
		return appendScalarValue(dst, v, r.key), nil
	}
}

// appendMap renders the entries of a map sorted by key: as k=v joined with "," in templates, and
// each as [k=v] in default keys. Keys of a numeric or string kind sort by value, others by text.
func (r *valueRenderer) appendMap(dst []byte, v reflect.Value, depth int) ([]byte, error) {
	type entry struct {
		k    reflect.Value
		text []byte // key=value
		eq   int    // len of the key text
	}
	entries := make([]entry, 0, v.Len())
	var (
		buf []byte
		err error
	)
	for it := v.MapRange(); it.Next(); {
		e := entry{k: it.Key()}
		if buf, err = r.append(buf[:0], e.k, depth+1, false, false); err != nil {
			return dst, err
		}
		e.eq = len(buf)
		buf = append(buf, '=')
		if buf, err = r.append(buf, it.Value(), depth+1, false, false); err != nil {
			return dst, err
		}
		e.text = bytes.Clone(buf)
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b entry) int {
		if c := compareKeys(a.k, b.k); c != 0 {
			return c
		}
		if c := bytes.Compare(a.text[:a.eq], b.text[:b.eq]); c != 0 {
			return c
		}
		return bytes.Compare(a.text, b.text)
	})
	for i, e := range entries {
		switch {
		case r.key:
			dst = append(dst, '[')
		case i > 0:
			dst = append(dst, ',')
		}
		dst = append(dst, e.text...)
		if r.key {
			dst = append(dst, ']')
		}
	}
	return dst, nil
}

func compareKeys(a, b reflect.Value) int {
	switch a.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return cmp.Compare(a.Int(), b.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return cmp.Compare(a.Uint(), b.Uint())
	case reflect.Float32, reflect.Float64:
		return cmp.Compare(a.Float(), b.Float())
	case reflect.String:
		return cmp.Compare(a.String(), b.String())
	}
	return 0
}

// appendScalarValue is appendScalar for a reflect.Value.
func appendScalarValue(dst []byte, v reflect.Value, key bool) []byte {
	switch v.Kind() {
	case reflect.Bool:
		return strconv.AppendBool(dst, v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(dst, v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.AppendUint(dst, v.Uint(), 10)
	case reflect.Float32:
		return strconv.AppendFloat(dst, v.Float(), 'g', -1, 32)
	case reflect.Float64:
		return strconv.AppendFloat(dst, v.Float(), 'g', -1, 64)
	case reflect.Complex64:
		return append(dst, strconv.FormatComplex(v.Complex(), 'g', -1, 64)...)
	case reflect.Complex128:
		return append(dst, strconv.FormatComplex(v.Complex(), 'g', -1, 128)...)
	case reflect.String:
		return appendString(dst, v.String(), key)
	}
	panic("keytemplate: internal error: not a scalar kind: " + v.Kind().String())
}

// addr returns the address of v, or of a copy of v when v is not addressable.
func addr(v reflect.Value) unsafe.Pointer {
	if v.CanAddr() {
		return v.Addr().UnsafePointer()
	}
	c := reflect.New(v.Type())
	c.Elem().Set(v)
	return c.UnsafePointer()
}
