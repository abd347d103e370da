package backends_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cashews-go/cashews/backends"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{"500ms", 500 * time.Millisecond, true},
		{"1h30m", 90 * time.Minute, true},
		{"1d", 24 * time.Hour, true},
		{"1d2h3m", 26*time.Hour + 3*time.Minute, true},
		{"1.5d", 36 * time.Hour, true},
		{"-1h", -time.Hour, true},
		{"-1d1h", -25 * time.Hour, true},
		{"", 0, false},
		{"5", 0, false},
		{"1x", 0, false},
		{"d", 0, false},
		{"1d-1h", 0, false},
		{"1dd", 0, false},
		{"999999999d", 0, false},
	}
	for _, tt := range tests {
		got, err := backends.ParseDuration(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"1024", 1024, true},
		{"10KB", 10000, true},
		{"10kb", 10000, true},
		{"10KiB", 10240, true},
		{"64MiB", 64 << 20, true},
		{"1GiB", 1 << 30, true},
		{"1GB", 1e9, true},
		{"2 MiB", 2 << 20, true},
		{"1_000", 1000, true},
		{"", 0, false},
		{"MiB", 0, false},
		{"-1", 0, false},
		{"1XB", 0, false},
		{"1.5GiB", 0, false},
		{"99999999999TiB", 0, false},
	}
	for _, tt := range tests {
		got, err := backends.ParseSize(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("ParseSize(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestParamsGetters(t *testing.T) {
	q, _ := url.ParseQuery("b=yes&i=42&d=1d&s=1KiB&e=lru&str=x&neg=-5&empty&off=OFF")
	p := backends.NewParams(q)
	if v, err := p.Bool("b", false); !v || err != nil {
		t.Errorf("Bool(b) = %v, %v", v, err)
	}
	if v, err := p.Bool("empty", false); !v || err != nil {
		t.Errorf("Bool(empty) = %v, %v; want true (a bare parameter)", v, err)
	}
	if v, err := p.Bool("off", true); v || err != nil {
		t.Errorf("Bool(off) = %v, %v; want false", v, err)
	}
	if v, err := p.Bool("missing", true); !v || err != nil {
		t.Errorf("Bool(missing) = %v, %v; want the default", v, err)
	}
	if v, err := p.Int("i", 0, 0, 100); v != 42 || err != nil {
		t.Errorf("Int(i) = %v, %v", v, err)
	}
	if _, err := p.Int("neg", 0, 0, 100); err == nil || !strings.Contains(err.Error(), `neg="-5"`) {
		t.Errorf("Int(neg) out of range = %v; want an error naming neg", err)
	}
	if v, err := p.Duration("d", 0, 0, 48*time.Hour); v != 24*time.Hour || err != nil {
		t.Errorf("Duration(d) = %v, %v", v, err)
	}
	if v, err := p.Size("s", 0, 0, 1<<20); v != 1024 || err != nil {
		t.Errorf("Size(s) = %v, %v", v, err)
	}
	if v, err := p.Enum("e", "lrs", "lru"); v != "lru" || err != nil {
		t.Errorf("Enum(e) = %v, %v", v, err)
	}
	if v := p.String("str", ""); v != "x" {
		t.Errorf("String(str) = %v", v)
	}
	if err := p.CheckUnused(); err != nil {
		t.Errorf("CheckUnused after taking every parameter = %v", err)
	}
	q2, _ := url.ParseQuery("a=1&zz=2")
	p2 := backends.NewParams(q2)
	p2.String("a", "")
	if err := p2.CheckUnused(); err == nil || !strings.Contains(err.Error(), `"zz"`) || strings.Contains(err.Error(), `"a"`) {
		t.Errorf("CheckUnused = %v; want an error naming zz only", err)
	}
	q3, _ := url.ParseQuery("e=fifo&b=perhaps")
	p3 := backends.NewParams(q3)
	if _, err := p3.Enum("e", "lrs", "lru"); err == nil || !strings.Contains(err.Error(), "lrs, lru") {
		t.Errorf("Enum with a bad value = %v; want the allowed values listed", err)
	}
	if _, err := p3.Bool("b", false); err == nil || !strings.Contains(err.Error(), `b="perhaps"`) {
		t.Errorf("Bool with a bad value = %v; want an error naming b", err)
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, key string
		want         bool
	}{
		{"*", "", true},
		{"*", "anything", true},
		{"user:*", "user:1", true},
		{"user:*", "user:", true},
		{"user:*", "users:1", false},
		{"user:?", "user:1", true},
		{"user:?", "user:12", false},
		{"*:1", "user:1", true},
		{"*:1", "user:12", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"user:[123]", "user:2", true},
		{"user:[123]", "user:4", false},
		{"user:[a-c]x", "user:bx", true},
		{"user:[c-a]x", "user:bx", true}, // Redis accepts reversed ranges
		{"user:[^a-c]", "user:d", true},
		{"user:[^a-c]", "user:b", false},
		{`user:\*`, "user:*", true},
		{`user:\*`, "user:1", false},
		{`user:\?`, "user:?", true},
		{`a\[b`, "a[b", true},
		{`a\`, `a\`, true},           // a trailing backslash matches itself
		{"user:[ab", "user:a", true}, // an unclosed class runs to the end, as in Redis
		{"user:[ab", "user:c", false},
		{"[]", "x", false},
		{"", "", true},
		{"", "x", false},
		{"**", "x", true},
		{"a*", "a", true},
	}
	for _, tt := range tests {
		if got := backends.Match(tt.pattern, tt.key); got != tt.want {
			t.Errorf("Match(%q, %q) = %v; want %v", tt.pattern, tt.key, got, tt.want)
		}
	}
}

func TestLiteralPrefix(t *testing.T) {
	for pattern, want := range map[string]string{
		"user:*": "user:", "*": "", "abc": "abc", `a\*b*`: "a*b", "a?": "a", "a[bc]": "a", `a\`: "a",
	} {
		if got := backends.LiteralPrefix(pattern); got != want {
			t.Errorf("LiteralPrefix(%q) = %q; want %q", pattern, got, want)
		}
	}
}

func FuzzMatch(f *testing.F) {
	f.Add("user:*", "user:1")
	f.Add("a[b-d]*\\?", "ac?")
	f.Add("[^", "x")
	f.Fuzz(func(t *testing.T, pattern, key string) {
		got := backends.Match(pattern, key)
		// Every key starts with the pattern's literal prefix when it matches.
		if got && !strings.HasPrefix(key, backends.LiteralPrefix(pattern)) {
			t.Fatalf("Match(%q, %q) = true but the key lacks the literal prefix %q", pattern, key, backends.LiteralPrefix(pattern))
		}
		// A pattern without special characters matches only itself.
		if !strings.ContainsAny(pattern, `*?[\`) && got != (pattern == key) {
			t.Fatalf("Match(%q, %q) = %v for a literal pattern", pattern, key, got)
		}
	})
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"mem://":                                    "mem://",
		"redis://user:pw@host:6379/0":               "redis://user:xxxxx@host:6379/0",
		"redis://host/0?secret=abc&timeout=1s":      "redis://host/0?secret=xxxxx&timeout=1s",
		"disk:///var/cache?shards=8":                "disk:///var/cache?shards=8",
		"redis://:pw@host?password=p2&secret=abc":   "redis://:xxxxx@host?password=xxxxx&secret=xxxxx",
		"rediss://h/0?tls_cert=c.pem&tls_key=k.pem": "rediss://h/0?tls_cert=c.pem&tls_key=xxxxx",
	} {
		u, err := url.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := backends.Redact(u); got != want {
			t.Errorf("Redact(%q) = %q; want %q", in, got, want)
		}
	}
}

// TestRedactString covers URLs that do not parse, or that parse otherwise than the user meant:
// every piece of the password and of the secret parameters is hidden.
func TestRedactString(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		// u.Query() drops a pair with a malformed escape, so Redact(u) used to leave it as it was.
		{"mem://?copy=true&secret=S3CR3T%ok", "mem://?copy=true&secret=xxxxx"},
		// The password holds "@" and a malformed escape: cut at the last "@", not the first.
		{"redis://u:hun@ter2PW%zz@127.0.0.1:6379/0", "redis://u:xxxxx@127.0.0.1:6379/0"},
		// "/", "?" and "#" in a password end the authority for a parser.
		{"redis://u:pa/ss?w#rd@host/0", "redis://u:xxxxx@host/0"},
		// A semicolon, "#" or "?" in a secret value.
		{"mem://?secret=a;b#c?d&size=1", "mem://?secret=xxxxx&size=1"},
		{"mem://?size=1;secret=abc", "mem://?size=1;secret=xxxxx"},
		// Names compare after decoding, in any case.
		{"mem://?secr%65t=abc&Password=def&TLS_KEY=ghi", "mem://?secr%65t=xxxxx&Password=xxxxx&TLS_KEY=xxxxx"},
		// An escaped "=" makes the whole pair a name that holds the secret.
		{"mem://?secret%3Dabc&size=1", "mem://?xxxxx&size=1"},
		{"backend:?secret=abc", "backend:?secret=xxxxx"},
		// ":" and "@" in a secret value are not a password.
		{"mem://?copy=true&secret=a:b@c", "mem://?copy=true&secret=xxxxx"},
		{"redis://h:6379/0?secret=a@b&x=1", "redis://h:6379/0?secret=xxxxx&x=1"},
		{"redis://u:pw@h:6379/0?secret=a@b", "redis://u:xxxxx@h:6379/0?secret=xxxxx"},
		// Nothing to hide.
		{"redis://host:6379/0?timeout=1s", "redis://host:6379/0?timeout=1s"},
		{"disk:///var/cache/app@2", "disk:///var/cache/app@2"},
	} {
		if got := backends.RedactString(tt.in); got != tt.want {
			t.Errorf("RedactString(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// TestParseURLAmbiguousSecrets: a URL whose password or secret a parser would read otherwise than
// it looks is an error that shows neither, before any check that could quote a piece of it as a host,
// a path or a parameter name; a URL that only looks similar is not.
func TestParseURLAmbiguousSecrets(t *testing.T) {
	for _, raw := range []string{
		"redis://u:12/S3CR3T@host/0",     // the password's "/" makes "u:12" a host and the rest a path
		"redis://u:12?S3CR3T@host/0",     // ... or a query
		"redis://u:12#S3CR3T@host/0",     // ... or a fragment
		"redis:///:S3CR3T@host/0",        // a user name that starts with "/"
		"redis:u:S3CR3T@host/0",          // no "//"
		"redis://host:1/0?name=S3CR3T@b", // an "@" in a parameter after a port
		"mem://?secret=ab#S3CR3T",        // "#" ends the secret for a parser
	} {
		_, _, err := backends.ParseURL(raw)
		if err == nil || strings.Contains(err.Error(), "S3CR3T") {
			t.Errorf("ParseURL(%q) = %v; want an error without the secret", raw, err)
		}
	}
	for _, raw := range []string{
		"redis://u:p%40ss@host/0?secret=a:b@c",
		"mem://?copy=true&secret=a:b@c",
		"redis://h:6379/0?secret=a@b",
		"disk:///var/cache/app@2",
		"redis://host/0?client_name=a@b",
		"redis://host:1/0?client_name=a%40b",
	} {
		if _, _, err := backends.ParseURL(raw); err != nil {
			t.Errorf("ParseURL(%q) = %v; want nil", raw, err)
		}
	}
}

func TestLookupAndParseURL(t *testing.T) {
	if _, err := backends.Lookup("nope"); !errors.Is(err, backends.ErrUnknownScheme) {
		t.Errorf("Lookup(nope) = %v; want ErrUnknownScheme", err)
	}
	for _, tt := range []struct{ raw, secret string }{
		{"redis://:secretpw@host:%zz", "secretpw"},
		// The parser quotes the bad escape ("%zz") and the bad port (":pw/x"): pieces of the password.
		{"redis://u:hun@ter2PW%zz@127.0.0.1:6379/0", "zz"},
		{"redis://u:hun@ter2PW%zz@127.0.0.1:6379/0", "ter2"},
		{"redis://u:pw12/x@host/0", "pw12"},
		{"mem://?copy=true&secret=S3CR3T%ok", "S3CR3T"},
		{"mem://?copy=true&secret=S3CR3T%ok", "%ok"},
		{"mem://?secret%3DS3CR3T&secret%3DS3CR3T", "S3CR3T"},
	} {
		_, _, err := backends.ParseURL(tt.raw)
		if err == nil || strings.Contains(err.Error(), tt.secret) {
			t.Errorf("ParseURL(%q) error = %v; want an error without %q", tt.raw, err, tt.secret)
		}
	}
	for _, bad := range []string{"", "nohost", "mem://?a=1&a=2", "disk:///dir/a#b", "mem://#", "mem://?size=1#x"} {
		if _, _, err := backends.ParseURL(bad); err == nil {
			t.Errorf("ParseURL(%q) succeeded", bad)
		}
	}
	// Errors name what was passed, never a made-up URL, and never a fragment that may hold part of a
	// password written without percent-encoding.
	for raw, want := range map[string]string{
		"":                          `setup URL is empty`,
		"nohost":                    `setup URL "nohost" has no scheme`,
		"disk:///dir/a#b":           `setup URL of scheme "disk" has a fragment`,
		"redis://:pa#ss@host:6379/": `setup URL of scheme "redis" has a fragment`,
	} {
		_, _, err := backends.ParseURL(raw)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "ss@") || strings.Contains(err.Error(), "://\"") {
			t.Errorf("ParseURL(%q) = %v; want an error containing %q", raw, err, want)
		}
	}
	// A bare "?" is no part of the backend's name.
	for raw, want := range map[string]string{"mem://?": "mem://", "redis://h:1/0?": "redis://h:1/0", "disk:cache?": "disk:cache"} {
		u, _, err := backends.ParseURL(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := backends.Redact(u); got != want {
			t.Errorf("Redact(ParseURL(%q)) = %q, want %q", raw, got, want)
		}
	}
}

func FuzzParseURL(f *testing.F) {
	f.Add("redis://u:p@h:1/0?timeout=1s")
	f.Add("disk:///x?shards=8&size_limit=1GiB")
	f.Fuzz(func(t *testing.T, raw string) {
		u, p, err := backends.ParseURL(raw)
		if err != nil {
			return
		}
		p.Unused()
		_ = backends.Redact(u)
	})
}
