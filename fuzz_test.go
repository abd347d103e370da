package cashews_test

import (
	"strings"
	"testing"

	"github.com/cashews-go/cashews"
)

// FuzzSetup feeds setup URLs to Setup: it must never panic, and every error must say "cashews:".
func FuzzSetup(f *testing.F) {
	for _, s := range []string{
		"mem://", "mem://?size=10", "mem://?check_interval=1d2h3m", "mem://?max_bytes=1GiB",
		"mem://?copy=true&secret=x&digest=sha512&compress=gzip&compress_min=1KiB",
		"mem://?size=-1", "mem://?enable=yes&disable=no", "redis://x", "mem://?%zz", "mem://?a=1&a=2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, url string) {
		c := cashews.New()
		defer c.Close()
		if err := c.Setup(url); err != nil && !strings.Contains(err.Error(), "cashews:") {
			t.Fatalf("Setup(%q) = %v; want an error that says where it comes from", url, err)
		}
	})
}
