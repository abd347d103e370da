// Package quote quotes keys and other inputs for error messages, shortened when they are long, so
// that a huge key never makes a huge error.
package quote

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Max is how many bytes of an input an error quotes.
const Max = 200

// maxItems is how many elements of a list an error quotes.
const maxItems = 10

// String returns s quoted as by strconv.Quote. An s longer than [Max] bytes is cut to its first Max
// bytes (at a rune boundary when s is valid UTF-8 there) and followed by its full length:
//
//	"user:aaaaaaaa..."... (10485760 bytes)
func String(s string) string {
	if len(s) <= Max {
		return strconv.Quote(s)
	}
	cut := Max
	for i := 0; i < utf8.UTFMax && cut > 0 && !utf8.RuneStart(s[cut]); i++ {
		cut--
	}
	if cut == 0 {
		cut = Max
	}
	return strconv.Quote(s[:cut]) + "... (" + strconv.Itoa(len(s)) + " bytes)"
}

// Strings quotes each element of list with [String], joined by ", ". A list of more than ten
// elements shows the first ten and how many more there are.
func Strings(list []string) string {
	var b strings.Builder
	for i, s := range list {
		if i == maxItems {
			b.WriteString(", and " + strconv.Itoa(len(list)-maxItems) + " more")
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(String(s))
	}
	return b.String()
}
