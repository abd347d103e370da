package middleware

import (
	"strings"
	"time"
)

// parseHTTPDate parses an HTTP-date (RFC 9110 5.6.7) strictly: IMF-fixdate
// ("Sun, 06 Nov 1994 08:49:37 GMT") or one of the two obsolete formats recipients must accept,
// RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime ("Sun Nov  6 08:49:37 1994"). Day and month
// names and GMT are matched without regard to case; any other deviation (a missing comma, doubled
// spaces, a one-digit hour, another zone, a two-digit year in the preferred format) makes it invalid,
// unlike http.ParseTime. A two-digit RFC 850 year more than 50 years ahead of now means the past
// century (RFC 9110 5.6.7).
func parseHTTPDate(s string) (time.Time, bool) {
	switch {
	case len(s) == 29 && s[3] == ',':
		return parseIMF(s)
	case len(s) == 24 && s[3] == ' ':
		return parseASCTime(s)
	default:
		return parseRFC850(s)
	}
}

var dayNames = []string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
var longDayNames = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
var monthNames = []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

func oneOf(s string, names []string) int {
	for i, n := range names {
		if strings.EqualFold(s, n) {
			return i
		}
	}
	return -1
}

// digits parses a fixed number of ASCII digits.
func digits(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// clock parses "HH:MM:SS".
func clock(s string) (h, m, sec int, ok bool) {
	if len(s) != 8 || s[2] != ':' || s[5] != ':' {
		return 0, 0, 0, false
	}
	h, ok1 := digits(s[0:2])
	m, ok2 := digits(s[3:5])
	sec, ok3 := digits(s[6:8])
	return h, m, sec, ok1 && ok2 && ok3 && h <= 23 && m <= 59 && sec <= 60
}

// date builds the time and checks that the day exists in that month.
func date(year, month, day, h, m, sec int) (time.Time, bool) {
	if month < 0 || day < 1 || day > 31 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month+1), day, h, m, sec, 0, time.UTC)
	if t.Day() != day && sec != 60 {
		return time.Time{}, false
	}
	return t, true
}

// parseIMF parses "Sun, 06 Nov 1994 08:49:37 GMT".
func parseIMF(s string) (time.Time, bool) {
	if oneOf(s[0:3], dayNames) < 0 || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[25] != ' ' || !strings.EqualFold(s[26:], "GMT") {
		return time.Time{}, false
	}
	day, ok1 := digits(s[5:7])
	month := oneOf(s[8:11], monthNames)
	year, ok2 := digits(s[12:16])
	h, m, sec, ok3 := clock(s[17:25])
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, false
	}
	return date(year, month, day, h, m, sec)
}

// parseASCTime parses "Sun Nov  6 08:49:37 1994" (the day is two digits or a space and one digit).
func parseASCTime(s string) (time.Time, bool) {
	if oneOf(s[0:3], dayNames) < 0 || s[7] != ' ' || s[10] != ' ' || s[19] != ' ' {
		return time.Time{}, false
	}
	month := oneOf(s[4:7], monthNames)
	dd := s[8:10]
	if dd[0] == ' ' {
		dd = dd[1:]
	}
	day, ok1 := digits(dd)
	h, m, sec, ok2 := clock(s[11:19])
	year, ok3 := digits(s[20:24])
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, false
	}
	return date(year, month, day, h, m, sec)
}

// parseRFC850 parses "Sunday, 06-Nov-94 08:49:37 GMT".
func parseRFC850(s string) (time.Time, bool) {
	name, rest, ok := strings.Cut(s, ", ")
	if !ok || oneOf(name, longDayNames) < 0 || len(rest) != 22 || rest[2] != '-' || rest[6] != '-' || rest[9] != ' ' || rest[18] != ' ' || !strings.EqualFold(rest[19:], "GMT") {
		return time.Time{}, false
	}
	day, ok1 := digits(rest[0:2])
	month := oneOf(rest[3:6], monthNames)
	yy, ok2 := digits(rest[7:9])
	h, m, sec, ok3 := clock(rest[10:18])
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, false
	}
	now := time.Now().UTC().Year()
	year := now - now%100 + yy
	if year > now+50 {
		year -= 100
	}
	return date(year, month, day, h, m, sec)
}
