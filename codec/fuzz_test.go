package codec_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"hash"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cashews-go/cashews/codec"
)

// fuzzFormats are the formats the fuzz tests decode with; MaxSize is small so that a fuzzed
// decompression bomb stays cheap.
func fuzzFormats(t testing.TB) []*codec.Format {
	const maxSize = 1 << 20
	var fs []*codec.Format
	for _, o := range []codec.Options{
		{},
		{Compress: "gzip", CompressMin: 1},
		{Compress: "zlib", CompressMin: 1},
		{Secret: secret},
		{Secret: secret, Compress: "gzip", CompressMin: 1},
		{Secret: secret, Digest: "sha512", Compress: "zlib", CompressMin: 1},
		{Codec: "gob", Compress: "gzip", CompressMin: 1},
		{Codec: "raw", Secret: secret},
	} {
		o.MaxSize = maxSize
		fs = append(fs, newFormat(t, o))
	}
	return fs
}

// fuzzTargets returns fresh targets of the types a Cache decodes into.
func fuzzTargets() []any {
	return []any{new(any), new(user), new(map[string]any), new([]string), new(string), new([]byte), new(int), new(uint8), new(time.Time)}
}

// FuzzDecode checks that Decode never panics on any bytes, whatever the format and target, and
// that every failure is one of the documented errors.
func FuzzDecode(f *testing.F) {
	created := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	values := []any{
		user{ID: 1, Name: "Ann", Tags: []string{"a"}, Created: created, Friend: &user{ID: 2}},
		map[string]any{"a": 1.5, "b": []any{"x", nil, true}},
		"a string value that is long enough to be worth compressing, a string value",
		[]byte{0, 1, 2},
		42,
		created,
	}
	for _, format := range fuzzFormats(f) {
		for _, v := range values {
			if data, err := format.Encode("key", v); err == nil {
				f.Add(data, "key")
			}
		}
	}
	f.Add([]byte("42"), "counter")
	f.Add([]byte("-9223372036854775808"), "counter")
	f.Add([]byte{}, "")
	f.Add([]byte{0x01}, "k")
	f.Add([]byte{0x01, 0x81}, "k")
	f.Add([]byte{0x01, 0x40, 0x00}, "k")
	f.Add([]byte{0x01, 0x40, 0x0e, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'm'}, "k")

	formats := fuzzFormats(f)
	f.Fuzz(func(t *testing.T, data []byte, key string) {
		orig := bytes.Clone(data)
		for _, format := range formats {
			for _, target := range fuzzTargets() {
				err := format.Decode(key, data, target)
				if err != nil && !errors.Is(err, codec.ErrFormat) && !errors.Is(err, codec.ErrTampered) && !errors.Is(err, codec.ErrTooLarge) && !errors.Is(err, codec.ErrWrongType) {
					t.Errorf("Decode(%q) into %T: %v, want nil or an error wrapping ErrFormat, ErrTampered, ErrTooLarge or ErrWrongType", data, target, err)
				}
			}
		}
		if !bytes.Equal(data, orig) {
			t.Errorf("Decode modified its input: got %q, want %q", data, orig)
		}
	})
}

// FuzzRoundTrip checks that whatever is encoded decodes back unchanged, under every combination of
// options, and only under the key it was encoded for.
func FuzzRoundTrip(f *testing.F) {
	f.Add("user:1", "Ann", []byte("payload"), 0, uint8(0))
	f.Add("", "", []byte{}, 1, uint8(0xff))
	f.Add("k", "long long long long long long long long long", bytes.Repeat([]byte{7}, 3000), 10, uint8(0x3a))
	f.Fuzz(func(t *testing.T, key, name string, payload []byte, compressMin int, opts uint8) {
		o := codec.Options{
			Compress:    []string{"", "none", "gzip", "zlib"}[opts&3],
			CompressMin: max(compressMin, 0) % 4096,
			Digest:      []string{"sha256", "sha384", "sha512"}[int(opts>>2&3)%3],
		}
		if opts&0x10 != 0 {
			o.Secret = secret
		}
		if opts&0x20 != 0 {
			o.Codec = "gob"
		}
		format := newFormat(t, o)

		type value struct {
			Name    string
			Payload []byte
		}
		if o.Codec != "gob" {
			// encoding/json replaces invalid UTF-8 in strings with U+FFFD, by design.
			name = strings.ToValidUTF8(name, "\uFFFD")
		}
		in := value{name, payload}
		data, err := format.Encode(key, in)
		if err != nil {
			t.Fatalf("Encode(%q, %+v) with %+v: %v", key, in, o, err)
		}
		var out value
		if err := format.Decode(key, data, &out); err != nil {
			t.Fatalf("Decode(Encode(%q, %+v)) with %+v: %v", key, in, o, err)
		}
		if out.Name != in.Name || !bytes.Equal(out.Payload, in.Payload) {
			t.Errorf("Decode(Encode(%+v)) = %+v with %+v", in, out, o)
		}

		raw := newFormat(t, codec.Options{Codec: "raw", Secret: o.Secret, Compress: o.Compress, CompressMin: o.CompressMin})
		if data, err = raw.Encode(key, payload); err != nil {
			t.Fatal(err)
		}
		var got []byte
		if err := raw.Decode(key, data, &got); err != nil || !bytes.Equal(got, payload) {
			t.Errorf("raw Decode(Encode(%q)) = %q, %v", payload, got, err)
		}
		if o.Secret != nil {
			var moved []byte
			err := raw.Decode(key+"x", data, &moved)
			if !errors.Is(err, codec.ErrTampered) {
				t.Errorf("Decode under key %q of a value encoded for %q = %q, %v; want ErrTampered", key+"x", key, moved, err)
			}
		}
	})
}

// signedFormats are the formats FuzzDecodeSigned decodes with, with the hash of each one's HMAC.
func signedFormats(t testing.TB) ([]*codec.Format, []func() hash.Hash) {
	var fs []*codec.Format
	var hs []func() hash.Hash
	for _, o := range []struct {
		opts codec.Options
		h    func() hash.Hash
	}{
		{codec.Options{Secret: secret}, sha256.New},
		{codec.Options{Secret: secret, Compress: "gzip", CompressMin: 1}, sha256.New},
		{codec.Options{Secret: secret, Digest: "sha512", Compress: "zlib", CompressMin: 1, Codec: "gob"}, sha512.New},
		{codec.Options{Secret: secret, Digest: "sha384", Codec: "raw"}, sha512.New384},
	} {
		o.opts.MaxSize = 1 << 20
		fs = append(fs, newFormat(t, o.opts))
		hs = append(hs, o.h)
	}
	return fs, hs
}

// validMAC reports whether data carries a valid signature for key, checked apart from the codec
// package from the layout its documentation gives: version 0x01, a flags byte with 0x80 set, then
// HMAC(secret, version | flags | uvarint(len(key)) | key | rest) over everything after the MAC.
func validMAC(newHash func() hash.Hash, key string, data []byte) bool {
	size := newHash().Size()
	if len(data) < 2+size || data[0] != 0x01 || data[1]&0x80 == 0 {
		return false
	}
	m := hmac.New(newHash, secret)
	m.Write(data[:2])
	m.Write(binary.AppendUvarint(nil, uint64(len(key))))
	m.Write([]byte(key))
	m.Write(data[2+size:])
	return hmac.Equal(m.Sum(nil), data[2:2+size])
}

// FuzzDecodeSigned checks that under a secret no input decodes without a valid signature for its
// key: whatever Decode, DecodeMeta or DecodeCounter is given, an input whose MAC the test cannot
// verify on its own must fail with ErrTampered, and never fill the target. The seeds are valid
// signed values of every form (typed values, integers, nil, wrapped functions' entries and error
// results), which the fuzzer mutates, and the forms a forger would try (plain counters, unsigned
// and legacy values, other version bytes).
func FuzzDecodeSigned(f *testing.F) {
	formats, hashes := signedFormats(f)
	created := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	values := []any{
		user{ID: 1, Name: "Ann", Tags: []string{"a"}, Created: created},
		"a string value that is long enough to be worth compressing, a string value",
		[]byte{0, 1, 2},
		42, int64(-999999), uint8(7), nil,
	}
	for _, format := range formats {
		for _, v := range values {
			if data, err := format.Encode("key", v); err == nil {
				f.Add(data, "key")
			}
		}
		if data, err := format.EncodeEntry("key", "result", codec.Entry{Shape: 1, Expires: 2, Stale: 1}); err == nil {
			f.Add(data, "key")
		}
		if data, err := format.EncodeEntry("key", nil, codec.Entry{Shape: 1, Err: true, ErrTarget: 0, ErrMsg: "boom"}); err == nil {
			f.Add(data, "key")
		}
	}
	plain := newFormat(f, codec.Options{})
	for _, v := range values {
		if data, err := plain.Encode("key", v); err == nil {
			f.Add(data, "key")
		}
	}
	f.Add([]byte("12345"), "key")
	f.Add([]byte("-999999"), "key")
	f.Add([]byte{}, "key")
	f.Add([]byte{0x02, 0x80}, "key")
	f.Add([]byte{0x01, 0x00, '4', '2'}, "key")
	f.Add([]byte(`{"v":1}`), "key")

	f.Fuzz(func(t *testing.T, data []byte, key string) {
		for i, format := range formats {
			valid := validMAC(hashes[i], key, data)
			if valid {
				continue // signed with the secret: what it decodes to is the signer's business
			}
			for _, target := range fuzzTargets() {
				before := reflect.ValueOf(target).Elem().Interface()
				err := format.Decode(key, data, target)
				if !errors.Is(err, codec.ErrTampered) {
					t.Fatalf("format %d: Decode(%q, key %q) into %T = %v without a valid MAC, want ErrTampered", i, data, key, target, err)
				}
				if after := reflect.ValueOf(target).Elem().Interface(); !reflect.DeepEqual(after, before) {
					t.Fatalf("format %d: Decode(%q) changed its %T target to %#v without a valid MAC", i, data, target, after)
				}
				if _, err := format.DecodeMeta(key, data, target); !errors.Is(err, codec.ErrTampered) {
					t.Fatalf("format %d: DecodeMeta(%q, key %q) = %v without a valid MAC, want ErrTampered", i, data, key, err)
				}
			}
			if n, err := format.DecodeCounter(key, data); !errors.Is(err, codec.ErrTampered) {
				t.Fatalf("format %d: DecodeCounter(%q, key %q) = %d, %v without a valid MAC, want ErrTampered", i, data, key, n, err)
			}
		}
	})
}
