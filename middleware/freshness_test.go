package middleware

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestAge(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	date := func(d time.Duration) string { return t0.Add(d).Format(http.TimeFormat) }
	tests := []struct {
		name   string
		header http.Header
		want   time.Duration
	}{
		{"no Date, no Age", http.Header{}, 10 * time.Second},
		{"Age", http.Header{"Age": {"100"}}, 110 * time.Second},
		{"Date an hour old", http.Header{"Date": {date(-time.Hour)}}, time.Hour - time.Second + 10*time.Second},
		{"Date a second old is forgiven", http.Header{"Date": {date(-time.Second)}}, 10 * time.Second},
		{"Age and old Date: the larger", http.Header{"Age": {"7200"}, "Date": {date(-time.Hour)}}, 7210 * time.Second},
		{"non-numeric Age is ignored", http.Header{"Age": {"abc"}}, 10 * time.Second},
		{"negative Age is ignored", http.Header{"Age": {"-7200"}}, 10 * time.Second},
		{"float Age is ignored", http.Header{"Age": {"7200.0"}}, 10 * time.Second},
		{"Age parameter is ignored", http.Header{"Age": {"7200;a=b"}}, 10 * time.Second},
		{"list: the first member", http.Header{"Age": {"0, 7200"}}, 10 * time.Second},
		{"list: the first member, old", http.Header{"Age": {"7200, 0"}}, 7210 * time.Second},
		{"two lines: the first", http.Header{"Age": {"0", "7200"}}, 10 * time.Second},
		{"two lines: the first, old", http.Header{"Age": {"7200", "0"}}, 7210 * time.Second},
		{"two equal lines", http.Header{"Age": {"3600", "3600"}}, 3610 * time.Second},
		{"huge is capped", http.Header{"Age": {"99999999999"}}, maxDelta*time.Second + 10*time.Second},
	}
	cfg := defaultConfig()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rl := cfg.rules(200, tc.header, t0, t0)
			if got := rl.age(t0, t0.Add(10*time.Second)); got != tc.want {
				t.Fatalf("age = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFreshness(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) string { return t0.Add(d).Format(http.TimeFormat) }
	tests := []struct {
		name     string
		status   int
		header   http.Header
		want     time.Duration
		explicit bool
	}{
		{"max-age", 200, http.Header{"Cache-Control": {"max-age=60"}}, time.Minute, true},
		{"the shortest of two max-age", 200, http.Header{"Cache-Control": {"max-age=60, max-age=1"}}, time.Second, true},
		{"the shortest of two max-age lines", 200, http.Header{"Cache-Control": {"max-age=1", "max-age=60"}}, time.Second, true},
		{"case", 200, http.Header{"Cache-Control": {"MAX-AGE=60"}}, time.Minute, true},
		{"quoted", 200, http.Header{"Cache-Control": {`max-age="60"`}}, time.Minute, true},
		{"invalid max-age is stale", 200, http.Header{"Cache-Control": {"max-age=60a"}}, 0, true},
		{"huge max-age is capped", 200, http.Header{"Cache-Control": {"max-age=99999999999"}}, maxDelta * time.Second, true},
		{"s-maxage first", 200, http.Header{"Cache-Control": {"max-age=60, s-maxage=5"}}, 5 * time.Second, true},
		{"Expires - Date", 200, http.Header{"Expires": {at(time.Hour)}, "Date": {at(0)}}, time.Hour, true},
		{"Expires without Date", 200, http.Header{"Expires": {at(time.Hour)}}, time.Hour, true},
		{"Expires obsolete RFC 850", 200, http.Header{"Expires": {"Wednesday, 01-Jan-25 01:00:00 GMT"}, "Date": {at(0)}}, time.Hour, true},
		{"Expires asctime", 200, http.Header{"Expires": {"Wed Jan  1 01:00:00 2025"}, "Date": {at(0)}}, time.Hour, true},
		{"Expires two spaces", 200, http.Header{"Expires": {"Wed, 01  Jan  2025 01:00:00 GMT"}, "Date": {at(0)}}, 0, true},
		{"Expires one-digit hour", 200, http.Header{"Expires": {"Wed, 01 Jan 2025 1:00:00 GMT"}, "Date": {at(0)}}, 0, true},
		{"Expires UTC", 200, http.Header{"Expires": {"Wed, 01 Jan 2025 01:00:00 UTC"}, "Date": {at(0)}}, 0, true},
		{"Expires twice", 200, http.Header{"Expires": {at(time.Hour), at(time.Hour)}, "Date": {at(0)}}, 0, true},
		{"Expires 0", 200, http.Header{"Expires": {"0"}}, 0, true},
		{"max-age over Expires", 200, http.Header{"Cache-Control": {"max-age=1"}, "Expires": {at(time.Hour)}}, time.Second, true},
		{"nothing, 200", 200, http.Header{}, 42 * time.Second, false},
		{"nothing, 301", 301, http.Header{}, 42 * time.Second, false},
		{"nothing, 404: DefaultTTL is for 2xx and 3xx", 404, http.Header{}, 0, false},
		{"nothing, 405", 405, http.Header{}, 0, false},
		{"nothing, 501", 501, http.Header{}, 0, false},
		{"nothing, 410 named by the route", 410, http.Header{}, 42 * time.Second, false},
		{"nothing, 302", 302, http.Header{}, 0, false},
		{"nothing, public 302", 302, http.Header{"Cache-Control": {"public"}}, 42 * time.Second, false},
		{"nothing, public 500", 500, http.Header{"Cache-Control": {"public"}}, 0, false},
		{"Last-Modified not before Date", 200, http.Header{"Last-Modified": {at(0)}}, 42 * time.Second, false},
		{"heuristic", 200, http.Header{"Last-Modified": {at(-100 * time.Hour)}}, 10 * time.Hour, false},
		{"heuristic, 404 (RFC 9110 lists it)", 404, http.Header{"Last-Modified": {at(-100 * time.Hour)}}, 10 * time.Hour, false},
		{"heuristic, not a heuristic status", 500, http.Header{"Last-Modified": {at(-100 * time.Hour)}}, 0, false},
		{"CDN-Cache-Control over Cache-Control", 200, http.Header{"Cache-Control": {"max-age=60"}, "Cdn-Cache-Control": {"max-age=10"}}, 10 * time.Second, true},
		{"CDN-Cache-Control ignores Expires", 200, http.Header{"Cdn-Cache-Control": {"no-cache"}, "Expires": {at(time.Hour)}}, 42 * time.Second, false},
		{"invalid CDN-Cache-Control is ignored", 200, http.Header{"Cache-Control": {"max-age=60"}, "Cdn-Cache-Control": {"max-age=10, &&"}}, time.Minute, true},
	}
	cfg := defaultConfig()
	cfg.defaultTTL, cfg.heuristic, cfg.ttlStatuses = 42*time.Second, 0.1, map[int]bool{410: true}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rl := cfg.rules(tc.status, tc.header, t0, t0)
			if rl.lifetime != tc.want || rl.explicit != tc.explicit {
				t.Fatalf("freshness = %v, %v; want %v, %v", rl.lifetime, rl.explicit, tc.want, tc.explicit)
			}
		})
	}
}

func TestHTTPDate(t *testing.T) {
	want := time.Date(2050, 8, 18, 2, 1, 18, 0, time.UTC)
	valid := []string{
		"Thu, 18 Aug 2050 02:01:18 GMT",
		"THU, 18 AUG 2050 02:01:18 gmt",
		"Thursday, 18-Aug-50 02:01:18 GMT",
		"Thu Aug 18 02:01:18 2050",
	}
	for _, s := range valid {
		if got, ok := parseHTTPDate(s); !ok || !got.Equal(want) {
			t.Errorf("parseHTTPDate(%q) = %v, %v; want %v", s, got, ok, want)
		}
	}
	if got, ok := parseHTTPDate("Thu Aug  8 02:01:18 2050"); !ok || got.Day() != 8 {
		t.Errorf("asctime with a one-digit day: %v, %v", got, ok)
	}
	if got, ok := parseHTTPDate("Sunday, 06-Nov-94 08:49:37 GMT"); !ok || got.Year() != 1994 {
		t.Errorf("RFC 850 year 94: %v, %v; want 1994", got, ok)
	}
	invalid := []string{
		"", "0", "-1",
		"Thu, 18 Aug 2050 02:01:18 UTC",
		"Thu, 18 Aug 2050 02:01:18 AEST",
		"Thu, 18 Aug 50 02:01:18 GMT",
		"Thu 18 Aug 2050 02:01:18 GMT",
		"Thu, 18  Aug  2050 02:01:18 GMT",
		"Thu, 18-Aug-2050 02:01:18 GMT",
		"Thu, 18 Aug 2050 02.01.18 GMT",
		"Thu, 18 Aug 2050 2:01:18 GMT",
		"Thu, 31 Feb 2050 02:01:18 GMT",
		"Thu, 18 Aug 2050 24:01:18 GMT",
		"Xyz, 18 Aug 2050 02:01:18 GMT",
		"Thu, 18 Aug 2050 02:01:18 GMT ",
		"Thu Aug 18 02:01:18  2050",
	}
	for _, s := range invalid {
		if got, ok := parseHTTPDate(s); ok {
			t.Errorf("parseHTTPDate(%q) = %v, want invalid", s, got)
		}
	}
}

func TestTargetedField(t *testing.T) {
	tests := []struct {
		value string
		want  directives // nil: invalid, ignored
	}{
		{"max-age=60", directives{"max-age": "60"}},
		{"max-age=60, no-store", directives{"max-age": "60", "no-store": ""}},
		{"  max-age=60 ,\tprivate  ", directives{"max-age": "60", "private": ""}},
		{"max-age=99999999999", directives{"max-age": "2147483648"}},
		{"max-age=-5", directives{"max-age": "0"}},
		{`max-age="60"`, directives{"max-age": "0"}},
		{"max-age=6.5", directives{"max-age": "0"}},
		{"max-age=60;foo=bar, s-maxage=5;x", directives{"max-age": "60", "s-maxage": "5"}},
		{`private="set-cookie"`, directives{"private": "set-cookie"}},
		{`no-cache=?0, no-store=?1`, directives{"no-store": ""}},
		{`no-store=5`, directives{"no-store": ""}},
		{`foo=(a b), bar=:AQID:, baz=tok/en`, directives{"foo": "", "bar": "", "baz": ""}},
		{"max-age=60, max-age=10", directives{"max-age": "10"}},
		{"foo", directives{"foo": ""}},
		{"", nil},
		{"   ", nil},
		{"max-age=10000, &&&&&", nil},
		{"MaX-aGe=3600", nil},
		{"max-age =100", nil},
		{"max-age= 100", nil},
		{"max-age=60,", nil},
		{"max-age=1234567890123456", nil},
		{`a="unterminated`, nil},
		{`a="\x"`, nil},
		{"a=?2", nil},
		{"a=(b", nil},
	}
	for _, tc := range tests {
		got, ok := parseTargeted([]string{tc.value})
		if tc.want == nil {
			if ok {
				t.Errorf("parseTargeted(%q) = %v, want invalid", tc.value, got)
			}
			continue
		}
		if !ok || len(got) != len(tc.want) {
			t.Errorf("parseTargeted(%q) = %v, %v; want %v", tc.value, got, ok, tc.want)
			continue
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("parseTargeted(%q)[%s] = %q, want %q", tc.value, k, got[k], v)
			}
		}
	}
	// Two lines are one dictionary.
	if got, ok := parseTargeted([]string{"max-age=60", "no-store"}); !ok || !got.has("no-store") || got["max-age"] != "60" {
		t.Errorf("two lines: %v, %v", got, ok)
	}
}

// occurrence is one directive of a Cache-Control value, read by referenceDirectives.
type occurrence struct{ name, arg string }

// referenceDirectives is a second, plain reading of Cache-Control lines for the fuzz test: every
// occurrence in order, split at commas outside double quotes, names lower-cased, quotes and
// backslash escapes removed from arguments.
func referenceDirectives(lines []string) []occurrence {
	var out []occurrence
	for _, line := range lines {
		var parts []string
		var cur []byte
		inQuote, escaped := false, false
		for i := 0; i < len(line); i++ {
			c := line[i]
			switch {
			case escaped:
				escaped = false
			case inQuote && c == '\\':
				escaped = true
			case c == '"':
				inQuote = !inQuote
			case c == ',' && !inQuote:
				parts = append(parts, string(cur))
				cur = cur[:0]
				continue
			}
			cur = append(cur, c)
		}
		parts = append(parts, string(cur))
		for _, p := range parts {
			name, arg := p, ""
			if i := strings.IndexByte(p, '='); i >= 0 {
				name, arg = p[:i], p[i+1:]
			}
			name = strings.ToLower(strings.TrimSpace(name))
			arg = strings.TrimSpace(arg)
			if len(arg) >= 2 && strings.HasPrefix(arg, `"`) && strings.HasSuffix(arg, `"`) {
				arg = unquote(arg[1 : len(arg)-1])
			}
			if name != "" {
				out = append(out, occurrence{name, arg})
			}
		}
	}
	return out
}

// FuzzDirectives checks the most-restrictive reading of repeated directives against
// referenceDirectives: no-store, unqualified private and no-cache win wherever they occur; a lifetime
// is the shortest one given; the fields of qualified directives are all of those named.
func FuzzDirectives(f *testing.F) {
	for _, s := range []string{
		`max-age=60, private="Set-Cookie"` + "\n" + `private`,
		`max-age=60, no-cache="Set-Cookie"` + "\n" + `no-cache`,
		`max-age=60, no-cache="Set-Cookie, X", no-cache="Y"`,
		`a="\"", b`, `max-age=1;edge, no-store`, `,,=,"`, "max-age=1800, max-age=1", "s-maxage=5\nS-MAXAGE=\"7\"",
		`private, private="a"`, "max-age=abc, max-age=5",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lines := strings.Split(s, "\n")
		h := http.Header{"Cache-Control": lines}
		d := parseDirectives(h)
		occ := referenceDirectives(lines)
		for _, name := range []string{"no-store", "must-revalidate", "public"} {
			want := slices.ContainsFunc(occ, func(o occurrence) bool { return o.name == name })
			if d.has(name) != want {
				t.Fatalf("%q: has(%s) = %v, reference %v", s, name, d.has(name), want)
			}
		}
		for _, name := range []string{"private", "no-cache"} {
			whole := slices.ContainsFunc(occ, func(o occurrence) bool { return o.name == name && o.arg == "" })
			if d.whole(name) != whole {
				t.Fatalf("%q: whole(%s) = %v, reference %v", s, name, d.whole(name), whole)
			}
			if whole {
				continue
			}
			var want []string
			for _, o := range occ {
				if o.name == name {
					for _, f := range strings.Split(o.arg, ",") {
						if f = strings.TrimSpace(f); f != "" {
							want = append(want, http.CanonicalHeaderKey(f))
						}
					}
				}
			}
			got := d.fields(name)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(slices.Compact(got), slices.Compact(want)) {
				t.Fatalf("%q: fields(%s) = %q, reference %q", s, name, got, want)
			}
		}
		for _, name := range []string{"max-age", "s-maxage", "stale-while-revalidate", "stale-if-error"} {
			var want time.Duration = -1
			for _, o := range occ {
				if o.name == name && (want < 0 || deltaSeconds(o.arg) < want) {
					want = deltaSeconds(o.arg)
				}
			}
			got, ok := d.seconds(name)
			if !ok {
				got = -1
			}
			if got != want {
				t.Fatalf("%q: seconds(%s) = %v, reference %v", s, name, got, want)
			}
		}
		// Nothing else may panic on any input.
		parseTargeted(lines)
		parseSurrogate(lines, "edge")
		ageValue(http.Header{"Age": lines})
		parseHTTPDate(s)
		cfg := defaultConfig()
		cfg.rules(200, http.Header{"Cache-Control": lines, "Cdn-Cache-Control": lines, "Expires": lines, "Age": lines, "Date": lines}, time.Time{}, time.Time{})
	})
}
