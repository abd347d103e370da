package codec_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/cashews-go/cashews/codec"
)

type small struct {
	ID      int64     `json:"id"`
	Name    string    `json:"name"`
	Email   string    `json:"email"`
	Active  bool      `json:"active"`
	Created time.Time `json:"created"`
}

var smallValue = small{ID: 12345, Name: "Ann Example", Email: "ann@example.com", Active: true, Created: time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)}

// largeValue is about 4 KiB of JSON.
func largeValue() []small {
	var v []small
	for i := range 1000 {
		s := smallValue
		s.ID = int64(i)
		s.Name = fmt.Sprintf("user %d", i)
		v = append(v, s)
		if data, _ := json.Marshal(v); len(data) >= 4096 {
			break
		}
	}
	return v
}

var benchFormats = []struct {
	name string
	opts codec.Options
}{
	{"json", codec.Options{}},
	{"json-secret", codec.Options{Secret: secret}},
	{"gob", codec.Options{Codec: "gob"}},
}

func BenchmarkEncode(b *testing.B) {
	for _, bf := range benchFormats {
		b.Run(bf.name, func(b *testing.B) {
			f := newFormat(b, bf.opts)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.Encode("user:12345", smallValue); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for _, alg := range []string{"none", "gzip", "zlib"} {
		b.Run("4KiB-"+alg, func(b *testing.B) {
			f := newFormat(b, codec.Options{Compress: alg, Secret: secret})
			v := largeValue()
			data, err := f.Encode("k", v)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(len(data)), "stored-bytes")
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.Encode("k", v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, bf := range benchFormats {
		b.Run(bf.name, func(b *testing.B) {
			f := newFormat(b, bf.opts)
			data, err := f.Encode("user:12345", smallValue)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				var v small
				if err := f.Decode("user:12345", data, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for _, alg := range []string{"none", "gzip", "zlib"} {
		b.Run("4KiB-"+alg, func(b *testing.B) {
			f := newFormat(b, codec.Options{Compress: alg, Secret: secret})
			data, err := f.Encode("k", largeValue())
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				var v []small
				if err := f.Decode("k", data, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// Counters: the store's decimal text without a secret, a signed integer with one.
	for _, o := range []struct {
		name string
		opts codec.Options
	}{{"counter", codec.Options{}}, {"counter-secret", codec.Options{Secret: secret}}} {
		b.Run(o.name, func(b *testing.B) {
			f := newFormat(b, o.opts)
			data, err := f.Encode("k", 1234567)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				var n int64
				if err := f.Decode("k", data, &n); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
