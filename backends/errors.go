package backends

import "errors"

// Errors shared by every backend. The root package re-exports them under the same names, so callers
// match them with errors.Is whichever package they import.
var (
	// ErrClosed is returned by every command of a backend or Cache after Close.
	ErrClosed = errors.New("cashews: closed")
	// ErrNotInteger is returned by Incr when the stored value is not an integer.
	ErrNotInteger = errors.New("cashews: value is not an integer")
	// ErrInvalidArgument is wrapped by errors about an argument a command cannot take: a negative
	// TTL, a bit size out of range, a non-positive lock TTL.
	ErrInvalidArgument = errors.New("cashews: invalid argument")
	// ErrWrongType is returned when a command meets a key that holds another kind of value (a set
	// command on a plain value, a value of another Go type than the one asked for).
	ErrWrongType = errors.New("cashews: wrong type")
	// ErrNoBackend is returned for a key that no backend of a Cache takes (no Setup routes it).
	ErrNoBackend = errors.New("cashews: no backend for key")
	// ErrUnavailable is wrapped by every error that means the backend could not be reached or did
	// not answer in time: a refused or broken connection, a deadline the backend missed, a store
	// that stayed busy, a health breaker that is open. The wrapped error keeps its cause, so
	// errors.Is on the driver's own error still works.
	ErrUnavailable = errors.New("cashews: backend unavailable")
)
