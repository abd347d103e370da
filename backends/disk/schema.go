package disk

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	sqlite "modernc.org/sqlite"
)

// The file format. Every shard file carries applicationID in its header (PRAGMA application_id),
// formatVersion as its user_version, and the metadata table cashews_meta with the shard count and
// its own index, so that a foreign database, a file of another format version, a renamed shard or a
// directory opened with another shard count is refused at setup instead of misread.
const (
	applicationID = 0x63736877 // "cshw"
	formatVersion = 3
	formatName    = "cashews-disk"
)

// Format versions: 1 had no tags; 2 adds cashews_tags and the tagged column; 3 indexes the expiry and
// store (or use) times by second instead of by nanosecond (expire_bucket, used_bucket). migrate brings
// a file of an older version to the current one in place.

// bucketShift makes the buckets of the indexes: a time in Unix nanoseconds t falls in bucket t >> 30,
// about 1.07 s. Indexing the bucket instead of the time means that a Set of a key written a moment
// ago (the same bucket) moves no index entry: the row's own page is all it writes, where an index
// on the time itself moved two entries per index on every Set (five pages per commit instead of
// one). Queries stay exact: they find the candidates by bucket and check the time itself; the
// eviction order sorts the oldest bucket's entries by their exact time.
const bucketShift = 30

// expireBucketSQL and usedBucketSQL compute the buckets of an expiry x (0: none, which has bucket 0;
// every other expiry has a bucket of at least 1) and of a store or use time x.
func expireBucketSQL(x string) string {
	return fmt.Sprintf("(CASE WHEN %s > 0 THEN (%s >> %d) + 1 ELSE 0 END)", x, x, bucketShift)
}

func usedBucketSQL(x string) string { return fmt.Sprintf("(%s >> %d)", x, bucketShift) }

// The kinds of entry, in the kind column. A string holds bytes (values, counters, locks and bit
// arrays, as Redis strings do); a set keeps its members in cashews_members; a window holds the
// timestamps of the sliding-window counter, 8 bytes each, in ascending order.
const (
	kindString = 0
	kindSet    = 1
	kindWindow = 2
)

// schema creates a shard (format version 1, which migrate brings to the current version). Sizes are
// tracked by triggers in cashews_stats so that the size limit and KeysCount cost one row read; size
// is len(key) plus the payload (value bytes, or the members of a set). Entries live in a rowid table
// with the key in a unique index: values can be large, and a WITHOUT ROWID table would copy them
// into its interior pages.
var schema = []string{
	`CREATE TABLE cashews_meta (
		name  TEXT PRIMARY KEY NOT NULL,
		value TEXT NOT NULL
	) WITHOUT ROWID`,
	`CREATE TABLE cashews_stats (
		id    INTEGER PRIMARY KEY CHECK (id = 0),
		count INTEGER NOT NULL,
		size  INTEGER NOT NULL
	)`,
	`INSERT INTO cashews_stats (id, count, size) VALUES (0, 0, 0)`,
	`CREATE TABLE cashews_entries (
		id        INTEGER PRIMARY KEY,
		key       BLOB NOT NULL UNIQUE,
		kind      INTEGER NOT NULL,
		expire_at INTEGER NOT NULL,
		used_at   INTEGER NOT NULL,
		size      INTEGER NOT NULL,
		value     BLOB NOT NULL
	)`,
	`CREATE INDEX cashews_entries_expire ON cashews_entries (expire_at) WHERE expire_at > 0`,
	`CREATE INDEX cashews_entries_used ON cashews_entries (used_at)`,
	`CREATE TABLE cashews_members (
		key    BLOB NOT NULL,
		member BLOB NOT NULL,
		PRIMARY KEY (key, member)
	) WITHOUT ROWID`,
	`CREATE TRIGGER cashews_entries_insert AFTER INSERT ON cashews_entries BEGIN
		UPDATE cashews_stats SET count = count + 1, size = size + new.size WHERE id = 0;
	END`,
	`CREATE TRIGGER cashews_entries_delete AFTER DELETE ON cashews_entries BEGIN
		UPDATE cashews_stats SET count = count - 1, size = size - old.size WHERE id = 0;
	END`,
	`CREATE TRIGGER cashews_entries_resize AFTER UPDATE OF size ON cashews_entries WHEN old.size <> new.size BEGIN
		UPDATE cashews_stats SET size = size - old.size + new.size WHERE id = 0;
	END`,
	`CREATE TRIGGER cashews_set_delete AFTER DELETE ON cashews_entries WHEN old.kind = 1 BEGIN
		DELETE FROM cashews_members WHERE key = old.key;
	END`,
	`CREATE TRIGGER cashews_set_retype AFTER UPDATE OF kind ON cashews_entries WHEN old.kind = 1 AND new.kind <> 1 BEGIN
		DELETE FROM cashews_members WHERE key = old.key;
	END`,
}

// tagSchema is what format version 2 adds (with the tagged column of cashews_entries): the tags of each key, in the key's own shard, so that a
// tagged write, a delete and a DeleteTags are each one transaction of one shard. A key's tags go by
// trigger whenever its entry goes (deleted, culled, evicted, cleared) or is rewritten untagged
// (tagged set back to 0); commands that change an entry in place leave tagged alone, and so its tags.
var tagSchema = []string{
	`CREATE TABLE cashews_tags (
		tag BLOB NOT NULL,
		key BLOB NOT NULL,
		PRIMARY KEY (tag, key)
	) WITHOUT ROWID`,
	`CREATE INDEX cashews_tags_key ON cashews_tags (key)`,
	`CREATE TRIGGER cashews_tags_delete AFTER DELETE ON cashews_entries WHEN old.tagged <> 0 BEGIN
		DELETE FROM cashews_tags WHERE key = old.key;
	END`,
	`CREATE TRIGGER cashews_tags_untag AFTER UPDATE OF tagged ON cashews_entries WHEN old.tagged <> 0 AND new.tagged = 0 BEGIN
		DELETE FROM cashews_tags WHERE key = old.key;
	END`,
}

// bucketSchema is what format version 3 adds, after the buckets of the existing rows are filled in:
// the indexes on the buckets in place of the indexes on the times, and the triggers that keep the
// buckets right. The triggers fire only when a write moves a time to another bucket (or inserts a
// row whose buckets are wrong, as a process of version 2 does), so a write in the same bucket costs
// nothing more; processes of version 2 that still have the file open keep the buckets right through
// them.
func bucketSchema() []string {
	eb, ub := expireBucketSQL("new.expire_at"), usedBucketSQL("new.used_at")
	return []string{
		`DROP INDEX IF EXISTS cashews_entries_expire`,
		`DROP INDEX IF EXISTS cashews_entries_used`,
		`CREATE INDEX cashews_entries_expire_bucket ON cashews_entries (expire_bucket) WHERE expire_bucket > 0`,
		`CREATE INDEX cashews_entries_used_bucket ON cashews_entries (used_bucket)`,
		`CREATE TRIGGER cashews_buckets_insert AFTER INSERT ON cashews_entries
			WHEN new.expire_bucket <> ` + eb + ` OR new.used_bucket <> ` + ub + ` BEGIN
			UPDATE cashews_entries SET expire_bucket = ` + eb + `, used_bucket = ` + ub + ` WHERE id = new.id;
		END`,
		`CREATE TRIGGER cashews_expire_bucket AFTER UPDATE OF expire_at ON cashews_entries
			WHEN new.expire_bucket <> ` + eb + ` BEGIN
			UPDATE cashews_entries SET expire_bucket = ` + eb + ` WHERE id = new.id;
		END`,
		`CREATE TRIGGER cashews_used_bucket AFTER UPDATE OF used_at ON cashews_entries
			WHEN new.used_bucket <> ` + ub + ` BEGIN
			UPDATE cashews_entries SET used_bucket = ` + ub + ` WHERE id = new.id;
		END`,
	}
}

// migrations[v] brings a file of format version v to version v+1, in the transaction of migrate.
var migrations = map[int]func() []string{
	1: func() []string {
		return append([]string{`ALTER TABLE cashews_entries ADD COLUMN tagged INTEGER NOT NULL DEFAULT 0`}, tagSchema...)
	},
	2: func() []string {
		return append([]string{
			`ALTER TABLE cashews_entries ADD COLUMN expire_bucket INTEGER NOT NULL DEFAULT 0`,
			`ALTER TABLE cashews_entries ADD COLUMN used_bucket INTEGER NOT NULL DEFAULT 0`,
			`UPDATE cashews_entries SET expire_bucket = ` + expireBucketSQL("expire_at") + `, used_bucket = ` + usedBucketSQL("used_at"),
		}, bucketSchema()...)
	},
}

// shardName returns the file name of shard i.
func shardName(i int) string { return fmt.Sprintf("shard-%03d.db", i) }

// dsn returns the modernc.org/sqlite data source name of a shard file. The write pool begins every
// transaction with BEGIN IMMEDIATE, so that a transaction that reads and then writes never fails
// with SQLITE_BUSY when another process wrote in between: it waits for the lock (up to the busy
// timeout) before it reads.
func dsn(path string, o Options, write bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(o.BusyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "synchronous("+strings.ToUpper(o.Synchronous.String())+")")
	if o.CacheSize > 0 {
		kib := max(o.CacheSize/1024, 1)
		q.Add("_pragma", "cache_size(-"+strconv.FormatInt(kib, 10)+")")
	}
	if o.MmapSize > 0 {
		q.Add("_pragma", "mmap_size("+strconv.FormatInt(o.MmapSize, 10)+")")
	}
	if write {
		q.Set("_txlock", "immediate")
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	p := filepath.ToSlash(path)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // file:///C:/dir on Windows
	}
	return "file:" + (&url.URL{Path: p}).EscapedPath() + "?" + q.Encode()
}

// setupError is the error for a shard file that cannot be used.
func setupError(path, what string, err error) error {
	if err != nil {
		return fmt.Errorf("cashews: disk: shard file %s %s: %w", path, what, err)
	}
	return fmt.Errorf("cashews: disk: shard file %s %s", path, what)
}

// isDamaged reports whether err is SQLite's "file is not a database" or "database disk image
// is malformed".
func isDamaged(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case 26, 11: // SQLITE_NOTADB, SQLITE_CORRUPT
			return true
		}
	}
	return false
}

// setupBusyWait is the least time openShard waits for other processes that set up the same file,
// whatever the busy timeout: processes started together must all open the cache.
const setupBusyWait = 10 * time.Second

// prepareFileWaiting is prepareFile, tried again while another process holds a lock the setup
// needs. SQLite does not call its busy handler for every such lock: switching a new file to WAL
// needs the file to itself and fails at once with SQLITE_BUSY while another process creates the
// schema or switches it first. So the setup backs off (1 ms doubling to 50 ms, with jitter) and
// tries again, for up to the busy timeout or setupBusyWait, whichever is longer.
func prepareFileWaiting(ctx context.Context, conn *sql.Conn, path string, index, create int, busyTimeout time.Duration) (int, error) {
	deadline := time.Now().Add(max(busyTimeout, setupBusyWait))
	wait := time.Millisecond
	for {
		n, err := prepareFile(ctx, conn, path, index, create)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return n, err
		}
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, err
		case <-t.C:
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// prepareFile checks the shard file through conn, creates its schema when the file is new, and
// returns the shard count recorded in it. create is the count to record in a new file.
func prepareFile(ctx context.Context, conn *sql.Conn, path string, index, create int) (int, error) {
	// One statement reads the three in one snapshot: another process may be creating the file.
	inspect := func() (appID, version, tables int, err error) {
		err = conn.QueryRowContext(ctx, `SELECT (SELECT application_id FROM pragma_application_id),
			(SELECT user_version FROM pragma_user_version), (SELECT count(*) FROM sqlite_schema)`).Scan(&appID, &version, &tables)
		return
	}
	appID, version, tables, err := inspect()
	if err != nil {
		if isDamaged(err) {
			return 0, setupError(path, "is damaged or not an SQLite database; remove it (the cache will start empty)", err)
		}
		return 0, setupError(path, "cannot be read", err)
	}
	if err := checkHeader(path, appID, version, tables); err != nil {
		return 0, err
	}
	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		return 0, setupError(path, "cannot switch to WAL journal mode", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return 0, setupError(path, fmt.Sprintf("is in journal mode %q, not WAL (is the file system one that SQLite cannot share memory on, such as NFS?)", mode), nil)
	}
	if appID == 0 {
		if err := createSchema(ctx, conn, path, index, create); err != nil {
			return 0, err
		}
	} else if version < formatVersion {
		if err := migrate(ctx, conn, path); err != nil {
			return 0, err
		}
	}
	rows, err := conn.QueryContext(ctx, "SELECT name, value FROM cashews_meta")
	if err != nil {
		return 0, setupError(path, "has no readable metadata", err)
	}
	meta := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return 0, setupError(path, "has no readable metadata", err)
		}
		meta[k] = v
	}
	if err := rows.Close(); err != nil {
		return 0, setupError(path, "has no readable metadata", err)
	}
	if meta["format"] != formatName {
		return 0, setupError(path, fmt.Sprintf("has format %q in its metadata, not %q", meta["format"], formatName), nil)
	}
	shards, err := strconv.Atoi(meta["shards"])
	if err != nil || shards < 1 || shards > MaxShards {
		return 0, setupError(path, fmt.Sprintf("has a bad shard count %q in its metadata", meta["shards"]), nil)
	}
	if got := meta["shard"]; got != strconv.Itoa(index) {
		return 0, setupError(path, fmt.Sprintf("says it is shard %q, not shard %d: was it renamed or copied from another directory?", got, index), nil)
	}
	var stats int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM cashews_stats").Scan(&stats); err != nil || stats != 1 {
		if err == nil {
			err = fmt.Errorf("%d rows in cashews_stats, want 1", stats)
		}
		return 0, setupError(path, "has damaged statistics", err)
	}
	return shards, nil
}

// checkHeader refuses a file that another program made, or another version of this package.
func checkHeader(path string, appID, version, tables int) error {
	switch {
	case appID == 0 && tables > 0:
		return setupError(path, fmt.Sprintf("is an SQLite database of another program (%d tables, application_id 0); refusing to touch it: use another directory", tables), nil)
	case appID != 0 && appID != applicationID:
		return setupError(path, fmt.Sprintf("is an SQLite database of another program (application_id %#x); refusing to touch it: use another directory", uint32(appID)), nil)
	case appID == applicationID && (version < 1 || version > formatVersion):
		return setupError(path, fmt.Sprintf("has cache format version %d; this version of cashews reads versions 1 to %d: remove the directory or use another", version, formatVersion), nil)
	}
	return nil
}

// createSchema creates the tables of a new shard file in one transaction. Two processes may create
// the same directory at once: the transaction takes the write lock first, and the loser finds the
// schema made.
func createSchema(ctx context.Context, conn *sql.Conn, path string, index, shards int) error {
	tx, err := conn.BeginTx(ctx, nil) // BEGIN IMMEDIATE (see dsn)
	if err != nil {
		return setupError(path, "cannot be created", err)
	}
	defer tx.Rollback()
	var appID, tables int
	if err := tx.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return setupError(path, "cannot be read", err)
	}
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&tables); err != nil {
		return setupError(path, "cannot be read", err)
	}
	if appID == applicationID {
		return nil // another process made it
	}
	if err := checkHeader(path, appID, formatVersion, tables); err != nil {
		return err
	}
	// The schema of version 1 and the migrations after it: a new file is made as an old one is
	// migrated, so that both end the same.
	stmts := append([]string(nil), schema...)
	for v := 1; v < formatVersion; v++ {
		stmts = append(stmts, migrations[v]()...)
	}
	stmts = append(stmts,
		fmt.Sprintf("INSERT INTO cashews_meta (name, value) VALUES ('format', '%s'), ('shards', '%d'), ('shard', '%d')", formatName, shards, index),
		fmt.Sprintf("PRAGMA application_id = %d", applicationID),
		fmt.Sprintf("PRAGMA user_version = %d", formatVersion),
	)
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return setupError(path, "cannot be created", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return setupError(path, "cannot be created", err)
	}
	return nil
}

// migrate brings a shard file of an older format version to the current version in one transaction.
// Two processes may open the file at once: the transaction takes the write lock first, and the later
// one finds the file migrated. A process of an older version that still has the file open keeps
// working: version 1 leaves the tagged column at its default, which at worst keeps a key's tags after
// it rewrote the key (the key is then deleted by a DeleteTags it no longer needed to be: never the
// other way round); version 2 writes times that the triggers of version 3 file in their buckets, and
// reads them with queries that no longer have their index (slower, still right).
func migrate(ctx context.Context, conn *sql.Conn, path string) error {
	fail := func(err error) error {
		return setupError(path, "cannot be migrated to format version "+strconv.Itoa(formatVersion), err)
	}
	tx, err := conn.BeginTx(ctx, nil) // BEGIN IMMEDIATE (see dsn)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return setupError(path, "cannot be read", err)
	}
	if version >= formatVersion {
		return nil // another process migrated it
	}
	var stmts []string
	for v := version; v < formatVersion; v++ {
		stmts = append(stmts, migrations[v]()...)
	}
	stmts = append(stmts, fmt.Sprintf("PRAGMA user_version = %d", formatVersion))
	for _, st := range stmts {
		if _, err := tx.ExecContext(ctx, st); err != nil {
			return fail(fmt.Errorf("%s: %w", strings.Fields(st)[0], err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	return nil
}
