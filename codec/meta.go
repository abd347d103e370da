package codec

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"reflect"
	"strconv"
	"sync"
)

// The metadata block that follows the MAC: one byte of bits, then the fields the bits announce, in
// this order.
const (
	metaForm  byte = 0x03 // the form of the payload: formTyped, formInteger or formNil
	metaEntry byte = 0x04 // an entry follows: shape (8 bytes), expires and stale (varints)
	metaError byte = 0x08 // the entry holds an error result: its replay target follows (uvarint, index+1)
	metaKnown      = metaForm | metaEntry | metaError

	formTyped   byte = 0 // the Go type's fingerprint follows (8 bytes); the payload is the codec's
	formInteger byte = 1 // the payload is the decimal text of an integer
	formNil     byte = 2 // a nil value: no payload (an error entry's payload is the error's message)
)

// Entry is the metadata that the result of a wrapped function carries besides its value (see
// [Format.EncodeEntry]). The Cache writes and reads it; other programs have no use for it.
type Entry struct {
	Shape   uint64 // fingerprint of the result type's shape and the Wrap's version
	Expires int64  // when the entry expires by the Cache's clock, Unix nanoseconds; 0: never
	Stale   int64  // when the entry turns stale for early and soft refresh; 0: never

	Err       bool   // the entry holds an error result, not a value
	ErrTarget int    // the index of the replay target the error matched; -1 for none
	ErrMsg    string // the error's message
}

// Meta is what [Format.DecodeMeta] learned about a value besides its payload.
type Meta struct {
	// Legacy is true for a value an older version of cashews wrote, without metadata: its Go type
	// is not recorded, so only the codec checked it.
	Legacy bool
	// Counter is true for an integer (a counter's decimal text or a signed integer).
	Counter bool
	// IsEntry is true for a wrapped function's entry, described by Entry.
	IsEntry bool
	Entry   Entry
}

// meta is the metadata block of one value.
type meta struct {
	form    byte
	typ     uint64 // formTyped: the fingerprint of the stored Go type
	isEntry bool
	entry   Entry
}

func (m *meta) bits() byte {
	b := m.form
	if m.isEntry {
		b |= metaEntry
		if m.entry.Err {
			b |= metaError
		}
	}
	return b
}

// size returns the length of the block.
func (m *meta) size() int {
	n := 1
	if m.form == formTyped {
		n += 8
	}
	if e := &m.entry; m.isEntry {
		n += 8 + varintLen(e.Expires) + varintLen(e.Stale)
		if e.Err {
			n += uvarintLen(uint64(e.ErrTarget + 1))
		}
	}
	return n
}

// put writes the block into b, which has exactly size() bytes.
func (m *meta) put(b []byte) {
	b[0] = m.bits()
	b = b[1:]
	if m.form == formTyped {
		binary.BigEndian.PutUint64(b, m.typ)
		b = b[8:]
	}
	if e := &m.entry; m.isEntry {
		binary.BigEndian.PutUint64(b, e.Shape)
		b = b[8:]
		b = b[binary.PutVarint(b, e.Expires):]
		b = b[binary.PutVarint(b, e.Stale):]
		if e.Err {
			binary.PutUvarint(b, uint64(e.ErrTarget+1))
		}
	}
}

// parse reads the block at the start of data and returns the payload after it.
func (m *meta) parse(data []byte) ([]byte, error) {
	if len(data) < 1 {
		return nil, errTruncatedMeta
	}
	bits := data[0]
	data = data[1:]
	m.form = bits & metaForm
	if bits&^metaKnown != 0 || m.form > formNil || (bits&metaError != 0 && (bits&metaEntry == 0 || m.form != formNil)) {
		return nil, fmt.Errorf("%w: unknown metadata 0x%02x", ErrFormat, bits)
	}
	if m.form == formTyped {
		if len(data) < 8 {
			return nil, errTruncatedMeta
		}
		m.typ = binary.BigEndian.Uint64(data)
		data = data[8:]
	}
	if bits&metaEntry != 0 {
		m.isEntry = true
		e := &m.entry
		e.ErrTarget = -1
		if len(data) < 8 {
			return nil, errTruncatedMeta
		}
		e.Shape = binary.BigEndian.Uint64(data)
		data = data[8:]
		var n int
		if e.Expires, n = binary.Varint(data); n <= 0 {
			return nil, errTruncatedMeta
		}
		data = data[n:]
		if e.Stale, n = binary.Varint(data); n <= 0 {
			return nil, errTruncatedMeta
		}
		data = data[n:]
		if bits&metaError != 0 {
			var t uint64
			if t, n = binary.Uvarint(data); n <= 0 || t > 1<<16 {
				return nil, errTruncatedMeta
			}
			data = data[n:]
			e.Err, e.ErrTarget = true, int(t)-1
		}
	}
	return data, nil
}

var errTruncatedMeta = fmt.Errorf("%w: truncated metadata", ErrFormat)

func varintLen(x int64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutVarint(b[:], x)
}

func uvarintLen(x uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], x)
}

// Fingerprints of Go types, cached: a type's fingerprint never changes.
var (
	typeIDs   sync.Map // reflect.Type -> uint64
	typeNames sync.Map // uint64 -> string, for error messages
)

// typeID returns the fingerprint of t's identity: the package path and name of a named type, and
// for an unnamed type (a slice, map, pointer, struct literal...) its kind and the identities of its
// parts. It is the same in every program and build that has the type, and it does not change when
// a named struct type gains or loses fields (the codec decides whether such a value still decodes).
func typeID(t reflect.Type) uint64 {
	if id, ok := typeIDs.Load(t); ok {
		return id.(uint64)
	}
	h := fnv.New64a()
	writeIdentity(h, t)
	id := h.Sum64()
	typeIDs.Store(t, id)
	typeNames.LoadOrStore(id, t.String())
	return id
}

// typeName returns the name of the type with fingerprint id, if this process has met it.
func typeName(id uint64) string {
	if n, ok := typeNames.Load(id); ok {
		return n.(string)
	}
	return "another Go type"
}

type hashWriter interface{ Write([]byte) (int, error) }

func writeIdentity(h hashWriter, t reflect.Type) {
	w := func(s string) { h.Write([]byte(s)) }
	if t.Name() != "" {
		w(t.PkgPath() + "." + t.Name() + ";")
		return
	}
	w(t.Kind().String() + "(")
	defer w(")")
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice:
		writeIdentity(h, t.Elem())
	case reflect.Array:
		w(strconv.Itoa(t.Len()) + ",")
		writeIdentity(h, t.Elem())
	case reflect.Chan:
		w(t.ChanDir().String() + ",")
		writeIdentity(h, t.Elem())
	case reflect.Map:
		writeIdentity(h, t.Key())
		writeIdentity(h, t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			w(f.PkgPath + "." + f.Name + " " + strconv.Quote(string(f.Tag)) + " " + strconv.FormatBool(f.Anonymous) + " ")
			writeIdentity(h, f.Type)
		}
	case reflect.Func:
		for i := range t.NumIn() {
			writeIdentity(h, t.In(i))
		}
		w("->" + strconv.FormatBool(t.IsVariadic()))
		for i := range t.NumOut() {
			writeIdentity(h, t.Out(i))
		}
	case reflect.Interface:
		for i := range t.NumMethod() {
			m := t.Method(i)
			w(m.PkgPath + "." + m.Name)
			writeIdentity(h, m.Type)
		}
	}
}

// checkType checks that a value stored with the type fingerprint id may be decoded into the target
// v points to: the same type, or an interface type (which the codec fills as it can).
func checkType(id uint64, v any) error {
	t := reflect.TypeOf(v).Elem()
	if t.Kind() == reflect.Interface || typeID(t) == id {
		return nil
	}
	return fmt.Errorf("%w: the value was stored as %s, not %v", ErrWrongType, typeName(id), t)
}

// decodeNil stores a nil value into the target v points to: the zero value of a type that can be
// nil, and an error for any other type.
func decodeNil(v any) error {
	e := reflect.ValueOf(v).Elem()
	switch e.Kind() {
	case reflect.Interface, reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
		e.SetZero()
		return nil
	}
	return fmt.Errorf("%w: the value is nil, not %v", ErrWrongType, e.Type())
}
