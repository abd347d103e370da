package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/internal/redistest"
	"github.com/cashews-go/cashews/internal/testenv"
)

// TestCommands checks the Redis-specific parts of every command on each engine: how values, nil,
// WRONGTYPE and integer errors cross the boundary, the Lua scripts, and what lands in Redis.
func TestCommands(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			srv := server(t)
			b := e.open(t, srv.URL())
			ctx := testCtx(t)
			testCommands(t, ctx, b, srv)
		})
	}
}

func testCommands(t *testing.T, ctx context.Context, b *Backend, srv *redistest.Server) {
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	// Values are bytes; Get returns a copy the caller owns.
	ok, err := b.Set(ctx, "v", []byte("hello"), time.Minute, backends.SetAlways)
	if err != nil || !ok {
		t.Fatalf("Set: got %v, %v; want true, nil", ok, err)
	}
	v, found, err := b.Get(ctx, "v")
	if err != nil || !found || string(v.([]byte)) != "hello" {
		t.Fatalf("Get: got %q, %v, %v; want hello, true, nil", v, found, err)
	}
	v.([]byte)[0] = 'J'
	if v2, _, _ := b.Get(ctx, "v"); string(v2.([]byte)) != "hello" {
		t.Fatalf("Get after mutating a returned value: got %q, want hello", v2)
	}
	if got := srv.MustDo("GET", "v"); got != "hello" {
		t.Fatalf("GET in Redis: got %v, want hello", got)
	}
	if ttl := srv.MustDo("PTTL", "v").(int64); ttl <= 0 || ttl > 60000 {
		t.Fatalf("PTTL after Set with 1m: got %d, want (0, 60000]", ttl)
	}
	ok, err = b.Set(ctx, "empty", []byte{}, 0, backends.SetAlways)
	must(err)
	if v, found, _ := b.Get(ctx, "empty"); !ok || !found || len(v.([]byte)) != 0 {
		t.Fatalf("empty value: got %v, %v; want an empty []byte, found", v, found)
	}
	if _, err := b.Set(ctx, "x", 42, 0, backends.SetAlways); !errors.Is(err, backends.ErrInvalidArgument) {
		t.Fatalf("Set of an int: got %v, want ErrInvalidArgument", err)
	}
	if _, err := b.Set(ctx, "x", []byte("1"), -time.Second, backends.SetAlways); !errors.Is(err, backends.ErrInvalidArgument) {
		t.Fatalf("Set with a negative TTL: got %v, want ErrInvalidArgument", err)
	}
	if _, found, err := b.Get(ctx, "missing"); found || err != nil {
		t.Fatalf("Get of a missing key: got %v, %v; want false, nil", found, err)
	}
	// A sub-millisecond TTL is rounded up, never to "no expiry".
	_, err = b.Set(ctx, "short", []byte("x"), time.Microsecond, backends.SetAlways)
	must(err)
	if !eventually(time.Second, func() bool { _, f, _ := b.Get(ctx, "short"); return !f }) {
		t.Fatal("a key set with a 1µs TTL is still there after 1s")
	}

	// Set modes.
	ok, err = b.Set(ctx, "v", []byte("other"), 0, backends.SetIfAbsent)
	if err != nil || ok {
		t.Fatalf("SetIfAbsent on a present key: got %v, %v; want false, nil", ok, err)
	}
	ok, err = b.Set(ctx, "nokey", []byte("x"), 0, backends.SetIfPresent)
	if err != nil || ok {
		t.Fatalf("SetIfPresent on a missing key: got %v, %v; want false, nil", ok, err)
	}

	// WRONGTYPE crosses as ErrWrongType.
	if _, err := b.SetAdd(ctx, "set", 0, "a", "b"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Get(ctx, "set"); !errors.Is(err, backends.ErrWrongType) || !strings.Contains(err.Error(), `"set"`) {
		t.Fatalf("Get of a set: got %v, want ErrWrongType naming the key", err)
	}
	if _, err := b.SetAdd(ctx, "v", 0, "a"); !errors.Is(err, backends.ErrWrongType) {
		t.Fatalf("SetAdd on a string: got %v, want ErrWrongType", err)
	}
	// GetMany reports a key that holds no value as not found, as MGET does.
	if es, err := b.GetMany(ctx, []string{"v", "set"}); err != nil || len(es) != 2 || !es[0].Found || es[1].Found {
		t.Fatalf("GetMany over a value and a set: got %v, %v; want the value found and the set not found", es, err)
	}

	// Incr: decimal text, TTL only on create, ErrNotInteger, overflow.
	n, err := b.Incr(ctx, "n", 5, time.Minute)
	if err != nil || n != 5 {
		t.Fatalf("Incr: got %d, %v; want 5, nil", n, err)
	}
	srv.MustDo("PEXPIRE", "n", "500000")
	n, err = b.Incr(ctx, "n", -7, time.Minute)
	if err != nil || n != -2 {
		t.Fatalf("Incr by -7: got %d, %v; want -2, nil", n, err)
	}
	if ttl := srv.MustDo("PTTL", "n").(int64); ttl <= 60000 {
		t.Fatalf("PTTL after Incr on an existing key: got %d, want the key's own TTL (> 60000) kept", ttl)
	}
	if got := srv.MustDo("GET", "n"); got != "-2" {
		t.Fatalf("counter in Redis: got %v, want -2", got)
	}
	if v, _, _ := b.Get(ctx, "n"); string(v.([]byte)) != "-2" {
		t.Fatalf("Get of a counter: got %q, want -2", v)
	}
	if _, err := b.Incr(ctx, "n0", 1, 0); err != nil || srv.MustDo("PTTL", "n0").(int64) != -1 {
		t.Fatalf("Incr without TTL: err %v, PTTL %v; want nil, -1", err, srv.MustDo("PTTL", "n0"))
	}
	if _, err := b.Incr(ctx, "v", 1, 0); !errors.Is(err, backends.ErrNotInteger) {
		t.Fatalf("Incr of text: got %v, want ErrNotInteger", err)
	}
	if _, err := b.Incr(ctx, "v", 1, time.Minute); !errors.Is(err, backends.ErrNotInteger) {
		t.Fatalf("Incr of text with TTL (script): got %v, want ErrNotInteger", err)
	}
	if _, err := b.Incr(ctx, "set", 1, time.Minute); !errors.Is(err, backends.ErrWrongType) {
		t.Fatalf("Incr of a set: got %v, want ErrWrongType", err)
	}
	srv.MustDo("SET", "big", strconv.FormatInt(1<<63-1, 10))
	if _, err := b.Incr(ctx, "big", 1, 0); !errors.Is(err, backends.ErrInvalidArgument) {
		t.Fatalf("Incr past MaxInt64: got %v, want ErrInvalidArgument", err)
	}

	// Scripts survive SCRIPT FLUSH (EVALSHA falls back to EVAL).
	srv.MustDo("SCRIPT", "FLUSH")
	if n, err := b.Incr(ctx, "n", 2, time.Minute); err != nil || n != 0 {
		t.Fatalf("Incr after SCRIPT FLUSH: got %d, %v; want 0, nil", n, err)
	}

	// Expire and GetExpire.
	ok, err = b.Expire(ctx, "v", 0)
	if err != nil || !ok || srv.MustDo("PTTL", "v").(int64) != -1 {
		t.Fatalf("Expire 0: got %v, %v, PTTL %v; want true, nil, -1", ok, err, srv.MustDo("PTTL", "v"))
	}
	if ok, err := b.Expire(ctx, "missing", 0); ok || err != nil {
		t.Fatalf("Expire 0 of a missing key: got %v, %v; want false, nil", ok, err)
	}
	if ttl, found, err := b.GetExpire(ctx, "v"); ttl != backends.NoExpiration || !found || err != nil {
		t.Fatalf("GetExpire without TTL: got %v, %v, %v; want NoExpiration, true, nil", ttl, found, err)
	}
	if ok, err := b.Expire(ctx, "v", 90*time.Second); !ok || err != nil {
		t.Fatalf("Expire 90s: got %v, %v; want true, nil", ok, err)
	}
	if ttl, found, err := b.GetExpire(ctx, "v"); !found || err != nil || ttl <= 89*time.Second || ttl > 90*time.Second {
		t.Fatalf("GetExpire: got %v, %v, %v; want about 90s", ttl, found, err)
	}

	// Locks.
	ok, err = b.SetLock(ctx, "lock", "me", time.Minute)
	if !ok || err != nil {
		t.Fatalf("SetLock: got %v, %v; want true, nil", ok, err)
	}
	if ok, _ := b.Unlock(ctx, "lock", "you"); ok {
		t.Fatal("Unlock by another token: got true, want false")
	}
	if ok, _ := b.ExtendLock(ctx, "lock", "you", time.Hour); ok {
		t.Fatal("ExtendLock by another token: got true, want false")
	}
	if ok, err := b.ExtendLock(ctx, "lock", "me", time.Hour); !ok || err != nil || srv.MustDo("PTTL", "lock").(int64) < 3000000 {
		t.Fatalf("ExtendLock: got %v, %v (PTTL %v); want true, nil, about 1h", ok, err, srv.MustDo("PTTL", "lock"))
	}
	if ok, _ := b.Unlock(ctx, "set", "me"); ok {
		t.Fatal("Unlock of a set: got true, want false")
	}
	if ok, err := b.Unlock(ctx, "lock", "me"); !ok || err != nil {
		t.Fatalf("Unlock: got %v, %v; want true, nil", ok, err)
	}
	if _, err := b.SetLock(ctx, "lock", "me", 0); !errors.Is(err, backends.ErrInvalidArgument) {
		t.Fatalf("SetLock with TTL 0: got %v, want ErrInvalidArgument", err)
	}

	// SetAdd's TTL rule.
	if _, err := b.SetAdd(ctx, "s", time.Minute, "a"); err != nil {
		t.Fatal(err)
	}
	pttl := func(k string) int64 { return srv.MustDo("PTTL", k).(int64) }
	if p := pttl("s"); p <= 0 || p > 60000 {
		t.Fatalf("new set with 1m: PTTL %d, want (0, 60000]", p)
	}
	b.SetAdd(ctx, "s", time.Second, "b")
	if p := pttl("s"); p <= 50000 {
		t.Fatalf("SetAdd with a shorter TTL: PTTL %d, want the later expiry kept", p)
	}
	b.SetAdd(ctx, "s", time.Hour, "c")
	if p := pttl("s"); p <= 3000000 {
		t.Fatalf("SetAdd with a longer TTL: PTTL %d, want about 1h", p)
	}
	b.SetAdd(ctx, "s", 0, "d")
	if p := pttl("s"); p != -1 {
		t.Fatalf("SetAdd with TTL 0: PTTL %d, want -1 (no expiry)", p)
	}
	b.SetAdd(ctx, "s", time.Minute, "e")
	if p := pttl("s"); p != -1 {
		t.Fatalf("SetAdd with a TTL on a set without expiry: PTTL %d, want -1 kept", p)
	}
	many := make([]string, 2500)
	for i := range many {
		many[i] = "m" + strconv.Itoa(i)
	}
	if n, err := b.SetAdd(ctx, "big-set", 0, many...); n != 2500 || err != nil {
		t.Fatalf("SetAdd of 2500 members: got %d, %v; want 2500, nil", n, err)
	}
	members, err := b.SetMembers(ctx, "s")
	slices.Sort(members)
	if err != nil || !slices.Equal(members, []string{"a", "b", "c", "d", "e"}) {
		t.Fatalf("SetMembers: got %v, %v; want [a b c d e]", members, err)
	}
	if n, err := b.SetRemove(ctx, "s", "a", "zz"); n != 1 || err != nil {
		t.Fatalf("SetRemove: got %d, %v; want 1, nil", n, err)
	}
	popped, err := b.SetPop(ctx, "s", 10)
	if err != nil || len(popped) != 4 {
		t.Fatalf("SetPop 10 of 4: got %v, %v; want 4 members", popped, err)
	}
	if m, err := b.SetMembers(ctx, "s"); len(m) != 0 || err != nil || m == nil {
		t.Fatalf("SetMembers of a missing set: got %#v, %v; want an empty slice", m, err)
	}

	// Bits.
	if _, err := b.GetBits(ctx, "bits", 64, 0); !errors.Is(err, backends.ErrInvalidArgument) {
		t.Fatalf("GetBits size 64: got %v, want ErrInvalidArgument", err)
	}
	if _, err := b.GetBits(ctx, "bits", 8, 1<<29); !errors.Is(err, backends.ErrInvalidArgument) {
		t.Fatalf("GetBits past 2^32 bits: got %v, want ErrInvalidArgument", err)
	}
	got, err := b.IncrBits(ctx, "bits", 4, 9, 0, 3, 3)
	if err != nil || !slices.Equal(got, []int64{9, 9, 15}) {
		t.Fatalf("IncrBits 4-bit by 9 at 0,3,3: got %v, %v; want [9 9 15]", got, err)
	}
	got, err = b.IncrBits(ctx, "bits", 4, -10, 0)
	if err != nil || !slices.Equal(got, []int64{0}) {
		t.Fatalf("IncrBits by -10: got %v, %v; want [0]", got, err)
	}
	got, err = b.GetBits(ctx, "bits", 4, 0, 1, 3, 1000)
	if err != nil || !slices.Equal(got, []int64{0, 0, 15, 0}) {
		t.Fatalf("GetBits: got %v, %v; want [0 0 15 0]", got, err)
	}
	got, err = b.IncrBits(ctx, "bits63", 63, 1<<62, 2)
	got2, _ := b.IncrBits(ctx, "bits63", 63, 1<<62, 2)
	if err != nil || got[0] != 1<<62 || got2[0] != 1<<63-1 {
		t.Fatalf("IncrBits u63: got %v then %v, %v; want 2^62 then 2^63-1", got, got2, err)
	}
	b.SetAdd(ctx, "aset", 0, "x")
	if _, err := b.GetBits(ctx, "aset", 4, 0); !errors.Is(err, backends.ErrWrongType) {
		t.Fatalf("GetBits of a set: got %v, want ErrWrongType", err)
	}

	// The sliding window.
	now := time.Now()
	for i := 0; i < 4; i++ {
		count, rec, err := b.SliceIncr(ctx, "win", now.Add(time.Duration(i)*time.Millisecond), time.Minute, 3)
		wantCount, wantRec := int64(min(i+1, 3)), i < 3
		if err != nil || count != wantCount || rec != wantRec {
			t.Fatalf("SliceIncr #%d: got %d, %v, %v; want %d, %v, nil", i, count, rec, err, wantCount, wantRec)
		}
	}
	if p := pttl("win"); p <= 0 || p > 60000 {
		t.Fatalf("window key PTTL: got %d, want (0, 60000]", p)
	}
	count, rec, err := b.SliceIncr(ctx, "win", now.Add(time.Minute), time.Minute, 3)
	if err != nil || count != 3 || !rec {
		t.Fatalf("SliceIncr one window later: got %d, %v, %v; want 3 (events at +1ms, +2ms and now), true", count, rec, err)
	}
	if _, _, err := b.SliceIncr(ctx, "v", now, time.Minute, 3); !errors.Is(err, backends.ErrWrongType) {
		t.Fatalf("SliceIncr on a string: got %v, want ErrWrongType", err)
	}

	// Sizes and counts.
	if n, err := b.ValueSize(ctx, "v"); err != nil || n < 5 {
		t.Fatalf("ValueSize: got %d, %v; want at least 5 (MEMORY USAGE)", n, err)
	}
	if n, err := b.ValueSize(ctx, "missing"); err != nil || n != 0 {
		t.Fatalf("ValueSize of a missing key: got %d, %v; want 0, nil", n, err)
	}
	dbsize := srv.MustDo("DBSIZE").(int64)
	if n, err := b.KeysCount(ctx); n != dbsize || err != nil {
		t.Fatalf("KeysCount: got %d, %v; want DBSIZE %d", n, err, dbsize)
	}

	// Scan and DeleteMatch, including patterns without wildcards and escapes.
	items := []backends.Item{}
	for i := 0; i < 250; i++ {
		items = append(items, backends.Item{Key: fmt.Sprintf("user:%d", i), Value: []byte("u")})
	}
	items = append(items, backends.Item{Key: "lit*eral", Value: []byte("x")}, backends.Item{Key: "literal", Value: []byte("x")})
	must(b.SetMany(ctx, items))
	var seen []string
	for keys, err := range b.Scan(ctx, "user:*", 40) {
		must(err)
		if len(keys) > 40 {
			t.Fatalf("Scan batch of %d keys, want at most 40", len(keys))
		}
		seen = append(seen, keys...)
	}
	slices.Sort(seen)
	seen = slices.Compact(seen)
	if len(seen) != 250 {
		t.Fatalf("Scan user:*: got %d distinct keys, want 250", len(seen))
	}
	var lit []string
	for keys, err := range b.Scan(ctx, `lit\*eral`, 10) {
		must(err)
		lit = append(lit, keys...)
	}
	if !slices.Equal(lit, []string{"lit*eral"}) {
		t.Fatalf(`Scan lit\*eral: got %v, want [lit*eral]`, lit)
	}
	if n, err := b.DeleteMatch(ctx, `lit\*eral`); n != 1 || err != nil {
		t.Fatalf(`DeleteMatch lit\*eral: got %d, %v; want 1, nil`, n, err)
	}
	if found, _ := b.Exists(ctx, "literal"); !found {
		t.Fatal(`DeleteMatch lit\*eral removed "literal"`)
	}
	if n, err := b.DeleteMatch(ctx, "user:1*"); n != 111 || err != nil {
		t.Fatalf("DeleteMatch user:1*: got %d, %v; want 111, nil", n, err)
	}
	if n, err := b.DeleteMatch(ctx, "user:*"); n != 139 || err != nil {
		t.Fatalf("DeleteMatch user:*: got %d, %v; want 139, nil", n, err)
	}

	// DeleteMany and GetMany over more keys than one chunk.
	keys := make([]string, 2100)
	items = items[:0]
	for i := range keys {
		keys[i] = "k" + strconv.Itoa(i)
		if i%2 == 0 {
			items = append(items, backends.Item{Key: keys[i], Value: []byte(keys[i]), TTL: time.Minute})
		}
	}
	must(b.SetMany(ctx, items))
	entries, err := b.GetMany(ctx, keys)
	must(err)
	for i, e := range entries {
		if e.Found != (i%2 == 0) || (e.Found && string(e.Value.([]byte)) != keys[i]) {
			t.Fatalf("GetMany[%d]: got %+v, want found=%v with value %s", i, e, i%2 == 0, keys[i])
		}
	}
	if n, err := b.DeleteMany(ctx, keys); n != 1050 || err != nil {
		t.Fatalf("DeleteMany: got %d, %v; want 1050, nil", n, err)
	}

	// Ping, Clear, Close.
	must(b.Ping(ctx))
	must(b.Clear(ctx))
	if n := srv.MustDo("DBSIZE").(int64); n != 0 {
		t.Fatalf("DBSIZE after Clear: got %d, want 0", n)
	}
	must(b.Close())
	must(b.Close())
	if _, _, err := b.Get(ctx, "v"); !errors.Is(err, backends.ErrClosed) {
		t.Fatalf("Get after Close: got %v, want ErrClosed", err)
	}
	for _, err := range b.Scan(ctx, "*", 10) {
		if !errors.Is(err, backends.ErrClosed) {
			t.Fatalf("Scan after Close: got %v, want ErrClosed", err)
		}
	}
}

// TestErrorsHidePassword checks that neither a failed connection nor a failed command shows the
// password.
func TestErrorsHidePassword(t *testing.T) {
	srv := redistest.Start(t, "--requirepass", "hunter2")
	_, err := New(Options{Addrs: []string{srv.Addr()}, Password: "wrong-pass"})
	if err == nil {
		t.Fatal("New with a wrong password: got no error")
	}
	if strings.Contains(err.Error(), "wrong-pass") {
		t.Fatalf("error %q shows the password", err)
	}
	b := openURL(t, "redis://:hunter2@"+srv.Addr()+"/0")
	ctx := testCtx(t)
	if _, err := b.Set(ctx, "k", []byte("v"), 0, backends.SetAlways); err != nil {
		t.Fatalf("Set with the right password: %v", err)
	}
	srv.Kill()
	_, _, err = b.Get(ctx, "k")
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), `GET "k"`) {
		t.Fatalf("Get on a dead server: got %v, want an error naming GET \"k\" and not the password", err)
	}
}

// TestUnreachable checks that New returns at once when nothing listens: by default with a backend
// whose commands and Ping fail at once with an error matching ErrUnavailable that names the address
// and keeps the dial error matchable; with ConnectAtSetup, with an error naming the address.
func TestUnreachable(t *testing.T) {
	for _, driver := range []string{DriverRueidis, DriverGoRedis} {
		start := time.Now()
		_, err := New(Options{Addrs: []string{"127.0.0.1:1"}, Driver: driver, DialTimeout: time.Second, ConnectAtSetup: true})
		if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
			t.Fatalf("%s: New with ConnectAtSetup on a closed port: got %v, want an error naming the address", driver, err)
		}
		if d := time.Since(start); d > 2*time.Second && testenv.Timing() {
			t.Fatalf("%s: New with ConnectAtSetup on a closed port took %s, want under the dial timeout", driver, d)
		}

		start = time.Now()
		b, err := New(Options{Addrs: []string{"127.0.0.1:1"}, Driver: driver, DialTimeout: time.Second})
		if err != nil {
			t.Fatalf("%s: New on a closed port: %v, want a backend that connects in the background", driver, err)
		}
		if d := time.Since(start); d > 2*time.Second && testenv.Timing() {
			t.Fatalf("%s: New on a closed port took %s, want at most the setup wait", driver, d)
		}
		err = b.Ping(context.Background())
		if !errors.Is(err, backends.ErrUnavailable) || !errors.Is(err, syscall.ECONNREFUSED) || !strings.Contains(err.Error(), "127.0.0.1:1") {
			t.Fatalf("%s: Ping before a connection: got %v, want ErrUnavailable wrapping ECONNREFUSED and naming the address", driver, err)
		}
		if _, _, err := b.Get(context.Background(), "k"); !errors.Is(err, backends.ErrUnavailable) {
			t.Fatalf("%s: Get before a connection: got %v, want ErrUnavailable", driver, err)
		}
		b.Close()
	}
}

// TestClusterModeMismatch checks that cluster=true on a plain server is an error.
func TestClusterModeMismatch(t *testing.T) {
	srv := server(t)
	u, p, _ := backends.ParseURL(withParams(srv.URL(), "cluster=true"))
	_, err := open(backends.Config{URL: u, Params: p})
	if err == nil || !strings.Contains(err.Error(), "not a Redis Cluster") {
		t.Fatalf("cluster=true on a single server: got %v, want an error saying it is not a Cluster", err)
	}
}

// TestTimeoutParameter checks that timeout=0 sets no deadline of the backend's own, and that a
// caller's earlier deadline wins.
func TestTimeoutParameter(t *testing.T) {
	srv := server(t)
	b := openURL(t, withParams(srv.URL(), "timeout=0"))
	if b.timeout != 0 {
		t.Fatalf("timeout=0: backend timeout %v, want none", b.timeout)
	}
	ctx := context.Background()
	c, cancel := b.withTimeout(ctx)
	defer cancel()
	if _, ok := c.Deadline(); ok {
		t.Fatal("timeout=0: the command context has a deadline, want none")
	}
	b2 := openURL(t, srv.URL())
	early, cancel2 := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel2()
	c2, cancel3 := b2.withTimeout(early)
	defer cancel3()
	if c2 != early {
		t.Fatal("a caller's deadline earlier than the timeout was replaced")
	}
}

// TestUnavailableErrors: every error that means Redis could not be reached or did not answer in
// time matches backends.ErrUnavailable and keeps its cause, on both drivers and with client-side
// caching: a killed server (the dial's ECONNREFUSED stays matchable), a frozen one (the backend's
// deadline). A caller's own deadline is the caller's, not a sign of an outage, and an error reply
// of Redis about the command is not either.
func TestUnavailableErrors(t *testing.T) {
	for _, params := range []string{"", "driver=go-redis", "client_side=true"} {
		name := params
		if name == "" {
			name = "rueidis"
		}
		t.Run(name, func(t *testing.T) {
			srv := server(t)
			b := openURL(t, withParams(srv.URL(), params))
			ctx := context.Background()
			mustSet(t, ctx, b, "s", "not a number", 0)
			if _, err := b.Incr(ctx, "s", 1, 0); errors.Is(err, backends.ErrUnavailable) || !errors.Is(err, backends.ErrNotInteger) {
				t.Fatalf("Incr of a string = %v; want ErrNotInteger, not ErrUnavailable", err)
			}

			srv.Kill()
			refused := false
			for i := range 20 {
				_, _, err := b.Get(ctx, "cold"+strconv.Itoa(i))
				if !errors.Is(err, backends.ErrUnavailable) {
					t.Fatalf("Get %d on a killed server = %v; want ErrUnavailable", i, err)
				}
				refused = refused || errors.Is(err, syscall.ECONNREFUSED)
			}
			if !refused {
				t.Error("no error of 20 Gets on a killed server matches syscall.ECONNREFUSED; want the dial's cause kept")
			}
			for what, err := range map[string]error{
				"Set":     func() error { _, err := b.Set(ctx, "k", []byte("v"), 0, backends.SetAlways); return err }(),
				"Incr":    func() error { _, err := b.Incr(ctx, "n", 1, 0); return err }(),
				"SetLock": func() error { _, err := b.SetLock(ctx, "l", "t", time.Second); return err }(),
				"GetMany": func() error { _, err := b.GetMany(ctx, []string{"a", "b"}); return err }(),
				"Ping":    b.Ping(ctx),
			} {
				if !errors.Is(err, backends.ErrUnavailable) {
					t.Errorf("%s on a killed server = %v; want ErrUnavailable", what, err)
				}
			}

			srv.Restart()
			if !eventually(10*time.Second, func() bool { return b.Ping(ctx) == nil }) {
				t.Fatal("no answer 10s after the restart")
			}
			srv.Freeze()
			defer srv.Thaw()
			if _, _, err := b.Get(ctx, "frozen"); !errors.Is(err, backends.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Get on a frozen server = %v; want ErrUnavailable wrapping the deadline", err)
			}
			short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
			defer cancel()
			if _, _, err := b.Get(short, "frozen2"); errors.Is(err, backends.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Get with the caller's own 20ms deadline on a frozen server = %v; want the caller's deadline, not ErrUnavailable", err)
			}
		})
	}
}

// TestConnectWhileFrozen: with the server frozen at setup, New returns after its wait with a backend
// whose first connection attempt is still under way; a command waits for the attempt as long as its
// deadline lasts: it fails with ErrUnavailable when the deadline comes first, and succeeds when the
// server answers first.
func TestConnectWhileFrozen(t *testing.T) {
	for _, driver := range []string{DriverRueidis, DriverGoRedis} {
		t.Run(driver, func(t *testing.T) {
			srv := server(t)
			srv.Freeze()
			thawed := false
			defer func() {
				if !thawed {
					srv.Thaw()
				}
			}()
			b := openURL(t, withParams(srv.URL(), "timeout=2s&dial_timeout=10s&driver="+driver))
			// The backend's own deadline (timeout, 2s) ends the wait.
			if _, _, err := b.Get(context.Background(), "k"); !errors.Is(err, backends.ErrUnavailable) {
				t.Fatalf("Get while the first attempt hangs = %v; want ErrUnavailable", err)
			}
			go func() {
				time.Sleep(200 * time.Millisecond)
				srv.Thaw()
			}()
			thawed = true
			if _, err := b.Set(context.Background(), "k", []byte("v"), 0, backends.SetAlways); err != nil {
				t.Fatalf("Set waiting for the first attempt = %v; want nil once the server answers", err)
			}
		})
	}
}
