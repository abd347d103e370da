package codec

import "errors"

// Errors returned by [Format.Encode] and [Format.Decode]. Match them with errors.Is; the errors
// returned wrap them with detail (and, for a failing codec, wrap the codec's own error too, so
// errors.As finds a *json.UnmarshalTypeError).
var (
	// ErrTampered is wrapped by Decode errors for values that cannot be trusted: a signature that
	// does not match (a modified payload or flags byte, another secret or digest, or a value copied
	// from another key), an unsigned value when a secret is configured, and a signed value when none
	// is. Such a value is never decompressed or decoded.
	ErrTampered = errors.New("cashews: tampered value")
	// ErrFormat is wrapped by Decode errors for values that are not a valid encoding: an empty or
	// truncated value, an unknown format version or flags, corrupt compressed data, a payload the
	// codec cannot decode into the target, and a plain-text counter decoded into a type other than
	// an integer, *string or *any.
	ErrFormat = errors.New("cashews: invalid value format")
	// ErrTooLarge is wrapped by Encode errors for a value whose encoding exceeds [Options.MaxSize],
	// and by Decode errors for a value whose payload does (once decompressed: a decompression bomb).
	ErrTooLarge = errors.New("cashews: value too large")
)
