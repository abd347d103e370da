package codec

import (
	"encoding"
	"encoding/gob"
	"encoding/json"
	"fmt"
	"reflect"
)

// The built-in codecs check types for Format.CheckType.
var (
	_ TypeChecker = jsonCodec{}
	_ TypeChecker = gobCodec{}
	_ TypeChecker = rawCodec{}
)

var (
	jsonMarshalerType   = reflect.TypeFor[json.Marshaler]()
	textMarshalerType   = reflect.TypeFor[encoding.TextMarshaler]()
	binaryMarshalerType = reflect.TypeFor[encoding.BinaryMarshaler]()
	gobEncoderType      = reflect.TypeFor[gob.GobEncoder]()
)

// implements reports whether t or *t implements one of the interfaces.
func implements(t reflect.Type, ifaces ...reflect.Type) bool {
	for _, i := range ifaces {
		if t.Implements(i) || (t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(i)) {
			return true
		}
	}
	return false
}

// cannot is the error of a type check: what cannot be encoded and where in the type it sits.
func cannot(codec string, part reflect.Type, path string, why string) error {
	at := ""
	if path != "" {
		at = " at " + path
	}
	return fmt.Errorf("cashews: the %s codec cannot encode %v%s%s", codec, part, at, why)
}

// CheckType reports the parts of t that encoding/json cannot encode in any value: chan, func and
// complex types, and maps whose keys are neither strings, integers nor encoding.TextMarshaler, where
// a value always holds them (fields tagged "-" or omitempty, and types with their own MarshalJSON or
// MarshalText, are left to run time).
func (jsonCodec) CheckType(t reflect.Type) error {
	return checkJSON(t, "", map[reflect.Type]bool{})
}

func checkJSON(t reflect.Type, path string, seen map[reflect.Type]bool) error {
	if implements(t, jsonMarshalerType, textMarshalerType) || seen[t] {
		return nil
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Chan, reflect.Func, reflect.Complex64, reflect.Complex128, reflect.UnsafePointer:
		return cannot("json", t, path, "")
	case reflect.Pointer:
		return checkJSON(t.Elem(), path, seen)
	case reflect.Slice, reflect.Array:
		return checkJSON(t.Elem(), path+"[]", seen)
	case reflect.Map:
		k := t.Key()
		switch {
		case k.Kind() == reflect.String, isIntegerKind(k.Kind()), implements(k, textMarshalerType):
		default:
			return cannot("json", t, path, " (a map key must be a string, an integer or an encoding.TextMarshaler)")
		}
		return checkJSON(t.Elem(), path+"[key]", seen)
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if !f.IsExported() && !(f.Anonymous && ft.Kind() == reflect.Struct) {
				continue // encoding/json skips it
			}
			tag := f.Tag.Get("json")
			if tag == "-" || jsonOmitempty(tag) {
				continue
			}
			if err := checkJSON(f.Type, path+"."+f.Name, seen); err != nil {
				return err
			}
		}
	}
	return nil
}

// jsonOmitempty reports whether a json tag has the omitempty or omitzero option.
func jsonOmitempty(tag string) bool {
	for i := 0; i < len(tag); i++ {
		if tag[i] == ',' {
			for _, opt := range []string{"omitempty", "omitzero"} {
				if rest := tag[i+1:]; len(rest) >= len(opt) && rest[:len(opt)] == opt && (len(rest) == len(opt) || rest[len(opt)] == ',') {
					return true
				}
			}
		}
	}
	return false
}

// CheckType reports the parts of t that encoding/gob cannot encode in any value: a chan or func
// value (struct fields of those kinds are skipped, as gob does), and structs without an exported
// field it sends. Interface values and types with their own GobEncode, MarshalBinary or MarshalText
// are left to run time.
func (gobCodec) CheckType(t reflect.Type) error {
	return checkGob(t, "", map[reflect.Type]bool{})
}

func checkGob(t reflect.Type, path string, seen map[reflect.Type]bool) error {
	if implements(t, gobEncoderType, binaryMarshalerType, textMarshalerType) || seen[t] {
		return nil
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Chan, reflect.Func, reflect.UnsafePointer:
		return cannot("gob", t, path, "")
	case reflect.Pointer:
		return checkGob(t.Elem(), path, seen)
	case reflect.Slice, reflect.Array:
		return checkGob(t.Elem(), path+"[]", seen)
	case reflect.Map:
		if err := checkGob(t.Key(), path+"[key]", seen); err != nil {
			return err
		}
		return checkGob(t.Elem(), path+"[key]", seen)
	case reflect.Struct:
		sent := 0
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() || f.Type.Kind() == reflect.Chan || f.Type.Kind() == reflect.Func {
				continue // gob skips it
			}
			sent++
			if err := checkGob(f.Type, path+"."+f.Name, seen); err != nil {
				return err
			}
		}
		if sent == 0 {
			return cannot("gob", t, path, " (a struct without exported fields)")
		}
	}
	return nil
}

// CheckType accepts string and []byte types (named ones and pointers to them included), the only
// values the raw codec stores.
func (rawCodec) CheckType(t reflect.Type) error {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.String || (t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8) {
		return nil
	}
	return cannot("raw", t, "", " (it stores only []byte and string values)")
}
