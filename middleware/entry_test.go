package middleware

import (
	"net/http"
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
		{"non-numeric Age", http.Header{"Age": {"abc"}}, invalidAge},
		{"negative Age", http.Header{"Age": {"-10"}}, invalidAge},
		{"float Age", http.Header{"Age": {"1.5"}}, invalidAge},
		{"Age list", http.Header{"Age": {"0, 0"}}, invalidAge},
		{"two Age lines", http.Header{"Age": {"0", "0"}}, invalidAge},
		{"Age parameter", http.Header{"Age": {"0;a=b"}}, invalidAge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &Response{Header: tc.header, RequestTime: t0, ResponseTime: t0}
			if got := r.age(t0.Add(10 * time.Second)); got != tc.want {
				t.Fatalf("age = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFreshness(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		status   int
		header   http.Header
		want     time.Duration
		explicit bool
	}{
		{"max-age", 200, http.Header{"Cache-Control": {"max-age=60"}}, time.Minute, true},
		{"first max-age wins", 200, http.Header{"Cache-Control": {"max-age=60, max-age=1"}}, time.Minute, true},
		{"case", 200, http.Header{"Cache-Control": {"MAX-AGE=60"}}, time.Minute, true},
		{"quoted", 200, http.Header{"Cache-Control": {`max-age="60"`}}, time.Minute, true},
		{"invalid max-age is stale", 200, http.Header{"Cache-Control": {"max-age=60a"}}, 0, true},
		{"huge max-age is capped", 200, http.Header{"Cache-Control": {"max-age=99999999999"}}, (1 << 31) * time.Second, true},
		{"s-maxage first", 200, http.Header{"Cache-Control": {"max-age=60, s-maxage=5"}}, 5 * time.Second, true},
		{"Expires - Date", 200, http.Header{"Expires": {t0.Add(time.Hour).Format(http.TimeFormat)}, "Date": {t0.Format(http.TimeFormat)}}, time.Hour, true},
		{"Expires without Date", 200, http.Header{"Expires": {t0.Add(time.Hour).Format(http.TimeFormat)}}, time.Hour, true},
		{"max-age over Expires", 200, http.Header{"Cache-Control": {"max-age=1"}, "Expires": {t0.Add(time.Hour).Format(http.TimeFormat)}}, time.Second, true},
		{"nothing, heuristic status", 404, http.Header{}, 42 * time.Second, false},
		{"Last-Modified not before Date", 200, http.Header{"Last-Modified": {t0.Format(http.TimeFormat)}}, 42 * time.Second, false},
		{"nothing, other status", 500, http.Header{}, 0, false},
		{"nothing, public", 500, http.Header{"Cache-Control": {"public"}}, 42 * time.Second, false},
		{"heuristic", 200, http.Header{"Last-Modified": {t0.Add(-100 * time.Hour).Format(http.TimeFormat)}}, 10 * time.Hour, false},
		{"heuristic, not a heuristic status", 500, http.Header{"Last-Modified": {t0.Add(-100 * time.Hour).Format(http.TimeFormat)}}, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, explicit := freshness(tc.status, tc.header, parseDirectives(tc.header), t0, fallback{ttl: 42 * time.Second, fraction: 0.1})
			if got != tc.want || explicit != tc.explicit {
				t.Fatalf("freshness = %v, %v; want %v, %v", got, explicit, tc.want, tc.explicit)
			}
		})
	}
}

func FuzzDirectives(f *testing.F) {
	for _, s := range []string{`max-age=60, no-cache="Set-Cookie, X"`, `a="\"", b`, `max-age=1;edge, no-store`, `,,=,"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h := http.Header{"Cache-Control": {s}, "Surrogate-Control": {s}, "Age": {s}}
		d := parseDirectives(h)
		for name := range d {
			d.seconds(name)
			d.fields(name)
		}
		parseSurrogate(h, "edge")
		(&Response{Header: h}).age(time.Time{})
	})
}
