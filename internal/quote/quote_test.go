package quote

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestString(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", `""`},
		{"user:1", `"user:1"`},
		{"a\x00b", `"a\x00b"`},
		{strings.Repeat("k", Max), `"` + strings.Repeat("k", Max) + `"`},
		{strings.Repeat("k", Max+1), `"` + strings.Repeat("k", Max) + `"... (201 bytes)`},
		// A rune that straddles the cut is left out whole.
		{strings.Repeat("k", Max-1) + "é" + "z", `"` + strings.Repeat("k", Max-1) + `"... (202 bytes)`},
	} {
		if got := String(tt.in); got != tt.want {
			t.Errorf("String(%.40q...) = %.60s; want %.60s", tt.in, got, tt.want)
		}
	}
}

func TestStringHuge(t *testing.T) {
	key := strings.Repeat("x", 10<<20)
	got := String(key)
	if len(got) > Max+40 || !strings.Contains(got, "(10485760 bytes)") {
		t.Fatalf("String(10 MB) has %d bytes: %.80s...; want about %d with the full length", len(got), got, Max)
	}
	// Invalid UTF-8 at the cut still quotes.
	bad := strings.Repeat("\xff", Max+5)
	if got := String(bad); !utf8.ValidString(got) || !strings.HasSuffix(got, "(205 bytes)") {
		t.Fatalf("String(invalid) = %q", got)
	}
}

func TestStrings(t *testing.T) {
	if got, want := Strings([]string{"a", "b"}), `"a", "b"`; got != want {
		t.Errorf("Strings = %s; want %s", got, want)
	}
	list := make([]string, 25)
	got := Strings(list)
	if strings.Count(got, `""`) != 10 || !strings.HasSuffix(got, ", and 15 more") {
		t.Errorf("Strings(25 items) = %s; want 10 and \", and 15 more\"", got)
	}
}
