package disk_test

import (
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"modernc.org/sqlite"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/backends/disk"
)

// TestBusyErrors holds the write lock of one shard from another connection (as another process
// would) and runs the commands that write to it: each fails, once busy_timeout passes, with an error
// that matches backends.ErrUnavailable, keeps SQLite's own error, and names the shard and the key.
func TestBusyErrors(t *testing.T) {
	dir := t.TempDir()
	b := openT(t, disk.Options{Dir: dir, Shards: 4, BusyTimeout: 20 * time.Millisecond})
	const key = "user:42"
	shard := disk.ShardIndex(key, 4)
	path := filepath.Join(dir, fmt.Sprintf("shard-%03d.db", shard))
	db, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()

	ctx := t.Context()
	for _, tt := range []struct {
		name  string
		call  func() error
		noKey bool // the command is about several keys
	}{
		{"Set", func() error { _, err := b.Set(ctx, key, []byte("v"), 0, backends.SetAlways); return err }, false},
		{"Incr", func() error { _, err := b.Incr(ctx, key, 1, 0); return err }, false},
		{"Expire", func() error { _, err := b.Expire(ctx, key, time.Minute); return err }, false},
		{"Delete", func() error { _, err := b.Delete(ctx, key); return err }, false},
		{"SetAdd", func() error { _, err := b.SetAdd(ctx, key, 0, "m"); return err }, false},
		{"SetLock", func() error { _, err := b.SetLock(ctx, key, "token", time.Minute); return err }, false},
		{"SliceIncr", func() error { _, _, err := b.SliceIncr(ctx, key, time.Now(), time.Minute, 5); return err }, false},
		{"SetMany", func() error {
			return b.SetMany(ctx, []backends.Item{{Key: key, Value: []byte("v")}})
		}, true},
		{"DeleteMany", func() error { _, err := b.DeleteMany(ctx, []string{key}); return err }, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errors.Is(err, backends.ErrUnavailable) {
				t.Fatalf("error = %v; want one matching backends.ErrUnavailable", err)
			}
			var se *sqlite.Error
			if !errors.As(err, &se) {
				t.Errorf("error = %v; want it to keep SQLite's error", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, fmt.Sprintf("shard %d", shard)) || !strings.Contains(msg, path) {
				t.Errorf("error = %q; want it to name shard %d and its file %s", msg, shard, path)
			}
			if !tt.noKey && !strings.Contains(msg, `"`+key+`"`) {
				t.Errorf("error = %q; want it to name the key %q", msg, key)
			}
		})
	}
	// Other errors are not ErrUnavailable.
	tx.Rollback()
	if _, err := b.Set(ctx, key, []byte("abc"), 0, backends.SetAlways); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Incr(ctx, key, 1, 0); !errors.Is(err, backends.ErrNotInteger) || errors.Is(err, backends.ErrUnavailable) {
		t.Errorf("Incr on a string = %v; want ErrNotInteger and not ErrUnavailable", err)
	}
}
