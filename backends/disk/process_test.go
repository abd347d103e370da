package disk_test

// Tests with several processes: the test binary re-executes itself with CASHEWS_DISK_CHILD naming
// the child's role (see TestMain), so every process is a real OS process with its own SQLite
// connections and file locks.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cashews-go/cashews/backends"
	"github.com/cashews-go/cashews/backends/disk"
)

// fullEnv, set to 1, runs the process tests at the full size of the issue: 4 processes x 4
// goroutines x 10,000 operations, and 20 kills during 10,000 writes. Without it they run smaller, so
// that the package's tests stay within a few minutes on 2 cores:
//
//	CASHEWS_DISK_FULL=1 go test ./backends/disk/ -run 'TestManyProcesses|TestCrashSafety' -timeout 1h
const fullEnv = "CASHEWS_DISK_FULL"

// size returns full when fullEnv is set, small under the race detector (which slows the pure-Go
// SQLite down 10 to 30 times, and checks every unsafe pointer conversion of it) or -short, and
// normal otherwise.
func size(full, normal, small int) int {
	switch {
	case os.Getenv(fullEnv) == "1":
		return full
	case raceEnabled || testing.Short():
		return small
	}
	return normal
}

const (
	childEnv = "CASHEWS_DISK_CHILD" // the role of a child process
	dirEnv   = "CASHEWS_DISK_DIR"   // the cache directory of a child
	argEnv   = "CASHEWS_DISK_ARG"   // the role's argument
)

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		if err := runChild(role, os.Getenv(dirEnv), os.Getenv(argEnv)); err != nil {
			fmt.Fprintln(os.Stderr, "child", role, "failed:", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runChild(role, dir, arg string) error {
	switch role {
	case "stress":
		return childStress(dir, arg)
	case "writer":
		return childWriter(dir, arg)
	case "locker":
		return childLocker(dir, arg)
	case "opener":
		return childOpener(dir, arg)
	}
	return fmt.Errorf("unknown role %q", role)
}

// child returns the command that runs the test binary as a child.
func child(ctx context.Context, role, dir, arg string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+role, dirEnv+"="+dir, argEnv+"="+arg)
	cmd.Stderr = os.Stderr
	return cmd
}

// sealed returns a self-checking value: key, payload and the SHA-256 of both, so that a torn,
// misplaced or foreign value is detected.
func sealed(key string, payload []byte) []byte {
	h := sha256.Sum256(append([]byte(key+"|"), payload...))
	return append(append([]byte(hex.EncodeToString(h[:])), '|'), payload...)
}

// unseal checks a value made by sealed for key.
func unseal(key string, v []byte) error {
	i := bytes.IndexByte(v, '|')
	if i != 64 {
		return fmt.Errorf("value of %q (%d bytes) has no checksum", key, len(v))
	}
	h := sha256.Sum256(append([]byte(key+"|"), v[65:]...))
	if hex.EncodeToString(h[:]) != string(v[:64]) {
		return fmt.Errorf("value of %q (%d bytes) is torn or misplaced: checksum mismatch", key, len(v))
	}
	return nil
}

func randomPayload(r *rand.Rand, max int) []byte {
	n := int(r.ExpFloat64() * float64(max) / 8) // mostly small, some up to max
	n = min(n, max)
	p := make([]byte, n)
	for i := 0; i < n; i += 8 {
		x := r.Uint64()
		for j := i; j < min(i+8, n); j++ {
			p[j] = byte('a' + x%26)
			x >>= 5
		}
	}
	return p
}

// stressReport is what a stress child prints on its stdout.
type stressReport struct {
	Incr   map[string]int64 // the sum of this process's increments, by counter key
	Ops    int
	SetP50 time.Duration
	SetP99 time.Duration
	SetMax time.Duration
}

const (
	stressValueKeys   = 10
	stressCounterKeys = 3
	stressSetKeys     = 3
)

// childStress runs 4 goroutines of mixed operations on a few keys and prints a stressReport. Any
// error of the backend, or a value that does not check, fails the child.
func childStress(dir, arg string) error {
	ops, err := strconv.Atoi(arg)
	if err != nil {
		return err
	}
	// Synchronous off: the stress checks what processes do to each other, not what a power loss
	// does, and the syncs of checkpoints on a busy disk took most of its time. A long busy timeout:
	// 16 writers on a few keys of a loaded 2-core machine saw waits of up to 5s (p99 about 1s), and
	// the stress checks the data, not the latency.
	b, err := disk.New(disk.Options{Dir: dir, Synchronous: disk.SyncOff, BusyTimeout: time.Minute})
	if err != nil {
		return err
	}
	defer b.Close()
	ctx := context.Background()
	var mu sync.Mutex
	incr := map[string]int64{}
	var setTimes []time.Duration
	errc := make(chan error, 4)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(os.Getpid()), uint64(g)))
			me := fmt.Sprintf("p%d-g%d", os.Getpid(), g)
			for i := range ops {
				if err := stressOp(ctx, b, r, me, i, &mu, incr, &setTimes); err != nil {
					errc <- fmt.Errorf("%s op %d: %w", me, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return err
	}
	slices.Sort(setTimes)
	rep := stressReport{Incr: incr, Ops: 4 * ops}
	if n := len(setTimes); n > 0 {
		rep.SetP50, rep.SetP99, rep.SetMax = setTimes[n/2], setTimes[n*99/100], setTimes[n-1]
	}
	return json.NewEncoder(os.Stdout).Encode(rep)
}

func stressOp(ctx context.Context, b *disk.Backend, r *rand.Rand, me string, i int, mu *sync.Mutex, incr map[string]int64, setTimes *[]time.Duration) error {
	vkey := "v:" + strconv.Itoa(r.IntN(stressValueKeys))
	switch p := r.IntN(100); {
	case p < 55: // read and check
		v, found, err := b.Get(ctx, vkey)
		if err != nil {
			return err
		}
		if found {
			return unseal(vkey, v.([]byte))
		}
	case p < 75:
		ttl := time.Duration(0)
		if r.IntN(2) == 0 {
			ttl = time.Hour
		}
		start := time.Now()
		if _, err := b.Set(ctx, vkey, sealed(vkey, randomPayload(r, 64<<10)), ttl, backends.SetAlways); err != nil {
			return err
		}
		mu.Lock()
		*setTimes = append(*setTimes, time.Since(start))
		mu.Unlock()
	case p < 80:
		if _, err := b.Delete(ctx, vkey); err != nil {
			return err
		}
	case p < 88:
		ckey := "c:" + strconv.Itoa(r.IntN(stressCounterKeys))
		by := int64(r.IntN(10) + 1)
		if _, err := b.Incr(ctx, ckey, by, 0); err != nil {
			return err
		}
		mu.Lock()
		incr[ckey] += by
		mu.Unlock()
	case p < 93:
		skey := "s:" + strconv.Itoa(r.IntN(stressSetKeys))
		if _, err := b.SetAdd(ctx, skey, 0, fmt.Sprintf("%s-%d", me, i)); err != nil {
			return err
		}
		ms, err := b.SetMembers(ctx, skey)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if !strings.HasPrefix(m, "p") || !strings.Contains(m, "-g") {
				return fmt.Errorf("set %q has a torn member %q", skey, m)
			}
		}
	case p < 97:
		token := me + "-" + strconv.Itoa(i)
		ok, err := b.SetLock(ctx, "lock", token, time.Minute)
		if err != nil {
			return err
		}
		if ok {
			if ok, err := b.Unlock(ctx, "lock", token); err != nil || !ok {
				return fmt.Errorf("Unlock of a lock it held = %v, %v", ok, err)
			}
		}
	default:
		for keys, err := range b.Scan(ctx, "v:*", 5) {
			if err != nil {
				return err
			}
			for _, k := range keys {
				if !strings.HasPrefix(k, "v:") {
					return fmt.Errorf("Scan(v:*) yielded %q", k)
				}
			}
		}
	}
	return nil
}

// TestManyProcesses runs 4 processes of 4 goroutines, each goroutine doing mixed operations on a
// few keys (10 values up to 64 KiB, 3 counters, 3 sets, a lock), then checks every shard with
// PRAGMA integrity_check, every value's checksum, and that every counter holds exactly the sum of
// the increments the processes made.
func TestManyProcesses(t *testing.T) {
	ops := size(10_000, 500, 50) // per goroutine; see fullEnv
	dir := t.TempDir()
	// Create the directory before the children race to.
	b0, err := disk.New(disk.Options{Dir: dir, Synchronous: disk.SyncOff})
	if err != nil {
		t.Fatal(err)
	}
	b0.Close()

	start := time.Now()
	var reports [4]stressReport
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for p := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := child(t.Context(), "stress", dir, strconv.Itoa(ops)).Output()
			if err != nil {
				errs[p] = fmt.Errorf("process %d: %w", p, err)
				return
			}
			if err := json.Unmarshal(out, &reports[p]); err != nil {
				errs[p] = fmt.Errorf("process %d printed %q: %w", p, out, err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)

	b := openT(t, disk.Options{Dir: dir})
	ctx := t.Context()
	if err := b.Check(ctx); err != nil {
		t.Errorf("integrity check after the stress: %v", err)
	}
	for i := range stressValueKeys {
		k := "v:" + strconv.Itoa(i)
		if v, found, err := b.Get(ctx, k); err != nil {
			t.Error(err)
		} else if found {
			if err := unseal(k, v.([]byte)); err != nil {
				t.Error(err)
			}
		}
	}
	want := map[string]int64{}
	total := 0
	for _, r := range reports {
		for k, n := range r.Incr {
			want[k] += n
		}
		total += r.Ops
		t.Logf("set latency p50 %v, p99 %v, max %v", r.SetP50, r.SetP99, r.SetMax)
	}
	for k, n := range want {
		v, found, err := b.Get(ctx, k)
		if err != nil || !found || string(v.([]byte)) != strconv.FormatInt(n, 10) {
			t.Errorf("counter %s = %q, %v, %v; want %d, the sum of every process's increments", k, v, found, err, n)
		}
	}
	t.Logf("%d operations in 4 processes in %v (%.0f ops/s)", total, elapsed, float64(total)/elapsed.Seconds())
}

// childWriter writes keys w:<arg>:0, w:<arg>:1, ... with self-checking values and prints the index
// of each write after Set returned.
func childWriter(dir, arg string) error {
	round, n, _ := strings.Cut(arg, "/")
	count, err := strconv.Atoi(n)
	if err != nil {
		return err
	}
	b, err := disk.New(disk.Options{Dir: dir, Shards: 4, CheckInterval: -1})
	if err != nil {
		return err
	}
	defer b.Close()
	out := bufio.NewWriter(os.Stdout)
	r := rand.New(rand.NewPCG(uint64(os.Getpid()), 1))
	for i := range count {
		k := "w:" + round + ":" + strconv.Itoa(i)
		if _, err := b.Set(context.Background(), k, sealed(k, randomPayload(r, 8<<10)), 0, backends.SetAlways); err != nil {
			return err
		}
		fmt.Fprintln(out, i)
		out.Flush()
	}
	return nil
}

// TestCrashSafety kills a writer process with SIGKILL at a random moment, 20 times, during 10,000
// writes. Every write the child reported done before the kill must be present and intact, and every
// shard must open and pass the integrity check.
func TestCrashSafety(t *testing.T) {
	rounds := size(20, 20, 5)          // see fullEnv
	writes := size(10_000, 1_000, 100) // see fullEnv
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 2))
	for round := range rounds {
		killAt := 1 + r.IntN(writes-1) // the kill comes when this many writes were reported
		dir := t.TempDir()             // a new directory each round keeps the integrity checks short
		cmd := child(t.Context(), "writer", dir, fmt.Sprintf("%d/%d", round, writes))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		done := -1
		killed := false
		for sc.Scan() {
			i, err := strconv.Atoi(sc.Text())
			if err != nil {
				t.Fatalf("round %d: child printed %q", round, sc.Text())
			}
			done = i
			if i+1 >= killAt && !killed {
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				killed = true
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		err = cmd.Wait()
		if killed {
			// A child that wrote its last keys while the parent read its reports may finish before
			// the signal lands (a kill near the end, on a busy machine): then it exits cleanly.
			var exit *exec.ExitError
			if err != nil && !errors.As(err, &exit) {
				t.Fatalf("round %d: the killed child exited with %v, want a kill or a clean exit", round, err)
			}
		} else if err != nil {
			t.Fatalf("round %d: child failed: %v", round, err)
		}

		b, err := disk.New(disk.Options{Dir: dir, CheckInterval: -1})
		if err != nil {
			t.Fatalf("round %d: opening after the kill: %v", round, err)
		}
		ctx := t.Context()
		if err := b.Check(ctx); err != nil {
			t.Errorf("round %d: %v", round, err)
		}
		for i := 0; i <= done; i++ {
			k := "w:" + strconv.Itoa(round) + ":" + strconv.Itoa(i)
			v, found, err := b.Get(ctx, k)
			switch {
			case err != nil:
				t.Errorf("round %d: Get(%s): %v", round, k, err)
			case !found:
				t.Errorf("round %d: %s was reported written before the kill (after %d writes) but is missing", round, k, done+1)
			default:
				if err := unseal(k, v.([]byte)); err != nil {
					t.Errorf("round %d: %v", round, err)
				}
			}
		}
		if err := b.Close(); err != nil {
			t.Errorf("round %d: Close: %v", round, err)
		}
		if t.Failed() {
			t.FailNow()
		}
	}
}

// childLocker takes the lock arg times; holding it, it appends "start" and "end" lines to a log and
// increments a counter in a file with a read, a pause and a write, which would lose updates if two
// processes ever held the lock at once.
func childLocker(dir, arg string) error {
	n, err := strconv.Atoi(arg)
	if err != nil {
		return err
	}
	b, err := disk.New(disk.Options{Dir: filepath.Join(dir, "cache"), Synchronous: disk.SyncOff})
	if err != nil {
		return err
	}
	defer b.Close()
	ctx := context.Background()
	logf, err := os.OpenFile(filepath.Join(dir, "log"), os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	counter := filepath.Join(dir, "counter")
	r := rand.New(rand.NewPCG(uint64(os.Getpid()), 3))
	for i := range n {
		token := fmt.Sprintf("%d-%d", os.Getpid(), i)
		for {
			ok, err := b.SetLock(ctx, "the-lock", token, time.Minute)
			if err != nil {
				return err
			}
			if ok {
				break
			}
			time.Sleep(time.Duration(r.IntN(500)) * time.Microsecond)
		}
		fmt.Fprintf(logf, "start %s\n", token)
		raw, err := os.ReadFile(counter)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		c, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
		time.Sleep(time.Duration(r.IntN(200)) * time.Microsecond)
		if err := os.WriteFile(counter, []byte(strconv.Itoa(c+1)), 0o600); err != nil {
			return err
		}
		fmt.Fprintf(logf, "end %s\n", token)
		if ok, err := b.Unlock(ctx, "the-lock", token); err != nil || !ok {
			return fmt.Errorf("Unlock(%s) = %v, %v; want true", token, ok, err)
		}
	}
	return nil
}

// TestLockAcrossProcesses has 4 processes take one lock 50 times each (20 under the race detector):
// there is never more than one holder, so the counter the holders increment ends exactly at 4 times
// that and the log alternates start and end of the same holder.
func TestLockAcrossProcesses(t *testing.T) {
	const procs = 4
	each := size(50, 50, 20) // see fullEnv
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make([]error, procs)
	for p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := child(t.Context(), "locker", dir, strconv.Itoa(each)).Run(); err != nil {
				errs[p] = fmt.Errorf("process %d: %v", p, err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "counter"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(raw)); got != strconv.Itoa(procs*each) {
		t.Errorf("counter = %s, want %d: two processes held the lock at once", got, procs*each)
	}
	log, err := os.ReadFile(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(log)), "\n")
	if len(lines) != 2*procs*each {
		t.Fatalf("log has %d lines, want %d", len(lines), 2*procs*each)
	}
	for i := 0; i+1 < len(lines); i += 2 {
		s, e := strings.TrimPrefix(lines[i], "start "), strings.TrimPrefix(lines[i+1], "end ")
		if !strings.HasPrefix(lines[i], "start ") || !strings.HasPrefix(lines[i+1], "end ") || s != e {
			t.Fatalf("log lines %d-%d = %q, %q; want the start and end of one holder", i+1, i+2, lines[i], lines[i+1])
		}
	}
}

// childOpener waits until its standard input closes, so that every opener starts at the same
// moment, then opens the cache directory, writes and reads a key of its own, and closes it.
func childOpener(dir, arg string) error {
	if _, err := io.Copy(io.Discard, os.Stdin); err != nil {
		return err
	}
	b, err := disk.New(disk.Options{Dir: dir})
	if err != nil {
		return err
	}
	defer b.Close()
	ctx := context.Background()
	key := "opener:" + arg
	if _, err := b.Set(ctx, key, []byte(arg), 0, backends.SetAlways); err != nil {
		return err
	}
	v, found, err := b.Get(ctx, key)
	if err != nil || !found || string(v.([]byte)) != arg {
		return fmt.Errorf("Get(%s) = %q, %v, %v; want %q", key, v, found, err, arg)
	}
	return b.Close()
}

// TestOpenTogether starts 8 processes at once on a new cache directory, 50 times (20 under the race
// detector): each must open it (one creates the shard files and switches them to WAL while the
// others wait), write and read. Workers of a service started together all get their cache.
func TestOpenTogether(t *testing.T) {
	const procs = 8
	rounds := size(50, 50, 20) // see fullEnv
	for round := range rounds {
		dir := filepath.Join(t.TempDir(), "cache")
		cmds := make([]*exec.Cmd, procs)
		gates := make([]io.WriteCloser, procs)
		var out [procs]bytes.Buffer
		for p := range procs {
			cmd := child(t.Context(), "opener", dir, strconv.Itoa(p))
			cmd.Stderr = &out[p]
			gate, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			cmds[p], gates[p] = cmd, gate
		}
		for _, g := range gates {
			g.Close()
		}
		var failed []string
		for p, cmd := range cmds {
			if err := cmd.Wait(); err != nil {
				failed = append(failed, fmt.Sprintf("process %d: %v: %s", p, err, strings.TrimSpace(out[p].String())))
			}
		}
		if len(failed) > 0 {
			t.Fatalf("round %d of %d: %d of %d processes could not open the directory together:\n%s",
				round+1, rounds, len(failed), procs, strings.Join(failed, "\n"))
		}
	}
}
