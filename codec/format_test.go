package codec_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cashews-go/cashews/codec"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

type user struct {
	ID      int
	Name    string
	Tags    []string
	Created time.Time
	Friend  *user
}

func newFormat(t testing.TB, o codec.Options) *codec.Format {
	t.Helper()
	f, err := codec.New(o)
	if err != nil {
		t.Fatalf("New(%+v): %v", o, err)
	}
	return f
}

// formats are the option sets every round trip runs under.
var formats = []struct {
	name string
	opts codec.Options
}{
	{"plain", codec.Options{}},
	{"gzip", codec.Options{Compress: "gzip", CompressMin: 1}},
	{"zlib", codec.Options{Compress: "zlib", CompressMin: 1}},
	{"signed", codec.Options{Secret: secret}},
	{"signed-sha512-gzip", codec.Options{Secret: secret, Digest: "sha512", Compress: "gzip", CompressMin: 1}},
	{"signed-sha384-zlib", codec.Options{Secret: secret, Digest: "sha384", Compress: "zlib", CompressMin: 1}},
}

// roundTrip is one value to encode and decode back into a new T.
type roundTrip struct {
	name   string
	codecs []string // the codecs that carry the value
	run    func(t *testing.T, f *codec.Format)
}

func rt[T any](name string, v T, codecs ...string) roundTrip {
	return roundTrip{name, codecs, func(t *testing.T, f *codec.Format) {
		data, err := f.Encode("key:"+name, v)
		if err != nil {
			t.Fatalf("Encode(%#v): %v", v, err)
		}
		var got T
		if err := f.Decode("key:"+name, data, &got); err != nil {
			t.Fatalf("Decode(Encode(%#v)): %v", v, err)
		}
		if !reflect.DeepEqual(got, v) {
			t.Errorf("Decode(Encode(v)) = %#v, want %#v", got, v)
		}
	}}
}

func TestRoundTrip(t *testing.T) {
	created := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	long := strings.Repeat("compressible ", 200)
	values := []roundTrip{
		rt("struct", user{ID: 1, Name: "Ann", Tags: []string{"a", "b"}, Created: created, Friend: &user{ID: 2, Name: "Bob", Created: created}}, "json", "gob"),
		rt("map", map[string]int{"a": 1, "b": 2}, "json", "gob"),
		rt("slice", []string{"x", "y", long}, "json", "gob"),
		rt("string", "héllo, wörld", "json", "gob", "raw"),
		rt("long string", long, "json", "gob", "raw"),
		rt("empty string", "", "json", "gob", "raw"),
		rt("bytes", []byte{0, 1, 2, 0xff}, "json", "gob", "raw"),
		rt("int", 42, "json", "gob"),
		rt("negative int64", int64(math.MinInt64), "json", "gob"),
		rt("float", 3.25, "json", "gob"),
		rt("bool", true, "json", "gob"),
		rt("time", created, "json", "gob"),
		rt("nil pointer", (*user)(nil), "json"),
		rt("pointer", &user{ID: 3, Created: created}, "json", "gob"),
	}
	for _, format := range formats {
		for _, name := range []string{"json", "gob", "raw"} {
			o := format.opts
			o.Codec = name
			f := newFormat(t, o)
			for _, v := range values {
				if !contains(v.codecs, name) {
					continue
				}
				t.Run(format.name+"/"+name+"/"+v.name, func(t *testing.T) { v.run(t, f) })
			}
		}
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestEncodeErrors(t *testing.T) {
	cases := []struct {
		codec string
		v     any
		want  string
	}{
		{"gob", (*user)(nil), "nil pointer"},
		{"json", make(chan int), "chan"},
		{"raw", 4.2, "raw codec"},
		{"raw", user{}, "raw codec"},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s/%T", tc.codec, tc.v), func(t *testing.T) {
			f := newFormat(t, codec.Options{Codec: tc.codec, Secret: secret})
			data, err := f.Encode("k", tc.v)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Encode(%#v) = %q, %v; want an error mentioning %q", tc.v, data, err, tc.want)
			}
		})
	}
}

func TestEncodeOwnsResult(t *testing.T) {
	f := newFormat(t, codec.Options{Codec: "raw"})
	in := []byte("original")
	data, err := f.Encode("k", in)
	if err != nil {
		t.Fatal(err)
	}
	in[0] = 'X'
	var got []byte
	if err := f.Decode("k", data, &got); err != nil || string(got) != "original" {
		t.Errorf("Decode after modifying the input = %q, %v; want \"original\", nil", got, err)
	}
}

func TestNewOptions(t *testing.T) {
	valid := []codec.Options{
		{},
		{Codec: "json"}, {Codec: "gob"}, {Codec: "raw"},
		{Compress: "none"}, {Compress: "gzip"}, {Compress: "zlib"},
		{CompressMin: 1}, {CompressMin: 1 << 20},
		{Secret: secret}, {Secret: []byte("x")},
		{Digest: "sha256"}, {Digest: "sha384"}, {Digest: "sha512"},
		{Secret: secret, Digest: "sha512"},
		{MaxSize: 1}, {MaxSize: math.MaxInt64},
	}
	for _, o := range valid {
		if _, err := codec.New(o); err != nil {
			t.Errorf("New(%+v): %v, want no error", o, err)
		}
	}

	invalid := []struct {
		opts codec.Options
		want []string // substrings of the error
	}{
		{codec.Options{Codec: "msgpack"}, []string{`unknown codec "msgpack"`, "json"}},
		{codec.Options{Codec: "JSON"}, []string{`"JSON"`}},
		{codec.Options{Compress: "brotli"}, []string{`"brotli"`, "gzip"}},
		{codec.Options{Compress: "GZIP"}, []string{`"GZIP"`}},
		{codec.Options{CompressMin: -1}, []string{"compress_min", "-1"}},
		{codec.Options{Digest: "md5"}, []string{`"md5"`, "sha256"}},
		{codec.Options{Secret: secret, Digest: "sum"}, []string{`"sum"`}},
		{codec.Options{MaxSize: -5}, []string{"max size", "-5"}},
	}
	for _, tc := range invalid {
		f, err := codec.New(tc.opts)
		if err == nil {
			t.Errorf("New(%+v) = %v, nil; want an error", tc.opts, f)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("New(%+v) error %q does not contain %q", tc.opts, err, w)
			}
		}
	}
}

func TestNewCopiesSecret(t *testing.T) {
	s := bytes.Clone(secret)
	f := newFormat(t, codec.Options{Secret: s})
	data, err := f.Encode("k", "v")
	if err != nil {
		t.Fatal(err)
	}
	s[0] ^= 1
	var got string
	if err := f.Decode("k", data, &got); err != nil || got != "v" {
		t.Errorf("Decode after the caller changed its secret slice = %q, %v; want \"v\", nil", got, err)
	}
}

// compression returns the compression bits of an encoded value's flags byte.
func compression(data []byte) byte { return data[1] & 0x07 }

func TestCompressionThreshold(t *testing.T) {
	random := make([]byte, 4096)
	rand.Read(random)
	cases := []struct {
		name     string
		opts     codec.Options
		value    []byte
		wantComp byte
	}{
		{"none", codec.Options{}, bytes.Repeat([]byte("a"), 10000), 0},
		{"none by name", codec.Options{Compress: "none", CompressMin: 1}, bytes.Repeat([]byte("a"), 10000), 0},
		{"below threshold", codec.Options{Compress: "gzip", CompressMin: 100}, bytes.Repeat([]byte("a"), 99), 0},
		{"at threshold", codec.Options{Compress: "gzip", CompressMin: 100}, bytes.Repeat([]byte("a"), 100), 1},
		{"zlib at threshold", codec.Options{Compress: "zlib", CompressMin: 100}, bytes.Repeat([]byte("a"), 100), 2},
		{"below default threshold", codec.Options{Compress: "gzip"}, bytes.Repeat([]byte("a"), 1023), 0},
		{"at default threshold", codec.Options{Compress: "gzip"}, bytes.Repeat([]byte("a"), 1024), 1},
		{"incompressible", codec.Options{Compress: "gzip", CompressMin: 1}, random, 0},
		{"tiny", codec.Options{Compress: "gzip", CompressMin: 1}, []byte("ab"), 0},
		{"signed", codec.Options{Compress: "zlib", CompressMin: 1, Secret: secret}, bytes.Repeat([]byte("ab"), 100), 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Codec = "raw"
			f := newFormat(t, tc.opts)
			data, err := f.Encode("k", tc.value)
			if err != nil {
				t.Fatal(err)
			}
			if got := compression(data); got != tc.wantComp {
				t.Errorf("compression of a %d-byte value = %d, want %d", len(tc.value), got, tc.wantComp)
			}
			if tc.wantComp != 0 && len(data) >= len(tc.value) {
				t.Errorf("compressed value has %d bytes, want fewer than the %d of the payload", len(data), len(tc.value))
			}
			var got []byte
			if err := f.Decode("k", data, &got); err != nil || !bytes.Equal(got, tc.value) {
				t.Errorf("Decode = %d bytes, %v; want the %d bytes encoded", len(got), err, len(tc.value))
			}
		})
	}
}

func TestDecodeReadsEveryCompression(t *testing.T) {
	value := strings.Repeat("x", 5000)
	reader := newFormat(t, codec.Options{Codec: "raw", Secret: secret}) // writes uncompressed
	for _, alg := range []string{"none", "gzip", "zlib"} {
		writer := newFormat(t, codec.Options{Codec: "raw", Secret: secret, Compress: alg})
		data, err := writer.Encode("k", value)
		if err != nil {
			t.Fatal(err)
		}
		var got string
		if err := reader.Decode("k", data, &got); err != nil || got != value {
			t.Errorf("Decode of a %s value by an uncompressing format = %d bytes, %v; want %d bytes, nil", alg, len(got), err, len(value))
		}
	}
}

func TestSigning(t *testing.T) {
	signed := newFormat(t, codec.Options{Secret: secret})
	data, err := signed.Encode("user:1", user{ID: 1, Name: "Ann"})
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		d := bytes.Clone(data)
		d[i] ^= 0x01
		return d
	}
	var otherPayload []byte // the same key, a payload of the same length, the MAC of data
	{
		d, err := signed.Encode("user:1", user{ID: 2, Name: "Ann"})
		if err != nil {
			t.Fatal(err)
		}
		otherPayload = append(bytes.Clone(data[:2+32]), d[2+32:]...)
	}
	cases := []struct {
		name   string
		format *codec.Format
		key    string
		data   []byte
	}{
		{"payload byte changed", signed, "user:1", flip(len(data) - 3)},
		{"payload swapped", signed, "user:1", otherPayload},
		{"MAC byte changed", signed, "user:1", flip(2)},
		{"last MAC byte changed", signed, "user:1", flip(2 + 31)},
		{"flags changed to gzip", signed, "user:1", flip(1)},
		{"moved to another key", signed, "user:2", data},
		{"moved to a prefix key", signed, "user:", data},
		{"moved to an empty key", signed, "", data},
		{"another secret", newFormat(t, codec.Options{Secret: []byte("another secret")}), "user:1", data},
		{"another digest", newFormat(t, codec.Options{Secret: secret, Digest: "sha512"}), "user:1", data},
		{"signed but no secret", newFormat(t, codec.Options{}), "user:1", data},
		{"payload appended", signed, "user:1", append(bytes.Clone(data), ' ')},
		{"MAC removed", signed, "user:1", append([]byte{data[0], data[1]}, data[2+32:]...)},
	}
	plain := newFormat(t, codec.Options{})
	unsigned, err := plain.Encode("user:1", user{ID: 1, Name: "Ann"})
	if err != nil {
		t.Fatal(err)
	}
	cases = append(cases,
		struct {
			name   string
			format *codec.Format
			key    string
			data   []byte
		}{"unsigned with a secret", signed, "user:1", unsigned},
		struct {
			name   string
			format *codec.Format
			key    string
			data   []byte
		}{"unsigned with a signed flag", signed, "user:1", append([]byte{unsigned[0], unsigned[1] | 0x80}, unsigned[2:]...)},
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got user
			err := tc.format.Decode(tc.key, tc.data, &got)
			if !errors.Is(err, codec.ErrTampered) {
				t.Errorf("Decode = %+v, %v; want an error wrapping ErrTampered", got, err)
			}
			if !reflect.DeepEqual(got, user{}) {
				t.Errorf("Decode changed the target to %+v, want it untouched", got)
			}
		})
	}

	var got user
	if err := signed.Decode("user:1", data, &got); err != nil || got.ID != 1 {
		t.Errorf("Decode of the untouched value = %+v, %v; want ID 1, nil", got, err)
	}
}

// TestSigningEveryByte flips each bit of a signed value: the version and flags bytes give ErrFormat
// (or ErrTampered when the flags stay known), every other byte ErrTampered.
func TestSigningEveryByte(t *testing.T) {
	for _, o := range []codec.Options{
		{Secret: secret},
		{Secret: secret, Compress: "gzip", CompressMin: 1},
	} {
		f := newFormat(t, o)
		data, err := f.Encode("k", map[string]string{"a": strings.Repeat("b", 50)})
		if err != nil {
			t.Fatal(err)
		}
		for i := range data {
			for bit := range 8 {
				d := bytes.Clone(data)
				d[i] ^= 1 << bit
				var got map[string]string
				err := f.Decode("k", d, &got)
				switch {
				case i >= 2 && !errors.Is(err, codec.ErrTampered):
					t.Errorf("%+v: Decode with bit %d of byte %d flipped: %v, want ErrTampered", o, bit, i, err)
				case i < 2 && !errors.Is(err, codec.ErrTampered) && !errors.Is(err, codec.ErrFormat):
					t.Errorf("%+v: Decode with bit %d of byte %d flipped: %v, want ErrTampered or ErrFormat", o, bit, i, err)
				}
			}
		}
	}
}

// TestKeyLengthPrefix checks that the key and the payload cannot trade bytes: key "a" with payload
// "bc" must not sign like key "ab" with payload "c".
func TestKeyLengthPrefix(t *testing.T) {
	f := newFormat(t, codec.Options{Codec: "raw", Secret: secret})
	data, err := f.Encode("a", "bc")
	if err != nil {
		t.Fatal(err)
	}
	moved := append(bytes.Clone(data[:len(data)-2]), 'c') // header, MAC, "c"
	var got string
	if err := f.Decode("ab", moved, &got); !errors.Is(err, codec.ErrTampered) {
		t.Errorf("Decode(key ab, payload c, MAC of key a payload bc) = %q, %v; want ErrTampered", got, err)
	}
}

// counting is a codec that counts its Unmarshal calls, to prove that untrusted data never reaches a
// codec.
type counting struct{ unmarshals atomic.Int64 }

func (c *counting) Marshal(v any) ([]byte, error) { return json.Marshal(v) }
func (c *counting) Unmarshal(data []byte, v any) error {
	c.unmarshals.Add(1)
	return json.Unmarshal(data, v)
}

var countingCodec = new(counting)

func init() { codec.Register("test-counting", countingCodec) }

func TestVerifyBeforeDecode(t *testing.T) {
	f := newFormat(t, codec.Options{Codec: "test-counting", Secret: secret, Compress: "gzip", CompressMin: 1})
	data, err := f.Encode("k", strings.Repeat("value ", 100))
	if err != nil {
		t.Fatal(err)
	}
	if compression(data) != 1 {
		t.Fatalf("compression = %d, want gzip (1)", compression(data))
	}
	// Garbage instead of gzip data: decompressing it would fail with ErrFormat, so ErrTampered shows
	// that the MAC was checked first.
	garbage := append(bytes.Clone(data[:2+32]), []byte("not gzip at all")...)
	corrupt := bytes.Clone(data)
	corrupt[len(corrupt)-1] ^= 0xff
	before := countingCodec.unmarshals.Load()
	for _, d := range [][]byte{garbage, corrupt, data[:len(data)-1]} {
		var got string
		if err := f.Decode("k", d, &got); !errors.Is(err, codec.ErrTampered) {
			t.Errorf("Decode(%q) = %v, want ErrTampered", d, err)
		}
	}
	if n := countingCodec.unmarshals.Load() - before; n != 0 {
		t.Errorf("the codec decoded %d untrusted values, want 0", n)
	}
	var got string
	if err := f.Decode("k", data, &got); err != nil {
		t.Fatal(err)
	}
	if n := countingCodec.unmarshals.Load() - before; n != 1 {
		t.Errorf("the codec decoded %d values, want 1", n)
	}
}

// TestTruncated decodes every proper prefix of encoded values: none may panic or succeed.
func TestTruncated(t *testing.T) {
	value := user{ID: 7, Name: "truncated", Tags: []string{"x", "y", "z"}, Created: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
	cases := []struct {
		name string
		opts codec.Options
	}{
		{"json", codec.Options{}},
		{"gob", codec.Options{Codec: "gob"}},
		{"gzip", codec.Options{Compress: "gzip", CompressMin: 1}},
		{"zlib", codec.Options{Compress: "zlib", CompressMin: 1}},
		{"signed", codec.Options{Secret: secret}},
		{"signed gzip", codec.Options{Secret: secret, Compress: "gzip", CompressMin: 1}},
		{"signed raw", codec.Options{Secret: secret, Codec: "raw"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFormat(t, tc.opts)
			var v any = value
			if tc.opts.Codec == "raw" {
				v = "a raw string value"
			}
			data, err := f.Encode("k", v)
			if err != nil {
				t.Fatal(err)
			}
			for n := range len(data) {
				target := reflect.New(reflect.TypeOf(v))
				err := f.Decode("k", data[:n], target.Interface())
				if !errors.Is(err, codec.ErrFormat) && !errors.Is(err, codec.ErrTampered) {
					t.Errorf("Decode of the first %d of %d bytes = %v, want ErrFormat or ErrTampered", n, len(data), err)
				}
			}
		})
	}
}

func TestDecodeFormatErrors(t *testing.T) {
	plain := newFormat(t, codec.Options{})
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", []byte{}, "empty"},
		{"nil", nil, "empty"},
		{"version only", []byte{0x01}, "truncated"},
		{"unknown version", []byte{0x02, 0x00, '1'}, "version 0x02"},
		{"text", []byte(`{"a":1}`), "version 0x7b"},
		{"unknown compression", []byte{0x01, 0x03, '1'}, "flags 0x03"},
		{"reserved flag", []byte{0x01, 0x10, '1'}, "flags 0x10"},
		{"corrupt gzip", []byte{0x01, 0x01, 'x', 'y'}, "corrupt compressed data"},
		{"corrupt zlib", []byte{0x01, 0x02, 'x', 'y'}, "corrupt compressed data"},
		{"bad json", []byte{0x01, 0x00, '{'}, "unexpected end"},
	}
	gz := newFormat(t, codec.Options{Codec: "raw", Compress: "gzip", CompressMin: 1})
	zl := newFormat(t, codec.Options{Codec: "raw", Compress: "zlib", CompressMin: 1})
	for _, f := range []*codec.Format{gz, zl} {
		data, err := f.Encode("k", strings.Repeat("z", 100))
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, struct {
			name string
			data []byte
			want string
		}{fmt.Sprintf("trailing garbage after compression %d", compression(data)), append(data, "garbage"...), "corrupt compressed data"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got any
			err := plain.Decode("k", tc.data, &got)
			if !errors.Is(err, codec.ErrFormat) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Decode(%q) = %v, %v; want an ErrFormat mentioning %q", tc.data, got, err, tc.want)
			}
		})
	}
}

func TestDecodeWrapsCodecError(t *testing.T) {
	// A value without metadata (as an older version wrote it): only the codec checks its type.
	f := newFormat(t, codec.Options{})
	var n int
	err := f.Decode("k", []byte("\x01\x00\"a string\""), &n)
	var typeErr *json.UnmarshalTypeError
	if !errors.Is(err, codec.ErrFormat) || !errors.As(err, &typeErr) {
		t.Errorf("Decode of a string into *int = %v, want an error wrapping ErrFormat and *json.UnmarshalTypeError", err)
	}
}

func TestDecodeTarget(t *testing.T) {
	f := newFormat(t, codec.Options{})
	data, err := f.Encode("k", 1)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, target := range []any{nil, n, (*int)(nil), "x"} {
		err := f.Decode("k", data, target)
		if err == nil || !strings.Contains(err.Error(), "non-nil pointer") || errors.Is(err, codec.ErrFormat) {
			t.Errorf("Decode into %#v = %v, want a non-nil pointer error that is not ErrFormat", target, err)
		}
		if err := f.Decode("k", []byte("42"), target); err == nil {
			t.Errorf("Decode of a counter into %#v succeeded, want an error", target)
		}
	}
}

type myInt int32
type myString string

// TestCounters decodes integers: a counter's decimal text (as the store's INCR writes it, accepted
// without a secret only) and the integers Encode writes, into every integer type that holds them.
func TestCounters(t *testing.T) {
	cases := []struct {
		data   string
		target any
		want   any // the value the target points to afterwards
	}{
		{"42", new(int), 42},
		{"-42", new(int), -42},
		{"0", new(int64), int64(0)},
		{"9223372036854775807", new(int64), int64(math.MaxInt64)},
		{"-9223372036854775808", new(int64), int64(math.MinInt64)},
		{"18446744073709551615", new(uint64), uint64(math.MaxUint64)},
		{"18446744073709551615", new(any), uint64(math.MaxUint64)},
		{"127", new(int8), int8(127)},
		{"-128", new(int8), int8(-128)},
		{"65535", new(uint16), uint16(65535)},
		{"42", new(uint32), uint32(42)},
		{"42", new(uint64), uint64(42)},
		{"42", new(uint), uint(42)},
		{"7", new(myInt), myInt(7)},
		{"42", new(any), int64(42)},
		{"-1", new(any), int64(-1)},
		{"007", new(int), 7},
	}
	plain := newFormat(t, codec.Options{Compress: "gzip", CompressMin: 1})
	for _, tc := range cases {
		t.Run(fmt.Sprintf("text/%s/%T", tc.data, tc.target), func(t *testing.T) {
			target := reflect.New(reflect.TypeOf(tc.target).Elem())
			if err := plain.Decode("counter", []byte(tc.data), target.Interface()); err != nil {
				t.Fatalf("Decode(%q) into %T: %v", tc.data, tc.target, err)
			}
			if got := target.Elem().Interface(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Decode(%q) into %T = %#v, want %#v", tc.data, tc.target, got, tc.want)
			}
		})
	}

	// What Encode writes for an integer of any type reads back into every integer type that holds it.
	stored := []any{42, int8(-7), uint16(65535), int64(math.MinInt64), uint64(math.MaxUint64), myInt(7), uintptr(9)}
	for _, opts := range []codec.Options{{}, {Secret: secret, Compress: "gzip", CompressMin: 1}, {Codec: "raw"}, {Codec: "gob", Secret: secret}} {
		f := newFormat(t, opts)
		for _, v := range stored {
			t.Run(fmt.Sprintf("encoded/secret=%t/%s/%T", opts.Secret != nil, opts.Codec, v), func(t *testing.T) {
				data, err := f.Encode("n", v)
				if err != nil {
					t.Fatalf("Encode(%v): %v", v, err)
				}
				if opts.Secret == nil && string(data) != fmt.Sprint(v) {
					t.Errorf("Encode(%v) without a secret = %q, want the decimal text the store's INCR reads", v, data)
				}
				if opts.Secret != nil && data[0] != 0x01 {
					t.Errorf("Encode(%v) with a secret = %q, want a signed value", v, data)
				}
				want := reflect.ValueOf(v)
				for _, target := range []any{new(int64), new(uint64), new(myInt), new(any)} {
					dst := reflect.New(reflect.TypeOf(target).Elem())
					err := f.Decode("n", data, dst.Interface())
					got := dst.Elem()
					if got.Kind() == reflect.Interface {
						got = got.Elem()
					}
					fits := err == nil && fmt.Sprint(got.Interface()) == fmt.Sprint(want.Interface())
					if !fits && !errors.Is(err, codec.ErrWrongType) {
						t.Errorf("Decode(Encode(%v)) into %T = %v, %v; want the value or ErrWrongType", v, target, got, err)
					}
				}
				if n, err := f.DecodeCounter("n", data); want.CanInt() && (err != nil || n != want.Int()) {
					t.Errorf("DecodeCounter(Encode(%v)) = %d, %v", v, n, err)
				}
			})
		}
	}

	bad := []struct {
		data   string
		target any
		want   error
		msg    string
	}{
		{"128", new(int8), codec.ErrWrongType, "does not fit in int8"},
		{"-1", new(uint), codec.ErrWrongType, "does not fit in uint"},
		{"70000", new(uint16), codec.ErrWrongType, "does not fit in uint16"},
		{"9223372036854775808", new(int64), codec.ErrWrongType, "does not fit in int64"},
		{"-9223372036854775809", new(int64), codec.ErrFormat, "out of range"},
		{"42", new(float64), codec.ErrWrongType, "not float64"},
		{"42", new(user), codec.ErrWrongType, "not codec_test.user"},
		{"42", new([]byte), codec.ErrWrongType, "not []uint8"},
		{"42", new(string), codec.ErrWrongType, "not string"},
		{"42", new(myString), codec.ErrWrongType, "not codec_test.myString"},
		{"42", new(fmt.Stringer), codec.ErrWrongType, "fmt.Stringer"},
		{"-", new(int), codec.ErrFormat, "version 0x2d"},
		{"4 2", new(int), codec.ErrFormat, "version 0x34"},
		{"+4", new(int), codec.ErrFormat, "version 0x2b"},
		{"42.5", new(int), codec.ErrFormat, "version 0x34"},
		{"123456789012345678901", new(int), codec.ErrFormat, "version 0x31"},
	}
	for _, tc := range bad {
		t.Run("bad/"+tc.data+"/"+fmt.Sprintf("%T", tc.target), func(t *testing.T) {
			err := plain.Decode("counter", []byte(tc.data), tc.target)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Decode(%q) into %T = %v, want an error wrapping %v mentioning %q", tc.data, tc.target, err, tc.want, tc.msg)
			}
		})
	}
}

// TestCountersSigned checks that under a secret no counter decodes without its signature: the
// decimal text a store's INCR or another client writes is ErrTampered for every read, and for
// DecodeCounter too.
func TestCountersSigned(t *testing.T) {
	f := newFormat(t, codec.Options{Secret: secret})
	for _, data := range []string{"42", "-999999", "0", "9223372036854775807"} {
		for _, target := range []any{new(int), new(int64), new(any), new(string), new(uint8)} {
			if err := f.Decode("counter", []byte(data), target); !errors.Is(err, codec.ErrTampered) {
				t.Errorf("Decode(%q) into %T under a secret = %v, want ErrTampered", data, target, err)
			}
		}
		n, err := f.DecodeCounter("counter", []byte(data))
		if !errors.Is(err, codec.ErrTampered) || !errors.Is(err, codec.ErrNotInteger) {
			t.Errorf("DecodeCounter(%q) under a secret = %d, %v, want ErrTampered and ErrNotInteger", data, n, err)
		}
	}
	// A signed value that is not an integer is not a counter.
	data, err := f.Encode("k", "42")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.DecodeCounter("k", data); !errors.Is(err, codec.ErrNotInteger) || errors.Is(err, codec.ErrTampered) {
		t.Errorf("DecodeCounter(a signed string) = %d, %v, want ErrNotInteger only", n, err)
	}
	// A signed counter moved to another key fails the check.
	data, err = f.Encode("a", 7)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.DecodeCounter("b", data); !errors.Is(err, codec.ErrTampered) {
		t.Errorf("DecodeCounter of a counter of another key = %d, %v, want ErrTampered", n, err)
	}
}

func TestMaxSize(t *testing.T) {
	const max = 256 << 10
	for _, alg := range []string{"gzip", "zlib"} {
		t.Run(alg, func(t *testing.T) {
			big := newFormat(t, codec.Options{Codec: "raw", Secret: secret, Compress: alg, MaxSize: 64 << 20})
			small := newFormat(t, codec.Options{Codec: "raw", Secret: secret, Compress: alg, MaxSize: max})

			// A bomb: 4 MiB of zeros compress to a few KiB, and must not expand in memory
			// beyond the limit.
			bomb, err := big.Encode("k", make([]byte, 4<<20))
			if err != nil {
				t.Fatal(err)
			}
			if compression(bomb) == 0 || len(bomb) > 16<<10 {
				t.Fatalf("bomb: compression %d, %d bytes; want compressed to under 16 KiB", compression(bomb), len(bomb))
			}
			var got []byte
			var before, after runtimeStats
			before.read()
			err = small.Decode("k", bomb, &got)
			after.read()
			if !errors.Is(err, codec.ErrTooLarge) || got != nil {
				t.Errorf("Decode of a 4 MiB bomb with MaxSize %d = %d bytes, %v; want ErrTooLarge", max, len(got), err)
			}
			// The output buffer grows by doubling up to MaxSize+1: less than 2*MaxSize, plus the
			// decompressor's state.
			if alloc := after.totalAlloc - before.totalAlloc; alloc > 3*max {
				t.Errorf("Decode of the bomb allocated %d bytes, want at most %d", alloc, 3*max)
			}

			// Exactly MaxSize is accepted, one byte more is not.
			for _, n := range []int{max, max + 1} {
				data, err := big.Encode("k", make([]byte, n))
				if err != nil {
					t.Fatal(err)
				}
				got = nil
				err = small.Decode("k", data, &got)
				switch {
				case n <= max && (err != nil || len(got) != n):
					t.Errorf("Decode of %d compressed bytes with MaxSize %d = %d bytes, %v; want %d bytes", n, max, len(got), err, n)
				case n > max && !errors.Is(err, codec.ErrTooLarge):
					t.Errorf("Decode of %d compressed bytes with MaxSize %d = %d bytes, %v; want ErrTooLarge", n, max, len(got), err)
				}
				_, err = small.Encode("k", make([]byte, n))
				switch {
				case n <= max && err != nil:
					t.Errorf("Encode of %d bytes with MaxSize %d: %v, want no error", n, max, err)
				case n > max && !errors.Is(err, codec.ErrTooLarge):
					t.Errorf("Encode of %d bytes with MaxSize %d: %v, want ErrTooLarge", n, max, err)
				}
			}
		})
	}

	t.Run("uncompressed", func(t *testing.T) {
		big := newFormat(t, codec.Options{Codec: "raw", MaxSize: 64})
		small := newFormat(t, codec.Options{Codec: "raw", MaxSize: 10})
		data, err := big.Encode("k", "eleven char")
		if err != nil {
			t.Fatal(err)
		}
		var got string
		if err := small.Decode("k", data, &got); !errors.Is(err, codec.ErrTooLarge) {
			t.Errorf("Decode of 11 bytes with MaxSize 10 = %q, %v; want ErrTooLarge", got, err)
		}
	})

	t.Run("default", func(t *testing.T) {
		f := newFormat(t, codec.Options{Codec: "raw"})
		value := make([]byte, codec.DefaultMaxSize+1)
		if _, err := f.Encode("k", value); !errors.Is(err, codec.ErrTooLarge) {
			t.Errorf("Encode of DefaultMaxSize+1 bytes: %v, want ErrTooLarge", err)
		}
		if _, err := f.Encode("k", value[:codec.DefaultMaxSize]); err != nil {
			t.Errorf("Encode of DefaultMaxSize bytes: %v, want no error", err)
		}
	})
}

// TestConcurrent shares one Format and its pools among goroutines, for the race detector.
func TestConcurrent(t *testing.T) {
	f := newFormat(t, codec.Options{Secret: secret, Compress: "gzip", CompressMin: 64})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				key := fmt.Sprintf("k%d:%d", g, i)
				want := strings.Repeat(key, i%20)
				data, err := f.Encode(key, want)
				if err != nil {
					t.Error(err)
					return
				}
				var got string
				if err := f.Decode(key, data, &got); err != nil || got != want {
					t.Errorf("Decode(Encode(%q)) = %q, %v", want, got, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

type runtimeStats struct{ totalAlloc uint64 }

func (s *runtimeStats) read() {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	s.totalAlloc = m.TotalAlloc
}
