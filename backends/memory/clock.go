package memory

import "github.com/cashews-go/cashews/internal/coarse"

// coarseResolution is how often the coarse clock reads the system clock while the backend is read.
const coarseResolution = coarse.Resolution

// The backend's lock-free readers (Get, GetMany, Exists) read a coarse clock (package
// internal/coarse) when the backend runs on the system clock: a read may see an entry up to about a
// millisecond after its TTL ended; writes and every other command read the clock itself, so a TTL
// never ends early, and an injected clock (tests) is always read directly. The clock's goroutine
// runs from New to Close.
