package memory

// ghost remembers which keys a shard evicted lately, as two generations of a Bloom filter over their
// hashes (two bits per key, 16 bits of filter per key of a generation), so that a key stored again
// soon after its eviction comes back already visited: SIEVE then keeps it through the next sweep of
// the hand instead of evicting it first as a newcomer.
//
// Plain SIEVE demotes newcomers quickly, which wins on traces where most keys are seen once (Zipf
// tails, web caches) and loses where a key comes back a little after it was first seen (recency: an
// LRU stack, a shifting working set): there it evicts the very keys that return. A key that returns
// after its eviction is the evidence; the ghost turns it into a second chance. It costs no work on
// a hit, two bit writes per eviction and two bit reads per new key, and about 4 bytes per entry.
//
// A generation takes as many keys as the shard holds when it starts (the shard's share of the
// capacity); the filter then rotates: the older generation is dropped, so a key is remembered for
// between one and two shard-capacities of evictions. False positives (a key never evicted that the
// filter claims) make a newcomer visited, which costs one sweep's delay in its eviction, no more.
type ghost struct {
	cur, prev []uint64 // bit sets of equal, power-of-two sizes
	n, limit  int      // keys added to cur, and how many it takes before it rotates
}

// bitsPerKey is the filter's size per key of a generation; with two bits set per key, its false
// positive rate is about 1.4% per generation.
const bitsPerKey = 16

// ghostBits returns the two bit positions of hash h in a filter of mask+1 bits. They come from bits
// of h that neither the choice of shard (low bits) nor the table slot (bits 32 and up, rotated) use
// alone.
func ghostBits(h, mask uint64) (uint64, uint64) {
	return (h >> 17) & mask, (h >> 43) & mask
}

// add remembers h, starting a new generation sized for limit keys when the current one is full.
func (g *ghost) add(h uint64, limit int) {
	if g.cur == nil || g.n >= g.limit {
		g.rotate(limit)
	}
	mask := uint64(len(g.cur))*64 - 1
	i, j := ghostBits(h, mask)
	g.cur[i>>6] |= 1 << (i & 63)
	g.cur[j>>6] |= 1 << (j & 63)
	g.n++
}

// has reports whether h was added in the current or the previous generation (or collides with keys
// that were).
func (g *ghost) has(h uint64) bool {
	return bloomHas(g.cur, h) || bloomHas(g.prev, h)
}

func bloomHas(set []uint64, h uint64) bool {
	if set == nil {
		return false
	}
	mask := uint64(len(set))*64 - 1
	i, j := ghostBits(h, mask)
	return set[i>>6]&(1<<(i&63)) != 0 && set[j>>6]&(1<<(j&63)) != 0
}

// rotate drops the previous generation and starts an empty one for limit keys, reusing the dropped
// bit set when it has the right size.
func (g *ghost) rotate(limit int) {
	limit = max(limit, 16)
	words := 1
	for words*64 < bitsPerKey*limit {
		words <<= 1
	}
	next := g.prev
	if len(next) == words {
		clear(next)
	} else {
		next = make([]uint64, words)
	}
	g.prev, g.cur = g.cur, next
	g.n, g.limit = 0, limit
}

// reset forgets every key.
func (g *ghost) reset() { *g = ghost{} }
