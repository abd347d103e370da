// Package crossbackend holds tests, and nothing else: they hold the Cache to one answer on every
// backend (mem:// in both modes, disk and Redis, with and without a secret), which the root
// package's own tests cannot do, because they check the errors for schemes that are not imported.
package crossbackend
