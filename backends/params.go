package backends

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/cashews-go/cashews/internal/quote"
)

// Params are the query parameters of a setup URL. Each getter takes one parameter, so that
// [Params.Unused] can name the ones nobody took; each returns an error naming the parameter and the
// value when the value does not parse. A Params is used by one goroutine at a time.
type Params struct {
	scheme string
	values url.Values
	used   map[string]bool
}

// NewParams returns Params over the given values, for backends opened without a URL.
func NewParams(values url.Values) *Params {
	return &Params{values: values}
}

func (p *Params) take(name string) (string, bool) {
	if p.used == nil {
		p.used = make(map[string]bool)
	}
	p.used[name] = true
	v, ok := p.values[name]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// Has reports whether the parameter is present, and marks it as taken.
func (p *Params) Has(name string) bool {
	_, ok := p.take(name)
	return ok
}

func (p *Params) bad(name, value, want string) error {
	return fmt.Errorf("cashews: URL parameter %s=%s: want %s", name, quote.String(value), want)
}

// String returns the parameter's value, or def when it is absent.
func (p *Params) String(name, def string) string {
	if v, ok := p.take(name); ok {
		return v
	}
	return def
}

// Bool parses a boolean: 1, t, true, y, yes, on and 0, f, false, n, no, off, in any case. An empty
// value (?suppress) means true.
func (p *Params) Bool(name string, def bool) (bool, error) {
	v, ok := p.take(name)
	if !ok {
		return def, nil
	}
	b, ok := ParseBool(v)
	if !ok {
		return def, p.bad(name, v, "a boolean (true, false, 1, 0, yes, no, on, off)")
	}
	return b, nil
}

// ParseBool parses the boolean spellings that [Params.Bool] accepts.
func ParseBool(v string) (value, ok bool) {
	switch strings.ToLower(v) {
	case "", "1", "t", "true", "y", "yes", "on":
		return true, true
	case "0", "f", "false", "n", "no", "off":
		return false, true
	}
	return false, false
}

// Int parses a decimal integer in [min, max].
func (p *Params) Int(name string, def, min, max int64) (int64, error) {
	v, ok := p.take(name)
	if !ok {
		return def, nil
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(v, "_", ""), 10, 64)
	if err != nil || n < min || n > max {
		return def, p.bad(name, v, fmt.Sprintf("an integer from %d to %d", min, max))
	}
	return n, nil
}

// Duration parses a duration in Go syntax plus days ("1d2h3m", "500ms", "0"); it must be in
// [min, max].
func (p *Params) Duration(name string, def, min, max time.Duration) (time.Duration, error) {
	v, ok := p.take(name)
	if !ok {
		return def, nil
	}
	d, err := ParseDuration(v)
	if err != nil || d < min || d > max {
		return def, p.bad(name, v, fmt.Sprintf("a duration from %s to %s such as 1d2h3m or 500ms", min, max))
	}
	return d, nil
}

// Size parses a size in bytes: a plain number, or one with a unit B, KB, MB, GB, TB (powers of 1000)
// or KiB, MiB, GiB, TiB (powers of 1024), in any case ("64MiB", "1gb"); it must be in [min, max].
func (p *Params) Size(name string, def, min, max int64) (int64, error) {
	v, ok := p.take(name)
	if !ok {
		return def, nil
	}
	n, err := ParseSize(v)
	if err != nil || n < min || n > max {
		return def, p.bad(name, v, fmt.Sprintf("a size from %d to %d bytes such as 64MiB or 1GB", min, max))
	}
	return n, nil
}

// Enum returns the parameter's value, which must be one of allowed (the first is the default).
func (p *Params) Enum(name string, allowed ...string) (string, error) {
	v, ok := p.take(name)
	if !ok {
		return allowed[0], nil
	}
	for _, a := range allowed {
		if v == a {
			return v, nil
		}
	}
	return allowed[0], p.bad(name, v, "one of "+strings.Join(allowed, ", "))
}

// Unused returns the names of the parameters nobody took, sorted.
func (p *Params) Unused() []string {
	var out []string
	for k := range p.values {
		if !p.used[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// CheckUnused returns an error naming every parameter nobody took, or nil.
func (p *Params) CheckUnused() error {
	u := p.Unused()
	if len(u) == 0 {
		return nil
	}
	scheme := p.scheme
	if scheme == "" {
		scheme = "this"
	}
	return fmt.Errorf("cashews: unknown URL parameter %s for the %s backend", quoteParams(u), scheme)
}

// quoteParams quotes parameter names for an error, the first ten of them, hiding secrets.
func quoteParams(names []string) string {
	q := make([]string, len(names))
	for i, v := range names {
		q[i] = quoteParam(v)
	}
	if len(q) > 10 {
		q = append(q[:10], fmt.Sprintf("and %d more", len(names)-10))
	}
	return strings.Join(q, ", ")
}

// ParseDuration parses Go duration syntax extended with days: "1d2h3m", "1.5d", "-1h". A day is
// 24 hours.
func ParseDuration(s string) (time.Duration, error) {
	orig := s
	if s == "" {
		return 0, fmt.Errorf("cashews: empty duration")
	}
	// Split off a leading "<number>d" and hand the rest to time.ParseDuration.
	neg := false
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		s = s[1:]
	}
	var days time.Duration
	i := 0
	for i < len(s) && (s[i] == '.' || (s[i] >= '0' && s[i] <= '9')) {
		i++
	}
	if i > 0 && i < len(s) && s[i] == 'd' {
		f, err := strconv.ParseFloat(s[:i], 64)
		if err != nil {
			return 0, fmt.Errorf("cashews: bad duration %s", quote.String(orig))
		}
		if f > float64(1<<63-1)/float64(24*time.Hour) {
			return 0, fmt.Errorf("cashews: duration %s is too long", quote.String(orig))
		}
		days = time.Duration(f * float64(24*time.Hour))
		s = s[i+1:]
	}
	var rest time.Duration
	if s != "" {
		var err error
		rest, err = time.ParseDuration(s)
		if err != nil || strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
			return 0, fmt.Errorf("cashews: bad duration %s", quote.String(orig))
		}
	}
	d := days + rest
	if d < days { // overflow
		return 0, fmt.Errorf("cashews: duration %s is too long", quote.String(orig))
	}
	if neg {
		d = -d
	}
	return d, nil
}

// ParseSize parses a size in bytes with an optional unit (see [Params.Size]).
func ParseSize(s string) (int64, error) {
	orig := s
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '_') {
		i++
	}
	num, unit := strings.ReplaceAll(s[:i], "_", ""), strings.ToLower(strings.TrimFunc(s[i:], unicode.IsSpace))
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("cashews: bad size %s", quote.String(orig))
	}
	mult := map[string]int64{
		"": 1, "b": 1,
		"k": 1000, "kb": 1000, "m": 1000 * 1000, "mb": 1000 * 1000, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
	}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("cashews: bad size unit in %s", quote.String(orig))
	}
	if n > (1<<63-1)/mult {
		return 0, fmt.Errorf("cashews: size %s is too large", quote.String(orig))
	}
	return n * mult, nil
}
