package disk_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/backends/disk"
)

func parse(t testing.TB, raw string) (disk.Options, []string, error) {
	t.Helper()
	u, params, err := backends.ParseURL(raw)
	if err != nil {
		return disk.Options{}, nil, err
	}
	o, err := disk.ParseURL(u, params)
	return o, params.Unused(), err
}

func TestParseURL(t *testing.T) {
	def := disk.Options{SizeLimit: disk.DefaultSizeLimit, BusyTimeout: disk.DefaultBusyTimeout,
		CullLimit: disk.DefaultCullLimit, CheckInterval: disk.DefaultCheckInterval, Readers: disk.DefaultReaders}
	with := func(f func(o *disk.Options)) disk.Options {
		o := def
		f(&o)
		return o
	}
	for _, tc := range []struct {
		url  string
		want disk.Options
	}{
		{"disk://", def},
		{"disk:///", def},
		{"disk:///var/cache/app", with(func(o *disk.Options) { o.Dir = filepath.FromSlash("/var/cache/app") })},
		{"disk://localhost/var/cache/app", with(func(o *disk.Options) { o.Dir = filepath.FromSlash("/var/cache/app") })},
		{"disk://./cache", with(func(o *disk.Options) { o.Dir = filepath.FromSlash("./cache") })},
		{"disk://../cache/x", with(func(o *disk.Options) { o.Dir = filepath.FromSlash("../cache/x") })},
		{"disk:cache", with(func(o *disk.Options) { o.Dir = "cache" })},
		{"disk:///tmp/a%20b", with(func(o *disk.Options) { o.Dir = filepath.FromSlash("/tmp/a b") })},
		{"disk://?directory=/tmp/c", with(func(o *disk.Options) { o.Dir = "/tmp/c" })},
		{"disk://?shards=16", with(func(o *disk.Options) { o.Shards = 16 })},
		{"disk://?size_limit=64MiB", with(func(o *disk.Options) { o.SizeLimit = 64 << 20 })},
		{"disk://?size_limit=1gb", with(func(o *disk.Options) { o.SizeLimit = 1e9 })},
		{"disk://?size_limit=0", with(func(o *disk.Options) { o.SizeLimit = -1; o.Eviction = disk.NoEviction })},
		{"disk://?eviction=none", with(func(o *disk.Options) { o.SizeLimit = -1; o.Eviction = disk.NoEviction })},
		{"disk://?eviction=least-recently-used", with(func(o *disk.Options) { o.Eviction = disk.LeastRecentlyUsed })},
		{"disk://?eviction=lru", with(func(o *disk.Options) { o.Eviction = disk.LeastRecentlyUsed })},
		{"disk://?eviction=least-recently-stored", def},
		{"disk://?eviction=lrs", def},
		{"disk://?busy_timeout=250ms", with(func(o *disk.Options) { o.BusyTimeout = 250 * time.Millisecond })},
		{"disk://?busy_timeout=0", with(func(o *disk.Options) { o.BusyTimeout = -1 })},
		{"disk://?timeout=10ms", with(func(o *disk.Options) { o.Timeout = 10 * time.Millisecond })},
		{"disk://?synchronous=full", with(func(o *disk.Options) { o.Synchronous = disk.SyncFull })},
		{"disk://?synchronous=off", with(func(o *disk.Options) { o.Synchronous = disk.SyncOff })},
		{"disk://?synchronous=extra", with(func(o *disk.Options) { o.Synchronous = disk.SyncExtra })},
		{"disk://?synchronous=normal", def},
		{"disk://?cull_limit=10", with(func(o *disk.Options) { o.CullLimit = 10 })},
		{"disk://?check_interval=1d", with(func(o *disk.Options) { o.CheckInterval = 24 * time.Hour })},
		{"disk://?check_interval=0", with(func(o *disk.Options) { o.CheckInterval = -1 })},
		{"disk://?mmap_size=64MiB", with(func(o *disk.Options) { o.MmapSize = 64 << 20 })},
		{"disk://?cache_size=8MiB", with(func(o *disk.Options) { o.CacheSize = 8 << 20 })},
		{"disk://?readers=2", with(func(o *disk.Options) { o.Readers = 2 })},
	} {
		t.Run(tc.url, func(t *testing.T) {
			got, unused, err := parse(t, tc.url)
			if err != nil {
				t.Fatalf("ParseURL(%q): %v", tc.url, err)
			}
			if got != tc.want {
				t.Errorf("ParseURL(%q) =\n%+v\nwant\n%+v", tc.url, got, tc.want)
			}
			if len(unused) != 0 {
				t.Errorf("ParseURL(%q) left %q unused", tc.url, unused)
			}
		})
	}
}

func TestParseURLErrors(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"disk://host/dir", `host "host"`},
		{"disk://user@/dir", "user name"},
		{"disk:///a?directory=/b", "directory twice"},
		{"disk://?directory=", "want a directory"},
		{"disk://?shards=0", "shards"},
		{"disk://?shards=257", "shards"},
		{"disk://?shards=x", "shards"},
		{"disk://?size_limit=-1", "size_limit"},
		{"disk://?size_limit=1XB", "size_limit"},
		{"disk://?eviction=random", "eviction"},
		{"disk://?eviction=none&size_limit=1GiB", "contradict"},
		{"disk://?eviction=lru&size_limit=0", "contradict"},
		{"disk://?busy_timeout=-1s", "busy_timeout"},
		{"disk://?timeout=soon", "timeout"},
		{"disk://?synchronous=always", "synchronous"},
		{"disk://?cull_limit=0", "cull_limit"},
		{"disk://?check_interval=-1m", "check_interval"},
		{"disk://?mmap_size=lots", "mmap_size"},
		{"disk://?cache_size=-5", "cache_size"},
		{"disk://?readers=0", "readers"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			_, _, err := parse(t, tc.url)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseURL(%q) error = %v, want one naming %q", tc.url, err, tc.want)
			}
		})
	}
}

// TestUnknownParamLeftOver checks that the parser takes only its own parameters, so that the Cache
// reports the others (and keeps its common ones, such as suppress, for itself).
func TestUnknownParamLeftOver(t *testing.T) {
	_, unused, err := parse(t, "disk:///tmp/x?shards=2&suppress=true&secret=s&colour=red")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(unused, ",") != "colour,secret,suppress" {
		t.Errorf("unused = %q, want [colour secret suppress]", unused)
	}
}

func TestFactoryRegistered(t *testing.T) {
	f, err := backends.Lookup("disk")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	u, params, err := backends.ParseURL("disk://" + filepath.ToSlash(dir) + "?shards=3&size_limit=1MiB")
	if err != nil {
		t.Fatal(err)
	}
	b, err := f(backends.Config{URL: u, Params: params, Clock: newClock(), Logger: nil})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := b.(*disk.Backend).Shards(); got != 3 {
		t.Errorf("Shards() = %d, want 3", got)
	}
	if got := b.(*disk.Backend).Dir(); got != dir {
		t.Errorf("Dir() = %q, want %q", got, dir)
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"disk://", "disk:///a/b?shards=4", "disk://./c?size_limit=1GiB&eviction=lru",
		"disk:x?timeout=1s&busy_timeout=0", "disk://h/x", "disk:///?directory=%00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, params, err := backends.ParseURL(raw)
		if err != nil {
			return
		}
		o, err := disk.ParseURL(u, params)
		if err != nil {
			return
		}
		if o.Shards < 0 || o.Shards > disk.MaxShards || o.CullLimit < 1 || o.Readers < 1 {
			t.Errorf("ParseURL(%q) accepted out-of-range options %+v", raw, o)
		}
		if o.Eviction == disk.NoEviction && o.SizeLimit > 0 {
			t.Errorf("ParseURL(%q) = a size limit with no eviction: %+v", raw, o)
		}
	})
}

// TestFactoryUnknownParamCreatesNothing checks that a URL with a parameter nobody knows fails before
// the factory creates its directory.
func TestFactoryUnknownParamCreatesNothing(t *testing.T) {
	f, err := backends.Lookup("disk")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "typo")
	u, params, err := backends.ParseURL("disk://" + filepath.ToSlash(dir) + "?shards=2&shrads=3")
	if err != nil {
		t.Fatal(err)
	}
	b, err := f(backends.Config{URL: u, Params: params, Clock: newClock()})
	if err == nil {
		b.Close()
		t.Fatal("the factory took the unknown parameter shrads, want an error naming it")
	}
	if !strings.Contains(err.Error(), "shrads") {
		t.Errorf("error %q does not name the unknown parameter shrads", err)
	}
	if _, statErr := os.Stat(dir); !os.IsNotExist(statErr) {
		t.Errorf("the factory created %s before rejecting the URL (stat: %v)", dir, statErr)
	}
}
