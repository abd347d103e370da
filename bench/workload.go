package bench

import (
	"fmt"
	"math/rand"
	"time"
)

// TTL is the time to live every library is given for every entry, as a cache would be used.
const TTL = time.Hour

// Value is what the in-memory caches store. It is a pointer type in every library, so that none
// pays for boxing it into an interface and all store the same thing.
type Value struct {
	ID   int
	Name string
}

// User is what the wrapped loaders return: a small struct, returned by value.
type User struct {
	ID    int
	Name  string
	Email string
}

// Trace is a seeded sequence of keys drawn from a Zipf distribution over a key space.
type Trace struct {
	Names []string // the key space: Names[i] is key i
	Keys  []string // the sequence; each element is one of Names
}

// NewTrace returns n keys drawn from a Zipf distribution with exponent s over keyspace keys named
// prefix0, prefix1, ...; the same arguments give the same trace.
func NewTrace(seed int64, n, keyspace int, s float64, prefix string) Trace {
	r := rand.New(rand.NewSource(seed))
	z := rand.NewZipf(r, s, 1, uint64(keyspace-1))
	names := make([]string, keyspace)
	for i := range names {
		names[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	keys := make([]string, n)
	for i := range keys {
		keys[i] = names[z.Uint64()]
	}
	return Trace{Names: names, Keys: keys}
}
