package backends

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/cashews-go/cashews/internal/quote"
)

// secretParams are the query parameters whose values never appear in errors or logs.
var secretParams = [...]string{"secret", "password", "tls_key"}

// masked replaces every hidden part of a URL.
const masked = "xxxxx"

// Redact returns the URL with its password and the values of the parameters secret, password and
// tls_key replaced by "xxxxx", for logs and errors. It works on the URL's text and errs on the side
// of hiding: see [RedactString].
func Redact(u *url.URL) string {
	r := *u
	r.ForceQuery = false // "mem://?" is "mem://"
	s := r.String()
	if u.Opaque == "" && u.Scheme != "" && !strings.HasPrefix(s, u.Scheme+"://") {
		s = u.Scheme + "://" + strings.TrimPrefix(s, u.Scheme+":") // "mem://" prints as "mem:"
	}
	return RedactString(s)
}

// RedactString hides the secrets of a setup URL given as text, which need not parse: whatever the
// URL's syntax, everything that a parser could read as its password or as the value of secret,
// password or tls_key is replaced by "xxxxx". Where the text is ambiguous it hides more rather
// than less:
//
//   - the password: from the first ":" after "scheme://" to the last "@" of the text (not counting
//     those in the values of secret parameters), so that a password with unescaped "@", "/", "?",
//     "#" or "%" is hidden whole;
//   - a parameter value: from its "=" to the next "&", whatever lies between (";", "#", a
//     malformed escape); a parameter name is compared after decoding its escapes, in any case;
//   - a parameter whose decoded name holds a secret name followed by other text (as in
//     "secret%3Dvalue", an escaped "=") is hidden whole.
func RedactString(raw string) string {
	spans := secretSpans(raw)
	if len(spans) == 0 {
		return raw
	}
	hide := make([]bool, len(raw)+1)
	for _, s := range spans {
		for i := s.from; i < s.to; i++ {
			hide[i] = true
		}
	}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		if !hide[i] {
			b.WriteByte(raw[i])
			continue
		}
		b.WriteString(masked)
		for i+1 < len(raw) && hide[i+1] {
			i++
		}
	}
	return b.String()
}

// span is a byte range of a setup URL's text that holds a secret.
type span struct {
	from, to int
	password bool // the password, not a parameter
}

// secretSpans returns the ranges of raw that RedactString hides.
func secretSpans(raw string) []span {
	var spans []span
	// Parameters: every "name=value" that follows "?", "&" or ";".
	for p := 1; p <= len(raw); p++ {
		if !strings.ContainsRune("?&;", rune(raw[p-1])) {
			continue
		}
		end := len(raw)
		if i := strings.IndexByte(raw[p:], '&'); i >= 0 {
			end = p + i
		}
		pair := raw[p:end]
		eq := strings.IndexByte(pair, '=')
		name := pair
		if eq >= 0 {
			name = pair[:eq]
		}
		switch decoded := strings.ToLower(unescapeLoose(name)); {
		case eq >= 0 && isSecretParam(decoded):
			spans = append(spans, span{from: p + eq + 1, to: end})
		case holdsSecret(decoded):
			spans = append(spans, span{from: p, to: end})
		}
	}
	// The password: after the first ":" of the authority, up to the last "@", leaving out the
	// values of secret parameters, which are hidden already.
	inParam := func(i int) bool {
		for _, s := range spans {
			if s.from <= i && i < s.to {
				return true
			}
		}
		return false
	}
	start := authorityStart(raw)
	at := -1
	for i := len(raw) - 1; i >= start; i-- {
		if raw[i] == '@' && !inParam(i) {
			at = i
			break
		}
	}
	for i := start; i < at; i++ {
		if raw[i] == ':' && !inParam(i) {
			spans = append(spans, span{from: i + 1, to: at, password: true})
			break
		}
	}
	return spans
}

// authorityStart returns where the authority of raw starts: after "://", or after the scheme's ":"
// of a URL without "//".
func authorityStart(raw string) int {
	if i := strings.Index(raw, "://"); i >= 0 {
		return i + 3
	}
	if i := strings.IndexByte(raw, ':'); i >= 0 {
		return i + 1
	}
	return 0
}

// checkSecretsParsed reports a URL whose password a parser reads otherwise than RedactString hides
// it: a password with an unescaped "/" or "?" (or an "@" after the host, which makes the text before
// it look like one). Such a URL is an error before any other check, which could quote a piece of
// the password as a host, a path or a parameter name. (ParseURL rejects a "#" before.)
func checkSecretsParsed(raw string, u *url.URL) error {
	start := authorityStart(raw)
	// The authority as url.Parse reads it: up to the first "#", "?" or "/".
	authority := raw[start:]
	if i := strings.IndexAny(authority, "#?/"); i >= 0 {
		authority = authority[:i]
	}
	for _, s := range secretSpans(raw) {
		if !s.password {
			continue
		}
		if _, hasPassword := u.User.Password(); u.Opaque != "" || !hasPassword || s.to-start >= len(authority) {
			return fmt.Errorf(`cashews: setup URL %s: the text before its last "@" reads as a password, but a parser would not read it so: escape "/", "?", "#", "@" and "%%" in a password (%%2F, %%3F, %%23, %%40, %%25), and "@" elsewhere (%%40)`,
				quote.String(RedactString(raw)))
		}
	}
	return nil
}

func isSecretParam(name string) bool {
	for _, s := range secretParams {
		if name == s {
			return true
		}
	}
	return false
}

// holdsSecret reports whether a lower-cased parameter name holds a secret name followed by
// something that is not part of a name, as "secret=..." does when its "=" was escaped.
func holdsSecret(name string) bool {
	for _, s := range secretParams {
		for i := 0; i+len(s) < len(name); i++ {
			if strings.HasPrefix(name[i:], s) && !isNameByte(name[i+len(s)]) {
				return true
			}
		}
	}
	return false
}

func isNameByte(c byte) bool {
	return c == '_' || c == '-' || c == '.' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// unescapeLoose decodes "+" and the well-formed %XX escapes of s, and keeps the rest as it is.
func unescapeLoose(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '+':
			b.WriteByte(' ')
		case s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// quoteParam quotes a parameter name for an error, hiding what follows a secret name in it.
func quoteParam(name string) string {
	if holdsSecret(strings.ToLower(name)) {
		return quote.String(masked)
	}
	return quote.String(name)
}

// quotedText matches the Go-quoted strings in a parser's error message.
var quotedText = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// parseProblem returns what a URL parser reported, without the pieces of the URL it quoted (an
// escape, a port, a character), which may be pieces of a password.
func parseProblem(err error) string {
	msg := err.Error()
	if ue, ok := err.(*url.Error); ok {
		msg = ue.Err.Error() // url.Error repeats the whole URL, password included
	}
	msg = quotedText.ReplaceAllString(msg, "")
	return strings.Join(strings.Fields(msg), " ")
}
