package memory

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cashews-go/cashews/backends"
)

func TestParams(t *testing.T) {
	defShards := max(16, 4*runtime.GOMAXPROCS(0))
	defShards = 1 << (bitsLen(defShards - 1))
	cases := []struct {
		url        string
		maxEntries int64
		maxBytes   int64
		interval   time.Duration // 0: no janitor
		shards     int
		copy       bool
	}{
		{"mem://", 0, 0, time.Minute, defShards, false},
		{"mem://?size=10000", 10000, 0, time.Minute, defShards, false},
		{"mem://?size=1_000", 1000, 0, time.Minute, defShards, false},
		{"mem://?size=0", 0, 0, time.Minute, defShards, false},
		{"mem://?max_bytes=64MiB", 0, 64 << 20, time.Minute, defShards, false},
		{"mem://?max_bytes=1gb", 0, 1e9, time.Minute, defShards, false},
		{"mem://?max_bytes=4096", 0, 4096, time.Minute, defShards, false},
		{"mem://?check_interval=30s", 0, 0, 30 * time.Second, defShards, false},
		{"mem://?check_interval=1d", 0, 0, 24 * time.Hour, defShards, false},
		{"mem://?check_interval=0", 0, 0, 0, defShards, false},
		{"mem://?shards=1", 0, 0, time.Minute, 1, false},
		{"mem://?shards=256", 0, 0, time.Minute, 256, false},
		{"mem://?shards=65536", 0, 0, time.Minute, 65536, false},
		{"mem://?copy=true", 0, 0, time.Minute, defShards, true},
		{"mem://?copy", 0, 0, time.Minute, defShards, true},
		{"mem://?copy=off", 0, 0, time.Minute, defShards, false},
		{"mem://?size=5&max_bytes=1KiB&check_interval=10s&shards=2&copy=1", 5, 1024, 10 * time.Second, 2, true},
	}
	for _, c := range cases {
		t.Run(c.url, func(t *testing.T) {
			u, p, err := backends.ParseURL(c.url)
			if err != nil {
				t.Fatal(err)
			}
			clock := newFakeClock()
			bk, err := open(backends.Config{URL: u, Params: p, Clock: clock})
			if err != nil {
				t.Fatalf("open(%s): %v", c.url, err)
			}
			defer bk.Close()
			if unused := p.Unused(); len(unused) != 0 {
				t.Errorf("parameters left untaken: %v", unused)
			}
			b := bk.(*Backend)
			if b.maxEntries != c.maxEntries {
				t.Errorf("max entries = %d, want %d", b.maxEntries, c.maxEntries)
			}
			if b.maxBytes != c.maxBytes {
				t.Errorf("max bytes = %d, want %d", b.maxBytes, c.maxBytes)
			}
			if len(b.shards) != c.shards {
				t.Errorf("shards = %d, want %d", len(b.shards), c.shards)
			}
			if b.copy != c.copy {
				t.Errorf("copy = %v, want %v", b.copy, c.copy)
			}
			if b.clock != clock {
				t.Errorf("clock = %v, want the Config's", b.clock)
			}
			if (b.done != nil) != (c.interval != 0) {
				t.Errorf("janitor running = %v, want %v", b.done != nil, c.interval != 0)
			}
			opts, err := parseParams(mustParams(t, c.url))
			if err != nil {
				t.Fatal(err)
			}
			wantInterval := c.interval
			if wantInterval == 0 {
				wantInterval = -1
			}
			if opts.CheckInterval != wantInterval {
				t.Errorf("CheckInterval = %v, want %v", opts.CheckInterval, wantInterval)
			}
		})
	}
}

func mustParams(t *testing.T, raw string) *backends.Params {
	t.Helper()
	_, p, err := backends.ParseURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParamsBad(t *testing.T) {
	cases := []struct{ url, param string }{
		{"mem://?size=-1", "size"},
		{"mem://?size=ten", "size"},
		{"mem://?size=1.5", "size"},
		{"mem://?max_bytes=-1", "max_bytes"},
		{"mem://?max_bytes=64XB", "max_bytes"},
		{"mem://?check_interval=soon", "check_interval"},
		{"mem://?check_interval=-1s", "check_interval"},
		{"mem://?check_interval=1ns", "check_interval"},
		{"mem://?shards=0", "shards"},
		{"mem://?shards=3", "shards"},
		{"mem://?shards=131072", "shards"},
		{"mem://?shards=many", "shards"},
		{"mem://?copy=maybe", "copy"},
	}
	for _, c := range cases {
		t.Run(c.url, func(t *testing.T) {
			u, p, err := backends.ParseURL(c.url)
			if err != nil {
				t.Fatal(err)
			}
			b, err := open(backends.Config{URL: u, Params: p})
			if err == nil {
				b.Close()
				t.Fatalf("open(%s) succeeded, want an error naming %s", c.url, c.param)
			}
			if !strings.Contains(err.Error(), c.param+"=") {
				t.Errorf("open(%s) error %q does not name the parameter %s", c.url, err, c.param)
			}
		})
	}
}

func TestParamsLeaveOthers(t *testing.T) {
	u, p, err := backends.ParseURL("mem://?size=10&suppress=true&secret=x")
	if err != nil {
		t.Fatal(err)
	}
	b, err := open(backends.Config{URL: u, Params: p})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := strings.Join(p.Unused(), ","); got != "secret,suppress" {
		t.Errorf("Unused() = %q, want the parameters the backend does not know (secret,suppress)", got)
	}
}

func TestRegistered(t *testing.T) {
	f, err := backends.Lookup("mem")
	if err != nil {
		t.Fatalf("Lookup(mem): %v", err)
	}
	b, err := f(backends.Config{}) // zero Config: no Params, no Clock
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !backends.StoresGoValues(b) {
		t.Error("mem:// does not store Go values by default")
	}
}

func TestNewNormalizesOptions(t *testing.T) {
	for _, c := range []struct{ in, want int }{{1, 1}, {3, 4}, {17, 32}, {1 << 20, MaxShards}} {
		b := New(Options{Shards: c.in, CheckInterval: -1})
		if len(b.shards) != c.want {
			t.Errorf("New(Shards: %d) has %d shards, want %d", c.in, len(b.shards), c.want)
		}
		b.Close()
	}
	b := New(Options{MaxEntries: -5, MaxBytes: -1, CheckInterval: -1, Clock: backends.SystemClock{}})
	defer b.Close()
	if b.maxEntries != 0 || b.maxBytes != 0 || b.clock != nil {
		t.Errorf("negative bounds or the system clock were not normalized: %d, %d, %v", b.maxEntries, b.maxBytes, b.clock)
	}
}

func bitsLen(n int) int {
	l := 0
	for n > 0 {
		l++
		n >>= 1
	}
	return l
}

// FuzzParams checks that no query makes the parser panic, and that what it accepts is valid.
func FuzzParams(f *testing.F) {
	for _, q := range []string{"", "size=10", "max_bytes=64MiB", "check_interval=1m", "check_interval=0",
		"shards=16", "copy=yes", "size=1&max_bytes=1&check_interval=1ms&shards=1&copy", "shards=-4", "max_bytes=9999999999TiB"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		_, p, err := backends.ParseURL("mem://?" + q)
		if err != nil {
			return
		}
		opts, err := parseParams(p)
		if err != nil {
			return
		}
		if opts.MaxEntries < 0 || opts.MaxBytes < 0 {
			t.Errorf("%q: negative bound %d, %d", q, opts.MaxEntries, opts.MaxBytes)
		}
		if opts.CheckInterval != -1 && opts.CheckInterval < time.Millisecond {
			t.Errorf("%q: check interval %v", q, opts.CheckInterval)
		}
		if n := opts.Shards; n < 0 || n > MaxShards || n&(n-1) != 0 {
			t.Errorf("%q: shards %d", q, n)
		}
	})
}

// TestURLTakesOnlyParams checks that a mem:// URL with a host, path or user part is refused rather
// than silently ignored, and that the refusal never echoes the user part.
func TestURLTakesOnlyParams(t *testing.T) {
	f, err := backends.Lookup("mem")
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{"mem://host", "mem:///some/path", "mem://user:hunter2@/", "mem://localhost:6379?size=10"} {
		u, params, err := backends.ParseURL(raw)
		if err != nil {
			t.Fatalf("ParseURL(%q): %v", raw, err)
		}
		b, err := f(backends.Config{URL: u, Params: params})
		if err == nil {
			b.Close()
			t.Errorf("mem factory took %q, want an error", raw)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error for %q echoes the password: %v", raw, err)
		}
	}
	for _, raw := range []string{"mem://", "mem:///", "mem://?size=10"} {
		u, params, err := backends.ParseURL(raw)
		if err != nil {
			t.Fatalf("ParseURL(%q): %v", raw, err)
		}
		b, err := f(backends.Config{URL: u, Params: params})
		if err != nil {
			t.Errorf("mem factory refused %q: %v", raw, err)
			continue
		}
		b.Close()
	}
}
