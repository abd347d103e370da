package codec_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/cashews-go/cashews/codec"
)

type point struct{ X, Y int }
type otherPoint struct{ X, Y int }

// decodeInto decodes data into a new T.
func decodeInto[T any](f *codec.Format, key string, data []byte) (T, error) {
	var t T
	err := f.Decode(key, data, &t)
	return t, err
}

// TestTypedReads checks that a value decodes only into its own Go type (or an interface), as the
// memory backend hands it out: a struct of the same shape under another name, a pointer to the
// type, or a string are ErrWrongType, whatever the codec could make of the payload.
func TestTypedReads(t *testing.T) {
	for _, opts := range []codec.Options{{}, {Secret: secret, Compress: "gzip", CompressMin: 1}, {Codec: "gob"}} {
		f := newFormat(t, opts)
		t.Run(fmt.Sprintf("secret=%t/%s", opts.Secret != nil, opts.Codec), func(t *testing.T) {
			data, err := f.Encode("p", point{1, 2})
			if err != nil {
				t.Fatal(err)
			}
			if p, err := decodeInto[point](f, "p", data); err != nil || p != (point{1, 2}) {
				t.Errorf("Decode into point = %v, %v, want {1 2}", p, err)
			}
			wrong := []struct {
				name string
				try  func() error
			}{
				{"*point", func() error { _, err := decodeInto[*point](f, "p", data); return err }},
				{"otherPoint", func() error { _, err := decodeInto[otherPoint](f, "p", data); return err }},
				{"map", func() error { _, err := decodeInto[map[string]int](f, "p", data); return err }},
				{"string", func() error { _, err := decodeInto[string](f, "p", data); return err }},
				{"int", func() error { _, err := decodeInto[int](f, "p", data); return err }},
			}
			for _, w := range wrong {
				if err := w.try(); !errors.Is(err, codec.ErrWrongType) || !strings.Contains(err.Error(), "codec_test.point") {
					t.Errorf("Decode of a point into %s = %v, want ErrWrongType naming the stored type", w.name, err)
				}
			}
			if opts.Codec != "gob" { // gob cannot decode into an empty interface without registration
				if v, err := decodeInto[any](f, "p", data); err != nil || !reflect.DeepEqual(v, map[string]any{"X": 1.0, "Y": 2.0}) {
					t.Errorf("Decode of a point into any = %#v, %v, want the codec's generic map", v, err)
				}
			}

			// The same works for pointers, slices and maps: the type as a whole is recorded.
			data, err = f.Encode("pp", &point{3, 4})
			if err != nil {
				t.Fatal(err)
			}
			if p, err := decodeInto[*point](f, "pp", data); err != nil || *p != (point{3, 4}) {
				t.Errorf("Decode of a *point into *point = %v, %v", p, err)
			}
			if _, err := decodeInto[point](f, "pp", data); !errors.Is(err, codec.ErrWrongType) {
				t.Errorf("Decode of a *point into point = %v, want ErrWrongType", err)
			}
			data, err = f.Encode("s", []point{{1, 2}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := decodeInto[[]otherPoint](f, "s", data); !errors.Is(err, codec.ErrWrongType) {
				t.Errorf("Decode of a []point into []otherPoint = %v, want ErrWrongType", err)
			}
			if s, err := decodeInto[[]point](f, "s", data); err != nil || len(s) != 1 || s[0] != (point{1, 2}) {
				t.Errorf("Decode of a []point into []point = %v, %v", s, err)
			}
		})
	}
}

// TestNilValues checks that a stored nil reads as the zero value of a type that can be nil, and is
// ErrWrongType for any other type, as on the memory backend.
func TestNilValues(t *testing.T) {
	for _, opts := range []codec.Options{{}, {Secret: secret}, {Codec: "gob"}, {Codec: "raw"}} {
		f := newFormat(t, opts)
		data, err := f.Encode("k", nil)
		if err != nil {
			t.Fatalf("%+v: Encode(nil): %v", opts, err)
		}
		if p, err := decodeInto[*point](f, "k", data); err != nil || p != nil {
			t.Errorf("%+v: Decode(nil) into *point = %v, %v, want nil", opts, p, err)
		}
		if m, err := decodeInto[map[string]int](f, "k", data); err != nil || m != nil {
			t.Errorf("%+v: Decode(nil) into a map = %v, %v, want nil", opts, m, err)
		}
		if v, err := decodeInto[any](f, "k", data); err != nil || v != nil {
			t.Errorf("%+v: Decode(nil) into any = %v, %v, want nil", opts, v, err)
		}
		if n, err := decodeInto[int](f, "k", data); !errors.Is(err, codec.ErrWrongType) {
			t.Errorf("%+v: Decode(nil) into int = %v, %v, want ErrWrongType", opts, n, err)
		}
		if s, err := decodeInto[string](f, "k", data); !errors.Is(err, codec.ErrWrongType) {
			t.Errorf("%+v: Decode(nil) into string = %q, %v, want ErrWrongType", opts, s, err)
		}
	}
}

// TestLegacyValues checks that values an older version wrote (no metadata, so no recorded type)
// keep decoding, checked by the codec alone.
func TestLegacyValues(t *testing.T) {
	f := newFormat(t, codec.Options{})
	legacy := []byte("\x01\x00" + `{"X":1,"Y":2}`)
	if p, err := decodeInto[point](f, "k", legacy); err != nil || p != (point{1, 2}) {
		t.Errorf("Decode(legacy point) = %v, %v", p, err)
	}
	if p, err := decodeInto[otherPoint](f, "k", legacy); err != nil || p != (otherPoint{1, 2}) {
		t.Errorf("Decode(legacy point) into otherPoint = %v, %v (no type recorded: the codec decides)", p, err)
	}
	m, err := f.DecodeMeta("k", legacy, new(point))
	if err != nil || !m.Legacy || m.IsEntry {
		t.Errorf("DecodeMeta(legacy) = %+v, %v, want Legacy", m, err)
	}
	data, err := f.Encode("k", point{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := f.DecodeMeta("k", data, new(point)); err != nil || m.Legacy {
		t.Errorf("DecodeMeta(new value) = %+v, %v, want not Legacy", m, err)
	}
}

// TestEntries checks the round trip of a wrapped function's entries: the value reads back through
// Decode as any other value, and DecodeMeta returns the entry; an error result is not a value.
func TestEntries(t *testing.T) {
	for _, opts := range []codec.Options{{}, {Secret: secret, Compress: "zlib", CompressMin: 1}, {Codec: "raw"}} {
		f := newFormat(t, opts)
		e := codec.Entry{Shape: 0xfeedface, Expires: 1_700_000_000_000_000_000, Stale: -5}
		data, err := f.EncodeEntry("q:1", "result", e)
		if err != nil {
			t.Fatalf("%+v: EncodeEntry: %v", opts, err)
		}
		var s string
		m, err := f.DecodeMeta("q:1", data, &s)
		e.ErrTarget = -1
		if err != nil || s != "result" || !m.IsEntry || m.Entry != e {
			t.Errorf("%+v: DecodeMeta(entry) = %q, %+v, %v; want the value and %+v", opts, s, m, err, e)
		}
		if got, err := decodeInto[string](f, "q:1", data); err != nil || got != "result" {
			t.Errorf("%+v: Decode(entry) = %q, %v; want the entry's value", opts, got, err)
		}
		if _, err := decodeInto[int](f, "q:1", data); !errors.Is(err, codec.ErrWrongType) {
			t.Errorf("%+v: Decode(entry of a string) into int = %v, want ErrWrongType", opts, err)
		}

		n, err := f.EncodeEntry("n", 42, codec.Entry{Shape: 1})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := decodeInto[int64](f, "n", n); err != nil || got != 42 {
			t.Errorf("%+v: Decode(entry of an int) into int64 = %d, %v", opts, got, err)
		}
		if got, err := f.DecodeCounter("n", n); !errors.Is(err, codec.ErrNotInteger) {
			t.Errorf("%+v: DecodeCounter(an entry) = %d, %v; want ErrNotInteger: an entry is no counter", opts, got, err)
		}

		fail := codec.Entry{Shape: 7, Expires: 9, Err: true, ErrTarget: 2, ErrMsg: "not found: user 1"}
		data, err = f.EncodeEntry("q:2", "ignored", fail)
		if err != nil {
			t.Fatal(err)
		}
		s = "untouched"
		m, err = f.DecodeMeta("q:2", data, &s)
		if err != nil || s != "untouched" || !m.IsEntry || m.Entry != fail {
			t.Errorf("%+v: DecodeMeta(error entry) = %q, %+v, %v; want %+v and the target untouched", opts, s, m, err, fail)
		}
		if _, err := decodeInto[string](f, "q:2", data); !errors.Is(err, codec.ErrWrongType) {
			t.Errorf("%+v: Decode(error entry) = %v, want ErrWrongType", opts, err)
		}
	}
}

// TestTamperedUnderSecret checks that under a secret every value that fails verification is
// ErrTampered, whatever is wrong with it, and not ErrFormat.
func TestTamperedUnderSecret(t *testing.T) {
	f := newFormat(t, codec.Options{Secret: secret})
	good, err := f.Encode("k", "value")
	if err != nil {
		t.Fatal(err)
	}
	changedVersion := append([]byte{0x02}, good[1:]...)
	unknownFlags := append([]byte{good[0], good[1] | 0x10}, good[2:]...)
	cases := map[string][]byte{
		"empty":             {},
		"nil":               nil,
		"no header":         []byte("value"),
		"json":              []byte(`"value"`),
		"counter":           []byte("12345"),
		"version only":      {0x01},
		"changed version":   changedVersion,
		"unknown flags":     unknownFlags,
		"unsigned":          {0x01, 0x40, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, '1'},
		"legacy unsigned":   []byte("\x01\x00\"value\""),
		"truncated MAC":     good[:10],
		"another key":       nil, // filled below
		"flipped last byte": append(good[:len(good)-1:len(good)-1], good[len(good)-1]^1),
	}
	moved, err := f.Encode("other", "value")
	if err != nil {
		t.Fatal(err)
	}
	cases["another key"] = moved
	for name, data := range cases {
		for _, target := range []any{new(string), new(any), new(int64)} {
			if err := f.Decode("k", data, target); !errors.Is(err, codec.ErrTampered) || errors.Is(err, codec.ErrFormat) {
				t.Errorf("%s: Decode(%q) into %T = %v, want ErrTampered (and not ErrFormat)", name, data, target, err)
			}
		}
	}
}

type withChan struct {
	Name string
	C    chan int
}

type withFunc struct{ F func() }

type marshalsItself struct{ C chan int }

func (marshalsItself) MarshalJSON() ([]byte, error) { return []byte("{}"), nil }

type optional struct {
	Name string
	C    chan int `json:"-"`
	D    chan int `json:",omitempty"`
	_    chan int
}

type noExported struct{ _ int }

// TestCheckType checks which types each built-in codec reports it cannot encode.
func TestCheckType(t *testing.T) {
	cases := []struct {
		codec string
		v     any // a value of the type checked
		bad   string
	}{
		{"json", withChan{}, "chan int at .C"},
		{"json", &withChan{}, "chan int at .C"},
		{"json", []withChan{}, "chan int at [].C"},
		{"json", map[string]withFunc{}, "func() at [key].F"},
		{"json", map[point]int{}, "map key"},
		{"json", complex(1, 2), "complex128"},
		{"json", struct{ C chan int }{}, "chan int at .C"},
		{"json", marshalsItself{}, ""},
		{"json", optional{}, ""},
		{"json", point{}, ""},
		{"json", map[int]string{}, ""},
		{"json", 42, ""},
		{"json", "s", ""},
		{"gob", withChan{}, ""}, // gob skips chan fields
		{"gob", noExported{}, "without exported fields"},
		{"gob", []chan int{}, "chan int at []"},
		{"gob", complex(1, 2), ""},
		{"raw", "s", ""},
		{"raw", []byte("b"), ""},
		{"raw", new(string), ""},
		{"raw", 42, ""}, // integers are counters, whatever the codec
		{"raw", point{}, "stores only []byte and string"},
		{"raw", 1.5, "stores only []byte and string"},
	}
	for _, tc := range cases {
		f := newFormat(t, codec.Options{Codec: tc.codec})
		err := f.CheckType(reflect.TypeOf(tc.v))
		switch {
		case tc.bad == "" && err != nil:
			t.Errorf("%s: CheckType(%T) = %v, want nil", tc.codec, tc.v, err)
		case tc.bad != "" && (err == nil || !strings.Contains(err.Error(), tc.bad)):
			t.Errorf("%s: CheckType(%T) = %v, want an error mentioning %q", tc.codec, tc.v, err, tc.bad)
		}
		if tc.bad == "" {
			continue
		}
		// What CheckType rejects does fail to encode.
		if _, err := f.Encode("k", tc.v); err == nil {
			switch tc.v.(type) {
			case []withChan, map[string]withFunc, []chan int: // empty collections do encode
			default:
				t.Errorf("%s: CheckType(%T) rejects it, but Encode succeeds", tc.codec, tc.v)
			}
		}
	}
	// An interface type passes: only run time shows what it holds.
	var s fmt.Stringer
	if err := newFormat(t, codec.Options{Codec: "raw"}).CheckType(reflect.TypeOf(&s).Elem()); err != nil {
		t.Errorf("CheckType(fmt.Stringer) = %v, want nil", err)
	}
}
