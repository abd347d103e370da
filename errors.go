package cashews

import (
	"errors"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/codec"
	"github.com/cashews-go/cashews/internal/flight"
)

// Errors returned by the Cache. Match them with errors.Is; the messages may change.
var (
	// ErrNotFound is what a loader returns to say that its source has nothing for the key. GetOrSet
	// and the strategies store nothing for it and pass it back to the caller.
	ErrNotFound = errors.New("cashews: not found")
	// ErrNoBackend is returned for a key that no Setup call routes: there is no backend with an
	// empty prefix and none whose prefix the key starts with.
	ErrNoBackend = backends.ErrNoBackend
	// ErrLockNotHeld is returned by Lock.Unlock and Lock.Extend when the lock expired or another
	// owner holds it.
	ErrLockNotHeld = errors.New("cashews: lock not held")

	// ErrClosed is returned by every command after Close.
	ErrClosed = backends.ErrClosed
	// ErrNotInteger is returned by Incr when the stored value is not an integer.
	ErrNotInteger = backends.ErrNotInteger
	// ErrInvalidArgument is wrapped by errors about an argument a command cannot take, such as a
	// negative TTL.
	ErrInvalidArgument = backends.ErrInvalidArgument
	// ErrWrongType is returned when a key holds another kind of value than the command works on, and
	// by Get[T] when the stored value is not a T, on every backend (byte backends record each
	// value's Go type), or is the error result of a wrapped function.
	ErrWrongType = backends.ErrWrongType
	// ErrUnavailable is wrapped by every error that means a backend could not be reached or did not
	// answer in time (see backends.ErrUnavailable). The cause stays matchable with errors.Is.
	ErrUnavailable = backends.ErrUnavailable
)

// PanicError is the error that every caller sharing a load receives when the load panicked. Its
// Value is what the function panicked with, and Stack the stack of the panic.
type PanicError = flight.PanicError

// Errors about stored values, from the codec package, re-exported so that callers of the Cache need
// not import it.
var (
	// ErrTampered is returned by reads and Incr, under a secret, for every value that fails
	// verification: a changed byte, a value copied from another key, a value signed with another
	// secret, and anything not in the signed format (an unsigned value, a number another client
	// wrote, an empty value, another version byte). Such a value is never decoded.
	ErrTampered = codec.ErrTampered
	// ErrFormat is returned by reads of a value that is not in the format the Cache writes
	// (truncated, corrupted, or written by something else) when no secret is set; under a secret
	// such a value is ErrTampered.
	ErrFormat = codec.ErrFormat
)

// Errors of Wrap and of the strategies (package strategies returns these).
var (
	// ErrRateLimited is returned by a rate-limited function called over its limit.
	ErrRateLimited = errors.New("cashews: rate limited")
	// ErrCircuitOpen is returned by a function whose circuit breaker is open.
	ErrCircuitOpen = errors.New("cashews: circuit open")
	// ErrPerfDegraded is returned by a function that the perf strategy found slower than its
	// record, while the degradation lasts.
	ErrPerfDegraded = errors.New("cashews: performance degraded")
	// ErrConfig is wrapped by every configuration mistake that Wrap reports.
	ErrConfig = errors.New("cashews: bad Wrap configuration")
)
