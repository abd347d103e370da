package keytemplate

import (
	"context"
	"errors"
	"strings"
	"testing"
)

const (
	noError  = true
	hasError = false
)

var parseTests = []struct {
	name  string
	input string
	ok    bool
	pos   int    // the position of the error, when !ok
	want  string // the nodes, described by dumpNodes, when ok
}{
	{"empty", "", noError, 0, ""},
	{"literal", "users:all", noError, 0, `"users:all"`},
	{"field", "user:{ID}", noError, 0, `"user:" {ID}`},
	{"two fields", "user:{ID}:{Lang:lower}", noError, 0, `"user:" {ID} ":" {Lang:lower}`},
	{"nested", "{User.Profile.Name}", noError, 0, `{User.Profile.Name}`},
	{"leading dot", "{.User.Name}", noError, 0, `{.User.Name}`},
	{"dot", "{.}", noError, 0, `{.}`},
	{"dot with formatter", "{.:upper}", noError, 0, `{.:upper}`},
	{"star", "{*}", noError, 0, `{*}`},
	{"star with formatter", "v2:{*:hash(sha256)}", noError, 0, `"v2:" {*:hash(sha256)}`},
	{"context value", "{@client_id}", noError, 0, `{@client_id}`},
	{"context value with formatter", "{@tenant:lower}", noError, 0, `{@tenant:lower}`},
	{"chain", "{Email:lower:hash(md5)}", noError, 0, `{Email:lower:hash(md5)}`},
	{"argument with colon", "{Token:jwt(https://example.com/sub)}", noError, 0, `{Token:jwt(https://example.com/sub)}`},
	{"empty argument", "{Params:get()}", noError, 0, `{Params:get()}`},
	{"escaped braces", "{{literal}}", noError, 0, `"{literal}"`},
	{"braces around placeholder", "{{{ID}}}", noError, 0, `"{" {ID} "}"`},
	{"unicode field", "{Ñame}", noError, 0, `{Ñame}`},
	{"map key with hyphen", "{Params.client-id}", noError, 0, `{Params.client-id}`},
	{"digits", "{Params.2fa}", noError, 0, `{Params.2fa}`},
	{"adjacent placeholders", "{A}{B}", noError, 0, `{A} {B}`},
	{"invalid UTF-8 in text", "a\xffb:{ID}", noError, 0, `"a\xffb:" {ID}`},

	{"unclosed", "user:{ID", hasError, 5, ""},
	{"lone open", "{", hasError, 0, ""},
	{"lone close", "a}b", hasError, 1, ""},
	{"close after placeholder", "{a}}", hasError, 3, ""},
	{"empty placeholder", "x{}", hasError, 1, ""},
	{"space", "{a b}", hasError, 2, ""},
	{"trailing dot", "{a.}", hasError, 3, ""},
	{"double dot", "{a..b}", hasError, 3, ""},
	{"leading double dot", "{..a}", hasError, 2, ""},
	{"empty context name", "{@}", hasError, 2, ""},
	{"dotted context name", "{@a.b}", hasError, 3, ""},
	{"star with field", "{*a}", hasError, 2, ""},
	{"empty formatter", "{a:}", hasError, 3, ""},
	{"double colon", "{a::lower}", hasError, 3, ""},
	{"unclosed paren", "{a:hash(md5}", hasError, 7, ""},
	{"text after paren", "{a:hash(md5)x}", hasError, 12, ""},
	{"paren in argument", "{a:get(()}", hasError, 7, ""},
	{"brace in argument", "{a:get({)}", hasError, 7, ""},
	{"brace in placeholder", "{a{b}", hasError, 2, ""},
	{"invalid UTF-8 in placeholder", "{a\xff}", hasError, 2, ""},
	{"dash in formatter", "{a:lo-wer}", hasError, 5, ""},
	{"space before formatter", "{a :lower}", hasError, 2, ""},
}

func TestParse(t *testing.T) {
	for _, tt := range parseTests {
		t.Run(tt.name, func(t *testing.T) {
			nodes, err := parse(tt.input)
			if !tt.ok {
				var se *SyntaxError
				if !errors.As(err, &se) {
					t.Fatalf("parse(%q) error = %v; want a *SyntaxError", tt.input, err)
				}
				if se.Pos != tt.pos || se.Template != tt.input {
					t.Errorf("parse(%q) error at %d in %q; want at %d (%v)", tt.input, se.Pos, se.Template, tt.pos, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse(%q) = %v; want no error", tt.input, err)
			}
			if got := dumpNodes(nodes); got != tt.want {
				t.Errorf("parse(%q) = %s; want %s", tt.input, got, tt.want)
			}
			// The parsed template writes back as it was written.
			if got := formatNodes(nodes); got != tt.input {
				t.Errorf("formatNodes(parse(%q)) = %q; want the input", tt.input, got)
			}
		})
	}
}

// dumpNodes describes nodes for tests: text quoted, placeholders in braces.
func dumpNodes(nodes []node) string {
	var s string
	for i, n := range nodes {
		if i > 0 {
			s += " "
		}
		if n.isText {
			s += quoteGo(n.text)
		} else {
			s += "{" + n.placeholder() + "}"
		}
	}
	return s
}

func quoteGo(s string) string {
	b := []byte{'"'}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c >= 0x7f:
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return string(append(b, '"'))
}

func TestSyntaxErrorMessage(t *testing.T) {
	_, err := Compile[struct{ ID int }]("user:{ID")
	const want = `keytemplate: "user:{ID" at 5: unclosed "{"`
	if err == nil || err.Error() != want {
		t.Errorf("Compile error = %v; want %s", err, want)
	}
}

func TestStringRoundTrip(t *testing.T) {
	type arg struct {
		ID     int
		Lang   string
		Params map[string]string
	}
	for _, src := range []string{
		"",
		"user:{ID}:{Lang:lower}",
		"{{{ID}}}:{.ID:hash(md5)}",
		"{Params:get(lang):upper}:{Params.client-id}",
		"{@tenant}/{*:hash(sha1)}",
	} {
		tmpl, err := Compile[arg](src)
		if err != nil {
			t.Fatalf("Compile(%q) = %v", src, err)
		}
		if got := tmpl.String(); got != src {
			t.Errorf("Compile(%q).String() = %q", src, got)
		}
		again, err := Compile[arg](tmpl.String())
		if err != nil || again.String() != src {
			t.Errorf("Compile(Compile(%q).String()) = %v, %v", src, again, err)
		}
	}
}

// TestLongTemplateErrorIsShort: an error quotes a long template shortened, with its length.
func TestLongTemplateErrorIsShort(t *testing.T) {
	src := strings.Repeat("x", 1<<20) + "{"
	_, err := Compile[Query](src)
	if err == nil || len(err.Error()) > 1000 || !strings.Contains(err.Error(), "(1048577 bytes)") {
		t.Fatalf("Compile(1 MiB template) error has %d bytes; want under 1000, with the length", len(err.Error()))
	}
	arg := Query{Lang: strings.Repeat("é", 1<<20)}
	_, err = MustCompile[Query](strings.Repeat("y", 1<<20)+"{Lang:fail}").Render(context.Background(), arg)
	if err == nil || len(err.Error()) > 1000 {
		t.Fatalf("Render error has %d bytes; want under 1000", len(err.Error()))
	}
}
