package backends

import "strings"

// Match reports whether key matches the glob pattern with the rules of Redis' SCAN MATCH and KEYS, so
// that every backend selects the same keys:
//
//	pattern  matches
//	*        any run of bytes, including an empty one
//	?        any one byte
//	[abc]    one of the bytes listed; [a-z] a range; [^a] any byte but those
//	\x       the byte x itself (escapes *, ?, [ and \)
//
// A class without its closing "]" runs to the end of the pattern, as in Redis.
func Match(pattern, key string) bool {
	// Iterative matcher with one backtrack point for the last star: linear in practice, and never
	// exponential on adversarial patterns.
	p, k := 0, 0
	starP, starK := -1, -1
	for k < len(key) {
		if p < len(pattern) {
			switch c := pattern[p]; c {
			case '*':
				starP, starK = p, k
				p++
				continue
			case '?':
				p++
				k++
				continue
			case '[':
				if ok, next := matchClass(pattern, p, key[k]); ok {
					p, k = next, k+1
					continue
				}
			case '\\':
				if p+1 < len(pattern) {
					if pattern[p+1] == key[k] {
						p += 2
						k++
						continue
					}
				} else if key[k] == '\\' {
					p++
					k++
					continue
				}
			default:
				if c == key[k] {
					p++
					k++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		starK++
		p, k = starP+1, starK
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// matchClass matches b against the class starting at pattern[p] == '[', as Redis' stringmatchlen
// does: "^" negates, "\\" escapes, "a-z" is a range (either order), and a class without "]" runs to
// the end of the pattern. It returns whether b is in the class and the index after the class.
func matchClass(pattern string, p int, b byte) (ok bool, next int) {
	i := p + 1
	negate := i < len(pattern) && pattern[i] == '^'
	if negate {
		i++
	}
	for i < len(pattern) {
		c := pattern[i]
		switch {
		case c == '\\' && i+1 < len(pattern):
			i++
			if pattern[i] == b {
				ok = true
			}
		case c == ']':
			return ok != negate, i + 1
		case i+2 < len(pattern) && pattern[i+1] == '-':
			lo, hi := c, pattern[i+2]
			if lo > hi {
				lo, hi = hi, lo
			}
			if lo <= b && b <= hi {
				ok = true
			}
			i += 2
		case c == b:
			ok = true
		}
		i++
	}
	return ok != negate, i
}

// LiteralPrefix returns the part of pattern before its first special character, which every matching
// key starts with. Backends use it to narrow a scan ("user:*" scans only keys from "user:").
func LiteralPrefix(pattern string) string {
	var b strings.Builder
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; c {
		case '*', '?', '[':
			return b.String()
		case '\\':
			if i+1 < len(pattern) {
				i++
				b.WriteByte(pattern[i])
				continue
			}
			return b.String()
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
