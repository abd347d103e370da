package disk_test

import (
	"database/sql"
	"encoding/binary"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/backends/disk"
)

// The benchmarks compare the disk backend with the plainest use of modernc.org/sqlite on the same
// machine in the same run: a point SELECT (BenchmarkSQLiteGet) and a one-row upsert
// (BenchmarkSQLiteSet) on a WAL, synchronous=NORMAL file with the same table shape (a rowid table
// with a unique BLOB key), through database/sql with prepared statements; and the upsert with the
// indexes of a cache (BenchmarkSQLiteSetIndexed). 1024 keys, 100-byte values. The names make one
// pattern run each disk benchmark with its reference:
//
//	go test ./backends/disk/ -run '^$' -bench 'Get|Set' -benchmem -count 5

const benchKeys = 1024

// cpuTime returns the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per operation (cpu-ns/op) next to the wall time, which on a busy
// machine measures the load more than the code. Call it as defer reportCPU(b)().
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

var benchValue = []byte(strings.Repeat("v", 100))

func benchKey(i int) string { return "bench:" + strconv.Itoa(i%benchKeys) }

func benchBackend(b *testing.B, o disk.Options) *disk.Backend {
	o.Dir = b.TempDir()
	o.CheckInterval = -1
	d := openT(b, o)
	for i := range benchKeys {
		if _, err := d.Set(b.Context(), benchKey(i), benchValue, time.Hour, backends.SetAlways); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	return d
}

func BenchmarkDiskGet(b *testing.B) {
	d := benchBackend(b, disk.Options{})
	defer reportCPU(b)()
	for i := 0; b.Loop(); i++ {
		if _, found, err := d.Get(b.Context(), benchKey(i)); err != nil || !found {
			b.Fatalf("Get = %v, %v", found, err)
		}
	}
}

func BenchmarkDiskGetLRU(b *testing.B) {
	d := benchBackend(b, disk.Options{Eviction: disk.LeastRecentlyUsed})
	defer reportCPU(b)()
	for i := 0; b.Loop(); i++ {
		if _, found, err := d.Get(b.Context(), benchKey(i)); err != nil || !found {
			b.Fatalf("Get = %v, %v", found, err)
		}
	}
}

func BenchmarkDiskSet(b *testing.B) {
	d := benchBackend(b, disk.Options{})
	defer reportCPU(b)()
	for i := 0; b.Loop(); i++ {
		if _, err := d.Set(b.Context(), benchKey(i), benchValue, time.Hour, backends.SetAlways); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDiskGetParallel(b *testing.B) {
	d := benchBackend(b, disk.Options{})
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			if _, _, err := d.Get(b.Context(), benchKey(i)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// plainDB opens the reference: one SQLite file, WAL, synchronous=NORMAL, holding benchKeys rows of
// table; indexes are created after the table.
func plainDB(b *testing.B, indexes ...string) *sql.DB {
	path := filepath.Join(b.TempDir(), "plain.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(5000)")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	for _, s := range append([]string{`CREATE TABLE kv (id INTEGER PRIMARY KEY, key BLOB NOT NULL UNIQUE, value BLOB NOT NULL,
		expire_at INTEGER NOT NULL DEFAULT 0, used_at INTEGER NOT NULL DEFAULT 0)`}, indexes...) {
		if _, err := db.Exec(s); err != nil {
			b.Fatal(err)
		}
	}
	for i := range benchKeys {
		if _, err := db.Exec(`INSERT INTO kv (key, value) VALUES (?1, ?2)`, []byte(benchKey(i)), benchValue); err != nil {
			b.Fatal(err)
		}
	}
	return db
}

func prepare(b *testing.B, db *sql.DB, query string) *sql.Stmt {
	st, err := db.Prepare(query)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	return st
}

// BenchmarkSQLiteGet is the reference of BenchmarkDiskGet: a point select by key.
func BenchmarkSQLiteGet(b *testing.B) {
	sel := prepare(b, plainDB(b), `SELECT value FROM kv WHERE key = ?`)
	defer reportCPU(b)()
	for i := 0; b.Loop(); i++ {
		var v []byte
		if err := sel.QueryRowContext(b.Context(), []byte(benchKey(i))).Scan(&v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSQLiteSet is the reference of BenchmarkDiskSet: a one-row upsert of a 100-byte value,
// which writes one page per commit. The value changes at every write: SQLite does not write a page
// whose bytes an update leaves the same, so rewriting an equal value would measure an empty commit.
func BenchmarkSQLiteSet(b *testing.B) {
	ins := prepare(b, plainDB(b), `INSERT INTO kv (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`)
	defer reportCPU(b)()
	v := slices.Clone(benchValue)
	for i := 0; b.Loop(); i++ {
		binary.BigEndian.PutUint64(v, uint64(i))
		if _, err := ins.ExecContext(b.Context(), []byte(benchKey(i)), v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSQLiteSetIndexed is BenchmarkSQLiteSet with the two indexes a cache needs (expiry time,
// and store or use time for eviction) and both times changed at every write, as BenchmarkDiskSet
// does: the plain price of the disk backend's row shape (five pages per commit instead of one).
func BenchmarkSQLiteSetIndexed(b *testing.B) {
	db := plainDB(b, `CREATE INDEX kv_expire ON kv (expire_at) WHERE expire_at > 0`, `CREATE INDEX kv_used ON kv (used_at)`)
	ins := prepare(b, db, `INSERT INTO kv (key, value, expire_at, used_at) VALUES (?1, ?2, ?3, ?4)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, expire_at = excluded.expire_at, used_at = excluded.used_at`)
	defer reportCPU(b)()
	v := slices.Clone(benchValue)
	for i := 0; b.Loop(); i++ {
		binary.BigEndian.PutUint64(v, uint64(i))
		now := time.Now().UnixNano()
		if _, err := ins.ExecContext(b.Context(), []byte(benchKey(i)), v, now+int64(time.Hour), now); err != nil {
			b.Fatal(err)
		}
	}
}
