package backendtest

import (
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cashews-go/cashews/backends"
)

// mutantEnv names the deliberate bug the reference backend gets, in the subprocesses of
// TestKitCatchesMutants.
const mutantEnv = "BACKENDTEST_REF_MUTANT"

func refHarness(bytes, realTime bool) Harness {
	return Harness{
		New: func(t testing.TB, clock backends.Clock) backends.Backend {
			if realTime {
				clock = backends.SystemClock{}
			}
			b := newRef(clock, bytes, os.Getenv(mutantEnv))
			t.Cleanup(func() { _ = b.Close() }) // Close is idempotent: the kit closes it too
			return b
		},
		RealTime: realTime,
	}
}

// TestRefBackend runs the kit against the reference backend in each mode the kit knows, and against
// its core alone (CoreOnly: every capability hidden, as a minimal third-party backend has).
func TestRefBackend(t *testing.T) {
	t.Run("GoValues", func(t *testing.T) { Run(t, refHarness(false, false)) })
	t.Run("Bytes", func(t *testing.T) { Run(t, refHarness(true, false)) })
	t.Run("BytesRealTime", func(t *testing.T) { Run(t, refHarness(true, true)) })
	t.Run("CoreOnly", func(t *testing.T) {
		h := refHarness(true, false)
		open := h.New
		h.New = func(t testing.TB, clock backends.Clock) backends.Backend { return coreOnly{open(t, clock)} }
		Run(t, h)
	})
}

// coreOnly hides every capability of the backend it holds: only the methods of backends.Backend
// are left.
type coreOnly struct{ backends.Backend }

// TestKitSkipsMissingCapabilities runs the kit against a core-only backend in a subprocess and
// checks that it runs the cases of the core and skips the others, naming what is missing.
func TestKitSkipsMissingCapabilities(t *testing.T) {
	if os.Getenv(mutantEnv) != "" {
		t.Skip("running as a mutant subprocess")
	}
	if testing.Short() {
		t.Skip("runs the kit in a subprocess")
	}
	out, err := exec.Command(os.Args[0], "-test.run=^TestRefBackend$/^CoreOnly$", "-test.count=1", "-test.v").CombinedOutput()
	if err != nil {
		t.Fatalf("the kit failed a core-only backend: %v\n%s", err, out)
	}
	for _, c := range cases {
		prefix := "--- PASS: "
		if c.needs != "" {
			prefix = "--- SKIP: "
		}
		if !strings.Contains(string(out), prefix+"TestRefBackend/CoreOnly/"+c.name+" ") {
			t.Errorf("case %s (needs %q) on a core-only backend: no %q line, want one\n%s", c.name, c.needs, prefix, out)
		}
	}
	for _, iface := range []string{"Batcher", "Counter", "Locker", "SetStore", "BitStore", "SlidingWindow", "Pinger", "Admin", "Tagger"} {
		if !strings.Contains(string(out), "the backend does not implement backends."+iface) {
			t.Errorf("no case skipped for lack of backends.%s, want the skip to name it", iface)
		}
	}
}

// TestKitCatchesMutants breaks the reference backend in one way at a time, runs the kit against it
// in a subprocess, and checks that the kit fails, in the case meant to catch the bug.
func TestKitCatchesMutants(t *testing.T) {
	if os.Getenv(mutantEnv) != "" {
		t.Skip("running as a mutant subprocess")
	}
	if testing.Short() {
		t.Skip("runs the kit in subprocesses")
	}
	for _, m := range []struct {
		mutant, harness, cases string // cases: the cases that must fail, "|"-separated
	}{
		{"unlock-ignores-token", "GoValues", "Lock|LockExpiry"},
		{"expired-still-found", "GoValues", "TTLExpires|SetManyGetMany|LockExpiry|SetTTL"},
		{"incr-resets-ttl", "GoValues", "IncrTTL"},
		{"setadd-counts-all", "GoValues", "SetAddRemove"},
		{"match-prefix", "GoValues", "DeleteMatch|ScanPatterns"},
		{"scan-ignores-ctx", "GoValues", "ScanCancel"},
		{"close-twice-fails", "GoValues", "Close"},
		{"window-keeps-boundary", "GoValues", "SliceIncrBoundary"},
		{"bits-wrap", "GoValues", "BitsSaturate"},
		{"ttl-uncapped", "GoValues", "LongTTL"},
		{"ttl-wraps", "GoValues", "LongTTL"},
		{"ttl-wraps", "BytesRealTime", "LongTTL"},
		{"bits-lsb-first", "GoValues", "BitsLayout"},
		{"sliceincr-zero-limit", "GoValues", "SliceIncrInvalid"},
		{"setifabsent-always", "GoValues", "SetModes|SetIfAbsentRace"},
		{"setpop-keeps", "GoValues", "SetPop"},
		{"no-byte-copy", "Bytes", "ByteValuesOwned"},
		{"incr-only-int64", "GoValues", "IncrSeededBySet"},
		{"incr-loose-text", "Bytes", "IncrSeededBySet"},
		{"getmany-fails-on-set", "GoValues", "GetManyNonValues"},
		{"getmany-fails-on-set", "BytesRealTime", "GetManyNonValues"},
		{"cas-ignores-old", "Bytes", "CompareAndSwap"},
		{"cas-drops-ttl", "GoValues", "CompareAndSwap"},
		{"ints-as-int64", "GoValues", "ValuesKeepTheirType"},
		{"delete-keeps-tags", "GoValues", "TagsDelete|TagsLeaveNothing"},
		{"set-keeps-tags", "GoValues", "TagsOverwrite|TagsLeaveNothing"},
		{"expire-drops-tags", "GoValues", "TagsExpire"},
		{"expired-keeps-tags", "GoValues", "TagsExpire"},
		{"orphan-tags", "GoValues", "TagsLeaveNothing"},
		{"tags-race", "GoValues", "TagsConcurrent"},
		{"delete-keeps-tags", "BytesRealTime", "TagsDelete"},
		{"window-keeps-over-limit", "GoValues", "SliceIncrLowerLimit"},
		{"unlock-ignores-token", "BytesRealTime", "LockExpiry"},
		{"setifabsent-always", "CoreOnly", "SetIfAbsentRace"},
		{"expired-still-found", "CoreOnly", "Expire"},
	} {
		t.Run(m.mutant+"/"+m.harness, func(t *testing.T) {
			run := "^TestRefBackend$/^" + m.harness + "$/^(" + m.cases + ")$"
			cmd := exec.Command(os.Args[0], "-test.run="+run, "-test.count=1")
			cmd.Env = append(os.Environ(), mutantEnv+"="+m.mutant)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("the kit passed a backend with the bug %q (err = %v), want it to fail\n%s", m.mutant, err, out)
			}
			for _, c := range strings.Split(m.cases, "|") {
				if !strings.Contains(string(out), "--- FAIL: TestRefBackend/"+m.harness+"/"+c+" ") {
					t.Errorf("with the bug %q, case %s did not fail, want it to\n%s", m.mutant, c, out)
				}
			}
			if !strings.Contains(string(out), "contract: ") {
				t.Errorf("with the bug %q, no failing case logged its contract rule", m.mutant)
			}
		})
	}
}

// TestGlobCases checks the kit's own pattern table against backends.Match.
func TestGlobCases(t *testing.T) {
	for _, gc := range globCases {
		var got []string
		for _, k := range globKeys {
			if backends.Match(gc.pattern, k) {
				got = append(got, k)
			}
		}
		if !sameSet(got, gc.want) {
			t.Errorf("keys matching %q = %q, want the table's %q", gc.pattern, got, gc.want)
		}
	}
}

func TestClock(t *testing.T) {
	c := NewClock()
	if got := c.Now(); !got.Equal(ClockStart) {
		t.Errorf("NewClock().Now() = %v, want %v", got, ClockStart)
	}
	if got, want := c.Advance(time.Minute), ClockStart.Add(time.Minute); !got.Equal(want) || !c.Now().Equal(want) {
		t.Errorf("Advance(1m) = %v, Now() = %v, want %v", got, c.Now(), want)
	}
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	c.Set(at)
	if got := c.Now(); !got.Equal(at) {
		t.Errorf("after Set(%v), Now() = %v", at, got)
	}
	parallel(8, func(int) { c.Advance(time.Second) })
	if got, want := c.Now(), at.Add(8*time.Second); !got.Equal(want) {
		t.Errorf("after 8 concurrent Advance(1s), Now() = %v, want %v", got, want)
	}
}

// TestCaseNames checks the names Harness.Skip is checked against.
func TestCaseNames(t *testing.T) {
	if !slices.Contains(CaseNames(), "Lock") || slices.Contains(CaseNames(), "NoSuchCase") {
		t.Fatalf("CaseNames() = %v, want it to list the cases", CaseNames())
	}
	names := map[string]bool{}
	for _, n := range CaseNames() {
		if names[n] {
			t.Errorf("case name %q appears twice", n)
		}
		names[n] = true
	}
}

func BenchmarkRefBackend(b *testing.B) {
	b.Run("GoValues", func(b *testing.B) { Bench(b, refHarness(false, false)) })
	b.Run("Bytes", func(b *testing.B) { Bench(b, refHarness(true, false)) })
}
