// Package codec is the value format of cashews' byte backends (Redis, disk, and the memory
// backend's copying mode): how a Go value becomes the bytes a store keeps, and how those bytes are
// checked and turned back into a Go value.
//
// A [Format], built once by [New] from [Options] (which the Cache fills from the codec, compress,
// compress_min, secret and digest URL parameters), encodes in three steps: a [Codec] marshals the
// value (JSON by default; gob and raw are built in and others, such as msgpack, plug in with
// [Register]), the payload is compressed when it is large enough, and the result is signed when a
// secret is configured. [Format.Decode] undoes them in the reverse order and checks before it
// trusts: the signature is verified before anything is decompressed or decoded.
//
// # Byte format
//
// An encoded value is
//
//	version (1 byte) | flags (1 byte) | MAC (signed values only) | metadata | payload
//
// where:
//   - version is 0x01. It is not printable, so the format can change later and an encoded value
//     never looks like the decimal text of a counter. Decode rejects other versions.
//   - flags: the low three bits name the compression of the payload (0 none, 1 gzip, 2 zlib); bit
//     0x40 says a metadata block follows (every value this version writes has one); bit 0x80 says
//     the value is signed. Other bits are reserved and must be zero.
//   - MAC is HMAC(secret, version | flags | uvarint(len(key)) | key | metadata | payload) with the
//     configured digest, so its length is the digest's size (32 bytes for sha256). It covers the
//     key, so a value copied to another key fails the check, the flags, so compression cannot be
//     switched, and the metadata, so neither the type nor an entry's expiry can be changed.
//   - metadata is a byte of bits, then the fields they announce, in this order. The low two bits
//     are the form of the payload: 0, a typed value, followed by the 8-byte fingerprint of its Go
//     type; 1, an integer, whose payload is its decimal text; 2, nil, with no payload. Bit 0x04
//     announces a wrapped function's entry: the 8-byte fingerprint of the result type's shape and
//     the Wrap's version, then the entry's expiry and staleness (varints, Unix nanoseconds). Bit
//     0x08 (with 0x04 and form 2) says the entry is an error result: its replay target follows
//     (uvarint, index + 1), and the payload is the error's message.
//   - payload is the codec's output, compressed if flags say so (typed values only). There is no
//     length field: a truncated value is caught by the MAC when signed, by the gzip or zlib checksum
//     when compressed, and otherwise by the codec (a cut-off JSON object or gob stream does not
//     parse, though a cut-off JSON number may).
//
// Values without the 0x40 flag were written by an earlier version: Decode still reads them, with
// the codec alone checking their type.
//
// # Types
//
// A typed value records the fingerprint of its Go type: for a named type its package path and name,
// for an unnamed one (a slice, a map, a pointer, a struct literal) its kind and the fingerprints of
// its parts. Decode checks it against the target before decoding: a value stored as another Go type
// (a struct of the same shape under another name, a *T for a T, a string for an int) is an error
// wrapping [ErrWrongType], as the memory backend answers a Get of a value of another type, even
// where the codec could make something of the payload. A target of interface type takes any value
// the codec can decode into it (JSON: map[string]any and the like). The fingerprint does not change
// when a named struct type gains or loses fields: the codec decides whether such a value decodes.
//
// An integer of any Go integer type is stored as an integer, not as the codec's output, and decodes
// into every integer type that holds it (range-checked) and into an empty interface (an int64, or a
// uint64 beyond the int64 range). A nil decodes into the zero value of a type that can be nil
// (pointer, map, slice, interface, func, chan); into other types it is ErrWrongType.
//
// # Compression
//
// With Compress set to gzip or zlib, payloads of at least CompressMin bytes (1024 by default) are
// compressed at level 1 (best speed: cached data such as JSON shrinks almost as much as at the
// default level, for a fraction of the CPU), and stored uncompressed when compression would not make
// them smaller. Below about
// 1 KiB the fixed cost of the gzip and deflate framing eats most of the savings while every read
// still pays for a decompression. Compressors and decompressors are pooled. Decode reads every
// algorithm, so the setting can change while old values are still stored. Decompression stops at
// MaxSize bytes (64 MiB by default): a small value that would expand beyond it, a decompression
// bomb, is rejected without holding more than MaxSize bytes in memory.
//
// # Signing
//
// With a Secret, every value is signed, counters included, and Decode accepts only values whose MAC
// matches, compared with [crypto/hmac.Equal]. The digest (sha256, sha384 or sha512) is pinned by the
// configuration and never read from stored data, so a stored value cannot pick a weaker algorithm.
// Decode checks the signature before it reads the metadata, decompresses or decodes anything, and
// rejects with [ErrTampered] every value it cannot verify:
//   - a value whose MAC does not match: a modified payload, metadata, MAC or flags byte, a value
//     signed with another secret or digest, or a value copied from another key;
//   - a value that is not in the signed format at all: empty, another version byte, no header, an
//     unsigned value, a counter's plain decimal text, a value of an earlier version without a MAC;
//   - a signed value when no secret is configured. The value could be read without its MAC, but a
//     store holding signed values was set up to be verified, and a configuration that lost its
//     secret should fail loudly rather than trust whatever the store holds.
//
// Anyone who can write to the store but does not know the secret can still delete values, or put
// back a value that was stored under the same key earlier (a replay): the MAC proves who wrote a
// value and for which key, not when.
//
// # Counters
//
// Without a secret, Encode stores an integer as its plain decimal text ("42"), with no header, which
// is what Redis INCR and the disk backend's Incr read and write: a counter seeded by Set counts on,
// and Decode reads the store's counters back (an optional minus sign and up to 20 digits). With a
// secret, an integer is a signed value whose payload is its decimal text: the store's own increment
// cannot sign, so the Cache updates such counters with a verified compare-and-swap
// ([Format.DecodeCounter], then Encode). The plain decimal text is then ErrTampered, so a number
// another client writes is never read as a counter or as any other value.
//
// # Errors
//
// Decode errors wrap [ErrTampered] (values that cannot be verified, see Signing), [ErrWrongType] (a
// value stored as another Go type, an integer that does not fit the target, a nil for a target that
// cannot be nil, the error result of a wrapped function), [ErrFormat] (without a secret: empty,
// truncated or unknown data; with or without one: corrupt compression, or a payload the codec cannot
// decode into the target, which is also wrapped) or [ErrTooLarge] (a payload beyond MaxSize).
// Encode errors wrap the codec's error or [ErrTooLarge]. Match them with errors.Is. The messages do
// not name the key: the Cache adds the operation and the key when it wraps them.
package codec
