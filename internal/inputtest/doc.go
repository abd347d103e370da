// Package redacttest holds the tests that no setup URL's secret reaches an error or a backend name,
// on every scheme (mem, disk, redis, rediss). It has no code of its own: its tests import every
// backend, which the root package's tests must not (they check the error for an unregistered
// scheme).
package inputtest
