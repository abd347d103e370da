package bench

import (
	"context"
	"database/sql"
	"encoding/binary"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/cashews-go/cashews"
	_ "github.com/cashews-go/cashews/backends/disk"
)

// The disk workload: 1,024 keys holding 100-byte values, a Zipf (s = 1.01) trace of 2^16 keys over
// them (seed 17). Ours is disk:// through the Cache with its defaults (8 shard files, WAL,
// synchronous=normal) and codec=raw. The floor is the plainest use of modernc.org/sqlite: one file,
// WAL, synchronous=NORMAL, a rowid table with a unique BLOB key, prepared statements through
// database/sql, a point SELECT and a one-row upsert that changes the value (each its own transaction), up to 4
// connections (our shards have 4 readers each). The files are in the test's temporary directory.
const diskKeys = 1024

var (
	diskTrace = sync.OnceValue(func() Trace { return NewTrace(17, 1<<16, diskKeys, 1.01, "bench:") })
	diskValue = []byte(strings.Repeat("v", 100))
)

type diskStore struct {
	get func(ctx context.Context, key string) ([]byte, bool, error)
	set func(ctx context.Context, key string, v []byte) error
}

func openCashewsDisk(b *testing.B) diskStore {
	c := cashews.New()
	b.Cleanup(func() { c.Close() })
	if err := c.Setup("disk://" + b.TempDir() + "?codec=raw"); err != nil {
		b.Fatal(err)
	}
	return diskStore{
		get: func(ctx context.Context, key string) ([]byte, bool, error) { return cashews.Get[[]byte](ctx, c, key) },
		set: func(ctx context.Context, key string, v []byte) error {
			_, err := c.Set(ctx, key, v, TTL)
			return err
		},
	}
}

func openPlainSQLite(b *testing.B) diskStore {
	path := filepath.Join(b.TempDir(), "plain.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(5000)")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
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
	return diskStore{
		get: func(ctx context.Context, key string) ([]byte, bool, error) {
			var v []byte
			err := sel.QueryRowContext(ctx, []byte(key)).Scan(&v)
			if err == sql.ErrNoRows {
				return nil, false, nil
			}
			return v, err == nil, err
		},
		set: func(ctx context.Context, key string, v []byte) error {
			_, err := ins.ExecContext(ctx, []byte(key), v)
			return err
		},
	}
}

func BenchmarkDisk(b *testing.B) {
	tr := diskTrace()
	mask := len(tr.Keys) - 1
	ctx := context.Background()
	stores := []struct {
		name string
		open func(*testing.B) diskStore
	}{{"cashews-disk", openCashewsDisk}, {"sqlite", openPlainSQLite}}
	for _, opName := range []string{"Get", "Set"} {
		b.Run(opName, func(b *testing.B) {
			for _, st := range stores {
				b.Run(st.name, func(b *testing.B) {
					s := st.open(b)
					for _, k := range tr.Names {
						if err := s.set(ctx, k, diskValue); err != nil {
							b.Fatal(err)
						}
					}
					if opName == "Get" {
						modes(b, runtime.GOMAXPROCS(0), func(i int) (bool, bool) {
							_, found, err := s.get(ctx, tr.Keys[i&mask])
							if err != nil {
								b.Fatal(err)
							}
							return found, true
						})
						return
					}
					// Writes are serialized by SQLite (one writer per file); only one goroutine. The
					// value changes at every write (its first 8 bytes count them): SQLite does not write
					// a page whose bytes an update leaves the same, so an equal value would time an
					// empty commit for the plain upsert.
					v := slices.Clone(diskValue)
					b.Run("seq", func(b *testing.B) {
						seq(b, func(i int) (bool, bool) {
							binary.BigEndian.PutUint64(v, uint64(i))
							if err := s.set(ctx, tr.Keys[i&mask], v); err != nil {
								b.Fatal(err)
							}
							return false, false
						})
					})
				})
			}
		})
	}
}
