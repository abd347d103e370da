// Package shared marks the reads whose caller does not modify the value it gets, so that a backend
// may hand over memory it keeps (Redis' client-side cache hands over its local copy) instead of a
// copy. The Cache marks the reads of the backends that say they can use it (see Reader), and only
// those: a backend's Get returns a value its caller owns unless the context is marked.
package shared

import "context"

// Reader is implemented by backends whose Get can avoid a copy for a marked context.
type Reader interface {
	// SharesReads reports whether Get returns kept memory for a marked context.
	SharesReads() bool
}

// ctx is a marked context.
type ctx struct{ context.Context }

// background is context.Background marked, so that marking it allocates nothing.
var background = &ctx{context.Background()}

// Mark returns parent marked: the value read with it will not be modified.
func Mark(parent context.Context) context.Context {
	if parent == context.Background() {
		return background
	}
	return &ctx{parent}
}

// Unmark returns the context that Mark was given and true for a marked context, and c and false
// for any other. A context derived from a marked one (by a hook, say) is not marked.
func Unmark(c context.Context) (context.Context, bool) {
	if m, ok := c.(*ctx); ok {
		return m.Context, true
	}
	return c, false
}
