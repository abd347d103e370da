package disk_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/backends/backendtest"
	"github.com/cashews-go/cashews/backends/disk"
	"github.com/cashews-go/cashews/internal/testenv"
)

// fakeClock is a clock the tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock { return &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// openT opens a backend on o.Dir (a new temporary directory of 2 shards when o.Dir is "") and
// closes it at the end of the test. It turns synchronous off: no test of this file loses power, and
// the syncs of creating, checkpointing and closing the shard files made most of the package's test
// time on a busy disk (a test that opens a few directories spent seconds in fsync and 0.1 s on the
// CPU). TestCrashSafety keeps the default level, whose promise it checks.
func openT(t testing.TB, o disk.Options) *disk.Backend {
	t.Helper()
	if o.Synchronous == disk.SyncNormal {
		o.Synchronous = disk.SyncOff
	}
	if o.Dir == "" {
		o.Dir = t.TempDir()
		if o.Shards == 0 {
			o.Shards = 2
		}
	}
	b, err := disk.New(o)
	if err != nil {
		t.Fatalf("disk.New(%+v): %v", o, err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func harness() backendtest.Harness {
	return backendtest.Harness{
		New: func(t testing.TB, clock backends.Clock) backends.Backend {
			return openT(t, disk.Options{Clock: clock, CheckInterval: -1})
		},
	}
}

func TestConformance(t *testing.T) {
	backendtest.Run(t, harness())
}

func BenchmarkConformance(b *testing.B) {
	backendtest.Bench(b, harness())
}

func mustSet(t testing.TB, b *disk.Backend, key, val string, ttl time.Duration) {
	t.Helper()
	if ok, err := b.Set(t.Context(), key, []byte(val), ttl, backends.SetAlways); err != nil || !ok {
		t.Fatalf("Set(%q) = %v, %v; want true, nil", key, ok, err)
	}
}

func mustGet(t testing.TB, b *disk.Backend, key string) (string, bool) {
	t.Helper()
	v, found, err := b.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if !found {
		return "", false
	}
	return string(v.([]byte)), true
}

// TestShardIndexStable pins the placement of keys: it must never change, or existing directories
// would lose their keys.
func TestShardIndexStable(t *testing.T) {
	for _, tc := range []struct {
		key  string
		n    int
		want int
	}{
		{"", 8, 5},           // FNV-1a offset basis 0xcbf29ce484222325
		{"a", 8, 4},          // 0xaf63dc4c8601ec8c (the FNV-1a test vector)
		{"user:1", 8, 3},     // 0xf7fd9aaa75081ceb
		{"user:1", 16, 11},   //
		{"user:1", 7, 0},     //
		{"foobar", 256, 232}, // 0x85944171f73967e8 (the FNV-1a test vector)
		{"x", 1, 0},
	} {
		if got := disk.ShardIndex(tc.key, tc.n); got != tc.want {
			t.Errorf("ShardIndex(%q, %d) = %d, want %d", tc.key, tc.n, got, tc.want)
		}
	}
}

func TestByteValuesOnly(t *testing.T) {
	b := openT(t, disk.Options{})
	for _, v := range []any{"string", 42, nil, struct{}{}} {
		ok, err := b.Set(t.Context(), "k", v, 0, backends.SetAlways)
		if ok || !errors.Is(err, backends.ErrInvalidArgument) {
			t.Errorf("Set(value %#v) = %v, %v; want false and an error wrapping ErrInvalidArgument", v, ok, err)
		}
	}
	err := b.SetMany(t.Context(), []backends.Item{{Key: "a", Value: []byte("1")}, {Key: "b", Value: "2"}})
	if !errors.Is(err, backends.ErrInvalidArgument) {
		t.Errorf("SetMany with a string value: err = %v, want ErrInvalidArgument", err)
	}
	if _, found := mustGet(t, b, "a"); found {
		t.Errorf("SetMany with a bad value stored the good one before it; want nothing stored")
	}
	mustSet(t, b, "empty", "", 0)
	v, found, err := b.Get(t.Context(), "empty")
	if err != nil || !found || v == nil || len(v.([]byte)) != 0 {
		t.Errorf("Get(empty value) = %#v, %v, %v; want []byte{}, true, nil", v, found, err)
	}
}

func TestCounterIsDecimalText(t *testing.T) {
	b := openT(t, disk.Options{})
	ctx := t.Context()
	if n, err := b.Incr(ctx, "c", 41, 0); err != nil || n != 41 {
		t.Fatalf("Incr = %d, %v; want 41", n, err)
	}
	if n, err := b.Incr(ctx, "c", 1, 0); err != nil || n != 42 {
		t.Fatalf("Incr = %d, %v; want 42", n, err)
	}
	if got, _ := mustGet(t, b, "c"); got != "42" {
		t.Errorf("Get(counter) = %q, want %q", got, "42")
	}
	for _, bad := range []string{"+1", "01", " 1", "1.0", "", "abc", "99999999999999999999"} {
		mustSet(t, b, "bad", bad, 0)
		if _, err := b.Incr(ctx, "bad", 1, 0); !errors.Is(err, backends.ErrNotInteger) {
			t.Errorf("Incr on %q: err = %v, want ErrNotInteger", bad, err)
		}
	}
	mustSet(t, b, "max", strconv.FormatInt(1<<63-1, 10), 0)
	if _, err := b.Incr(ctx, "max", 1, 0); !errors.Is(err, backends.ErrInvalidArgument) {
		t.Errorf("Incr past MaxInt64: err = %v, want ErrInvalidArgument", err)
	}
}

func TestWrongType(t *testing.T) {
	b := openT(t, disk.Options{})
	ctx := t.Context()
	if _, err := b.SetAdd(ctx, "set", 0, "a", "b"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Get(ctx, "set"); !errors.Is(err, backends.ErrWrongType) {
		t.Errorf("Get(set) err = %v, want ErrWrongType", err)
	}
	es, err := b.GetMany(ctx, []string{"set"})
	if err != nil || es[0].Found {
		t.Errorf("GetMany(set) = %v, %v; want not found, as MGET", es, err)
	}
	if _, err := b.Incr(ctx, "set", 1, 0); !errors.Is(err, backends.ErrWrongType) {
		t.Errorf("Incr(set) err = %v, want ErrWrongType", err)
	}
	if _, err := b.IncrBits(ctx, "set", 4, 1, 0); !errors.Is(err, backends.ErrWrongType) {
		t.Errorf("IncrBits(set) err = %v, want ErrWrongType", err)
	}
	if _, _, err := b.SliceIncr(ctx, "set", time.Now(), time.Second, 10); !errors.Is(err, backends.ErrWrongType) {
		t.Errorf("SliceIncr(set) err = %v, want ErrWrongType", err)
	}
	// Set replaces a set (as SET does) and its members go with it.
	mustSet(t, b, "set", "plain", 0)
	if got, _ := mustGet(t, b, "set"); got != "plain" {
		t.Errorf("Get after Set over a set = %q, want plain", got)
	}
	if _, err := b.SetMembers(ctx, "set"); !errors.Is(err, backends.ErrWrongType) {
		t.Errorf("SetMembers(plain) err = %v, want ErrWrongType", err)
	}
	if n, err := b.ValueSize(ctx, "set"); err != nil || n != 5 {
		t.Errorf("ValueSize = %d, %v; want 5", n, err)
	}
	if err := b.Check(ctx); err != nil {
		t.Error(err)
	}
}

func TestSetMembersGoWithTheSet(t *testing.T) {
	clock := newClock()
	b := openT(t, disk.Options{Clock: clock, Shards: 1})
	ctx := t.Context()
	if n, err := b.SetAdd(ctx, "s", time.Minute, "a", "b", "a"); err != nil || n != 2 {
		t.Fatalf("SetAdd = %d, %v; want 2", n, err)
	}
	if n, _ := b.ValueSize(ctx, "s"); n != 2 {
		t.Errorf("ValueSize(set of a, b) = %d, want 2", n)
	}
	clock.Advance(2 * time.Minute)
	// The set expired: a new SetAdd starts an empty set.
	if n, err := b.SetAdd(ctx, "s", 0, "c"); err != nil || n != 1 {
		t.Fatalf("SetAdd after expiry = %d, %v; want 1", n, err)
	}
	if m, err := b.SetMembers(ctx, "s"); err != nil || strings.Join(m, ",") != "c" {
		t.Errorf("SetMembers = %q, %v; want [c]", m, err)
	}
	if n, err := b.SetRemove(ctx, "s", "c", "x"); err != nil || n != 1 {
		t.Errorf("SetRemove = %d, %v; want 1", n, err)
	}
	if ok, _ := b.Exists(ctx, "s"); ok {
		t.Errorf("an empty set still exists; want it removed, as in Redis")
	}
	if n, err := b.KeysCount(ctx); err != nil || n != 0 {
		t.Errorf("KeysCount = %d, %v; want 0", n, err)
	}
	// No member rows are left behind.
	db := rawDB(t, filepath.Join(b.Dir(), "shard-000.db"))
	var rows int
	if err := db.QueryRow("SELECT count(*) FROM cashews_members").Scan(&rows); err != nil || rows != 0 {
		t.Errorf("member rows left = %d, %v; want 0", rows, err)
	}
}

// rawDB opens a shard file directly, read-only, for inspection.
func rawDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestReopenKeepsData(t *testing.T) {
	dir := t.TempDir()
	b, err := disk.New(disk.Options{Dir: dir, Shards: 4, Synchronous: disk.SyncOff})
	if err != nil {
		t.Fatal(err)
	}
	mustSet(t, b, "k", "v", 0)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if _, _, err := b.Get(t.Context(), "k"); !errors.Is(err, backends.ErrClosed) {
		t.Errorf("Get after Close err = %v, want ErrClosed", err)
	}
	// Shards left out: the directory's count.
	b2, err := disk.New(disk.Options{Dir: dir, Synchronous: disk.SyncOff})
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	if b2.Shards() != 4 {
		t.Errorf("Shards() = %d, want the directory's 4", b2.Shards())
	}
	if got, _ := mustGet(t, b2, "k"); got != "v" {
		t.Errorf("Get after reopen = %q, want v", got)
	}
}

func TestSetupErrors(t *testing.T) {
	garbage := func(t *testing.T, dir string) {
		if err := os.WriteFile(filepath.Join(dir, "shard-000.db"), []byte(strings.Repeat("this is not a database ", 400)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	foreign := func(t *testing.T, dir string) {
		db, err := sql.Open("sqlite", filepath.Join(dir, "shard-000.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users VALUES (1, 'ann')"); err != nil {
			t.Fatal(err)
		}
	}
	otherApp := func(t *testing.T, dir string) {
		db, err := sql.Open("sqlite", filepath.Join(dir, "shard-000.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec("PRAGMA application_id = 12345"); err != nil {
			t.Fatal(err)
		}
	}
	made := func(shards int) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			b, err := disk.New(disk.Options{Dir: dir, Shards: shards, Synchronous: disk.SyncOff})
			if err != nil {
				t.Fatal(err)
			}
			b.Close()
		}
	}
	renamed := func(t *testing.T, dir string) {
		made(2)(t, dir)
		a, b := filepath.Join(dir, "shard-000.db"), filepath.Join(dir, "shard-001.db")
		if err := os.Rename(a, a+".tmp"); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(b, a); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(a+".tmp", b); err != nil {
			t.Fatal(err)
		}
	}
	file := func(t *testing.T, dir string) {}
	for _, tc := range []struct {
		name   string
		setup  func(t *testing.T, dir string)
		shards int
		want   []string // substrings of the error
	}{
		{"garbage", garbage, 2, []string{"shard-000.db", "not an SQLite database"}},
		{"foreign schema", foreign, 2, []string{"shard-000.db", "another program"}},
		{"foreign application id", otherApp, 2, []string{"shard-000.db", "another program"}},
		{"fewer shards", made(4), 2, []string{"created with 4 shards, not 2"}},
		{"more shards", made(2), 8, []string{"created with 2 shards, not 8"}},
		{"renamed shard", renamed, 2, []string{"shard-000.db", "says it is shard \"1\""}},
		{"a file, not a directory", file, 2, []string{"is a file, not a directory"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			if tc.name == "a file, not a directory" {
				dir = filepath.Join(dir, "f")
				if err := os.WriteFile(dir, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			var before []byte
			if tc.name != "a file, not a directory" {
				before, _ = os.ReadFile(filepath.Join(dir, "shard-000.db"))
			}
			b, err := disk.New(disk.Options{Dir: dir, Shards: tc.shards, Synchronous: disk.SyncOff})
			if err == nil {
				b.Close()
				t.Fatalf("disk.New succeeded, want an error containing %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error = %q, want it to contain %q", err, w)
				}
			}
			if tc.name == "garbage" || strings.HasPrefix(tc.name, "foreign") {
				after, _ := os.ReadFile(filepath.Join(dir, "shard-000.db"))
				if string(after) != string(before) {
					t.Errorf("the foreign file was modified by the failed setup")
				}
			}
		})
	}
}

func TestExpiryAndCull(t *testing.T) {
	clock := newClock()
	b := openT(t, disk.Options{Clock: clock, CheckInterval: -1})
	ctx := t.Context()
	for i := range 250 {
		mustSet(t, b, "short:"+strconv.Itoa(i), "v", time.Second)
	}
	mustSet(t, b, "long", "v", time.Hour)
	mustSet(t, b, "forever", "v", 0)
	if n, _ := b.KeysCount(ctx); n != 252 {
		t.Errorf("KeysCount = %d, want 252", n)
	}
	clock.Advance(2 * time.Second)
	if _, found := mustGet(t, b, "short:1"); found {
		t.Errorf("Get of an expired key found it")
	}
	if n, _ := b.KeysCount(ctx); n != 2 {
		t.Errorf("KeysCount after expiry = %d, want 2 (exact, before any cull)", n)
	}
	n, err := b.Cull(ctx)
	if err != nil || n != 250 {
		t.Errorf("Cull = %d, %v; want 250", n, err)
	}
	if got, want := b.Evictions(), (backends.Evictions{Expired: 250}); got != want {
		t.Errorf("Evictions = %+v; want %+v", got, want)
	}
	if ttl, found, err := b.GetExpire(ctx, "long"); err != nil || !found || ttl <= 59*time.Minute || ttl > time.Hour {
		t.Errorf("GetExpire(long) = %v, %v, %v; want about 58m", ttl, found, err)
	}
	if ttl, found, _ := b.GetExpire(ctx, "forever"); !found || ttl != backends.NoExpiration {
		t.Errorf("GetExpire(forever) = %v, %v; want NoExpiration", ttl, found)
	}
}

func TestSizeLimitEvictsLeastRecentlyStored(t *testing.T) {
	b := openT(t, disk.Options{Shards: 1, SizeLimit: 10_000, CheckInterval: -1})
	ctx := t.Context()
	val := strings.Repeat("x", 96) // with a 4-byte key: 100 bytes an entry
	for i := range 300 {
		mustSet(t, b, "k"+pad(i), val, 0)
	}
	n, err := b.KeysCount(ctx)
	if err != nil || n < 90 || n > 100 {
		t.Errorf("KeysCount = %d, %v; want 90 to 100 entries of 100 bytes under a 10000-byte limit", n, err)
	}
	if got, want := b.Evictions(), (backends.Evictions{Bytes: 300 - n}); got != want {
		t.Errorf("Evictions = %+v; want %+v: every entry gone was evicted for the size limit", got, want)
	}
	if _, found := mustGet(t, b, "k"+pad(0)); found {
		t.Errorf("the first key stored survived; want it evicted first")
	}
	if _, found := mustGet(t, b, "k"+pad(299)); !found {
		t.Errorf("the last key stored was evicted; want it kept")
	}
}

func pad(i int) string { return strings.Repeat("0", 3-len(strconv.Itoa(i))) + strconv.Itoa(i) }

func TestSizeLimitEvictsLeastRecentlyUsed(t *testing.T) {
	b := openT(t, disk.Options{Shards: 1, SizeLimit: 10_000, Eviction: disk.LeastRecentlyUsed, CheckInterval: -1})
	ctx := t.Context()
	val := strings.Repeat("x", 96)
	for i := range 90 {
		mustSet(t, b, "k"+pad(i), val, 0)
	}
	// Read the first ten: they become the most recently used.
	for i := range 10 {
		if _, found := mustGet(t, b, "k"+pad(i)); !found {
			t.Fatalf("k%s missing before any eviction", pad(i))
		}
	}
	// Close writes the access times; reopen and write more to evict.
	dir := b.Dir()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = openT(t, disk.Options{Dir: dir, Shards: 1, SizeLimit: 10_000, Eviction: disk.LeastRecentlyUsed, CheckInterval: -1})
	for i := 100; i < 150; i++ {
		mustSet(t, b, "k"+pad(i), val, 0)
	}
	for i := range 10 {
		if _, found := mustGet(t, b, "k"+pad(i)); !found {
			t.Errorf("k%s, read recently, was evicted; want the unread k010.. evicted first", pad(i))
		}
	}
	if _, found := mustGet(t, b, "k010"); found {
		t.Errorf("k010, never read, survived; want it evicted")
	}
	if n, _ := b.KeysCount(ctx); n > 100 {
		t.Errorf("KeysCount = %d, want at most 100", n)
	}
}

func TestNoEvictionKeepsEverything(t *testing.T) {
	b := openT(t, disk.Options{Shards: 1, SizeLimit: -1, CheckInterval: -1})
	val := strings.Repeat("x", 1000)
	for i := range 200 {
		mustSet(t, b, "k"+pad(i), val, 0)
	}
	if n, _ := b.KeysCount(t.Context()); n != 200 {
		t.Errorf("KeysCount = %d, want 200", n)
	}
}

func TestScanAcrossShards(t *testing.T) {
	b := openT(t, disk.Options{Shards: 8})
	ctx := t.Context()
	want := map[string]bool{}
	for i := range 150 {
		k := "user:" + strconv.Itoa(i)
		mustSet(t, b, k, "v", 0)
		want[k] = true
		mustSet(t, b, "other:"+strconv.Itoa(i), "v", 0)
	}
	mustSet(t, b, "user\xff\xff", "v", 0) // keys beyond the prefix's range are not matched
	got := map[string]bool{}
	for keys, err := range b.Scan(ctx, "user:*", 7) {
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) > 70 {
			t.Errorf("batch of %d keys, want about 7", len(keys))
		}
		for _, k := range keys {
			got[k] = true
		}
	}
	if len(got) != len(want) {
		t.Errorf("Scan(user:*) found %d keys, want %d", len(got), len(want))
	}
	for k := range want {
		if !got[k] {
			t.Errorf("Scan missed %q", k)
		}
	}
	// Redis glob, not SQLite GLOB: [^...] negates and \ escapes.
	mustSet(t, b, "a*b", "v", 0)
	mustSet(t, b, "axb", "v", 0)
	n, err := b.DeleteMatch(ctx, `a\*b`)
	if err != nil || n != 1 {
		t.Errorf("DeleteMatch(a\\*b) = %d, %v; want 1", n, err)
	}
	if _, found := mustGet(t, b, "axb"); !found {
		t.Errorf("DeleteMatch(a\\*b) removed axb")
	}
	n, err = b.DeleteMatch(ctx, "user:[^1]*") // keeps user:1, user:10-19, user:100-149
	if err != nil || n != 150-61 {
		t.Errorf("DeleteMatch(user:[^1]*) = %d, %v; want %d", n, err, 150-61)
	}
	if c, _ := b.KeysCount(ctx); c != 150+61+1+1 {
		t.Errorf("KeysCount = %d, want %d", c, 150+61+1+1)
	}
}

func TestLockAcrossBackends(t *testing.T) {
	clock := newClock()
	dir := t.TempDir()
	a := openT(t, disk.Options{Dir: dir, Clock: clock, Shards: 2})
	b := openT(t, disk.Options{Dir: dir, Clock: clock, Shards: 2})
	ctx := t.Context()
	if ok, err := a.SetLock(ctx, "lock", "A", time.Minute); err != nil || !ok {
		t.Fatalf("a.SetLock = %v, %v; want true", ok, err)
	}
	if ok, _ := b.SetLock(ctx, "lock", "B", time.Minute); ok {
		t.Errorf("b.SetLock took a held lock")
	}
	if ok, _ := b.Unlock(ctx, "lock", "B"); ok {
		t.Errorf("b.Unlock with the wrong token released the lock")
	}
	if ok, _ := b.ExtendLock(ctx, "lock", "B", time.Hour); ok {
		t.Errorf("b.ExtendLock with the wrong token extended the lock")
	}
	clock.Advance(2 * time.Minute)
	if ok, _ := b.SetLock(ctx, "lock", "B", time.Minute); !ok {
		t.Errorf("b.SetLock after the lock expired = false, want true")
	}
	if ok, _ := a.Unlock(ctx, "lock", "A"); ok {
		t.Errorf("a.Unlock of an expired, retaken lock = true, want false")
	}
}

func TestTimeoutOption(t *testing.T) {
	dir := t.TempDir()
	a := openT(t, disk.Options{Dir: dir, Shards: 1})
	b := openT(t, disk.Options{Dir: dir, Shards: 1, BusyTimeout: 50 * time.Millisecond})
	// Hold the write lock of the only shard from a raw connection (another "process").
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "shard-000.db")+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = b.Set(t.Context(), "k", []byte("v"), 0, backends.SetAlways)
	if err == nil {
		t.Errorf("Set while another connection holds the write lock succeeded; want a busy error")
	}
	if el := time.Since(start); el > 3*time.Second && testenv.Timing() {
		t.Errorf("Set waited %v with busy_timeout=50ms", el)
	}
	// Reads do not wait for the writer.
	if _, _, err := a.Get(t.Context(), "k"); err != nil {
		t.Errorf("Get while a writer holds the lock: %v", err)
	}
	tx.Rollback()
	if _, err := b.Set(t.Context(), "k", []byte("v"), 0, backends.SetAlways); err != nil {
		t.Errorf("Set after the lock was released: %v", err)
	}
}

func TestContextCancelled(t *testing.T) {
	b := openT(t, disk.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := b.Get(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a cancelled context: err = %v, want context.Canceled", err)
	}
	if _, err := b.Set(ctx, "k", []byte("v"), 0, backends.SetAlways); !errors.Is(err, context.Canceled) {
		t.Errorf("Set with a cancelled context: err = %v, want context.Canceled", err)
	}
}
