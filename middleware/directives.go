package middleware

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// directives are the parsed cache directives of one message: lower-case names to their arguments
// ("" when a directive has none). A directive that occurs more than once is read in its most
// restrictive way (see merge), so that no reading of a message is more permissive than ours.
type directives map[string]string

// parseDirectives parses every Cache-Control field line of h. Unknown directives are kept (and then
// ignored by the callers); quoted arguments are unquoted.
func parseDirectives(h http.Header) directives {
	return parseList(h["Cache-Control"])
}

// parseList parses the field lines of a Cache-Control-like list.
func parseList(lines []string) directives {
	if len(lines) == 0 {
		return nil
	}
	d := directives{}
	for _, line := range lines {
		for len(line) > 0 {
			var part string
			part, line = nextElement(line)
			name, arg, _ := strings.Cut(part, "=")
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "" {
				continue
			}
			arg = strings.TrimSpace(arg)
			if len(arg) >= 2 && arg[0] == '"' && arg[len(arg)-1] == '"' {
				arg = unquote(arg[1 : len(arg)-1])
			}
			d.merge(name, arg)
		}
	}
	return d
}

// unquote removes the backslashes of quoted-pairs.
func unquote(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// merge adds one occurrence of a directive. A repeated directive keeps its most restrictive reading:
// the shortest lifetime or staleness allowance (the largest min-fresh), an unqualified no-cache or
// private over a qualified one (the whole response over some fields), and the union of the field
// names of two qualified ones. Other directives are flags: their presence is what counts.
func (d directives) merge(name, arg string) {
	prev, dup := d[name]
	if !dup {
		d[name] = arg
		return
	}
	switch name {
	case "max-age", "s-maxage", "stale-while-revalidate", "stale-if-error":
		if deltaSeconds(arg) < deltaSeconds(prev) {
			d[name] = arg
		}
	case "max-stale": // request: bare means any staleness, so a bound is stricter
		if prev == "" || (arg != "" && deltaSeconds(arg) < deltaSeconds(prev)) {
			d[name] = arg
		}
	case "min-fresh": // request: more required freshness is stricter
		if deltaSeconds(arg) > deltaSeconds(prev) {
			d[name] = arg
		}
	case "no-cache", "private":
		if prev == "" || arg == "" {
			d[name] = ""
		} else {
			d[name] = prev + "," + arg
		}
	}
}

// nextElement splits off the first comma-separated element of a list, honouring quoted strings.
func nextElement(s string) (elem, rest string) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if quoted {
				i++
			}
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				return s[:i], s[i+1:]
			}
		}
	}
	return s, ""
}

func (d directives) has(name string) bool {
	_, ok := d[name]
	return ok
}

// whole reports whether a directive that may name fields (no-cache, private) is present without
// naming any, so that it applies to the whole response.
func (d directives) whole(name string) bool {
	arg, ok := d[name]
	return ok && arg == ""
}

// seconds returns the delta-seconds argument of name. ok is false when the directive is absent; an
// argument that is not a non-negative integer counts as 0, which makes the response stale (the safe
// reading of RFC 9111 1.2.2); a huge one is capped.
func (d directives) seconds(name string) (time.Duration, bool) {
	arg, ok := d[name]
	if !ok {
		return 0, false
	}
	return deltaSeconds(arg), true
}

// maxDelta is the largest delta-seconds value a cache must handle (RFC 9111 1.2.2): 2^31 seconds.
const maxDelta = 1 << 31

// deltaSeconds parses delta-seconds: digits only; invalid is 0, overflow is capped at 2^31 s.
func deltaSeconds(s string) time.Duration {
	if !isDigits(s) {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > maxDelta {
		n = maxDelta
	}
	return time.Duration(n) * time.Second
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// fields returns the field names listed in the argument of a qualified directive such as
// no-cache="Set-Cookie", in canonical form.
func (d directives) fields(name string) []string {
	arg := d[name]
	if arg == "" {
		return nil
	}
	var out []string
	for _, f := range strings.Split(arg, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, http.CanonicalHeaderKey(f))
		}
	}
	return out
}

// names reports whether a qualified directive names the field (canonical form).
func (d directives) names(name, field string) bool {
	for _, f := range d.fields(name) {
		if f == field {
			return true
		}
	}
	return false
}

// headerList returns the comma-separated elements of every line of the named field, trimmed.
func headerList(h http.Header, name string) []string {
	var out []string
	for _, line := range h.Values(name) {
		for _, f := range strings.Split(line, ",") {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, f)
			}
		}
	}
	return out
}

// parseSurrogate parses Surrogate-Control (Edge Architecture 1.0), keeping the directives without a
// target and those targeted at target ("max-age=60;target"). "max-age=60+30" is a max-age of 60 s
// that may be served stale for 30 s more when the origin fails (read as stale-if-error=30). It
// returns nil unless it holds max-age or no-store, the directives that make it rule.
func parseSurrogate(lines []string, target string) directives {
	d := directives{}
	for _, line := range lines {
		for len(line) > 0 {
			var part string
			part, line = nextElement(line)
			part, to, targeted := strings.Cut(part, ";")
			if targeted && !strings.EqualFold(strings.TrimSpace(to), target) {
				continue
			}
			name, arg, _ := strings.Cut(part, "=")
			name = strings.ToLower(strings.TrimSpace(name))
			arg = strings.TrimSpace(arg)
			if name == "" {
				continue
			}
			if name == "max-age" {
				if fresh, stale, ok := strings.Cut(arg, "+"); ok {
					arg = fresh
					d.merge("stale-if-error", stale)
				}
			}
			d.merge(name, arg)
		}
	}
	if !d.has("max-age") && !d.has("no-store") {
		return nil
	}
	return d
}
