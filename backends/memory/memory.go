package memory

import (
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/internal/coarse"
	"github.com/cashews-go/cashews/internal/quote"
)

func init() {
	backends.Register("mem", open)
}

// EntryOverhead is the fixed cost in bytes that every entry adds to its key and value against
// [Options.MaxBytes]: about what the entry with its queue links (80 bytes), its map slot (30 to 60)
// and the boxing of a value that does not fit in an interface take in memory.
const EntryOverhead = 128

// Limits and defaults.
const (
	// DefaultCheckInterval is the period of the purge of expired keys when none is set.
	DefaultCheckInterval = time.Minute
	// minCheckInterval is the shortest purge period; shorter ones are raised to it.
	minCheckInterval = time.Millisecond
	// MaxShards is the largest number of shards.
	MaxShards = 1 << 16
	// defaultScanBatch is the batch size of Scan when the caller gives none.
	defaultScanBatch = 100
	// maxBitOffset bounds bit arrays at 2^32 bits (512 MiB), as Redis bounds BITFIELD offsets.
	maxBitOffset = 1 << 32
	// setMemberOverhead is the cost of one set member on top of its length.
	setMemberOverhead = 24
)

// Options configure a memory backend. The zero value means defaults: no bound, a purge every
// minute, shards from GOMAXPROCS, Go values stored as they are, the system clock.
type Options struct {
	// MaxEntries bounds the number of keys. Zero or negative means no bound.
	MaxEntries int64
	// MaxBytes bounds the sum of the entries' costs: len(key) + the value's size + [EntryOverhead]
	// each. Zero or negative means no bound. See the package documentation for how sizes are found.
	MaxBytes int64
	// CheckInterval is the period of the janitor that purges expired keys. Zero means
	// [DefaultCheckInterval]; a negative value turns the janitor off (expired keys are then still
	// misses, and are removed when written, evicted or deleted). Periods under 1ms are raised to 1ms.
	CheckInterval time.Duration
	// Shards is the number of shards. Zero means 4×GOMAXPROCS with at least 16; other values are
	// rounded up to a power of two, at most [MaxShards].
	Shards int
	// Copy makes the backend a byte store: StoresGoValues reports false, so the Cache encodes values
	// to []byte before storing them; the backend copies the bytes it is given and returns a fresh
	// copy on every read. It accepts only []byte and string values.
	Copy bool
	// Clock tells the time for TTLs. Nil (or backends.SystemClock) means the system clock, read
	// through the monotonic clock so that a TTL measures elapsed time even if the wall clock is set.
	Clock backends.Clock
	// Sizer, when set, returns the size in bytes of a value for MaxBytes and ValueSize; a negative
	// result falls back to the built-in estimate. It is called without the backend's locks held:
	// on writes when MaxBytes is set (ValueSize then returns the size found on the write), and by
	// ValueSize otherwise.
	Sizer func(value any) int64
}

// Sizer is implemented by values that know their size in bytes; the backend uses CacheSize instead
// of estimating the size of such a value.
type Sizer interface {
	CacheSize() int64
}

// Backend is the memory backend. It implements [backends.Full] (the core and every capability) and
// [backends.GoValueStore]; all methods are safe for concurrent use. Create it with [New] or through
// the mem:// URL scheme.
type Backend struct {
	// Read by every command, written only by New and Close.
	shards     []shard
	mask       uint64
	seed       maphash.Seed
	maxEntries int64
	maxBytes   int64
	copy       bool
	clock      backends.Clock // nil means the system clock, read as start + monotonic time since
	coarse     *coarse.Clock  // the system clock for lock-free readers; nil with an injected clock
	coarseDone chan struct{}  // closed when the coarse clock's goroutine returns
	start      time.Time      // when New ran, with its monotonic reading
	startNano  int64          // start in unix nanoseconds
	sizer      func(any) int64
	closed     atomic.Bool
	_          [64]byte // the counters below change on every insert: keep them off the line above

	count     atomic.Int64  // entries in all shards, expired or not
	bytes     atomic.Int64  // sum of entry costs, when maxBytes > 0
	evictNext atomic.Uint64 // round-robin start for evictions in other shards

	evictedSize, evictedBytes, evictedExpired atomic.Int64 // see Evictions

	onDeletion atomic.Pointer[func(backends.Deletion)] // see OnDeletion; nil: deletions are not recorded

	tags [tagShards]tagShard // tag → keys (see tags.go)

	closeOnce sync.Once
	stop      chan struct{} // closed by Close to stop the janitor and the coarse clock
	done      chan struct{} // closed by the janitor when it returns; nil without janitor
}

// Compile-time checks.
var (
	_ backends.Full              = (*Backend)(nil)
	_ backends.GoValueStore      = (*Backend)(nil)
	_ backends.CompareAndSwapper = (*Backend)(nil)
	_ backends.Tagger            = (*Backend)(nil)
	_ backends.EvictionCounter   = (*Backend)(nil)
	_ backends.DeletionNotifier  = (*Backend)(nil)
)

// Evictions returns how many entries the backend removed by itself since New: to stay within
// MaxEntries (Size) or MaxBytes (Bytes), and because their TTL ran out (Expired: removed by the
// purge, or found expired by a write, a delete or an eviction). Sets, bit arrays and sliding
// windows count as entries.
func (b *Backend) Evictions() backends.Evictions {
	return backends.Evictions{Size: b.evictedSize.Load(), Bytes: b.evictedBytes.Load(), Expired: b.evictedExpired.Load()}
}

// OnDeletion makes the backend call fn for every value that leaves it from now on: evicted for
// MaxEntries or MaxBytes, expired (removed by the purge, or found expired by a write, a delete or an
// eviction), deleted (Delete, DeleteMany, DeleteMatch, DeleteTags, Unlock, Clear) or replaced (by
// Set, SetMany or a tagged Set of a live key; Incr and CompareAndSwap change a value in place and
// report nothing). Values include counters and lock tokens; sets, bit arrays and sliding windows
// are not reported. fn runs in the goroutine that removed the value (a command's, or the purge's)
// after the backend released its locks, so it may call the backend; a command returns after its
// deletions were reported. Value is the value as stored: the Go value, or in copy mode a copy of its
// bytes. Close reports nothing. A nil fn stops the reports.
func (b *Backend) OnDeletion(fn func(backends.Deletion)) {
	if fn == nil {
		b.onDeletion.Store(nil)
		return
	}
	b.onDeletion.Store(&fn)
}

var errClosed = fmt.Errorf("cashews: memory backend: %w", backends.ErrClosed)

// New returns a memory backend with the given options. Call Close to stop its janitor.
func New(opts Options) *Backend {
	n := opts.Shards
	if n <= 0 {
		n = max(16, 4*runtime.GOMAXPROCS(0))
	}
	n = min(n, MaxShards)
	n = 1 << bits.Len(uint(n-1)) // round up to a power of two
	b := &Backend{
		shards:     make([]shard, n),
		mask:       uint64(n - 1),
		seed:       maphash.MakeSeed(),
		maxEntries: max(opts.MaxEntries, 0),
		maxBytes:   max(opts.MaxBytes, 0),
		copy:       opts.Copy,
		clock:      opts.Clock,
		sizer:      opts.Sizer,
		stop:       make(chan struct{}),
	}
	if _, ok := b.clock.(backends.SystemClock); ok {
		b.clock = nil
	}
	b.start = time.Now()
	b.startNano = b.start.UnixNano()
	if b.clock == nil {
		b.coarse, b.coarseDone = coarse.New(b.now, nil), make(chan struct{})
		go func() {
			defer close(b.coarseDone)
			b.coarse.Run(b.stop)
		}()
	}
	interval := opts.CheckInterval
	if interval == 0 {
		interval = DefaultCheckInterval
	}
	if interval > 0 {
		interval = max(interval, minCheckInterval)
		b.done = make(chan struct{})
		go b.janitor(interval)
	}
	return b
}

// open is the factory of the mem:// scheme.
func open(cfg backends.Config) (backends.Backend, error) {
	if u := cfg.URL; u != nil && (u.User != nil || u.Host != "" || (u.Path != "" && u.Path != "/") || u.Opaque != "") {
		// Neither the user part (it may hold a password) nor the rest is echoed: the URL is the
		// caller's, and the message says what to remove.
		return nil, fmt.Errorf("%w: mem:// takes no user, host or path, only query parameters (mem://?size=10000)", backends.ErrInvalidArgument)
	}
	opts, err := parseParams(cfg.Params)
	if err != nil {
		return nil, err
	}
	opts.Clock = cfg.Clock
	return New(opts), nil
}

// parseParams reads the memory backend's URL parameters into Options.
func parseParams(p *backends.Params) (Options, error) {
	var opts Options
	if p == nil {
		p = backends.NewParams(nil)
	}
	var err error
	if opts.MaxEntries, err = p.Int("size", 0, 0, math.MaxInt64); err != nil {
		return Options{}, err
	}
	if opts.MaxBytes, err = p.Size("max_bytes", 0, 0, math.MaxInt64); err != nil {
		return Options{}, err
	}
	raw := p.String("check_interval", "")
	d, err := p.Duration("check_interval", DefaultCheckInterval, 0, math.MaxInt64)
	if err != nil {
		return Options{}, err
	}
	switch {
	case d == 0:
		opts.CheckInterval = -1 // off
	case d < minCheckInterval:
		return Options{}, fmt.Errorf("cashews: URL parameter check_interval=%s: want 0 (off) or at least 1ms", quote.String(raw))
	default:
		opts.CheckInterval = d
	}
	raw = p.String("shards", "")
	shards, err := p.Int("shards", 0, 1, MaxShards)
	if err != nil {
		return Options{}, err
	}
	if shards&(shards-1) != 0 {
		return Options{}, fmt.Errorf("cashews: URL parameter shards=%s: want a power of two from 1 to %d", quote.String(raw), MaxShards)
	}
	opts.Shards = int(shards)
	if opts.Copy, err = p.Bool("copy", false); err != nil {
		return Options{}, err
	}
	return opts, nil
}

// StoresGoValues reports whether the backend keeps Go values as they are: true unless it was opened
// with copy=true.
func (b *Backend) StoresGoValues() bool { return !b.copy }

// Close stops the janitor and drops every key. It is idempotent; other methods called after Close
// return an error wrapping [backends.ErrClosed].
func (b *Backend) Close() error {
	b.closeOnce.Do(func() {
		b.closed.Store(true)
		close(b.stop)
		if b.done != nil {
			<-b.done
		}
		if b.coarse != nil {
			<-b.coarseDone
		}
		b.clear(false)
	})
	return nil
}

// janitor purges expired keys every interval until Close.
func (b *Backend) janitor(interval time.Duration) {
	defer close(b.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.purge()
		}
	}
}

// purge removes the expired keys and returns how many it removed. For each shard with keys that
// have a TTL, it finds the expired ones under the read lock and removes them under the write lock.
func (b *Backend) purge() int {
	c := clockReader{b: b}
	now := c.now() // one instant for the whole pass
	n := 0
	var expired []*entry
	for i := range b.shards {
		if b.closed.Load() {
			return n
		}
		s := &b.shards[i]
		expired = expired[:0]
		s.mu.RLock()
		if s.withTTL > 0 {
			s.each(func(e *entry) bool {
				if exp := e.expiry(); exp != 0 && now >= exp {
					expired = append(expired, e)
				}
				return true
			})
		}
		s.mu.RUnlock()
		if len(expired) == 0 {
			continue
		}
		s.mu.Lock()
		for _, e := range expired {
			// The entry may have been removed, replaced or given a new TTL meanwhile.
			if exp := e.expiry(); s.find(e.key, e.hash) == e && exp != 0 && now >= exp {
				b.removeLocked(s, e, backends.CauseExpired)
				n++
			}
		}
		b.unlock(s)
		clear(expired)
	}
	return n
}
