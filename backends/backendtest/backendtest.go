// Package backendtest is the conformance kit for [backends.Backend], in the manner of
// testing/slogtest: one call runs the whole contract against a backend, so that every backend
// (memory, Redis with each client engine, Redis Cluster, client-side caching, disk) is held to the
// same semantics.
//
// The kit checks the core, [backends.Backend], on every backend, and each capability (an optional
// interface such as [backends.Counter] or [backends.Tagger]) where the backend implements it: a case
// that needs a capability the backend lacks is skipped, and says which.
//
// A backend's tests call [Run] with a [Harness] that opens a new, empty backend:
//
//	func TestConformance(t *testing.T) {
//		backendtest.Run(t, backendtest.Harness{
//			New: func(t testing.TB, clock backends.Clock) backends.Backend {
//				return memory.New(memory.Options{Clock: clock})
//			},
//		})
//	}
//
// A backend whose keys expire on a server's own clock (Redis) sets [Harness.RealTime]; the kit then
// lets keys expire with short real TTLs (100ms) and polls until a deadline, instead of moving a fake
// [Clock]:
//
//	backendtest.Run(t, backendtest.Harness{
//		New: func(t testing.TB, _ backends.Clock) backends.Backend {
//			b := openRedis(t, serverAddr) // flushes the test server's database
//			t.Cleanup(func() { b.Close() })
//			return b
//		},
//		RealTime: true,
//	})
//
// # Cases
//
// Each case is a subtest of the test that calls Run, named after the part of the contract it checks
// ("TTLExpires", "LockExpiry", "SliceIncrLimit"...). When a case fails, it logs the contract rule it
// checks next to the got/want messages. A backend that documents a limitation may skip a case by
// name with [Harness.Skip]; an unknown name there is an error, so stale skips are noticed.
//
// Values: a backend that implements [backends.GoValueStore] and reports true is tested with Go values
// (strings, ints, structs, nil, pointers kept as they are); any other backend is tested with []byte
// values only, the way the Cache uses it, and must return []byte values that the caller owns. After
// Incr, Get returns the counter as an int64 from a Go value store and as its decimal text
// ([]byte("42")) from a byte store.
//
// # Where the contract is silent
//
// The kit reads the contract in backends.Backend as follows, where its doc comments leave room:
//
//   - Locks, counters, sets, bit arrays and sliding windows are keys like any other: Exists, Delete,
//     DeleteMany, DeleteMatch, Scan, Expire, GetExpire and KeysCount see them, and SetIfAbsent or
//     SetLock on any of them does not write.
//   - Get on a set, and SetAdd or SetMembers on a plain value, fail with ErrWrongType; Incr on a set
//     fails with ErrWrongType or ErrNotInteger. GetMany reports a key that holds no value (a set, a
//     sliding window, a bit array in a store that keeps bit arrays apart from values) as not found,
//     as MGET does; a lock may be reported either way (not found, or its token).
//   - A counter is an integer of any Go integer type in a Go value store, and the canonical decimal
//     text of an int64 ("42", not "042" or "+42") in a byte store.
//   - CompareAndSwap (for a backend that implements backends.CompareAndSwapper) compares bytes: a
//     Go value store compares []byte and string values.
//   - ExtendLock with a TTL that is not positive fails with ErrInvalidArgument, as SetLock does.
//   - Set, SetMany, Incr, SetAdd and Expire with a negative TTL write nothing.
//   - SetAdd and SetRemove with no members return 0; SetPop with count 0 returns nothing.
//   - A member given twice to one SetAdd is one new member.
//   - Expired keys may be counted by KeysCount until the backend collects them; live keys are
//     counted exactly.
//   - Scan may yield a key more than once, and never yields a batch of more than ten times the batch
//     size asked for. With a cancelled context it must end with an error wrapping context.Canceled,
//     even if it was cancelled before it started; other commands may still complete under a
//     cancelled context.
//   - A reported TTL may be up to a second shorter than the exact remaining time.
//
// # Isolation
//
// Run calls New once per case, each time with a new [Clock], so a case that moves its clock does not
// disturb another. Every case uses keys under its own prefix ("backendtest:<run>:<case>:"), so cases
// sharing one store do not see each other's keys. The cases that read or clear the whole store
// (KeysCount, Clear) run first, one at a time, and the others then run in parallel; every call to
// New happens before any parallel case starts, so New may flush a shared store (a Redis test
// database), but nothing else may use that store while Run runs. New is called with the case's
// *testing.T, so t.TempDir and t.Cleanup work in it. The kit closes each backend when its case ends
// (Close is idempotent, so a Cleanup registered by New may close it again).
package backendtest

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"
	"testing"

	"github.com/cashews-go/cashews/backends"
)

// Harness tells [Run] how to open the backend under test and what to expect of it.
type Harness struct {
	// New returns a new, empty backend that reads time from clock (unless RealTime). It reports
	// its own failures with t.Fatal. Run closes the backend when the case ends.
	New func(t testing.TB, clock backends.Clock) backends.Backend

	// RealTime says the backend ignores the clock, because keys expire on a server's own clock
	// (Redis). The kit then lets keys expire with TTLs of 100ms and polls, for up to 5s each, until
	// the expiry shows; a check that a key is still there just before its TTL runs out counts only
	// if the check itself ended before the TTL.
	RealTime bool

	// Whether to test with Go values or []byte values is not a field: the kit asks the backend
	// (backends.StoresGoValues), so it tests what the Cache will rely on.

	// Skip maps the names of cases to skip to the reason, for backends that document a limitation.
	// Use it sparingly: every skipped case is a part of the contract the backend does not keep.
	Skip map[string]string
}

// testCase is one case of the contract.
type testCase struct {
	name string
	// needs names the capabilities (optional interfaces of package backends, space-separated) the
	// case uses besides the core Backend; Run skips the case on a backend that lacks one.
	needs string
	// rule is the contract rule the case checks, logged when it fails.
	rule string
	// exclusive cases read or clear the whole store: they run one at a time, before the others.
	exclusive bool
	run       func(e *env)
}

// Run runs every case of the contract against the backends h.New returns, each as a subtest of t.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil {
		t.Fatal("backendtest: Harness.New is nil")
	}
	for _, c := range cases {
		for _, n := range strings.Fields(c.needs) {
			if !slices.Contains(capabilities, n) {
				t.Fatalf("backendtest: case %s needs %q, which is not a capability", c.name, n)
			}
		}
	}
	for name := range h.Skip {
		if !slices.ContainsFunc(cases, func(c testCase) bool { return c.name == name }) {
			t.Errorf("backendtest: Harness.Skip names %q, which is not a case (cases: %v)", name, CaseNames())
		}
	}
	run := runID()
	ordered := slices.Clone(cases)
	slices.SortStableFunc(ordered, func(a, b testCase) int {
		switch {
		case a.exclusive == b.exclusive:
			return 0
		case a.exclusive:
			return -1
		}
		return 1
	})
	for _, c := range ordered {
		t.Run(c.name, func(t *testing.T) {
			if reason, ok := h.Skip[c.name]; ok {
				t.Skip("skipped by the harness: " + reason)
			}
			e := newEnv(t, h, "backendtest:"+run+":"+c.name+":")
			if m := e.b.missing(c.needs); m != "" {
				t.Skipf("the backend does not implement backends.%s", m)
			}
			if !c.exclusive {
				t.Parallel()
			}
			defer func() {
				if t.Failed() {
					t.Logf("contract: %s", c.rule)
				}
			}()
			c.run(e)
		})
	}
}

// CaseNames returns the names of the cases Run runs, in the order they are declared.
func CaseNames() []string {
	names := make([]string, len(cases))
	for i, c := range cases {
		names[i] = c.name
	}
	return names
}

// runID returns a random name for one call of Run, so that runs sharing a store use different keys.
func runID() string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}
