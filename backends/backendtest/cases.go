package backendtest

// cases is the contract, one entry per subtest of Run.
var cases = []testCase{
	// Whole-store cases: they run first, one at a time.
	{name: "KeysCount", exclusive: true, run: testKeysCount,
		rule: "KeysCount counts every live key (values, sets, counters, locks) exactly; a new backend is empty; an expired key may be counted only until it is collected"},
	{name: "Clear", exclusive: true, run: testClear,
		rule: "Clear removes every key of every kind, and the backend stays usable"},

	// Values and TTLs.
	{name: "Miss", run: testMiss,
		rule: "a miss is never an error: reads of a missing key report (nil/zero, false) with a nil error and create nothing"},
	{name: "SetGet", run: testSetGet,
		rule: "Get returns what Set stored (a byte store: []byte, an empty value is a hit; a Go value store: any value, a stored nil is Found with a nil Value); Set overwrites"},
	{name: "ByteValuesOwned", run: testByteValuesOwned,
		rule: "a byte store copies the []byte it is given and returns []byte values the caller owns"},
	{name: "GoValuesKept", run: testGoValuesKept,
		rule: "a Go value store keeps values as they are: Get returns the very value (the same pointer) Set stored"},
	{name: "TTLZero", run: testTTLZero,
		rule: "a TTL of zero means the key never expires: GetExpire reports NoExpiration"},
	{name: "TTLExpires", run: testTTLExpires,
		rule: "a key set with a TTL is found until the TTL runs out, and is missing after it (Get, Exists, GetExpire, GetMany, SetIfAbsent, SetIfPresent agree)"},
	{name: "SetReplacesTTL", run: testSetReplacesTTL,
		rule: "Set stores the value with the TTL it is given, replacing the key's previous TTL"},
	{name: "LongTTL", run: testLongTTL,
		rule: "a TTL or window longer than backends.MaxTTL (up to time.Duration(math.MaxInt64)) is taken as MaxTTL by every command: values, counters, sets, locks and sliding windows stay, a held lock is not granted to another owner, GetExpire reports at most MaxTTL"},
	{name: "NegativeTTL", run: testNegativeTTL,
		rule: "a negative TTL is rejected with an error wrapping ErrInvalidArgument, and nothing is written"},
	{name: "SetModes", run: testSetModes,
		rule: "SetIfAbsent writes only when the key is missing, SetIfPresent only when it is present; Set reports whether it wrote"},
	{name: "SetIfAbsentRace", run: testSetIfAbsentRace,
		rule: "SetIfAbsent is atomic: of goroutines racing on one missing key, exactly one writes"},
	{name: "SetManyGetMany", run: testSetManyGetMany,
		rule: "SetMany stores every item with its own TTL; GetMany returns one Entry per key, in the order of the keys"},

	// Keys.
	{name: "ExistsDelete", run: testExistsDelete,
		rule: "Exists reports presence; Delete removes a key and reports whether it was present"},
	{name: "DeleteMany", run: testDeleteMany,
		rule: "DeleteMany removes the keys and returns how many were present"},
	{name: "KeyKinds", run: testKeyKinds,
		rule: "values, sets, counters, locks, bit arrays and sliding windows share one keyspace: Exists, Delete, DeleteMatch, Scan, Expire and GetExpire see them all"},
	{name: "KeysOpaque", run: testKeysOpaque,
		rule: "a key is any string: glob characters, spaces and non-ASCII text are stored as they are"},
	{name: "DeleteMatch", run: testDeleteMatch,
		rule: "DeleteMatch removes exactly the keys matching the glob pattern (backends.Match rules) and returns how many"},
	{name: "DeleteMatchMany", run: testDeleteMatchMany,
		rule: "DeleteMatch works through keyspaces larger than one batch and removes every matching key"},
	{name: "ScanPatterns", run: testScanPatterns,
		rule: "Scan yields every key matching the glob pattern (backends.Match rules) and no other key"},
	{name: "ScanMany", run: testScanMany,
		rule: "Scan yields every matching key of a large keyspace, in batches of about the batch size"},
	{name: "ScanBreak", run: testScanBreak,
		rule: "Scan can be stopped early with break, and the backend stays usable (Scan holds no lock after it returns)"},
	{name: "ScanWhileWriting", run: testScanWhileWriting,
		rule: "the body of a Scan loop may write to the backend; a key present for the whole scan is yielded"},
	{name: "ScanCancel", run: testScanCancel,
		rule: "Scan honours its context: once the context is cancelled, the sequence yields an error wrapping context.Canceled and ends"},

	// Counters.
	{name: "Incr", run: testIncr,
		rule: "Incr adds by (which may be negative) to the integer at key, counting a missing key from zero; Get then returns the counter"},
	{name: "IncrTTL", run: testIncrTTL,
		rule: "Incr gives a TTL only to the key it creates; an existing key keeps its TTL (or its lack of one)"},
	{name: "IncrNotInteger", run: testIncrNotInteger,
		rule: "Incr on a value that is not an integer fails with an error wrapping ErrNotInteger and leaves the value alone"},
	{name: "IncrConcurrent", run: testIncrConcurrent,
		rule: "Incr is atomic: concurrent increments are all counted"},

	// Expiry.
	{name: "Expire", run: testExpire,
		rule: "Expire sets the TTL of an existing key (zero removes it) and reports whether the key exists; GetExpire reports (0,false) for a missing key, NoExpiration for a key without TTL, and a positive TTL no longer than the one set"},

	// Misc.
	{name: "Ping", run: testPing,
		rule: "Ping succeeds on a working backend"},
	{name: "ValueSize", run: testValueSize,
		rule: "ValueSize is positive for a stored value (at least its length for []byte) and 0 for a missing key"},

	// Locks.
	{name: "Lock", run: testLock,
		rule: "SetLock takes a free lock only; Unlock releases it only for the token that holds it; IsLocked reports whether it is held"},
	{name: "LockExpiry", run: testLockExpiry,
		rule: "a lock expires after its TTL; then another token can take it, and the old owner can neither unlock nor extend it"},
	{name: "ExtendLock", run: testExtendLock,
		rule: "ExtendLock sets the lock's TTL only for the token that holds it"},
	{name: "LockInvalidTTL", run: testLockInvalidTTL,
		rule: "a lock TTL must be positive: zero or negative is an error wrapping ErrInvalidArgument"},
	{name: "LockOnValue", run: testLockOnValue,
		rule: "SetLock takes the lock only when the key is absent: a key holding a value is not overwritten"},
	{name: "LockRace", run: testLockRace,
		rule: "SetLock is atomic: of goroutines racing for one free lock, exactly one wins"},

	// Sets.
	{name: "SetAddRemove", run: testSetAddRemove,
		rule: "SetAdd returns how many members were new; SetRemove how many were present; SetMembers returns every member; a missing key is an empty set"},
	{name: "SetPop", run: testSetPop,
		rule: "SetPop removes and returns up to count distinct members of the set"},
	{name: "SetTTL", run: testSetTTL,
		rule: "SetAdd with ttl > 0 makes the set expire no earlier than ttl from now, keeping a later expiry; with ttl == 0 a new set never expires"},
	{name: "SetWrongType", run: testSetWrongType,
		rule: "a command meeting a key of another kind fails with an error wrapping ErrWrongType (Get on a set, SetAdd on a value)"},

	// Bits.
	{name: "Bits", run: testBits,
		rule: "IncrBits adds to unsigned counters of size bits at the given indexes and returns their new values; GetBits reads them; a missing key reads as zeros; neighbouring counters are independent"},
	{name: "BitsSaturate", run: testBitsSaturate,
		rule: "IncrBits saturates at 2^size-1 and at 0"},
	{name: "BitsInvalid", run: testBitsInvalid,
		rule: "a bit size outside 1..63 or a negative index is an error wrapping ErrInvalidArgument"},
	{name: "BitsLargeIndex", run: testBitsLargeIndex,
		rule: "counters at large indexes (1,000,000) work"},

	// Sliding windows.
	{name: "SliceIncrLimit", run: testSliceIncrLimit,
		rule: "SliceIncr records an event only while fewer than limit events are in (now-window, now], and forgets older events"},
	{name: "SliceIncrBoundary", run: testSliceIncrBoundary,
		rule: "the window is (now-window, now]: an event exactly at now-window is forgotten, one just after it is counted"},
	{name: "SliceIncrConcurrent", run: testSliceIncrConcurrent,
		rule: "SliceIncr is atomic: racing calls record exactly limit events, even at the same instant"},
	{name: "SliceIncrExpiry", run: testSliceIncrExpiry,
		rule: "a sliding-window key expires window after its last event"},

	// Lifecycle.
	{name: "Context", run: testContext,
		rule: "with a cancelled or expired context a command either completes or fails with an error wrapping the context's error; it never hangs"},
	{name: "Close", run: testClose,
		rule: "Close is idempotent and safe to call concurrently; after Close every command fails with an error wrapping ErrClosed"},
	{name: "Concurrency", run: testConcurrency,
		rule: "every method is safe for concurrent use (run the kit with -race)"},
}
