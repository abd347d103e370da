package keytemplate

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/cashews-go/cashews/internal/quote"
)

// A FieldError reports a placeholder that does not fit the argument type: a field or map key that
// does not exist, a field that is not exported, or a value of a type that cannot be rendered.
type FieldError struct {
	Template string       // the template source
	Field    string       // the field path as written, such as "User.Name", or "." or "*"
	Type     reflect.Type // the type that lacks the field, or that cannot be rendered
	Msg      string       // what is wrong, naming the type
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("keytemplate: %s: %s", quote.String(e.Template), e.Msg)
}

// A FormatterError reports a formatter that does not exist, that cannot apply to the value before
// it, or that was given an argument it does not accept.
type FormatterError struct {
	Template  string // the template source
	Formatter string // the formatter as written, such as "hash(md4)"
	Msg       string // what is wrong
}

func (e *FormatterError) Error() string {
	return fmt.Sprintf("keytemplate: %s: %s", quote.String(e.Template), e.Msg)
}

var (
	timeType     = reflect.TypeFor[time.Time]()
	durationType = reflect.TypeFor[time.Duration]()
	stringType   = reflect.TypeFor[string]()
	stringerType = reflect.TypeFor[fmt.Stringer]()
)

// A program is a compiled template: a list of operations that append to a buffer.
type program struct {
	src    string
	ops    []op
	fields []string  // the field paths the template names, for Template.Fields
	slow   bool      // some op needs reflection, and the argument is first copied to the heap
	reg    *registry // what was registered when the template was compiled
}

// opKind says what an op appends.
type opKind uint8

const (
	opText    opKind = iota // literal text
	opValue                 // a value reached from the argument
	opContext               // a value set with WithValue
	opGuard                 // default keys: "<nil>" for a nil pointer, skipping the ops of its target
	opMark                  // {*} with formatters: where the output of the placeholder starts
	opFormat                // {*} with formatters: apply them to the output since opMark
)

type op struct {
	kind opKind
	text string   // opText: the text; opContext: the name; opGuard: written before a non-nil target
	src  string   // the placeholder without braces, for errors
	path []step   // opValue, opGuard: from the argument to the value
	leaf leaf     // opValue: how the value renders
	fmts []format // opValue, opContext, opFormat: formatters to apply, in order
	skip int      // opGuard: how many ops render the target of the pointer
	slow bool     // opValue: the path or the leaf needs reflection
}

// stepKind says how a step moves from one value to the next.
type stepKind uint8

const (
	stepField     stepKind = iota // add off: a field, or a field of a field
	stepDeref                     // follow a pointer, failing when it is nil
	stepStringMap                 // look key up in a map[string]string
	stepMap                       // look key up in another map with string keys, through reflection
)

type step struct {
	kind stepKind
	off  uintptr       // stepField
	key  string        // stepStringMap
	mapT reflect.Type  // stepMap: the map type
	mapK reflect.Value // stepMap: key, converted to the key type of the map
	name string        // stepDeref: the field path of the pointer, for errors
}

// leafHow says how a value renders.
type leafHow uint8

const (
	leafScalar    leafHow = iota // a bool, number or string of the kind in leaf.kind
	leafBytes                    // a slice of bytes
	leafByteArray                // an array of n bytes
	leafList                     // a slice of scalars of the kind in leaf.kind
	leafArray                    // an array of n scalars
	leafTime                     // time.Time, in RFC 3339
	leafDuration                 // time.Duration
	leafLenString                // the len formatter on a string
	leafLenSlice                 // the len formatter on a slice
	leafLenArray                 // the len formatter on an array: n
	leafReflect                  // anything else, through reflection
	leafLenMap                   // the len formatter on a map, through reflection
)

type leaf struct {
	how  leafHow
	kind reflect.Kind // leafScalar, leafList, leafArray: the kind of the scalars
	size uintptr      // leafList, leafArray: the size of an element
	n    int          // leafByteArray, leafArray, leafLenArray: the length of the array
	key  bool         // render in the default-key encoding
	top  bool         // leafReflect in a default key: a struct at the top omits its braces
	typ  reflect.Type // leafReflect, leafLenMap: the static type of the value
	name string       // the field path, for errors
}

func (l *leaf) needsReflect() bool { return l.how == leafReflect || l.how == leafLenMap }

// maxFlatten bounds how deep default keys are compiled into field offsets. Deeper values, and
// recursive types, render through reflection.
const maxFlatten = 8

type compiler struct {
	src   string
	reg   *registry
	ops   []op
	floor int // text never merges into an op before this index, see text
}

// compile compiles parsed nodes for an argument of type t.
func compile(src string, nodes []node, t reflect.Type, reg *registry) (*program, error) {
	c := &compiler{src: src, reg: reg}
	pr := &program{src: src, reg: reg}
	for i := range nodes {
		n := &nodes[i]
		if n.isText {
			c.text(n.text)
			continue
		}
		if err := c.placeholder(n, t); err != nil {
			return nil, err
		}
		if f := n.field(); f != "" && !slices.Contains(pr.fields, f) {
			pr.fields = append(pr.fields, f)
		}
	}
	pr.ops = c.ops
	for i := range pr.ops {
		if pr.ops[i].slow {
			pr.slow = true
		}
	}
	return pr, nil
}

// field returns the field path a placeholder names, "." or "*", or "" for a context value.
func (n *node) field() string {
	switch n.kind {
	case sourceField:
		return strings.Join(n.path, ".")
	case sourceDot:
		return "."
	case sourceStar:
		return "*"
	}
	return ""
}

// text appends literal text, merging it into the op before when that is text too.
func (c *compiler) text(s string) {
	if s == "" {
		return
	}
	if last := len(c.ops) - 1; last >= c.floor && last >= 0 && c.ops[last].kind == opText {
		c.ops[last].text += s
		return
	}
	c.ops = append(c.ops, op{kind: opText, text: s})
}

func (c *compiler) emit(o op) {
	c.ops = append(c.ops, o)
}

func (c *compiler) placeholder(n *node, t reflect.Type) error {
	src := n.placeholder()
	switch n.kind {
	case sourceContext:
		fmts, err := c.formats(n.calls)
		c.emit(op{kind: opContext, text: n.text, src: src, fmts: fmts})
		return err
	case sourceStar:
		if len(n.calls) == 0 {
			return c.keyOps(t, nil, "", true, nil)
		}
		c.emit(op{kind: opMark})
		if err := c.keyOps(t, nil, "", true, nil); err != nil {
			return err
		}
		fmts, err := c.formats(n.calls)
		c.emit(op{kind: opFormat, src: src, fmts: fmts})
		return err
	}

	field := n.field()
	name := "" // the argument itself, for {.}
	var path []step
	if n.kind == sourceField {
		name = field
		var err error
		if path, t, err = c.fieldPath(t, n.path, field); err != nil {
			return err
		}
	}
	o := op{kind: opValue, src: src, path: path}
	// get and len apply to the value itself; the other formatters to its text.
	calls := n.calls
	for ; len(calls) > 0 && calls[0].name == "get"; calls = calls[1:] {
		if !calls[0].hasArg {
			return c.formatterError(calls[0], "formatter get needs a key, as in get(lang)")
		}
		var ok bool
		if o.path, t, ok = c.mapKey(o.path, t, calls[0].arg, name); !ok {
			return c.formatterError(calls[0], fmt.Sprintf("formatter get cannot apply to %v, want a map with string keys", t))
		}
	}
	if len(calls) > 0 && calls[0].name == "len" {
		if calls[0].hasArg {
			return c.formatterError(calls[0], "formatter len takes no argument")
		}
		var ok bool
		if o.path, o.leaf, ok = c.lenLeaf(o.path, t, name); !ok {
			return c.formatterError(calls[0], fmt.Sprintf("formatter len cannot apply to %v", t))
		}
		calls = calls[1:]
	} else {
		var err error
		if o.path, o.leaf, err = c.leaf(o.path, t, name, false); err != nil {
			return err
		}
	}
	var err error
	if o.fmts, err = c.formats(calls); err != nil {
		return err
	}
	o.slow = o.leaf.needsReflect() || slices.ContainsFunc(o.path, func(s step) bool { return s.kind == stepMap })
	c.emit(o)
	return nil
}

// formats compiles formatters that apply to text.
func (c *compiler) formats(calls []call) ([]format, error) {
	var fmts []format
	for _, call := range calls {
		f, err := newFormat(call, c.reg)
		if err != nil {
			return nil, c.formatterError(call, err.Error())
		}
		fmts = append(fmts, f)
	}
	return fmts, nil
}

// fieldPath resolves the segments of a field path from type t.
func (c *compiler) fieldPath(t reflect.Type, segs []string, field string) ([]step, reflect.Type, error) {
	var (
		path []step
		name string
	)
	for _, seg := range segs {
		path, t = deref(path, t, name)
		if name == "" {
			name = seg
		} else {
			name += "." + seg
		}
		switch t.Kind() {
		case reflect.Struct:
			f, ok := t.FieldByName(seg)
			if !ok {
				return nil, nil, c.fieldError(field, t, "type %v has no field or key %q", t, seg)
			}
			if !f.IsExported() {
				return nil, nil, c.fieldError(field, t, "field %q of type %v is not exported", seg, t)
			}
			for i, x := range f.Index { // more than one index for a field of an embedded struct
				if i > 0 && t.Kind() == reflect.Pointer {
					path = append(path, step{kind: stepDeref, name: name})
					t = t.Elem()
				}
				sf := t.Field(x)
				path = addOffset(path, sf.Offset)
				t = sf.Type
			}
		case reflect.Map:
			var ok bool
			if path, t, ok = c.mapKey(path, t, seg, name); !ok {
				return nil, nil, c.fieldError(field, t, "type %v has no field or key %q (map keys must be strings)", t, seg)
			}
		default:
			return nil, nil, c.fieldError(field, t, "type %v has no field or key %q", t, seg)
		}
	}
	return path, t, nil
}

// mapKey adds the steps that look key up in the map t, following pointers first. It returns the type
// of the map's elements, or false when t is not a map with string keys. As in Go, a missing key
// yields the zero value of the element type.
func (c *compiler) mapKey(path []step, t reflect.Type, key, name string) ([]step, reflect.Type, bool) {
	path, mt := deref(path, t, name)
	if mt.Kind() != reflect.Map || mt.Key().Kind() != reflect.String {
		return path, t, false
	}
	if mt.Key() == stringType && mt.Elem() == stringType {
		return append(path, step{kind: stepStringMap, key: key}), mt.Elem(), true
	}
	k := reflect.ValueOf(key).Convert(mt.Key())
	return append(path, step{kind: stepMap, mapT: mt, mapK: k}), mt.Elem(), true
}

// deref adds a step for each pointer to follow from t.
func deref(path []step, t reflect.Type, name string) ([]step, reflect.Type) {
	for t.Kind() == reflect.Pointer {
		path = append(path, step{kind: stepDeref, name: name})
		t = t.Elem()
	}
	return path, t
}

// addOffset adds a field step, merging it into the step before when that is a field step too.
func addOffset(path []step, off uintptr) []step {
	if n := len(path); n > 0 && path[n-1].kind == stepField {
		path[n-1].off += off
		return path
	}
	return append(path, step{kind: stepField, off: off})
}

// lenLeaf compiles the len formatter on a value of type t, following pointers first.
func (c *compiler) lenLeaf(path []step, t reflect.Type, name string) ([]step, leaf, bool) {
	path, et := deref(path, t, name)
	l := leaf{typ: et, name: name}
	switch et.Kind() {
	case reflect.String:
		l.how = leafLenString
	case reflect.Slice:
		l.how = leafLenSlice
	case reflect.Array:
		l.how, l.n = leafLenArray, et.Len()
	case reflect.Map:
		l.how = leafLenMap
	default:
		return path, l, false
	}
	return path, l, true
}

// hasRenderer reports whether values of type t render through a registered renderer, a built-in
// rule for a standard type, or a String method, rather than by their kind.
func (c *compiler) hasRenderer(t reflect.Type) bool {
	return c.reg.types[t] != nil || t == timeType || t == durationType || t.Implements(stringerType)
}

// leaf compiles how a value of type t renders: in the default-key encoding when key is set.
func (c *compiler) leaf(path []step, t reflect.Type, name string, key bool) ([]step, leaf, error) {
	// Follow pointers, unless a pointer type renders by itself. keyOps follows pointers itself, and
	// leaves only those of deep or recursive types, which render through reflection.
	for !key && t.Kind() == reflect.Pointer && !c.hasRenderer(t) {
		path = append(path, step{kind: stepDeref, name: name})
		t = t.Elem()
	}
	l := leaf{key: key, name: name, typ: t}
	switch k := t.Kind(); {
	case c.reg.types[t] != nil:
		l.how = leafReflect
	case t == timeType:
		l.how = leafTime
	case t == durationType:
		l.how = leafDuration
	case t.Implements(stringerType):
		l.how = leafReflect
	case isScalar(k):
		l.how, l.kind = leafScalar, k
	case (k == reflect.Slice || k == reflect.Array) && isScalar(t.Elem().Kind()) && !c.hasRenderer(t.Elem()):
		l.kind, l.size = t.Elem().Kind(), t.Elem().Size()
		switch {
		case k == reflect.Slice && l.kind == reflect.Uint8:
			l.how = leafBytes
		case k == reflect.Slice:
			l.how = leafList
		case l.kind == reflect.Uint8:
			l.how, l.n = leafByteArray, t.Len()
		default:
			l.how, l.n = leafArray, t.Len()
		}
	default:
		l.how = leafReflect
		if bad := c.unrenderable(t, key, nil); bad != nil {
			return nil, l, c.cannotRender(name, key, t, bad)
		}
	}
	return path, l, nil
}

// cannotRender reports that the value named name, of type t, holds values of type bad, which cannot
// be rendered.
func (c *compiler) cannotRender(name string, key bool, t, bad reflect.Type) error {
	field := name
	switch {
	case field != "":
	case key:
		field = "*"
	default:
		field = "."
	}
	var hint string
	if bad.Kind() == reflect.Struct {
		hint = "; name its fields, or register a renderer with RegisterType"
	}
	if bad == t {
		return c.fieldError(field, t, "cannot render %s of type %v%s", describe(name), t, hint)
	}
	return c.fieldError(field, bad, "cannot render %s of type %v: it holds %v%s", describe(name), t, bad, hint)
}

func describe(name string) string {
	if name == "" {
		return "the argument"
	}
	return name
}

// unrenderable returns a type reachable from t whose values cannot be rendered, or nil. In templates,
// these are structs, functions, channels and unsafe pointers without a renderer; in default keys,
// structs render by their exported fields. Values behind an interface are checked when they render.
func (c *compiler) unrenderable(t reflect.Type, key bool, seen map[reflect.Type]bool) reflect.Type {
	if c.hasRenderer(t) || seen[t] {
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return c.unrenderable(t.Elem(), key, mark(seen, t))
	case reflect.Map:
		if bad := c.unrenderable(t.Key(), key, mark(seen, t)); bad != nil {
			return bad
		}
		return c.unrenderable(t.Elem(), key, seen)
	case reflect.Struct:
		if !key {
			return t
		}
		seen = mark(seen, t)
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() {
				if bad := c.unrenderable(f.Type, key, seen); bad != nil {
					return bad
				}
			}
		}
		return nil
	case reflect.Func, reflect.Chan, reflect.UnsafePointer:
		return t
	}
	return nil
}

func mark(seen map[reflect.Type]bool, t reflect.Type) map[reflect.Type]bool {
	if seen == nil {
		seen = make(map[reflect.Type]bool)
	}
	seen[t] = true
	return seen
}

func isScalar(k reflect.Kind) bool {
	switch k {
	case reflect.Bool, reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return true
	}
	return false
}

// keyOps compiles the default-key encoding of a value of type t, reached from the argument by path.
// Structs and pointers compile into ops with field offsets, so that common arguments render without
// reflection; top is set for the argument itself, whose struct omits its braces. open holds the
// struct types being compiled, to stop at recursive types.
func (c *compiler) keyOps(t reflect.Type, path []step, name string, top bool, open []reflect.Type) error {
	field := name
	if field == "" {
		field = "*"
	}
	if top {
		if st := indirect(t); st.Kind() == reflect.Struct && st.NumField() > 0 && !c.hasRenderer(st) && !hasExported(st) {
			return c.fieldError(field, st, "type %v has no exported fields: a default key would not depend on the argument", st)
		}
	}
	if c.hasRenderer(t) || len(open) >= maxFlatten || slices.Contains(open, t) {
		return c.keyLeaf(path, t, name, top)
	}
	switch t.Kind() {
	case reflect.Pointer:
		g := len(c.ops)
		o := op{kind: opGuard, path: path}
		if k := t.Elem().Kind(); k == reflect.Pointer || k == reflect.Interface {
			o.text = "&" // tells a pointer to a nil pointer from a nil pointer
		}
		c.emit(o)
		c.floor = len(c.ops)
		target := append(slices.Clip(path), step{kind: stepDeref, name: name})
		if err := c.keyOps(t.Elem(), target, name, top, open); err != nil {
			return err
		}
		c.ops[g].skip = len(c.ops) - g - 1
		c.floor = len(c.ops)
		return nil
	case reflect.Struct:
		if !top {
			c.text("{")
		}
		sep := ""
		open = append(slices.Clip(open), t)
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			c.text(sep + f.Name + "=")
			sep = ","
			fpath := addOffset(slices.Clone(path), f.Offset)
			fname := f.Name
			if name != "" {
				fname = name + "." + f.Name
			}
			if err := c.keyOps(f.Type, fpath, fname, false, open); err != nil {
				return err
			}
		}
		if !top {
			c.text("}")
		}
		return nil
	}
	return c.keyLeaf(path, t, name, top)
}

func (c *compiler) keyLeaf(path []step, t reflect.Type, name string, top bool) error {
	path, l, err := c.leaf(path, t, name, true)
	if err != nil {
		return err
	}
	l.top = top
	c.emit(op{kind: opValue, src: "*", path: path, leaf: l, slow: l.needsReflect()})
	return nil
}

func indirect(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

func hasExported(t reflect.Type) bool {
	for i := range t.NumField() {
		if t.Field(i).IsExported() {
			return true
		}
	}
	return false
}

func (c *compiler) fieldError(field string, t reflect.Type, format string, args ...any) error {
	return &FieldError{Template: c.src, Field: field, Type: t, Msg: fmt.Sprintf(format, args...)}
}

func (c *compiler) formatterError(call call, msg string) error {
	f := call.name
	if call.hasArg {
		f += "(" + call.arg + ")"
	}
	return &FormatterError{Template: c.src, Formatter: f, Msg: msg}
}
