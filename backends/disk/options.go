package disk

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/internal/quote"
)

// Eviction is the policy that picks the entries to remove when a shard is over its share of
// [Options.SizeLimit].
type Eviction uint8

// The eviction policies.
const (
	// LeastRecentlyStored removes the entries written longest ago first (the default). Reads cost
	// nothing extra.
	LeastRecentlyStored Eviction = iota
	// LeastRecentlyUsed removes the entries read or written longest ago first. Every hit of Get or
	// GetMany records an access time in memory; a background goroutine writes them in one batch per
	// shard (every 256 hits or every check interval), so a hit stays a read, but the cache writes more.
	LeastRecentlyUsed
	// NoEviction never removes live entries: the cache grows without limit and only expired entries
	// are culled. It is the same as a size limit of zero in the URL.
	NoEviction
)

// String returns the policy's name as the URL parameter eviction spells it.
func (e Eviction) String() string {
	switch e {
	case LeastRecentlyStored:
		return "least-recently-stored"
	case LeastRecentlyUsed:
		return "least-recently-used"
	case NoEviction:
		return "none"
	}
	return fmt.Sprintf("Eviction(%d)", uint8(e))
}

// Synchronous is SQLite's synchronous setting: how often a commit waits for the disk.
type Synchronous uint8

// The synchronous levels. Every level keeps every committed write when the process crashes or is
// killed, and none corrupts the files on a power loss in WAL mode; they differ in how many of the
// last commits a power loss or an operating system crash may take.
const (
	// SyncNormal syncs the write-ahead log at checkpoints only (the default): a power loss may roll
	// back the commits since the last checkpoint (at most about 4 MiB of log per shard).
	SyncNormal Synchronous = iota
	// SyncFull syncs the log at every commit: a commit that returned survives a power loss. Each write
	// waits for the disk (about 0.1 to 10 ms, depending on the disk).
	SyncFull
	// SyncOff never syncs: fastest, and a power loss may take any number of recent commits.
	SyncOff
	// SyncExtra is SyncFull plus a sync of the directory when the log is reset.
	SyncExtra
)

// String returns the level's name as the URL parameter synchronous spells it.
func (s Synchronous) String() string {
	switch s {
	case SyncNormal:
		return "normal"
	case SyncFull:
		return "full"
	case SyncOff:
		return "off"
	case SyncExtra:
		return "extra"
	}
	return fmt.Sprintf("Synchronous(%d)", uint8(s))
}

// Defaults of [Options].
const (
	DefaultShards        = 8
	DefaultSizeLimit     = 1 << 30 // 1 GiB
	DefaultBusyTimeout   = 5 * time.Second
	DefaultCullLimit     = 100
	DefaultCheckInterval = time.Minute
	DefaultReaders       = 4
	// MaxShards is the largest shard count.
	MaxShards = 256
)

// Options configure a disk [Backend]. The zero value means every default; negative durations and
// sizes mean "none" where the field says so.
type Options struct {
	// Dir is the directory of the shard files, created (mode 0700) if missing. Empty means
	// filepath.Join(os.UserCacheDir(), "cashews").
	Dir string
	// Shards is the number of SQLite files the keys are spread over (1 to 256). Zero means the
	// count the directory was created with, or 8 for a new directory. A count other than the
	// directory's is an error: the hash that places keys depends on it.
	Shards int
	// SizeLimit bounds the bytes stored (keys, values and set members, not SQLite's pages, indexes or
	// log, which take about 1.2 to 2 times more on disk). Each shard keeps SizeLimit/Shards. Zero
	// means 1 GiB; negative means no limit (as [NoEviction]).
	SizeLimit int64
	// Eviction picks what goes when a shard is over its limit. The zero value is
	// [LeastRecentlyStored].
	Eviction Eviction
	// BusyTimeout is how long a command waits for another process's write lock on a shard before it
	// fails. Zero means 5s; negative means no wait.
	BusyTimeout time.Duration
	// Timeout bounds every command, on top of the caller's context. Zero means no bound beyond the
	// context.
	Timeout time.Duration
	// Synchronous is SQLite's synchronous level; the zero value is [SyncNormal].
	Synchronous Synchronous
	// CullLimit is the most entries one cull or eviction transaction removes, so that a cull never
	// holds a shard's write lock for long. Zero means 100.
	CullLimit int
	// CheckInterval is how often a background goroutine removes expired entries and enforces the size
	// limit on every shard. Zero means one minute; negative means never (expired entries are still
	// never returned, and the size limit is still enforced on writes).
	CheckInterval time.Duration
	// MmapSize is the size of the memory map SQLite uses to read each shard. Zero or negative means
	// no memory map (SQLite reads with read(2)).
	MmapSize int64
	// CacheSize is the page cache of each SQLite connection in bytes. Zero means SQLite's default
	// (about 2 MB); negative is an error.
	CacheSize int64
	// Readers is the most connections that read one shard at the same time (writes go through one
	// more connection per shard). Zero means 4.
	Readers int
	// Clock tells the time for expiry; nil means the system clock.
	Clock backends.Clock
	// Logger receives the background goroutine's errors; nil means they are discarded.
	Logger *slog.Logger
}

// withDefaults returns o with every zero field set to its default, or an error naming a field out of
// range.
func (o Options) withDefaults() (Options, error) {
	if o.Dir == "" {
		d, err := DefaultDir()
		if err != nil {
			return o, err
		}
		o.Dir = d
	}
	if o.Shards < 0 || o.Shards > MaxShards {
		return o, fmt.Errorf("cashews: disk: shards %d: want 1 to %d: %w", o.Shards, MaxShards, backends.ErrInvalidArgument)
	}
	switch {
	case o.SizeLimit == 0:
		o.SizeLimit = DefaultSizeLimit
	case o.SizeLimit < 0:
		o.Eviction = NoEviction
	}
	if o.Eviction > NoEviction {
		return o, fmt.Errorf("cashews: disk: unknown eviction policy %d: %w", o.Eviction, backends.ErrInvalidArgument)
	}
	if o.Eviction == NoEviction {
		o.SizeLimit = -1
	}
	switch {
	case o.BusyTimeout == 0:
		o.BusyTimeout = DefaultBusyTimeout
	case o.BusyTimeout < 0:
		o.BusyTimeout = 0
	}
	if o.Timeout < 0 {
		o.Timeout = 0
	}
	if o.Synchronous > SyncExtra {
		return o, fmt.Errorf("cashews: disk: unknown synchronous level %d: %w", o.Synchronous, backends.ErrInvalidArgument)
	}
	if o.CullLimit < 0 {
		return o, fmt.Errorf("cashews: disk: cull limit %d: want a positive number: %w", o.CullLimit, backends.ErrInvalidArgument)
	}
	if o.CullLimit == 0 {
		o.CullLimit = DefaultCullLimit
	}
	if o.CheckInterval == 0 {
		o.CheckInterval = DefaultCheckInterval
	}
	if o.MmapSize < 0 {
		o.MmapSize = 0
	}
	if o.CacheSize < 0 {
		return o, fmt.Errorf("cashews: disk: cache size %d: want zero or more bytes: %w", o.CacheSize, backends.ErrInvalidArgument)
	}
	if o.Readers < 0 {
		return o, fmt.Errorf("cashews: disk: readers %d: want a positive number: %w", o.Readers, backends.ErrInvalidArgument)
	}
	if o.Readers == 0 {
		o.Readers = DefaultReaders
	}
	if o.Clock == nil {
		o.Clock = backends.SystemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// DefaultDir returns the directory a disk backend uses when none is given:
// filepath.Join(os.UserCacheDir(), "cashews"), for example ~/.cache/cashews on Linux.
func DefaultDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("cashews: disk: no directory given and no user cache directory (%v); give one, as in disk:///var/cache/app", err)
	}
	return filepath.Join(base, "cashews"), nil
}

// ParseURL reads the directory and the parameters of a disk:// setup URL into Options. It takes
// only the parameters of the disk backend from params (see the package documentation), so that
// [backends.Params.CheckUnused] can report the others.
//
// The directory is the URL's path: disk:///var/cache/app is /var/cache/app; disk://./cache and
// disk:cache are relative to the working directory; disk:// (or disk:) with no path means
// [DefaultDir]. The parameter directory may give it instead of the path, as in Python's cashews.
func ParseURL(u *url.URL, params *backends.Params) (Options, error) {
	var o Options
	if u == nil {
		return o, errors.New("cashews: disk: nil URL")
	}
	if params == nil {
		params = backends.NewParams(u.Query())
	}
	dir, err := dirFromURL(u)
	if err != nil {
		return o, err
	}
	if params.Has("directory") {
		d := params.String("directory", "")
		if dir != "" {
			return o, fmt.Errorf("cashews: disk: URL gives the directory twice, as the path %s and as directory=%s; give one", quote.String(dir), quote.String(d))
		}
		if d == "" {
			return o, errors.New(`cashews: disk: URL parameter directory="": want a directory`)
		}
		dir = d
	}
	o.Dir = dir

	shards, err := params.Int("shards", 0, 1, MaxShards)
	if err != nil {
		return o, err
	}
	o.Shards = int(shards)

	hasLimit := params.Has("size_limit")
	limit, err := params.Size("size_limit", DefaultSizeLimit, 0, 1<<62)
	if err != nil {
		return o, err
	}
	ev, err := params.Enum("eviction", "least-recently-stored", "least-recently-used", "none", "lrs", "lru")
	if err != nil {
		return o, err
	}
	switch ev {
	case "least-recently-stored", "lrs":
		o.Eviction = LeastRecentlyStored
	case "least-recently-used", "lru":
		o.Eviction = LeastRecentlyUsed
	case "none":
		o.Eviction = NoEviction
	}
	switch {
	case hasLimit && limit > 0 && o.Eviction == NoEviction:
		return o, fmt.Errorf("cashews: disk: URL parameters size_limit=%d and eviction=none contradict each other: with eviction=none nothing enforces a limit", limit)
	case hasLimit && limit == 0 && params.Has("eviction") && o.Eviction != NoEviction:
		return o, fmt.Errorf("cashews: disk: URL parameters size_limit=0 (no limit) and eviction=%s contradict each other", o.Eviction)
	case limit == 0 || o.Eviction == NoEviction:
		o.SizeLimit = -1
		o.Eviction = NoEviction
	default:
		o.SizeLimit = limit
	}

	if o.BusyTimeout, err = params.Duration("busy_timeout", DefaultBusyTimeout, 0, 24*time.Hour); err != nil {
		return o, err
	}
	if o.BusyTimeout == 0 {
		o.BusyTimeout = -1
	}
	if o.Timeout, err = params.Duration("timeout", 0, 0, 24*time.Hour); err != nil {
		return o, err
	}
	syncs, err := params.Enum("synchronous", "normal", "full", "off", "extra")
	if err != nil {
		return o, err
	}
	o.Synchronous = map[string]Synchronous{"normal": SyncNormal, "full": SyncFull, "off": SyncOff, "extra": SyncExtra}[syncs]
	cull, err := params.Int("cull_limit", DefaultCullLimit, 1, 1_000_000)
	if err != nil {
		return o, err
	}
	o.CullLimit = int(cull)
	if o.CheckInterval, err = params.Duration("check_interval", DefaultCheckInterval, 0, 365*24*time.Hour); err != nil {
		return o, err
	}
	if o.CheckInterval == 0 {
		o.CheckInterval = -1
	}
	if o.MmapSize, err = params.Size("mmap_size", 0, 0, 1<<40); err != nil {
		return o, err
	}
	if o.CacheSize, err = params.Size("cache_size", 0, 0, 1<<40); err != nil {
		return o, err
	}
	readers, err := params.Int("readers", DefaultReaders, 1, 1024)
	if err != nil {
		return o, err
	}
	o.Readers = int(readers)
	return o, nil
}

// dirFromURL returns the directory a disk URL names, or "" for none.
func dirFromURL(u *url.URL) (string, error) {
	if u.Opaque != "" { // disk:relative/dir
		p, err := url.PathUnescape(u.Opaque)
		if err != nil {
			return "", fmt.Errorf("cashews: disk: URL path %s: %w", quote.String(u.Opaque), err)
		}
		return filepath.FromSlash(p), nil
	}
	if u.User != nil {
		return "", fmt.Errorf("cashews: disk: URL %s has a user name; a disk URL names a directory, as in disk:///var/cache/app", quote.String(backends.Redact(u)))
	}
	p := u.Path
	switch u.Host {
	case "", "localhost":
		if p == "" || p == "/" {
			return "", nil
		}
	case ".", "..": // disk://./cache, disk://../cache
		p = u.Host + p
	default:
		return "", fmt.Errorf("cashews: disk: URL host %s: want disk:///absolute/dir or disk://./relative/dir (a disk URL names a directory, not a host)", quote.String(u.Host))
	}
	if runtime.GOOS == "windows" && len(p) >= 3 && p[0] == '/' && p[2] == ':' {
		p = p[1:] // disk:///C:/cache
	}
	return filepath.FromSlash(p), nil
}
