package codec_test

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"unsafe"

	"github.com/cashews-go/cashews/codec"
)

// bytesFormats are the formats DecodeBytes is checked under: the raw codec (in place, unless
// compressed) and others (a copy through the codec).
func bytesFormats(t testing.TB) []*codec.Format {
	var fs []*codec.Format
	for _, o := range []codec.Options{
		{Codec: "raw"},
		{Codec: "raw", Secret: secret},
		{Codec: "raw", Secret: secret, Digest: "sha512"},
		{Codec: "raw", Compress: "gzip", CompressMin: 1},
		{Codec: "raw", MaxSize: 4},
		{},
		{Codec: "gob", Secret: secret},
	} {
		fs = append(fs, newFormat(t, o))
	}
	return fs
}

// sameAsDecodeMeta checks that DecodeBytes answers as DecodeMeta into a *[]byte does.
func sameAsDecodeMeta(t *testing.T, f *codec.Format, key string, data []byte) {
	t.Helper()
	orig := bytes.Clone(data)
	got, gotMeta, gotErr := f.DecodeBytes(key, data)
	var want []byte
	wantMeta, wantErr := f.DecodeMeta(key, data, &want)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("DecodeBytes(%q, %x) error %v; DecodeMeta's %v", key, data, gotErr, wantErr)
	}
	if wantErr != nil {
		for _, sentinel := range []error{codec.ErrTampered, codec.ErrFormat, codec.ErrWrongType, codec.ErrTooLarge} {
			if errors.Is(gotErr, sentinel) != errors.Is(wantErr, sentinel) {
				t.Fatalf("DecodeBytes(%q, %x) error %v; DecodeMeta's %v (differ on %v)", key, data, gotErr, wantErr, sentinel)
			}
		}
		return
	}
	if !bytes.Equal(got, want) || (got == nil) != (want == nil) || !reflect.DeepEqual(gotMeta, wantMeta) {
		t.Fatalf("DecodeBytes(%q, %x) = (%q, %+v); DecodeMeta gives (%q, %+v)", key, data, got, gotMeta, want, wantMeta)
	}
	if !bytes.Equal(data, orig) {
		t.Fatalf("DecodeBytes modified its input")
	}
}

// TestDecodeBytes: DecodeBytes answers as DecodeMeta into a *[]byte does, for every kind of value
// (a []byte, a string, an entry, an error entry, a counter, nil, a tampered or truncated value);
// with the raw codec an uncompressed payload comes back in place (it shares data's memory), and
// otherwise in new memory.
func TestDecodeBytes(t *testing.T) {
	for _, f := range bytesFormats(t) {
		var values [][]byte
		for _, v := range []any{[]byte("payload"), []byte{}, "a string", 42, nil, []string{"x"}} {
			if data, err := f.Encode("k", v); err == nil {
				values = append(values, data)
			}
		}
		for _, e := range []codec.Entry{{Shape: 7, Expires: 1e18, Stale: 5}, {Shape: 7, Err: true, ErrTarget: -1, ErrMsg: "boom"}} {
			var v any = []byte("entry")
			if e.Err {
				v = nil
			}
			if data, err := f.EncodeEntry("k", v, e); err == nil {
				values = append(values, data)
			}
		}
		values = append(values, []byte("123"), []byte{}, []byte{1}, []byte{1, 0x40}, []byte("\x01\x40\x00"))
		for _, data := range values {
			sameAsDecodeMeta(t, f, "k", data)
			sameAsDecodeMeta(t, f, "other", data) // another key: a signature fails
			for i := range data {
				sameAsDecodeMeta(t, f, "k", data[:i])
				flipped := bytes.Clone(data)
				flipped[i] ^= 0x20
				sameAsDecodeMeta(t, f, "k", flipped)
			}
		}
	}

	raw := newFormat(t, codec.Options{Codec: "raw", Secret: secret})
	data, err := raw.Encode("k", []byte("payload"))
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := raw.DecodeBytes("k", data)
	if err != nil || string(got) != "payload" {
		t.Fatalf("DecodeBytes = (%q, %v), want payload", got, err)
	}
	if end := unsafe.Pointer(unsafe.SliceData(data[len(data)-len(got):])); unsafe.Pointer(unsafe.SliceData(got)) != end {
		t.Error("the raw codec's payload was copied, want it in place")
	}
	if cap(got) != len(got) {
		t.Errorf("cap = %d, want %d: an append would write into the stored bytes", cap(got), len(got))
	}
	// Unsigned: the race detector drops some of the pooled HMACs, which then allocate.
	plain := newFormat(t, codec.Options{Codec: "raw"})
	data, err = plain.Encode("k", []byte("payload"))
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _, _ = plain.DecodeBytes("k", data) }); n != 0 {
		t.Errorf("DecodeBytes of a raw payload: %v allocations, want 0", n)
	}

	for _, o := range []codec.Options{{}, {Codec: "raw", Compress: "gzip", CompressMin: 1}} {
		f := newFormat(t, o)
		data, err := f.Encode("k", []byte("payload payload payload"))
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := f.DecodeBytes("k", data)
		if err != nil || string(got) != "payload payload payload" {
			t.Fatalf("%+v: DecodeBytes = (%q, %v)", o, got, err)
		}
		got[0] = 'X' // decoded into new memory: the stored bytes stay
		sameAsDecodeMeta(t, f, "k", data)
	}
}

// FuzzDecodeBytes: on any bytes, DecodeBytes answers as DecodeMeta into a *[]byte does.
func FuzzDecodeBytes(f *testing.F) {
	for _, format := range bytesFormats(f) {
		for _, v := range []any{[]byte("payload"), "s", 7} {
			if data, err := format.Encode("key", v); err == nil {
				f.Add(data, "key")
			}
		}
	}
	f.Add([]byte("42"), "counter")
	f.Add([]byte{0x01, 0x40, 0x00}, "k")
	formats := bytesFormats(f)
	f.Fuzz(func(t *testing.T, data []byte, key string) {
		for _, format := range formats {
			sameAsDecodeMeta(t, format, key, data)
		}
	})
}
