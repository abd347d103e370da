package middleware

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// directives are the parsed Cache-Control directives of one message: lower-case names to their
// arguments ("" when a directive has none). The first occurrence of a directive wins (RFC 9111 4.2.1).
type directives map[string]string

// parseDirectives parses every Cache-Control field line of h. Unknown directives are kept (and then
// ignored by the callers); quoted arguments are unquoted.
func parseDirectives(h http.Header) directives {
	lines := h.Values("Cache-Control")
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
				arg = strings.ReplaceAll(arg[1:len(arg)-1], `\`, "")
			}
			if _, dup := d[name]; !dup {
				d[name] = arg
			}
		}
	}
	return d
}

// parseSurrogate parses Surrogate-Control, keeping the directives without a target and those
// targeted at target ("max-age=60;target").
func parseSurrogate(h http.Header, target string) directives {
	d := directives{}
	for _, line := range h.Values("Surrogate-Control") {
		for len(line) > 0 {
			var part string
			part, line = nextElement(line)
			part, to, targeted := strings.Cut(part, ";")
			if targeted && !strings.EqualFold(strings.TrimSpace(to), target) {
				continue
			}
			name, arg, _ := strings.Cut(part, "=")
			name = strings.ToLower(strings.TrimSpace(name))
			if _, dup := d[name]; name != "" && !dup {
				d[name] = strings.TrimSpace(arg)
			}
		}
	}
	return d
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

// deltaSeconds parses delta-seconds: digits only; invalid is 0, overflow is capped at 2^31 s.
func deltaSeconds(s string) time.Duration {
	if s == "" {
		return 0
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > 1<<31 {
		n = 1 << 31
	}
	return time.Duration(n) * time.Second
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
