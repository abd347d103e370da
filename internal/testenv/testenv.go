// Package testenv holds the switches that the tests of every package share.
//
// Tests that assert wall-clock bounds on faults (a call that must fail within 100 ms while a server
// is frozen, a breaker that must close within 1 s of a restart) measure the machine as much as the
// code: on a loaded laptop they fail for reasons of its own. They run only when the environment
// variable [TimingEnv] is 1, as .ci/run sets it; `go test ./...` without it skips them and stays
// deterministic.
package testenv

import (
	"os"
	"testing"
)

// TimingEnv is the environment variable that turns on the tests asserting wall-clock bounds.
const TimingEnv = "CASHEWS_TIMING_TESTS"

// Timing reports whether the wall-clock tests are turned on.
func Timing() bool { return os.Getenv(TimingEnv) == "1" }

// RequireTiming skips t unless the wall-clock tests are turned on.
func RequireTiming(t testing.TB) {
	t.Helper()
	if !Timing() {
		t.Skipf("asserts wall-clock bounds on faults: runs only with %s=1 (set by .ci/run)", TimingEnv)
	}
}
