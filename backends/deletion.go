package backends

// Cause says why an entry left a backend.
type Cause uint8

// The causes.
const (
	CauseSize     Cause = iota + 1 // evicted to keep within the backend's bound on entries (mem:// size)
	CauseBytes                     // evicted to keep within its bound on bytes (mem:// max_bytes, disk:// size_limit)
	CauseExpired                   // its TTL ran out
	CauseDeleted                   // removed by a delete command, a tag invalidation or Clear
	CauseReplaced                  // its value was replaced by a write of the same key
)

// String returns the cause's name: "size", "bytes", "expired", "deleted" or "replaced".
func (c Cause) String() string {
	switch c {
	case CauseSize:
		return "size"
	case CauseBytes:
		return "bytes"
	case CauseExpired:
		return "expired"
	case CauseDeleted:
		return "deleted"
	case CauseReplaced:
		return "replaced"
	}
	return "Cause(?)"
}

// Evicted reports whether the backend removed the entry by itself (size, bytes or expired), rather
// than a command removing or replacing it.
func (c Cause) Evicted() bool { return c == CauseSize || c == CauseBytes || c == CauseExpired }

// Deletion is an entry that left a backend.
type Deletion struct {
	Key string
	// Value is the value as the backend kept it (the Go value on mem://, encoded bytes with
	// copy=true), or nil when the backend does not read values it removes (disk://).
	Value any
	Cause Cause
}

// Evictions counts the entries a backend removed by itself, by cause, since it opened.
type Evictions struct {
	Size    int64 // to keep within its bound on entries
	Bytes   int64 // to keep within its bound on bytes
	Expired int64 // because their TTL ran out (removed by a purge, or found expired)
}

// EvictionCounter is the optional interface of a backend that counts the entries it evicts. The
// Cache reports the counts in its Stats. Find it with a type assertion.
type EvictionCounter interface {
	Evictions() Evictions
}

// DeletionNotifier is the optional interface of a backend that can tell when entries leave it:
// evicted, expired, deleted or replaced. The Cache calls OnDeletion at Setup, before any command,
// when the setup asks for it (cashews.OnDeletion). Find it with a type assertion.
type DeletionNotifier interface {
	// OnDeletion makes the backend call fn for every entry that leaves it from now on, in the
	// goroutine whose command or purge removed it, after the backend released its locks (fn may
	// use the backend). A command returns after its deletions were reported. The backend
	// documents which causes it reports and for which entries (values only, or sets, counters
	// and locks too). A nil fn stops the reports.
	OnDeletion(fn func(Deletion))
}
