package disk_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cashews-go/cashews/backends/disk"
)

// downgrades[v] turns a shard file of format version v+1 into one of version v, as that version made
// it: the way back of each migration.
var downgrades = map[int][]string{
	1: {"DROP TRIGGER cashews_tags_delete", "DROP TRIGGER cashews_tags_untag", "DROP TABLE cashews_tags",
		"ALTER TABLE cashews_entries DROP COLUMN tagged"},
	2: {"DROP TRIGGER cashews_buckets_insert", "DROP TRIGGER cashews_expire_bucket", "DROP TRIGGER cashews_used_bucket",
		"DROP INDEX cashews_entries_expire_bucket", "DROP INDEX cashews_entries_used_bucket",
		"ALTER TABLE cashews_entries DROP COLUMN expire_bucket", "ALTER TABLE cashews_entries DROP COLUMN used_bucket",
		"CREATE INDEX cashews_entries_expire ON cashews_entries (expire_at) WHERE expire_at > 0",
		"CREATE INDEX cashews_entries_used ON cashews_entries (used_at)"},
}

// downgrade turns the closed directory dir of the current format version into one of version to.
func downgrade(t *testing.T, dir string, shards, to int) {
	t.Helper()
	for i := range shards {
		db, err := sql.Open("sqlite", filepath.Join(dir, fmt.Sprintf("shard-%03d.db", i)))
		if err != nil {
			t.Fatal(err)
		}
		var version int
		if err := db.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
			t.Fatal(err)
		}
		for v := version - 1; v >= to; v-- {
			for _, st := range append(downgrades[v], fmt.Sprintf("PRAGMA user_version = %d", v)) {
				if _, err := db.Exec(st); err != nil {
					t.Fatalf("making a version %d file: %s: %v", v, st, err)
				}
			}
		}
		db.Close()
	}
}

// TestMigrateFromVersion2 makes a directory of format version 2 (times indexed to the nanosecond)
// with live, expired and eternal keys, opens it, and checks that the migration filled the buckets:
// KeysCount and the cull see the expired key, the eviction order is kept, and a row that a process
// of version 2 inserts afterwards (without buckets) gets its buckets from the trigger.
func TestMigrateFromVersion2(t *testing.T) {
	clock := newClock()
	dir := t.TempDir()
	o := disk.Options{Dir: dir, Shards: 1, Clock: clock, CheckInterval: -1}
	b := openT(t, o)
	mustSet(t, b, "short", "v", time.Minute)
	mustSet(t, b, "long", "v", time.Hour)
	mustSet(t, b, "forever", "v", 0)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	downgrade(t, dir, 1, 2)
	clock.Advance(2 * time.Minute)
	b = openT(t, o)
	if n, err := b.KeysCount(t.Context()); n != 2 || err != nil {
		t.Fatalf("KeysCount after the migration = %d, %v; want 2 (short expired)", n, err)
	}
	// A process of version 2 inserts a row, expired at the clock's time, without buckets.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "shard-000.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	past := clock.Now().Add(-time.Second).UnixNano()
	if _, err := db.Exec(`INSERT INTO cashews_entries (key, kind, value, expire_at, used_at, size) VALUES (?, 0, ?, ?, ?, 6)`,
		[]byte("v2row"), []byte("v"), past, past); err != nil {
		t.Fatal(err)
	}
	var eb, ub int64
	if err := db.QueryRow(`SELECT expire_bucket, used_bucket FROM cashews_entries WHERE key = ?`, []byte("v2row")).Scan(&eb, &ub); err != nil {
		t.Fatal(err)
	}
	if want := past>>30 + 1; eb != want || ub != past>>30 {
		t.Errorf("buckets of a row inserted without them = %d, %d; want %d, %d (set by the trigger)", eb, ub, want, past>>30)
	}
	if n, _ := b.KeysCount(t.Context()); n != 2 {
		t.Errorf("KeysCount with the expired row of version 2 = %d; want 2", n)
	}
	if _, found := mustGet(t, b, "long"); !found {
		t.Error("long lost in the migration")
	}
}

// TestBucketsFollowTheTimes checks that the triggers move a row to the bucket of its new times, and
// only then, on every kind of write: Set, Expire, and a read under least-recently-used.
func TestBucketsFollowTheTimes(t *testing.T) {
	clock := newClock()
	dir := t.TempDir()
	b := openT(t, disk.Options{Dir: dir, Shards: 1, Clock: clock, CheckInterval: -1})
	db := rawDB(t, filepath.Join(dir, "shard-000.db"))
	buckets := func(key string) (eb, ub int64) {
		t.Helper()
		if err := db.QueryRow(`SELECT expire_bucket, used_bucket FROM cashews_entries WHERE key = ?`, []byte(key)).Scan(&eb, &ub); err != nil {
			t.Fatal(err)
		}
		return eb, ub
	}
	bucket := func(t time.Time) int64 { return t.UnixNano() >> 30 }
	mustSet(t, b, "k", "v", time.Hour)
	if eb, ub := buckets("k"); eb != bucket(clock.Now().Add(time.Hour))+1 || ub != bucket(clock.Now()) {
		t.Errorf("after Set: buckets %d, %d; want %d, %d", eb, ub, bucket(clock.Now().Add(time.Hour))+1, bucket(clock.Now()))
	}
	clock.Advance(10 * time.Second)
	mustSet(t, b, "k", "w", time.Hour)
	if eb, ub := buckets("k"); eb != bucket(clock.Now().Add(time.Hour))+1 || ub != bucket(clock.Now()) {
		t.Errorf("after a Set 10s later: buckets %d, %d; want %d, %d", eb, ub, bucket(clock.Now().Add(time.Hour))+1, bucket(clock.Now()))
	}
	if ok, err := b.Expire(t.Context(), "k", 0); !ok || err != nil {
		t.Fatalf("Expire(k, 0) = %v, %v", ok, err)
	}
	if eb, _ := buckets("k"); eb != 0 {
		t.Errorf("after Expire(k, 0): expire bucket %d; want 0 (no expiry)", eb)
	}
}

// TestEvictionOrderIsExact checks that least-recently-stored stays exact with times indexed by the
// bucket: a key written again, in another bucket or in the same one, is evicted after the keys
// written between its two writes.
func TestEvictionOrderIsExact(t *testing.T) {
	for _, later := range []time.Duration{time.Millisecond, 5 * time.Second} {
		t.Run(fmt.Sprint("rewritten ", later, " later"), func(t *testing.T) {
			clock := newClock()
			b := openT(t, disk.Options{Shards: 1, SizeLimit: 10_000, Clock: clock, CheckInterval: -1})
			val := strings.Repeat("x", 96) // 100 bytes an entry with a 4-byte key
			for i := range 50 {
				mustSet(t, b, "k"+pad(i), val, 0)
			}
			clock.Advance(later)
			mustSet(t, b, "k000", val, 0) // now the newest
			for i := 50; i < 150; i++ {
				mustSet(t, b, "k"+pad(i), val, 0)
			}
			if _, found := mustGet(t, b, "k001"); found {
				t.Error("k001, stored before k000's second write, survived")
			}
			if _, found := mustGet(t, b, "k000"); !found {
				t.Error("k000, written again after k001..k049, was evicted before them")
			}
		})
	}
}
