package backendtest

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cashews-go/cashews/backends"
)

// Bench runs benchmarks of the common commands against a backend from h.New (each sub-benchmark gets
// its own), so that backends and their options compare on the same workload:
//
//	func BenchmarkConformance(b *testing.B) { backendtest.Bench(b, harness) }
//
// Values are 100 bytes ([]byte for a byte store, a string for a Go value store); keys are drawn from
// 1024. The *Parallel benchmarks use b.RunParallel. Harness.Skip does not apply.
func Bench(b *testing.B, h Harness) {
	if h.New == nil {
		b.Fatal("backendtest: Harness.New is nil")
	}
	const nkeys = 1024
	keys := make([]string, nkeys)
	for i := range keys {
		keys[i] = "bench:" + strconv.Itoa(i)
	}
	open := func(b *testing.B) (backends.Full, any) {
		opened := h.New(b, NewClock())
		b.Cleanup(func() { _ = opened.Close() })
		bk, ok := opened.(backends.Full)
		if !ok {
			b.Skip("backendtest: Bench needs a backend with every capability (backends.Full)")
		}
		var v any = strings.Repeat("v", 100)
		if !backends.StoresGoValues(bk) {
			v = []byte(v.(string))
		}
		items := make([]backends.Item, nkeys)
		for i, k := range keys {
			items[i] = backends.Item{Key: k, Value: v}
		}
		if err := bk.SetMany(b.Context(), items); err != nil {
			b.Fatalf("SetMany(%d items): %v", nkeys, err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		return bk, v
	}
	fail := func(b *testing.B, op string, err error) {
		if err != nil {
			b.Fatalf("%s: %v", op, err)
		}
	}
	b.Run("Get", func(b *testing.B) {
		bk, _ := open(b)
		for i := 0; b.Loop(); i++ {
			_, _, err := bk.Get(b.Context(), keys[i%nkeys])
			fail(b, "Get", err)
		}
	})
	b.Run("GetMiss", func(b *testing.B) {
		bk, _ := open(b)
		for b.Loop() {
			_, _, err := bk.Get(b.Context(), "bench:missing")
			fail(b, "Get", err)
		}
	})
	b.Run("Set", func(b *testing.B) {
		bk, v := open(b)
		for i := 0; b.Loop(); i++ {
			_, err := bk.Set(b.Context(), keys[i%nkeys], v, time.Hour, backends.SetAlways)
			fail(b, "Set", err)
		}
	})
	b.Run("GetMany16", func(b *testing.B) {
		bk, _ := open(b)
		for i := 0; b.Loop(); i++ {
			j := (i * 16) % nkeys
			_, err := bk.GetMany(b.Context(), keys[j:j+16])
			fail(b, "GetMany", err)
		}
	})
	b.Run("Incr", func(b *testing.B) {
		bk, _ := open(b)
		for i := 0; b.Loop(); i++ {
			_, err := bk.Incr(b.Context(), "bench:counter:"+strconv.Itoa(i%16), 1, 0)
			fail(b, "Incr", err)
		}
	})
	b.Run("LockUnlock", func(b *testing.B) {
		bk, _ := open(b)
		for b.Loop() {
			_, err := bk.SetLock(b.Context(), "bench:lock", "token", time.Minute)
			fail(b, "SetLock", err)
			_, err = bk.Unlock(b.Context(), "bench:lock", "token")
			fail(b, "Unlock", err)
		}
	})
	b.Run("SliceIncr", func(b *testing.B) {
		bk, _ := open(b)
		now := time.Now()
		for i := 0; b.Loop(); i++ {
			_, _, err := bk.SliceIncr(b.Context(), "bench:window", now.Add(time.Duration(i)*time.Millisecond), time.Second, 100)
			fail(b, "SliceIncr", err)
		}
	})
	b.Run("GetParallel", func(b *testing.B) {
		bk, _ := open(b)
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				if _, _, err := bk.Get(b.Context(), keys[i%nkeys]); err != nil {
					b.Errorf("Get: %v", err)
					return
				}
			}
		})
	})
	b.Run("SetParallel", func(b *testing.B) {
		bk, v := open(b)
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				if _, err := bk.Set(b.Context(), keys[i%nkeys], v, time.Hour, backends.SetAlways); err != nil {
					b.Errorf("Set: %v", err)
					return
				}
			}
		})
	})
}
