package codec

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"hash"
	"reflect"
	"sync"
)

const (
	// version is the first byte of every encoded value. It is not printable, so an encoded value
	// never looks like the decimal text of a counter.
	version byte = 0x01

	flagCompression byte = 0x07 // low bits: the compression algorithm (compNone, compGzip, compZlib)
	flagSigned      byte = 0x80 // a MAC follows the flags byte
	flagsKnown           = flagCompression | flagSigned

	headerSize = 2 // version and flags
)

// Defaults of [Options].
const (
	DefaultCodec       = "json"
	DefaultCompressMin = 1024
	DefaultDigest      = "sha256"
	DefaultMaxSize     = 64 << 20
)

// Options configures a [Format]. The zero value means JSON, no compression, no signing and a 64 MiB
// limit.
type Options struct {
	// Codec is the name of a registered codec: "json" (the default when empty), "gob", "raw", or
	// one added with [Register].
	Codec string
	// Compress is the compression algorithm for payloads of at least CompressMin bytes: "gzip",
	// "zlib", or "" or "none" for no compression. A value is stored uncompressed when compressing
	// does not make it smaller. Decode reads every algorithm whatever this says, so it can change
	// while old values are still stored.
	Compress string
	// CompressMin is the size in bytes of the smallest payload that is compressed; zero means
	// DefaultCompressMin (1024) and 1 compresses everything. Below about 1 KiB compression seldom
	// pays: gzip adds 18 bytes of header and trailer and deflate its block headers, so small values
	// shrink little or not at all, while every Set still pays for the compressor and every Get for a
	// decompressor; and a value of that size is sent in one network packet either way. Negative is an
	// error.
	CompressMin int
	// Secret, when not empty, makes the Format sign every value with HMAC over its key and payload
	// and reject any value whose signature is missing or does not match. New copies it. Use at least
	// 32 random bytes.
	Secret []byte
	// Digest is the hash of the HMAC: "sha256" (the default when empty), "sha384" or "sha512". It
	// is pinned here and never read from stored data, so a stored value cannot choose a weaker one.
	// It is checked, then ignored, without a Secret.
	Digest string
	// MaxSize is the largest payload in bytes that Encode writes and Decode accepts, measured after
	// decompression, so a small compressed value cannot expand into gigabytes (a decompression
	// bomb). Zero means DefaultMaxSize (64 MiB); negative is an error.
	MaxSize int64
}

// Format encodes values for stores that keep bytes: codec, then compression, then signature. It
// is safe for concurrent use; build it once with [New].
type Format struct {
	codec       Codec
	compress    byte
	compressMin int
	maxSize     int64
	macSize     int       // 0 without a secret
	macs        sync.Pool // *macState; only with a secret
}

// macState is a pooled HMAC with a scratch buffer for the data signed before the payload.
type macState struct {
	h   hash.Hash
	buf []byte
	sum []byte
}

// New returns the Format that o describes. An error names the option and its bad value.
func New(o Options) (*Format, error) {
	name := o.Codec
	if name == "" {
		name = DefaultCodec
	}
	c, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	f := &Format{codec: c, compressMin: o.CompressMin, maxSize: o.MaxSize}
	switch o.Compress {
	case "", "none":
		f.compress = compNone
	case "gzip":
		f.compress = compGzip
	case "zlib":
		f.compress = compZlib
	default:
		return nil, fmt.Errorf("cashews: unknown compression %q (want none, gzip or zlib)", o.Compress)
	}
	switch {
	case o.CompressMin == 0:
		f.compressMin = DefaultCompressMin
	case o.CompressMin < 0:
		return nil, fmt.Errorf("cashews: compress_min %d is negative", o.CompressMin)
	}
	switch {
	case o.MaxSize == 0:
		f.maxSize = DefaultMaxSize
	case o.MaxSize < 0:
		return nil, fmt.Errorf("cashews: max size %d is negative", o.MaxSize)
	}
	digest := o.Digest
	if digest == "" {
		digest = DefaultDigest
	}
	var newHash func() hash.Hash
	switch digest {
	case "sha256":
		newHash = sha256.New
	case "sha384":
		newHash = sha512.New384
	case "sha512":
		newHash = sha512.New
	default:
		return nil, fmt.Errorf("cashews: unknown digest %q (want sha256, sha384 or sha512)", o.Digest)
	}
	if len(o.Secret) > 0 {
		secret := append([]byte(nil), o.Secret...)
		f.macSize = newHash().Size()
		f.macs.New = func() any {
			return &macState{h: hmac.New(newHash, secret), sum: make([]byte, 0, f.macSize)}
		}
	}
	return f, nil
}

// mac appends to dst the HMAC of the version and flags bytes (hdr), the key's length as a uvarint,
// the key and the payload. The length prefix keeps the key and payload apart: without it, key "a"
// with payload "bc" would sign the same bytes as key "ab" with payload "c".
func (st *macState) mac(dst, hdr []byte, key string, payload []byte) []byte {
	st.h.Reset()
	b := append(st.buf[:0], hdr...)
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	st.h.Write(b)
	st.h.Write(payload)
	if cap(b) <= 4096 { // a huge key must not stay pinned in the pool
		st.buf = b
	} else {
		st.buf = nil
	}
	return st.h.Sum(dst)
}

// sign writes the signature of hdr, key and payload into dst, which has room for it.
func (f *Format) sign(dst, hdr []byte, key string, payload []byte) {
	st := f.macs.Get().(*macState)
	copy(dst, st.mac(dst[:0], hdr, key, payload)) // Sum fills dst in place; the copy is a no-op
	f.macs.Put(st)
}

// verify reports whether mac is the signature of hdr, key and payload, in constant time.
func (f *Format) verify(mac, hdr []byte, key string, payload []byte) bool {
	st := f.macs.Get().(*macState)
	st.sum = st.mac(st.sum[:0], hdr, key, payload)
	ok := hmac.Equal(mac, st.sum)
	f.macs.Put(st)
	return ok
}

// Encode encodes v for storage under key. The result is a new slice that the caller owns.
func (f *Format) Encode(key string, v any) ([]byte, error) {
	payload, err := f.codec.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("cashews: encode: %w", err)
	}
	if int64(len(payload)) > f.maxSize {
		return nil, fmt.Errorf("%w: the encoded value has %d bytes, more than the maximum of %d",
			ErrTooLarge, len(payload), f.maxSize)
	}
	hdr := headerSize + f.macSize
	flags := compNone
	var out []byte
	if f.compress != compNone && len(payload) >= f.compressMin {
		if out, err = compress(f.compress, hdr, payload); err != nil {
			return nil, err
		}
		if out != nil {
			flags = f.compress
		}
	}
	if out == nil {
		out = make([]byte, hdr+len(payload))
		copy(out[hdr:], payload)
	}
	if f.macSize > 0 {
		flags |= flagSigned
	}
	out[0], out[1] = version, flags
	if f.macSize > 0 {
		// out[2:hdr] has room for the MAC, so Sum writes it in place.
		f.sign(out[headerSize:hdr], out[:headerSize], key, out[hdr:])
	}
	return out, nil
}

// Decode decodes into v, a non-nil pointer, a value that Encode wrote for key, or the plain decimal
// text of a counter (see the package documentation). It checks the signature before it decompresses
// or decodes anything. Errors wrap [ErrTampered], [ErrFormat] or [ErrTooLarge], except a target that
// is not a non-nil pointer. Decode does not keep data.
func (f *Format) Decode(key string, data []byte, v any) error {
	if rv := reflect.ValueOf(v); rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("cashews: decode into %T: the target must be a non-nil pointer", v)
	}
	if len(data) == 0 {
		return fmt.Errorf("%w: empty value", ErrFormat)
	}
	if data[0] != version {
		if isDecimal(data) {
			return decodeCounter(data, v)
		}
		return fmt.Errorf("%w: unknown format version 0x%02x", ErrFormat, data[0])
	}
	if len(data) < headerSize {
		return fmt.Errorf("%w: truncated header", ErrFormat)
	}
	flags := data[1]
	alg := flags & flagCompression
	if flags&^flagsKnown != 0 || alg > compZlib {
		return fmt.Errorf("%w: unknown flags 0x%02x", ErrFormat, flags)
	}
	payload := data[headerSize:]
	switch signed := flags&flagSigned != 0; {
	case signed && f.macSize == 0:
		return fmt.Errorf("%w: the value is signed but no secret is configured", ErrTampered)
	case !signed && f.macSize > 0:
		return fmt.Errorf("%w: the value is not signed", ErrTampered)
	case signed:
		if len(payload) < f.macSize {
			return fmt.Errorf("%w: truncated signature", ErrTampered)
		}
		mac := payload[:f.macSize]
		payload = payload[f.macSize:]
		if !f.verify(mac, data[:headerSize], key, payload) {
			return fmt.Errorf("%w: the signature does not match (a modified value, another secret or digest, or a value of another key)", ErrTampered)
		}
	}
	if alg != compNone {
		buf, out, err := decompress(alg, payload, f.maxSize)
		if err != nil {
			return err
		}
		err = f.unmarshal(out, v)
		putOutput(buf) // codecs do not keep data
		return err
	}
	if int64(len(payload)) > f.maxSize {
		return fmt.Errorf("%w: the payload has %d bytes, more than the maximum of %d", ErrTooLarge, len(payload), f.maxSize)
	}
	return f.unmarshal(payload, v)
}

func (f *Format) unmarshal(payload []byte, v any) error {
	if err := f.codec.Unmarshal(payload, v); err != nil {
		return fmt.Errorf("%w: %w", ErrFormat, err)
	}
	return nil
}
