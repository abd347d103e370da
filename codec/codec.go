package codec

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
)

// Codec turns Go values into bytes and back. Implementations must be safe for concurrent use.
//
// Marshal may return a slice it does not own (the raw codec returns a []byte value as it is): a
// [Format] neither modifies nor keeps it. Unmarshal decodes data into v, a non-nil pointer, and must
// not keep data after it returns, because a Format may reuse the buffer (a codec that keeps the bytes
// copies them, as encoding/json asks of UnmarshalJSON).
type Codec interface {
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// The built-in codecs, registered as "json", "gob" and "raw".
var (
	// JSON encodes with encoding/json. It is the default: readable, portable across languages and
	// versions of a program, and it decodes into any target type that matches the data. Like
	// encoding/json it replaces invalid UTF-8 in strings with U+FFFD; binary data belongs in a
	// []byte (base64 in JSON) or the Raw codec.
	JSON Codec = jsonCodec{}
	// Gob encodes with encoding/gob. Each value is a self-contained gob stream (type information
	// included), so it is larger and slower than JSON for small values; it carries what JSON cannot,
	// such as NaN and infinite floats, and concrete types in interface fields (registered with
	// gob.Register). A nil pointer cannot be encoded.
	Gob Codec = gobCodec{}
	// Raw stores []byte and string values as they are, with no encoding at all. Marshal takes
	// []byte, string, *[]byte and *string (and named types of those kinds); Unmarshal fills
	// *[]byte, *string and *any (which receives a []byte). Anything else is an error naming the type.
	Raw Codec = rawCodec{}
)

var (
	registryMu sync.RWMutex
	registry   = map[string]Codec{"json": JSON, "gob": Gob, "raw": Raw}
)

// Register makes a codec available under a name, for the codec URL parameter and [Options.Codec].
// It is meant to be called from an init function, and panics if the name is empty, the codec is
// nil or the name is already registered ("json", "gob" and "raw" are built in), as
// database/sql.Register does: all three are programming errors.
func Register(name string, c Codec) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if name == "" || c == nil {
		panic("cashews: codec.Register with an empty name or a nil codec")
	}
	if _, dup := registry[name]; dup {
		panic("cashews: codec.Register called twice for codec " + name)
	}
	registry[name] = c
}

// Codecs returns the names of the registered codecs, sorted.
func Codecs() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(registry))
	for name := range registry {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Lookup returns the codec registered under name. The error for an unknown name names it and lists
// the registered codecs.
func Lookup(name string) (Codec, error) {
	registryMu.RLock()
	c, ok := registry[name]
	registryMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("cashews: unknown codec %q (registered: %s; others, such as msgpack, must be added with codec.Register)",
			name, strings.Join(Codecs(), ", "))
	}
	return c, nil
}

type jsonCodec struct{}

func (jsonCodec) Marshal(v any) ([]byte, error)      { return json.Marshal(v) }
func (jsonCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

type gobCodec struct{}

func (gobCodec) Marshal(v any) (data []byte, err error) {
	// gob panics, rather than failing, on a nil pointer at the top level.
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
		return nil, fmt.Errorf("gob: cannot encode nil pointer of type %T", v)
	}
	defer func() {
		if r := recover(); r != nil {
			data, err = nil, fmt.Errorf("gob: cannot encode %T: %v", v, r)
		}
	}()
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (gobCodec) Unmarshal(data []byte, v any) error {
	// A *bytes.Reader is an io.ByteReader, so the decoder reads from it directly, without a bufio
	// layer, and whatever the reader still holds afterwards is data that followed the value.
	r := bytes.NewReader(data)
	if err := gob.NewDecoder(r).Decode(v); err != nil {
		return err
	}
	if r.Len() != 0 {
		return fmt.Errorf("gob: %d bytes of trailing data after the value", r.Len())
	}
	return nil
}

type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	switch x := v.(type) {
	case []byte:
		return x, nil
	case string:
		return []byte(x), nil
	case *[]byte:
		if x != nil {
			return *x, nil
		}
	case *string:
		if x != nil {
			return []byte(*x), nil
		}
	default:
		// Named types such as json.RawMessage or type Token string.
		rv := reflect.ValueOf(v)
		if rv.Kind() == reflect.Pointer && !rv.IsNil() {
			rv = rv.Elem()
		}
		switch {
		case rv.Kind() == reflect.String:
			return []byte(rv.String()), nil
		case rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8:
			return rv.Bytes(), nil
		}
	}
	return nil, fmt.Errorf("cashews: the raw codec stores only []byte and string values, not %T", v)
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	switch p := v.(type) {
	case *[]byte:
		if p != nil {
			*p = bytes.Clone(data)
			return nil
		}
	case *string:
		if p != nil {
			*p = string(data)
			return nil
		}
	case *any:
		if p != nil {
			*p = bytes.Clone(data)
			return nil
		}
	default:
		rv := reflect.ValueOf(v)
		if rv.Kind() == reflect.Pointer && !rv.IsNil() {
			e := rv.Elem()
			switch {
			case e.Kind() == reflect.String:
				e.SetString(string(data))
				return nil
			case e.Kind() == reflect.Slice && e.Type().Elem().Kind() == reflect.Uint8:
				e.SetBytes(bytes.Clone(data))
				return nil
			}
		}
	}
	return fmt.Errorf("cashews: the raw codec decodes only into *[]byte, *string or *any, not %T", v)
}
