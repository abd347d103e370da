package middleware

import (
	"strconv"
	"strings"
)

// Targeted cache-control fields (RFC 9213), such as CDN-Cache-Control: a field name the cache is
// configured to obey which, when present and valid, replaces Cache-Control and Expires for this cache
// only. Their value is a Structured Field Dictionary (RFC 8941); a value that does not parse as one
// is ignored as a whole, and the next field of the target list (or Cache-Control) applies.

// parseTargeted parses a targeted field's lines as a Structured Field Dictionary and returns its
// directives, or ok == false when the value is empty or not a valid dictionary. Booleans are flags
// (a false one is absent); integers are delta-seconds (a negative one counts as 0); a string
// argument of no-cache or private names fields; a directive that expects seconds and gets another
// type counts as 0 (stale), and one that expects a flag and gets another type counts as present, so
// that a malformed directive never makes a response more cacheable. A repeated key keeps its most
// restrictive reading, as in Cache-Control (RFC 8941 would keep the last).
func parseTargeted(lines []string) (d directives, ok bool) {
	if len(lines) == 0 {
		return nil, false
	}
	p := sfParser{s: strings.Join(lines, ",")}
	p.skipSP()
	if p.eof() {
		return nil, false
	}
	d = directives{}
	for {
		key, ok := p.key()
		if !ok {
			return nil, false
		}
		var v sfItem
		if p.peek() == '=' {
			p.i++
			if p.peek() == '(' {
				if !p.innerList() {
					return nil, false
				}
				v = sfItem{kind: sfOther}
			} else if v, ok = p.bareItem(); !ok {
				return nil, false
			}
		} else {
			v = sfItem{kind: sfBool, b: true}
		}
		if !p.params() {
			return nil, false
		}
		addTargeted(d, key, v)
		p.skipOWS()
		if p.eof() {
			return d, true
		}
		if p.peek() != ',' {
			return nil, false
		}
		p.i++
		p.skipOWS()
		if p.eof() {
			return nil, false // a trailing comma
		}
	}
}

// addTargeted adds one dictionary member as a directive.
func addTargeted(d directives, key string, v sfItem) {
	switch key {
	case "max-age", "s-maxage", "stale-while-revalidate", "stale-if-error":
		arg := "0"
		if v.kind == sfInt && v.n > 0 {
			arg = strconv.FormatInt(min(v.n, maxDelta), 10)
		}
		d.merge(key, arg)
	case "no-cache", "private":
		switch {
		case v.kind == sfBool && !v.b:
		case v.kind == sfString:
			d.merge(key, v.s)
		default:
			d.merge(key, "")
		}
	default:
		if v.kind == sfBool && !v.b {
			return
		}
		d.merge(key, "")
	}
}

type sfKind int

const (
	sfBool sfKind = iota
	sfInt
	sfString
	sfOther // decimal, token, byte sequence, inner list
)

type sfItem struct {
	kind sfKind
	b    bool
	n    int64
	s    string
}

// sfParser parses the subset of RFC 8941 that a dictionary needs.
type sfParser struct {
	s string
	i int
}

func (p *sfParser) eof() bool { return p.i >= len(p.s) }

func (p *sfParser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.s[p.i]
}

func (p *sfParser) skipSP() {
	for !p.eof() && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *sfParser) skipOWS() {
	for !p.eof() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func isLCAlpha(c byte) bool { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool   { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool   { return isLCAlpha(c) || (c >= 'A' && c <= 'Z') }

// key parses key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" ).
func (p *sfParser) key() (string, bool) {
	start := p.i
	if c := p.peek(); !isLCAlpha(c) && c != '*' {
		return "", false
	}
	p.i++
	for !p.eof() {
		c := p.s[p.i]
		if !isLCAlpha(c) && !isDigit(c) && c != '_' && c != '-' && c != '.' && c != '*' {
			break
		}
		p.i++
	}
	return p.s[start:p.i], true
}

// params parses parameters = *( ";" *SP key [ "=" bare-item ] ), which are ignored.
func (p *sfParser) params() bool {
	for p.peek() == ';' {
		p.i++
		p.skipSP()
		if _, ok := p.key(); !ok {
			return false
		}
		if p.peek() == '=' {
			p.i++
			if _, ok := p.bareItem(); !ok {
				return false
			}
		}
	}
	return true
}

// innerList parses "(" *SP [ item *( 1*SP item ) *SP ] ")" (the parameters follow).
func (p *sfParser) innerList() bool {
	p.i++ // (
	for {
		p.skipSP()
		if p.peek() == ')' {
			p.i++
			return true
		}
		if _, ok := p.bareItem(); !ok || !p.params() {
			return false
		}
		if c := p.peek(); c != ' ' && c != ')' {
			return false
		}
	}
}

// bareItem parses an integer, decimal, string, token, byte sequence or boolean.
func (p *sfParser) bareItem() (sfItem, bool) {
	c := p.peek()
	switch {
	case c == '-' || isDigit(c):
		return p.number()
	case c == '"':
		return p.str()
	case c == '*' || isAlpha(c):
		p.i++
		for !p.eof() && (isTChar(p.s[p.i]) || p.s[p.i] == ':' || p.s[p.i] == '/') {
			p.i++
		}
		return sfItem{kind: sfOther}, true
	case c == ':':
		p.i++
		for !p.eof() && p.s[p.i] != ':' {
			if b := p.s[p.i]; !isAlpha(b) && !isDigit(b) && b != '+' && b != '/' && b != '=' {
				return sfItem{}, false
			}
			p.i++
		}
		if p.eof() {
			return sfItem{}, false
		}
		p.i++
		return sfItem{kind: sfOther}, true
	case c == '?':
		p.i++
		switch p.peek() {
		case '0':
			p.i++
			return sfItem{kind: sfBool}, true
		case '1':
			p.i++
			return sfItem{kind: sfBool, b: true}, true
		}
	}
	return sfItem{}, false
}

// number parses an integer (up to 15 digits) or a decimal (up to 12 digits, a dot, 1 to 3 digits).
func (p *sfParser) number() (sfItem, bool) {
	neg := false
	if p.peek() == '-' {
		neg = true
		p.i++
	}
	start := p.i
	for !p.eof() && isDigit(p.s[p.i]) {
		p.i++
	}
	intDigits := p.i - start
	if intDigits == 0 {
		return sfItem{}, false
	}
	if p.peek() == '.' {
		if intDigits > 12 {
			return sfItem{}, false
		}
		p.i++
		fs := p.i
		for !p.eof() && isDigit(p.s[p.i]) {
			p.i++
		}
		if f := p.i - fs; f < 1 || f > 3 {
			return sfItem{}, false
		}
		return sfItem{kind: sfOther}, true
	}
	if intDigits > 15 {
		return sfItem{}, false
	}
	n, _ := strconv.ParseInt(p.s[start:p.i], 10, 64)
	if neg {
		n = -n
	}
	return sfItem{kind: sfInt, n: n}, true
}

// str parses a string: printable ASCII, with \" and \\ escapes.
func (p *sfParser) str() (sfItem, bool) {
	p.i++ // "
	var b strings.Builder
	for !p.eof() {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '\\':
			if p.eof() || (p.s[p.i] != '"' && p.s[p.i] != '\\') {
				return sfItem{}, false
			}
			b.WriteByte(p.s[p.i])
			p.i++
		case c == '"':
			return sfItem{kind: sfString, s: b.String()}, true
		case c < 0x20 || c > 0x7e:
			return sfItem{}, false
		default:
			b.WriteByte(c)
		}
	}
	return sfItem{}, false
}

func isTChar(c byte) bool {
	return c > ' ' && c < 0x7f && strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) < 0
}
