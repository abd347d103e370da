package codec

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"hash"
	"reflect"
	"strconv"
	"sync"
)

const (
	// version is the first byte of every encoded value. It is not printable, so an encoded value
	// never looks like the decimal text of a counter.
	version byte = 0x01

	flagCompression byte = 0x07 // low bits: the compression algorithm (compNone, compGzip, compZlib)
	flagMeta        byte = 0x40 // a metadata block follows the MAC (every value this version writes)
	flagSigned      byte = 0x80 // a MAC follows the flags byte
	flagsKnown           = flagCompression | flagMeta | flagSigned

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
	raw         bool      // the codec is Raw: DecodeBytes returns payloads in place
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
	_, f.raw = c.(rawCodec)
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
//
// An integer (any Go integer type) is stored as a counter that the store's own increment accepts:
// without a secret as its plain decimal text, with a secret as a signed value whose payload is that
// text. A nil value is stored as nil, and any other value as the codec's payload with the
// fingerprint of its Go type (see the package documentation).
func (f *Format) Encode(key string, v any) ([]byte, error) {
	return f.encode(key, v, nil)
}

// EncodeEntry encodes the result of a wrapped function for storage under key: v with the entry's
// metadata (e.Err set: the error result, and v is ignored). Decode reads v back as any other value;
// DecodeMeta returns the entry as well.
func (f *Format) EncodeEntry(key string, v any, e Entry) ([]byte, error) {
	if e.Err {
		v = nil
	}
	return f.encode(key, v, &e)
}

func (f *Format) encode(key string, v any, e *Entry) ([]byte, error) {
	var m meta
	var payload []byte
	var err error
	switch {
	case e != nil && e.Err:
		m.form, payload = formNil, []byte(e.ErrMsg)
	case v == nil:
		m.form = formNil
	default:
		if text, ok := appendInteger(nil, v); ok {
			if f.macSize == 0 && e == nil {
				return text, nil // the store's own INCR works on it
			}
			m.form, payload = formInteger, text
			break
		}
		m.form, m.typ = formTyped, typeID(reflect.TypeOf(v))
		if payload, err = f.codec.Marshal(v); err != nil {
			return nil, fmt.Errorf("cashews: encode %T: %w", v, err)
		}
	}
	if int64(len(payload)) > f.maxSize {
		return nil, fmt.Errorf("%w: the encoded value has %d bytes, more than the maximum of %d",
			ErrTooLarge, len(payload), f.maxSize)
	}
	if e != nil {
		m.isEntry, m.entry = true, *e
	}
	metaLen := m.size()
	hdr := headerSize + f.macSize + metaLen
	flags := flagMeta
	var out []byte
	if m.form == formTyped && f.compress != compNone && len(payload) >= f.compressMin {
		if out, err = compress(f.compress, hdr, payload); err != nil {
			return nil, err
		}
		if out != nil {
			flags |= f.compress
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
	m.put(out[headerSize+f.macSize : hdr])
	if f.macSize > 0 {
		// out[2:2+macSize] has room for the MAC, so Sum writes it in place.
		f.sign(out[headerSize:headerSize+f.macSize], out[:headerSize], key, out[headerSize+f.macSize:])
	}
	return out, nil
}

// Decode decodes into v, a non-nil pointer, a value that Encode or EncodeEntry wrote for key, a
// counter's decimal text (without a secret), or a value an older version wrote without metadata
// (see the package documentation). It checks the signature before it decompresses or decodes
// anything, and the stored Go type against v's before it decodes. Errors wrap [ErrTampered],
// [ErrFormat], [ErrWrongType] or [ErrTooLarge], except a target that is not a non-nil pointer.
// The error result of a wrapped function is not a value: Decode reports it with [ErrWrongType].
// Decode does not keep data.
func (f *Format) Decode(key string, data []byte, v any) error {
	m, err := f.DecodeMeta(key, data, v)
	if err == nil && m.IsEntry && m.Entry.Err {
		return fmt.Errorf("%w: the key holds the error result of a wrapped function, not a value", ErrWrongType)
	}
	return err
}

// DecodeMeta is [Format.Decode] that also returns what the value records about itself: whether it is a
// wrapped function's entry and the entry's metadata. For an entry that holds an error result, v is
// left alone and the error's message and replay target are in the Meta.
func (f *Format) DecodeMeta(key string, data []byte, v any) (Meta, error) {
	if rv := reflect.ValueOf(v); rv.Kind() != reflect.Pointer || rv.IsNil() {
		return Meta{}, fmt.Errorf("cashews: decode into %T: the target must be a non-nil pointer", v)
	}
	rest, flags, err := f.open(key, data)
	if err != nil {
		return Meta{}, err
	}
	if rest == nil { // a counter's decimal text
		return Meta{Counter: true}, decodeInteger(data, v)
	}
	if flags&flagMeta == 0 {
		// Written by an older version, without metadata: the codec alone decides.
		return Meta{Legacy: true}, f.decodePayload(flags&flagCompression, rest, v)
	}
	var m meta
	payload, err := m.parse(rest)
	if err != nil {
		return Meta{}, err
	}
	alg := flags & flagCompression
	out := Meta{IsEntry: m.isEntry, Entry: m.entry}
	switch m.form {
	case formInteger:
		if alg != compNone {
			return Meta{}, fmt.Errorf("%w: a compressed integer", ErrFormat)
		}
		out.Counter = true
		return out, decodeInteger(payload, v)
	case formNil:
		if out.IsEntry && out.Entry.Err {
			if alg != compNone {
				return Meta{}, fmt.Errorf("%w: a compressed error result", ErrFormat)
			}
			out.Entry.ErrMsg = string(payload)
			return out, nil
		}
		if len(payload) != 0 || alg != compNone {
			return Meta{}, fmt.Errorf("%w: a nil value with a payload", ErrFormat)
		}
		return out, decodeNil(v)
	}
	if err := checkType(m.typ, v); err != nil {
		return Meta{}, err
	}
	return out, f.decodePayload(alg, payload, v)
}

// bytesID is the fingerprint of []byte, the type DecodeBytes decodes to.
var bytesID = sync.OnceValue(func() uint64 { return typeID(reflect.TypeFor[[]byte]()) })

// DecodeBytes is [Format.DecodeMeta] into a []byte that does not copy when it need not: with the
// raw codec, a value stored uncompressed comes back as a subslice of data (the payload after the
// header, signature and metadata, checked as DecodeMeta checks them), so that a read costs no
// allocation. Other codecs and compressed payloads decode as DecodeMeta does, into new memory. The
// result may share data's memory: the caller must not modify data while it uses the result, nor
// the result unless it owns data.
func (f *Format) DecodeBytes(key string, data []byte) ([]byte, Meta, error) {
	if f.raw {
		if b, m, ok, err := f.bytesInPlace(key, data); ok || err != nil {
			return b, m, err
		}
	}
	var b []byte
	m, err := f.DecodeMeta(key, data, &b)
	return b, m, err
}

// bytesInPlace is DecodeBytes' path without a copy: ok is false when the value is not a raw,
// uncompressed payload of a []byte (a counter, a nil, an error result, another type, a compressed
// value), which DecodeMeta then decodes or reports.
func (f *Format) bytesInPlace(key string, data []byte) (b []byte, out Meta, ok bool, err error) {
	rest, flags, err := f.open(key, data)
	if err != nil {
		return nil, Meta{}, false, err
	}
	if rest == nil || flags&flagCompression != compNone {
		return nil, Meta{}, false, nil
	}
	if flags&flagMeta == 0 { // an older version's value: the raw codec's payload is the value
		return f.sized(rest, Meta{Legacy: true})
	}
	var m meta
	payload, err := m.parse(rest)
	if err != nil {
		return nil, Meta{}, false, err
	}
	if m.form != formTyped || m.typ != bytesID() {
		return nil, Meta{}, false, nil
	}
	return f.sized(payload, Meta{IsEntry: m.isEntry, Entry: m.entry})
}

// sized returns payload as bytesInPlace's result, or ErrTooLarge as decodePayload reports it.
func (f *Format) sized(payload []byte, m Meta) ([]byte, Meta, bool, error) {
	if int64(len(payload)) > f.maxSize {
		return nil, Meta{}, false, fmt.Errorf("%w: the payload has %d bytes, more than the maximum of %d", ErrTooLarge, len(payload), f.maxSize)
	}
	return payload[:len(payload):len(payload)], m, true, nil
}

// DecodeCounter returns the integer a counter holds: a value Encode wrote for an integer (not a
// wrapped function's entry) or, without a secret, a counter's decimal text. Anything else is an error
// wrapping [ErrNotInteger], and also [ErrTampered] when it fails the signature check.
func (f *Format) DecodeCounter(key string, data []byte) (int64, error) {
	rest, flags, err := f.open(key, data)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrNotInteger, err)
	}
	text := data
	if rest != nil {
		var m meta
		if flags&flagMeta == 0 {
			return 0, fmt.Errorf("%w: the value is not a counter", ErrNotInteger)
		}
		payload, err := m.parse(rest)
		if err != nil {
			return 0, fmt.Errorf("%w: %w", ErrNotInteger, err)
		}
		if m.form != formInteger || m.isEntry || flags&flagCompression != compNone {
			return 0, fmt.Errorf("%w: the value is not a counter", ErrNotInteger)
		}
		text = payload
	}
	n, err := strconv.ParseInt(string(text), 10, 64)
	if err != nil || !isDecimal(text) {
		return 0, fmt.Errorf("%w: the counter %q is not an int64", ErrNotInteger, short(text))
	}
	return n, nil
}

// open checks the header and the signature of data and returns what follows the MAC, or nil for a
// counter's decimal text (accepted only without a secret). Under a secret every failure wraps
// ErrTampered: a value that cannot be verified is not trusted, whatever is wrong with it.
func (f *Format) open(key string, data []byte) (rest []byte, flags byte, err error) {
	signedOnly := f.macSize > 0
	bad := func(format string, args ...any) error {
		if signedOnly {
			return fmt.Errorf("%w: "+format+" (every value must carry a valid signature)", append([]any{ErrTampered}, args...)...)
		}
		return fmt.Errorf("%w: "+format, append([]any{ErrFormat}, args...)...)
	}
	if len(data) == 0 {
		return nil, 0, bad("empty value")
	}
	if data[0] != version {
		if isDecimal(data) {
			if signedOnly {
				return nil, 0, bad("an unsigned counter")
			}
			return nil, 0, nil
		}
		return nil, 0, bad("unknown format version 0x%02x", data[0])
	}
	if len(data) < headerSize {
		return nil, 0, bad("truncated header")
	}
	flags = data[1]
	if flags&^flagsKnown != 0 || flags&flagCompression > compZlib {
		return nil, 0, bad("unknown flags 0x%02x", flags)
	}
	rest = data[headerSize:]
	switch signed := flags&flagSigned != 0; {
	case signed && f.macSize == 0:
		return nil, 0, fmt.Errorf("%w: the value is signed but no secret is configured", ErrTampered)
	case !signed && f.macSize > 0:
		return nil, 0, fmt.Errorf("%w: the value is not signed", ErrTampered)
	case signed:
		if len(rest) < f.macSize {
			return nil, 0, fmt.Errorf("%w: truncated signature", ErrTampered)
		}
		mac := rest[:f.macSize]
		rest = rest[f.macSize:]
		if !f.verify(mac, data[:headerSize], key, rest) {
			return nil, 0, fmt.Errorf("%w: the signature does not match (a modified value, another secret or digest, or a value of another key)", ErrTampered)
		}
	}
	if rest == nil {
		rest = data[len(data):] // not nil: nil means a counter
	}
	return rest, flags, nil
}

// decodePayload decompresses the codec's payload if alg says so and decodes it into v.
func (f *Format) decodePayload(alg byte, payload []byte, v any) error {
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

// CheckType reports an error when the Format's codec cannot encode any value of type t, as far as
// the type alone shows: a struct with a chan field under JSON, a struct under raw. Integers and
// interface types always pass, and so does every type for a codec that does not implement
// [TypeChecker].
func (f *Format) CheckType(t reflect.Type) error {
	if t == nil || isIntegerKind(t.Kind()) || t.Kind() == reflect.Interface {
		return nil
	}
	if c, ok := f.codec.(TypeChecker); ok {
		return c.CheckType(t)
	}
	return nil
}

// short returns data for an error message, cut to 64 bytes.
func short(data []byte) string {
	if len(data) > 64 {
		return string(data[:64]) + "..."
	}
	return string(data)
}

// LooksSigned reports whether data starts as a signed value does: the format version and a flags
// byte with the signed bit. It does not check the signature; it tells a value that claims one (and
// fails the check: tampered, or written with another secret) from data that is not in the format at
// all (a bit array, a lock's token, another program's data).
func LooksSigned(data []byte) bool {
	return len(data) >= headerSize && data[0] == version && data[1]&flagSigned != 0
}

// Signs reports whether the Format signs values (it was built with a Secret).
func (f *Format) Signs() bool { return f.macSize > 0 }
