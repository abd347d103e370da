package disk_test

import (
	"database/sql"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/backends/disk"
)

// The benchmarks compare the disk backend with the plainest use of modernc.org/sqlite on the same
// machine in the same run: a point SELECT and a one-row INSERT on a WAL, synchronous=NORMAL file
// with the same table shape (a rowid table with a unique BLOB key), through database/sql with
// prepared statements. 1024 keys, 100-byte values.
//
//	go test ./backends/disk/ -run '^$' -bench 'Disk|SQLite' -benchtime 2s

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

// plainDB opens the reference: one SQLite file, WAL, synchronous=NORMAL.
func plainDB(b *testing.B) (*sql.DB, *sql.Stmt, *sql.Stmt) {
	path := filepath.Join(b.TempDir(), "plain.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(5000)")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE kv (id INTEGER PRIMARY KEY, key BLOB NOT NULL UNIQUE, value BLOB NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	sel, err := db.Prepare(`SELECT value FROM kv WHERE key = ?`)
	if err != nil {
		b.Fatal(err)
	}
	ins, err := db.Prepare(`INSERT INTO kv (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`)
	if err != nil {
		b.Fatal(err)
	}
	for i := range benchKeys {
		if _, err := ins.Exec([]byte(benchKey(i)), benchValue); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	return db, sel, ins
}

func BenchmarkSQLiteSelect(b *testing.B) {
	_, sel, _ := plainDB(b)
	defer reportCPU(b)()
	for i := 0; b.Loop(); i++ {
		var v []byte
		if err := sel.QueryRowContext(b.Context(), []byte(benchKey(i))).Scan(&v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSQLiteInsert(b *testing.B) {
	_, _, ins := plainDB(b)
	defer reportCPU(b)()
	for i := 0; b.Loop(); i++ {
		if _, err := ins.ExecContext(b.Context(), []byte(benchKey(i)), benchValue); err != nil {
			b.Fatal(err)
		}
	}
}
