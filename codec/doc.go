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
//	version (1 byte) | flags (1 byte) | MAC (signed values only) | payload
//
// where:
//   - version is 0x01. It is not printable, so the format can change later and an encoded value
//     never looks like the decimal text of a counter. Decode rejects other versions.
//   - flags: the low three bits name the compression of the payload (0 none, 1 gzip, 2 zlib); bit
//     0x80 says the value is signed. Other bits are reserved and must be zero.
//   - MAC is HMAC(secret, version | flags | uvarint(len(key)) | key | payload) with the configured
//     digest, so its length is the digest's size (32 bytes for sha256). It covers the key, so a
//     value copied to another key fails the check, and the flags, so compression cannot be switched.
//   - payload is the codec's output, compressed if flags say so. There is no length field: a
//     truncated value is caught by the MAC when signed, by the gzip or zlib checksum when
//     compressed, and otherwise by the codec (a cut-off JSON object or gob stream does not parse,
//     though a cut-off JSON number may).
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
// With a Secret, every value is signed and Decode accepts only values whose MAC matches, compared
// with [crypto/hmac.Equal]. The digest (sha256, sha384 or sha512) is pinned by the configuration
// and never read from stored data, so a stored value cannot pick a weaker algorithm. Decode rejects
// with [ErrTampered]:
//   - a value whose MAC does not match: a modified payload, MAC or flags byte, a value signed with
//     another secret or digest, or a value copied from another key;
//   - an unsigned value when a secret is configured;
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
// Incr on Redis and disk stores the plain decimal text of an integer ("42"), written by the store
// itself and so never versioned or signed. Decode accepts such text (an optional minus sign and up
// to 19 digits) when v points to an integer type (range-checked: -1 does not go into a uint), to a
// string type (the text) or to an empty interface (an int64), whether or not a secret is configured,
// and rejects it with [ErrFormat] for any other target. With a secret, then, someone who can write
// to the store can change a counter, or put a number where a value of integer type was stored:
// counters are not protected by the signature.
//
// # Errors
//
// Decode errors wrap [ErrTampered] (untrusted values), [ErrFormat] (empty, truncated or unknown
// data, corrupt compression, a payload the codec cannot decode into the target, which is also
// wrapped, or a counter decoded into a non-integer type) or [ErrTooLarge] (a payload beyond
// MaxSize). Encode errors wrap the codec's error or [ErrTooLarge]. Match them with errors.Is. The
// messages do not name the key: the Cache adds the operation and the key when it wraps them.
package codec
