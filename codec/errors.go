package codec

import (
	"errors"
	"reflect"

	"github.com/cashews-go/cashews/backends"
)

// Errors returned by [Format.Encode] and [Format.Decode]. Match them with errors.Is; the errors
// returned wrap them with detail (and, for a failing codec, wrap the codec's own error too, so
// errors.As finds a *json.UnmarshalTypeError).
var (
	// ErrTampered is wrapped by Decode errors for values that cannot be trusted. Under a secret
	// that is every value that fails verification: a signature that does not match (a modified
	// payload or flags byte, another secret or digest, or a value copied from another key), an
	// unsigned value (a counter's plain text included), and a value that is not in the signed
	// format at all (empty, another version byte, no header). Without a secret, it is a signed
	// value. Such a value is never decompressed or decoded.
	ErrTampered = errors.New("cashews: tampered value")
	// ErrFormat is wrapped by Decode errors for values that are not a valid encoding: without a
	// secret, an empty or truncated value, an unknown format version or flags; and, with or without
	// one, corrupt compressed data or a payload the codec cannot decode into the target.
	ErrFormat = errors.New("cashews: invalid value format")
	// ErrTooLarge is wrapped by Encode errors for a value whose encoding exceeds [Options.MaxSize],
	// and by Decode errors for a value whose payload does (once decompressed: a decompression bomb).
	ErrTooLarge = errors.New("cashews: value too large")
	// ErrWrongType is wrapped by Decode errors for a value stored as another Go type than the
	// target's (see the package documentation). It is backends.ErrWrongType, which the root package
	// re-exports.
	ErrWrongType = backends.ErrWrongType
	// ErrNotInteger is wrapped by [Format.DecodeCounter] errors for a value that is not a counter.
	// It is backends.ErrNotInteger.
	ErrNotInteger = backends.ErrNotInteger
)

// TypeChecker is implemented by codecs that can tell from a type alone that they cannot encode its
// values. [Format.CheckType] asks it, and cashews.Wrap does so for the result type, so that a result
// the codec of the key's backend cannot store is a configuration error rather than a silent miss on
// every call. CheckType returns nil when values of t may encode, and an error naming the part of t
// that cannot otherwise.
type TypeChecker interface {
	CheckType(t reflect.Type) error
}
